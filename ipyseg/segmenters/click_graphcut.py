"""Click-aware iterated graph cut: GrabCut's energy plus a prior that fades with distance from clicks."""

from __future__ import annotations

import cv2
import numpy as np

from ipyseg._constants import BACKGROUND, FOREGROUND
from ipyseg.segmenters.common import fill_unseeded_holes, keep_seeded_components, one_vs_rest
from ipyseg.segmenters.graphcut import edge_weights, fit_gmm, gmm_loglik, min_cut
from ipyseg.segmenters.params import Param
from ipyseg.segmenters.registry import register

#: Declared types and ranges; the upper bounds keep every call bounded in time.
PARAMS = {
    "iterations": Param(int, 1, 10, doc="colour-model re-estimations"),
    "smoothness": Param(float, 0.0, 1e3, doc="weight of the boundary term"),
    "click_weight": Param(float, 0.0, 100.0, doc="pull of a click on nearby pixels (nats)"),
    "click_sigma": Param(float, 0.0, 1.0, doc="reach of a click, fraction of the image diagonal"),
    "border": Param(float, 0.0, 0.5, doc="border strip for the first background model, fraction of the smaller side"),
    "clean": Param(bool, doc="keep components touching foreground seeds, fill unseeded holes"),
    "coarse_pixels": Param(int, 100, 160_000, doc="size of the copy the colour models iterate on"),
    "band": Param(float, 1.0, 16.0, doc="half-width of the full-resolution band, coarse pixels"),
}


#: The first cut of the iterations uses this fraction of ``smoothness``. Its colour models are
#: the crudest (learnt from a whole box, or from the image border), so their evidence is weak,
#: and at full weight the boundary term's bias towards short boundaries can shrink the object
#: to nothing (a small object in a box, typically), a state later iterations cannot leave.
#: A weaker first cut lets the colours decide the first estimate; the others use the full weight.
FIRST_CUT_SMOOTHNESS = 0.4


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels) to the nearest True pixel of ``mask``; ``inf`` if none."""
    if not mask.any():
        return np.full(mask.shape, np.inf, np.float32)
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)


def _lab(image: np.ndarray) -> np.ndarray:
    """CIE Lab on OpenCV's 8-bit scale (L * 255 / 100, a + 128, b + 128) as float32.

    uint8 images go through OpenCV's 8-bit conversion; float32 images (values in [0, 1], a
    display-mapped 16-bit or float image) through the float one, without rounding.
    """
    if image.dtype == np.uint8:
        return cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab = cv2.cvtColor(np.ascontiguousarray(image, dtype=np.float32), cv2.COLOR_RGB2LAB)
    lab[:, :, 0] *= np.float32(255.0 / 100.0)
    lab[:, :, 1:] += np.float32(128.0)
    return lab


@register("click_graphcut", params=PARAMS, dtype="any")
@one_vs_rest
def click_graphcut(
    image,
    seeds,
    *,
    prior=None,
    iterations: int = 4,
    smoothness: float = 25.0,
    click_weight: float = 4.0,
    click_sigma: float = 0.06,
    border: float = 0.05,
    clean: bool = True,
    coarse_pixels: int = 40_000,
    band: float = 8.0,
):
    """Iterated colour-model graph cut from seeds, with soft click influence.

    Parameters
    ----------
    image : (H, W, 3) ndarray of uint8, or of float32 in [0, 1]
        RGB image (float32: a display-mapped image at full precision).
    seeds : (H, W) ndarray of uint8
        ``0`` unmarked, ``1`` background, ``2`` foreground (hard constraints).
    prior : (H, W) ndarray of bool, optional
        Probable foreground (a loaded mask or a box): the first colour models come from it, and
        background seeds outside it (everything outside a box) do not pull its pixels.
    boxes : dict, optional
        ``{code: (r0, r1, c0, c1)}`` windows (end exclusive), the box tool's rectangles, taken
        by the many-object wrapper (:func:`ipyseg.segmenters.common.one_vs_rest`): a box
        constrains its own object only. In object k's subproblem the unmarked pixels outside
        box_k are background and the inside of box_k is its prior (GrabCut's rectangle); objects
        without a box are unconstrained.
    iterations : int
        Colour-model re-estimations (GrabCut style).
    smoothness : float
        Weight of the contrast-sensitive boundary term (the first of the iterations' cuts uses
        :data:`FIRST_CUT_SMOOTHNESS` times it).
    click_weight : float
        Strength of the bias towards a click's label near that click (nats).
    click_sigma : float
        Reach of that bias, as a fraction of the image diagonal (Gaussian sigma).
    border : float
        Width of the image-border strip that seeds the first background colour model, as a
        fraction of the smaller image side.
    clean : bool
        Keep only components connected to foreground seeds and fill holes without a background
        seed.
    coarse_pixels : int
        The colour models are iterated on a copy downscaled to about this many pixels; the
        full-resolution cut then only decides a thin band around that coarse boundary.
    band : float
        Half-width of that band, in coarse pixels.

    Returns
    -------
    (H, W) ndarray of bool
    """
    fg = seeds == FOREGROUND
    bg = seeds == BACKGROUND
    has_prior = prior is not None and prior.any()
    if not fg.any() and not has_prior:
        return fg
    opts = dict(smoothness=smoothness, click_weight=click_weight, click_sigma=click_sigma)
    lab = _lab(image)
    h, w = seeds.shape
    scale = min(1.0, float(np.sqrt(coarse_pixels / (h * w))))
    if scale < 1.0:
        size = (max(2, round(w * scale)), max(2, round(h * scale)))

        def shrink(m):
            return cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA)

        fg_c = shrink(fg) > 0
        if has_prior:
            # seeds inside the prior (clicks) keep every coarse pixel they touch; background
            # outside it (e.g. everything outside a box) is rounded, not grown into the prior
            bg_c = (shrink(bg & prior) > 0) | (shrink(bg & ~prior) >= 0.5)
        else:
            bg_c = shrink(bg) > 0
        bg_c &= ~fg_c
        prior_c = shrink(prior) >= 0.5 if has_prior else None
        lab_c = cv2.resize(lab, size, interpolation=cv2.INTER_AREA)
        coarse, models = _iterate(lab_c, fg_c, bg_c, prior_c, iterations, border, **opts)
        start = cv2.resize(coarse.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        # pixels within band / scale of the coarse boundary (distance transforms: cost O(pixels))
        d_in = cv2.distanceTransform(start.astype(np.uint8), cv2.DIST_L2, 5)
        d_out = cv2.distanceTransform((~start).astype(np.uint8), cv2.DIST_L2, 5)
        ring = np.where(start, d_in, d_out) <= band / scale + 0.5
        # refit the colour models on full-resolution pixels (downscaling averages noise away)
        if 10 <= start.sum() <= start.size - 10 and (~start & ~fg).any():
            pixels = lab.reshape(-1, 3)
            models = (fit_gmm(pixels[(start | fg).ravel()]), fit_gmm(pixels[(~start & ~fg).ravel()]))
        if models is None:
            out = start & ~bg
        else:
            out = _cut(lab, fg, bg, start & ~ring, ~start & ~ring, models, prior if has_prior else None, **opts)
    else:
        out, _ = _iterate(lab, fg, bg, prior if has_prior else None, iterations, border, **opts)
    if clean:
        anchor = fg if not has_prior else fg | (prior & out)
        out = fill_unseeded_holes(keep_seeded_components(out, anchor), bg)
    return out


def _spatial(fg, bg, prior=None, *, click_weight, click_sigma):
    """Costs of labelling background near foreground clicks and foreground near background clicks.

    With a ``prior`` (a box or a loaded mask), background seeds outside it (everything outside a
    box is background) do not pull the prior's pixels: the prior says those are likely object,
    and where a box's edge lies says nothing about how far into the box the object reaches (a
    tight box touches it). Background seeds inside the prior (clicks) pull everywhere.
    """
    sigma = max(click_sigma * float(np.hypot(*fg.shape)), 1.0)

    def near(mask):
        return click_weight * np.exp(-0.5 * (_distance_to(mask) / sigma) ** 2)

    near_fg = near(fg)
    if prior is None:
        near_bg = near(bg)
    else:
        near_bg = near(bg & prior)
        outside = bg & ~prior
        if outside.any():
            near_bg = np.where(prior, near_bg, np.maximum(near_bg, near(outside)))
    return near_fg, near_bg, sigma


def _cut(lab, fg, bg, fixed_fg, fixed_bg, models, prior=None, *, smoothness, click_weight, click_sigma):
    """One graph cut with fixed colour models: seeds ``fg`` / ``bg`` and ``fixed_*`` pixels are hard."""
    free = ~(fg | bg | fixed_fg | fixed_bg)
    near_fg, near_bg, _ = _spatial(fg, bg, prior, click_weight=click_weight, click_sigma=click_sigma)
    cost_fg, cost_bg = near_bg, near_fg  # colour costs only where the cut is free
    cost_fg[free] -= gmm_loglik(lab[free], models[0])
    cost_bg[free] -= gmm_loglik(lab[free], models[1])
    return min_cut(cost_fg, cost_bg, edge_weights(lab), smoothness, fg | fixed_fg, bg | fixed_bg)


def _iterate(lab, fg, bg, prior, iterations, border, *, smoothness, click_weight, click_sigma):
    """GrabCut-style alternation of colour-model fits and graph cuts; returns (mask, models)."""
    h, w = fg.shape
    pixels = lab.reshape(-1, 3)
    edges = edge_weights(lab)
    near_fg, near_bg, sigma = _spatial(fg, bg, prior, click_weight=click_weight, click_sigma=click_sigma)
    if prior is not None:
        current = (prior | fg) & ~bg
        background = ~current
    else:
        current = fg
        strip = max(1, int(round(border * min(h, w))))
        frame = np.ones((h, w), bool)
        frame[strip:-strip, strip:-strip] = False
        background = bg | (frame & (_distance_to(fg) > sigma))
        if background.sum() < 50:
            background = ~fg
    if not background.any():  # foreground seeds cover everything (at this scale)
        return current | ~bg, None
    if not current.any():  # the prior is covered by background seeds (at this scale): no object
        return current, None
    models = None
    for it in range(iterations):
        models = (fit_gmm(pixels[current.ravel()]), fit_gmm(pixels[background.ravel()]))
        cost_fg = -gmm_loglik(pixels, models[0]).reshape(h, w) + near_bg
        cost_bg = -gmm_loglik(pixels, models[1]).reshape(h, w) + near_fg
        weight = smoothness * (FIRST_CUT_SMOOTHNESS if it == 0 else 1.0)
        new = min_cut(cost_fg, cost_bg, edges, weight, fg, bg)
        if np.array_equal(new, current) or not new.any() or new.all():
            current = new if new.any() else current
            break
        current = new
        background = ~current
    return current, models
