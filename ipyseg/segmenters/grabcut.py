"""GrabCut (Rother et al. 2004) through ``cv2.grabCut``, initialised from seeds."""

from __future__ import annotations

import cv2
import numpy as np

from .._constants import BACKGROUND, FOREGROUND
from . import register
from ._common import at_least, fill_unseeded_holes, keep_seeded_components, one_vs_rest


@register("grabcut")
@one_vs_rest
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
    iterations : int
        GrabCut iterations (colour model re-estimations).
    clean : bool
        Keep only components connected to foreground seeds and fill holes without a background
        seed.

    Returns
    -------
    (H, W) ndarray of bool
    """
    iterations = at_least(iterations, 1, "iterations")
    fg = seeds == FOREGROUND
    bg = seeds == BACKGROUND
    mask = np.full(seeds.shape, cv2.GC_PR_BGD, dtype=np.uint8)
    if prior is not None:
        mask[prior] = cv2.GC_PR_FGD
    mask[bg] = cv2.GC_BGD
    mask[fg] = cv2.GC_FGD
    if not (mask != cv2.GC_FGD).any() or not ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).any():
        return fg
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    cv2.grabCut(bgr, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    out = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if clean:
        anchor = fg if prior is None else fg | (prior & out)
        out = fill_unseeded_holes(keep_seeded_components(out, anchor), bg)
    return out
