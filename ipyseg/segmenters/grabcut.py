"""GrabCut (Rother et al. 2004) through ``cv2.grabCut``, initialised from seeds."""

from __future__ import annotations

import cv2
import numpy as np

from ipyseg._constants import BACKGROUND, FOREGROUND
from ipyseg.segmenters.common import fill_unseeded_holes, keep_seeded_components, one_vs_rest
from ipyseg.segmenters.params import Param
from ipyseg.segmenters.registry import register

#: Declared types and ranges; ``iterations`` is bounded so that a call stays bounded in time.
PARAMS = {
    "iterations": Param(int, 1, 10, doc="GrabCut iterations"),
    "clean": Param(bool, doc="keep components touching foreground seeds, fill unseeded holes"),
}


@register("grabcut", params=PARAMS)
@one_vs_rest(local=False)  # its colour models need the whole image's background
def grabcut(image, seeds, *, prior=None, iterations: int = 3, clean: bool = True):
    """Segment with OpenCV's GrabCut, seeds as hard constraints.

    Parameters
    ----------
    image : (H, W, 3) ndarray of uint8
        RGB image.
    seeds : (H, W) ndarray of uint8
        ``0`` unmarked, ``1`` background, ``2`` foreground.
    prior : (H, W) ndarray of bool, optional
        Probable foreground region (a loaded mask or a box); unmarked pixels inside it start as
        probable foreground, the rest as probable background.
    boxes : dict, optional
        ``{code: (r0, r1, c0, c1)}`` windows (end exclusive), the box tool's rectangles, taken
        by the many-object wrapper (:func:`ipyseg.segmenters.common.one_vs_rest`): a box
        constrains its own object only. In object k's subproblem the unmarked pixels outside
        box_k are background and the inside of box_k is its prior (GrabCut's rectangle); objects
        without a box are unconstrained.
    iterations : int
        GrabCut iterations (colour model re-estimations).
    clean : bool
        Keep only components connected to foreground seeds and fill holes without a background
        seed.

    Returns
    -------
    (H, W) ndarray of bool
    """
    fg = seeds == FOREGROUND
    bg = seeds == BACKGROUND
    mask = np.full(seeds.shape, cv2.GC_PR_BGD, dtype=np.uint8)
    if prior is not None:
        mask[prior] = cv2.GC_PR_FGD
    mask[bg] = cv2.GC_BGD
    mask[fg] = cv2.GC_FGD
    maybe_fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if not maybe_fg.any():
        return fg
    if maybe_fg.all() or (mask == cv2.GC_FGD).all():
        # Nothing could be background (a box or prior covering the image, no background seed):
        # cv2.grabCut would assert (no background samples). Everything is the object.
        return maybe_fg
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    # cv2.grabCut seeds its k-means from the calling thread's RNG (cv::theRNG): reset it so that
    # the same seeds give the same labels whatever ran before, on any thread.
    cv2.setRNGSeed(0)
    cv2.grabCut(bgr, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    out = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if clean:
        anchor = fg if prior is None else fg | (prior & out)
        out = fill_unseeded_holes(keep_seeded_components(out, anchor), bg)
    return out
