"""Live-wire (intelligent scissors) on top of ``cv2.segmentation.IntelligentScissorsMB``.

The edge features (``applyImage``) are computed once per image and the shortest-path map
(``buildMap``) once per anchor. Both cost time proportional to the pixel count, so large photos
are handled on a working copy of at most ``max_pixels`` and paths are mapped back to full
resolution.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


class LiveWire:
    """Edge-snapping paths between anchors.

    Parameters
    ----------
    image : (H, W, 3) ndarray of uint8, or of float32 in [0, 1]
        RGB photo (float32: a display-mapped image; the working copy is rounded to 8 bits).
    max_pixels : int
        Size of the working copy the paths are computed on.
    """

    def __init__(self, image: np.ndarray, *, max_pixels: int = 500_000):
        h, w = image.shape[:2]
        f = min(1.0, math.sqrt(max_pixels / float(h * w)))
        bgr = np.ascontiguousarray(image[:, :, 2::-1])
        if f < 1.0:
            bgr = cv2.resize(bgr, (max(2, int(w * f)), max(2, int(h * f))), interpolation=cv2.INTER_AREA)
        if bgr.dtype != np.uint8:  # the edge features need 8 bits
            bgr = cv2.convertScaleAbs(bgr, alpha=255.0)
        self._shape = bgr.shape[:2]
        self._fy, self._fx = self._shape[0] / h, self._shape[1] / w
        self._tool = cv2.segmentation.IntelligentScissorsMB()
        self._tool.setEdgeFeatureCannyParameters(32, 100)
        self._tool.setGradientMagnitudeMaxLimit(200)
        self._tool.applyImage(bgr)
        self._anchor = None

    def _to_small(self, p_rc) -> tuple[int, int]:
        y = int(round((p_rc[0] + 0.5) * self._fy - 0.5))
        x = int(round((p_rc[1] + 0.5) * self._fx - 0.5))
        return (min(max(x, 0), self._shape[1] - 1), min(max(y, 0), self._shape[0] - 1))

    def anchor(self, p_rc) -> None:
        """Start paths at image ``(row, col)``."""
        self._anchor = self._to_small(p_rc)
        self._tool.buildMap(self._anchor)

    def path_to(self, p_rc) -> np.ndarray:
        """The edge-following path from the anchor to ``p_rc``.

        Returns
        -------
        (N, 2) ndarray of float
            ``(row, col)`` image coordinates, from the anchor to the target.
        """
        if self._anchor is None:
            raise RuntimeError("LiveWire.anchor() must be called before path_to()")
        xy = self._tool.getContour(self._to_small(p_rc)).reshape(-1, 2).astype(float)
        if len(xy) and tuple(xy[0].astype(int)) != self._anchor:
            xy = xy[::-1]
        rows = (xy[:, 1] + 0.5) / self._fy - 0.5
        cols = (xy[:, 0] + 0.5) / self._fx - 0.5
        return np.column_stack([rows, cols])
