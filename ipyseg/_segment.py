"""The pure, widget-free entry point: ``segment(image, seeds, method=None, **params)``."""

from __future__ import annotations

import numpy as np

from . import segmenters
from ._constants import BACKGROUND
from ._validation import as_boxes, as_image, as_labels, as_seeds


def segment(image, seeds, method: str | None = None, *, prior=None, boxes=None, **params) -> np.ndarray:
    """Segment ``image`` from user seeds.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like, PIL image or path
        Gray, RGB or RGBA; uint8, uint16, or float in [0, 1].
    seeds : (H, W) ndarray of int
        ``0`` unmarked, ``1`` background (``BACKGROUND``), ``k + 1`` object k
        (``FOREGROUND = 2`` is the first object).
    method : str or None
        A name from :func:`ipyseg.methods`; ``None`` is the library's default.
    prior : (H, W) ndarray, optional
        Starting labels (``0`` background, ``k`` object k, or a bool mask) that unmarked pixels
        lean towards, for methods that support it (e.g. a loaded mask or a box for GrabCut).
    boxes : dict, optional
        ``{seed code: (x0, y0, x1, y1)}``: object ``code - 1`` lies in that rectangle (inclusive
        image-pixel corners), as the widget's box tool. Methods that take boxes (``sam``: a box
        prompt) get them as they are; for the others everything outside the boxes becomes
        background seeds and the inside a prior (GrabCut's rectangle).
    **params
        Method parameters; unknown names raise ``TypeError``.

    Returns
    -------
    (H, W) ndarray of uint8
        Labels: ``0`` background, ``k`` object k. All background when no object is seeded.
    """
    func = segmenters.get(method)
    segmenters.check_params(method, params)
    img = as_image(image)
    sds = as_seeds(seeds, img.shape)
    pri = None if prior is None else as_labels(prior, img.shape, "prior")
    bxs = None if boxes is None else as_boxes(boxes, img.shape)
    if bxs and not segmenters.accepts(func, "boxes"):
        sds, pri = apply_boxes(sds, pri, bxs)
        bxs = None
    return run_segmenter(func, img, sds, pri, params, bxs)


def apply_boxes(seeds: np.ndarray, prior, boxes: dict):
    """GrabCut's rectangle for methods without box prompts: ``(seeds, prior)`` with the boxes applied.

    Each object lies inside its box (unset prior pixels there become that object) and every
    unmarked pixel outside all boxes becomes a background seed.

    Parameters
    ----------
    seeds : (H, W) ndarray of uint8
    prior : (H, W) ndarray of uint8 or None
    boxes : dict
        ``{code: (r0, r1, c0, c1)}`` windows, end exclusive.

    Returns
    -------
    seeds, prior : new arrays
    """
    seeds = seeds.copy()
    inside = np.zeros(seeds.shape, bool)
    prior = np.zeros(seeds.shape, np.uint8) if prior is None else prior.copy()
    for code, (r0, r1, c0, c1) in sorted(boxes.items()):
        inside[r0:r1, c0:c1] = True
        sub = prior[r0:r1, c0:c1]
        sub[sub == 0] = code - 1
    seeds[~inside & (seeds == 0)] = BACKGROUND
    return seeds, prior


def run_segmenter(func, image: np.ndarray, seeds: np.ndarray, prior, params: dict, boxes=None) -> np.ndarray:
    """Call a segmenter on validated inputs and check what it returns.

    ``boxes`` (``{code: (r0, r1, c0, c1)}``) reach segmenters whose signature names ``boxes``.
    """
    rgb = image[:, :, :3] if image.shape[2] == 4 else image
    use_prior = prior is not None and prior.any() and segmenters.accepts_prior(func)
    use_boxes = bool(boxes) and segmenters.accepts(func, "boxes")
    if not use_boxes and not use_prior and not (seeds >= 2).any():
        return np.zeros(seeds.shape, dtype=np.uint8)
    kwargs = dict(params)
    if use_prior:
        kwargs["prior"] = prior
    if use_boxes:
        kwargs["boxes"] = dict(boxes)
    labels = np.asarray(func(np.ascontiguousarray(rgb), seeds, **kwargs))
    if labels.shape != seeds.shape:
        raise ValueError(
            f"segmenter {getattr(func, '__name__', func)!r} returned shape {labels.shape}; expected {seeds.shape}"
        )
    if labels.dtype == np.bool_:
        return labels.astype(np.uint8)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"segmenter returned dtype {labels.dtype}; expected integer labels")
    return labels.astype(np.uint8, copy=False)
