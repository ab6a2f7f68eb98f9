"""Coordinate frames and stroke rasterisation.

Two frames exist:

* **canvas** ``(x, y)``: continuous pixel coordinates of the display canvas, as the ipycanvas
  front end sends them (``x`` to the right, ``y`` down, pixel ``i`` spans ``[i, i + 1)``).
* **image** ``(row, col)``: continuous full-resolution coordinates, pixel centres at integers.

:class:`Viewport` is the only place that converts between them. All rasterisation happens in
the image frame, in Python, at full resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Default upper bound on the number of display canvas pixels (about 2 megapixels).
MAX_DISPLAY_PIXELS = 2_000_000


@dataclass
class Viewport:
    """Maps display canvas pixels to full-resolution image pixels and back.

    The canvas shows the image region whose top-left *edge* is at image coordinates
    ``(top, left)`` (pixel ``(r, c)`` covers ``[r, r + 1) x [c, c + 1)`` in edge coordinates),
    with ``scale`` canvas pixels per image pixel.

    Parameters
    ----------
    image_shape : tuple
        ``(H, W, ...)`` of the full-resolution image.
    max_display_pixels : int
        Upper bound on ``canvas_width * canvas_height``.
    """

    image_shape: tuple
    max_display_pixels: int = MAX_DISPLAY_PIXELS

    def __post_init__(self):
        h, w = self.image_shape[:2]
        fit = min(1.0, math.sqrt(self.max_display_pixels / float(h * w)))
        self.canvas_width = max(1, int(w * fit + 1e-9))
        self.canvas_height = max(1, int(h * fit + 1e-9))
        # Fit scale per axis so that the whole image maps exactly onto the canvas.
        self.fit_scale_x = self.canvas_width / w
        self.fit_scale_y = self.canvas_height / h
        self.zoom = 1.0
        self.top = 0.0
        self.left = 0.0

    @property
    def scale_x(self) -> float:
        """Canvas pixels per image column at the current zoom."""
        return self.fit_scale_x * self.zoom

    @property
    def scale_y(self) -> float:
        """Canvas pixels per image row at the current zoom."""
        return self.fit_scale_y * self.zoom

    @property
    def scale(self) -> float:
        """Mean canvas pixels per image pixel (for brush sizes and line widths)."""
        return 0.5 * (self.scale_x + self.scale_y)

    def canvas_to_image(self, x, y):
        """Convert canvas ``(x, y)`` to image ``(row, col)`` (floats, pixel centres at integers).

        Works on scalars and arrays alike.
        """
        row = self.top + np.asarray(y, dtype=float) / self.scale_y - 0.5
        col = self.left + np.asarray(x, dtype=float) / self.scale_x - 0.5
        return row, col

    def image_to_canvas(self, row, col):
        """Convert image ``(row, col)`` to canvas ``(x, y)``; the inverse of :meth:`canvas_to_image`."""
        x = (np.asarray(col, dtype=float) + 0.5 - self.left) * self.scale_x
        y = (np.asarray(row, dtype=float) + 0.5 - self.top) * self.scale_y
        return x, y

    def canvas_pixel_sources(self):
        """Image row and column under the centre of every canvas row and column.

        Returns
        -------
        rows : (canvas_height,) ndarray of intp
        cols : (canvas_width,) ndarray of intp
            Nearest-neighbour sampling indices: ``arr[rows[:, None], cols[None, :]]`` is ``arr``
            as the canvas shows it.
        """
        key = (self.zoom, self.top, self.left)
        if getattr(self, "_sources_key", None) != key:
            h, w = self.image_shape[:2]
            r = np.floor(self.top + (np.arange(self.canvas_height) + 0.5) / self.scale_y)
            c = np.floor(self.left + (np.arange(self.canvas_width) + 0.5) / self.scale_x)
            self._sources = (np.clip(r, 0, h - 1).astype(np.intp), np.clip(c, 0, w - 1).astype(np.intp))
            self._sources_key = key
        return self._sources

    def visible_region(self):
        """Integer image window ``(r0, r1, c0, c1)`` covered by the canvas, clipped to the image."""
        h, w = self.image_shape[:2]
        r0 = max(0, int(math.floor(self.top)))
        c0 = max(0, int(math.floor(self.left)))
        r1 = min(h, int(math.ceil(self.top + self.canvas_height / self.scale_y)))
        c1 = min(w, int(math.ceil(self.left + self.canvas_width / self.scale_x)))
        return r0, r1, c0, c1

    def set_view(self, zoom: float, top: float, left: float) -> None:
        """Set zoom (>= 1, 1 = whole image) and the top-left edge, clamped inside the image."""
        h, w = self.image_shape[:2]
        self.zoom = float(max(1.0, zoom))
        view_h = self.canvas_height / self.scale_y
        view_w = self.canvas_width / self.scale_x
        self.top = float(min(max(0.0, top), h - view_h))
        self.left = float(min(max(0.0, left), w - view_w))


def box_window(a_rc, b_rc, shape: tuple) -> tuple:
    """Integer window ``(r0, r1, c0, c1)`` of the pixels whose centres lie in the rectangle with
    corners ``a_rc`` and ``b_rc`` (image ``(row, col)``, any order), clipped to ``shape``.

    The window is empty (``r0 >= r1`` or ``c0 >= c1``) when the rectangle misses the image.
    """
    (r0, r1), (c0, c1) = sorted((a_rc[0], b_rc[0])), sorted((a_rc[1], b_rc[1]))
    h, w = shape[:2]
    return (
        max(0, int(math.ceil(r0))),
        min(h, int(math.floor(r1)) + 1),
        max(0, int(math.ceil(c0))),
        min(w, int(math.floor(c1)) + 1),
    )


def stroke_footprint(points_rc: np.ndarray, radius: float, shape: tuple):
    """Rasterise a brush stroke: the pixels whose centres lie within ``radius`` of the polyline.

    Parameters
    ----------
    points_rc : (N, 2) ndarray of float
        Stroke vertices as image ``(row, col)``; one point gives a disk.
    radius : float
        Brush radius in image pixels; values below 0.5 are treated as 0.5 (a one-pixel line).
        The pixel holding each vertex is always part of the footprint.
    shape : tuple
        Image ``(H, W, ...)``; the footprint is clipped to it.

    Returns
    -------
    window : tuple of int or None
        ``(r0, r1, c0, c1)``, the bounding box of the footprint, or ``None`` if it misses the image.
    footprint : (r1 - r0, c1 - c0) ndarray of bool or None
    """
    pts = np.asarray(points_rc, dtype=float).reshape(-1, 2)
    h, w = shape[:2]
    radius = max(float(radius), 0.5)
    reach = radius + 1e-6
    r0 = max(0, int(math.ceil(pts[:, 0].min() - reach)))
    r1 = min(h, int(math.floor(pts[:, 0].max() + reach)) + 1)
    c0 = max(0, int(math.ceil(pts[:, 1].min() - reach)))
    c1 = min(w, int(math.floor(pts[:, 1].max() + reach)) + 1)
    if r0 >= r1 or c0 >= c1:
        return None, None
    out = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    r2 = radius * radius + 1e-6
    segments = [(pts[0], pts[0])] if len(pts) == 1 else zip(pts[:-1], pts[1:], strict=True)
    for a, b in segments:
        # Window of this segment's capsule, in footprint coordinates.
        sr0 = max(r0, int(math.ceil(min(a[0], b[0]) - reach)))
        sr1 = min(r1, int(math.floor(max(a[0], b[0]) + reach)) + 1)
        sc0 = max(c0, int(math.ceil(min(a[1], b[1]) - reach)))
        sc1 = min(c1, int(math.floor(max(a[1], b[1]) + reach)) + 1)
        if sr0 >= sr1 or sc0 >= sc1:
            continue
        rr = np.arange(sr0, sr1, dtype=float)[:, None] - a[0]
        cc = np.arange(sc0, sc1, dtype=float)[None, :] - a[1]
        d = b - a
        dd = float(d @ d)
        if dd > 0:
            t = np.clip((rr * d[0] + cc * d[1]) / dd, 0.0, 1.0)
            dist2 = (rr - t * d[0]) ** 2 + (cc - t * d[1]) ** 2
        else:
            dist2 = rr * rr + cc * cc
        out[sr0 - r0 : sr1 - r0, sc0 - c0 : sc1 - c0] |= dist2 <= r2
    # The pixel holding each vertex always counts: a thin brush clicked near a pixel's corner
    # (up to 0.71 from every centre) must not paint nothing.
    for r, c in pts:
        pr, pc = int(math.floor(r + 0.5)), int(math.floor(c + 0.5))
        if r0 <= pr < r1 and c0 <= pc < c1:
            out[pr - r0, pc - c0] = True
    if not out.any():
        return None, None
    return (r0, r1, c0, c1), out


def polygon_footprint(points_rc: np.ndarray, shape: tuple):
    """Rasterise a filled polygon (pixel centres inside or on the boundary).

    Returns ``(window, footprint)`` like :func:`stroke_footprint`.
    """
    import cv2

    pts = np.asarray(points_rc, dtype=float).reshape(-1, 2)
    h, w = shape[:2]
    r0 = max(0, int(math.floor(pts[:, 0].min())))
    r1 = min(h, int(math.ceil(pts[:, 0].max())) + 1)
    c0 = max(0, int(math.floor(pts[:, 1].min())))
    c1 = min(w, int(math.ceil(pts[:, 1].max())) + 1)
    if r0 >= r1 or c0 >= c1 or len(pts) < 3:
        return None, None
    out = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
    shift = 4  # sub-pixel precision for cv2.fillPoly
    xy = np.round((pts[:, ::-1] - (c0, r0)) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(out, [xy], 1, lineType=cv2.LINE_8, shift=shift)
    if not out.any():
        return None, None
    return (r0, r1, c0, c1), out.astype(bool)
