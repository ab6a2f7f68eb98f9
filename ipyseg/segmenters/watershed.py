"""Seeded watershed through ``cv2.watershed``."""

from __future__ import annotations

import cv2
import numpy as np

from ipyseg._constants import BACKGROUND
from ipyseg.segmenters.params import Param
from ipyseg.segmenters.registry import register

#: Declared types and ranges; ``blur`` is bounded so that a call stays bounded in time.
PARAMS = {
    "blur": Param(float, 0.0, 20.0, doc="Gaussian sigma in pixels, 0 = none"),
    "border_prior": Param(bool, doc="image border as background when no background seed"),
}


@register("watershed", params=PARAMS)
def watershed(image, seeds, *, prior=None, blur: float = 1.0, border_prior: bool = True):
    """Flood the image from the seeds (all objects at once).

    Parameters
    ----------
    image : (H, W, 3) ndarray of uint8
        RGB image.
    seeds : (H, W) ndarray of uint16
        ``0`` unmarked, ``1`` background, ``k + 1`` object k.
    prior : ignored
        Watershed has no soft prior.
    blur : float
        Gaussian sigma (pixels) applied first to quiet texture; 0 disables it.
    border_prior : bool
        When no background seed exists, use the image border as background markers.

    Returns
    -------
    (H, W) ndarray of uint16
        ``0`` background, ``k`` object k.
    """
    markers = seeds.astype(np.int32)  # 1 background, k + 1 object k
    if markers.max() < 2:
        return np.zeros(seeds.shape, dtype=np.uint16)
    if border_prior and not (seeds == BACKGROUND).any():
        # cv2.watershed overwrites the outermost pixel ring with -1, so mark two rings.
        frame = np.ones(seeds.shape, dtype=bool)
        frame[2:-2, 2:-2] = False
        markers[frame & (markers == 0)] = BACKGROUND
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    if blur > 0:
        bgr = cv2.GaussianBlur(bgr, (0, 0), float(blur))
    cv2.watershed(bgr, markers)
    # Boundary pixels (-1) take the largest neighbouring label.
    edge = markers < 0
    markers[edge] = 0
    out = markers.astype(np.uint16)
    if edge.any():
        grown = cv2.dilate(out, np.ones((3, 3), np.uint8))
        out[edge] = grown[edge]
    out = out.astype(np.int32) - 1
    out[out < 0] = 0
    # Seeds on the outer ring (which cv2.watershed always marks -1) keep their label.
    out = np.where(seeds >= 2, seeds.astype(np.int32) - 1, np.where(seeds == BACKGROUND, 0, out))
    return out.astype(np.uint16)
