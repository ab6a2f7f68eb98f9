"""Seeds to Segment-Anything prompts: the frames involved and how clicks and strokes become points.

Three frames:

* the *image*: full resolution ``(H, W)``;
* the *input*: the encoder's ``S x S`` square, holding the photo resized to ``(new_h, new_w)``
  (aspect kept and padded at the bottom/right, or stretched to the square);
* the *work* grid: the ``(new_h, new_w)`` part of the input, one cell per input pixel. Logits,
  the stroke graph cut and the seed analysis live here (at most ``S x S`` cells, however large
  the photo).

A seed component (one connected region of one seed code) becomes prompt points. A small one
(a click: at most :data:`CLICK_CELLS` work cells or :data:`CLICK_PIXELS` image pixels across)
gives one point, its most interior
pixel computed at full resolution, transformed as SAM's ``apply_coords`` does (``x * new_w /
W``). A larger one (a stroke, a wand or polygon region) gives up to ``stroke_points`` points
spread along it (farthest-point sampling, starting at its most interior cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ipyseg._util.arrays import nonzero_rect
from ipyseg.seeds import codes_present

#: A seed component at most this many work cells (and at least CLICK_PIXELS image pixels) across is a click.
CLICK_CELLS = 8
CLICK_PIXELS = 24
#: Work cells between the points sampled along a stroke, as a fraction of the work grid's longer side.
STROKE_SPACING = 1 / 8


@dataclass(frozen=True)
class Frame:
    """Sizes of one photo in SAM's frames (see the module docstring)."""

    height: int
    width: int
    size: int  # S, the encoder's input side
    new_h: int
    new_w: int

    @classmethod
    def make(cls, height: int, width: int, size: int, resize: str) -> Frame:
        """``resize="longest"``: SAM's resize of the longer side to ``size``; ``"stretch"``: SAM 2's square."""
        if resize == "stretch":
            return cls(height, width, size, size, size)
        scale = size / max(height, width)
        new_h, new_w = int(height * scale + 0.5), int(width * scale + 0.5)
        return cls(height, width, size, max(1, new_h), max(1, new_w))

    @property
    def scale_x(self) -> float:
        """Model input pixels per image column."""
        return self.new_w / self.width

    @property
    def scale_y(self) -> float:
        """Model input pixels per image row."""
        return self.new_h / self.height

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Image ``(x, y)`` pixel coordinates to the input frame (SAM's ``apply_coords``)."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        return np.column_stack([xy[:, 0] * self.scale_x, xy[:, 1] * self.scale_y])


def work_seeds(seeds: np.ndarray, frame: Frame, bbox: tuple | None = None) -> np.ndarray:
    """Seeds on the work grid: each cell takes the largest seed code found in its footprint.

    Parameters
    ----------
    seeds : (H, W) ndarray of uint16
    frame : Frame
    bbox : tuple, optional
        ``cv2.boundingRect(seeds)`` if known; only that part of the seeds is read.

    Returns
    -------
    (new_h, new_w) ndarray of uint16
        Thin strokes and small clicks survive the reduction (objects win over background in a
        cell holding both).
    """
    h, w = frame.new_h, frame.new_w
    if (h, w) == seeds.shape:
        return seeds
    x, y, bw, bh = nonzero_rect(seeds) if bbox is None else bbox
    out = np.zeros((h, w), seeds.dtype)
    if bw == 0 or bh == 0:
        return out
    big_h, big_w = seeds.shape
    # cv2's nearest-neighbour resize reads source pixel floor(i * H / h) for cell i
    rows = np.minimum((np.arange(h) * (big_h / h)).astype(np.intp), big_h - 1)
    cols = np.minimum((np.arange(w) * (big_w / w)).astype(np.intp), big_w - 1)
    kx, ky = math.ceil(big_w / w) + 1, math.ceil(big_h / h) + 1
    # cells whose footprint [src, src + k) meets the box
    i0, i1 = int(np.searchsorted(rows, y - ky, "right")), int(np.searchsorted(rows, y + bh, "left"))
    j0, j1 = int(np.searchsorted(cols, x - kx, "right")), int(np.searchsorted(cols, x + bw, "left"))
    if i0 >= i1 or j0 >= j1:
        return out
    r0, r1 = int(rows[i0]), min(big_h, int(rows[i1 - 1]) + ky)
    c0, c1 = int(cols[j0]), min(big_w, int(cols[j1 - 1]) + kx)
    sub = seeds[r0:r1, c0:c1]
    if kx > 2 or ky > 2:
        # with the dilation (anchor at the top-left), the sampled pixel holds the max over the cell
        sub = cv2.dilate(sub, np.ones((ky, kx), np.uint8), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    out[i0:i1, j0:j1] = np.take(np.take(sub, cols[j0:j1] - c0, axis=1), rows[i0:i1] - r0, axis=0)
    return out


def _inside_distance(mask: np.ndarray) -> np.ndarray:
    """Squared distance of each pixel of ``mask`` to the nearest pixel outside it (the border counts
    as outside), as exact integers (int64).

    OpenCV's exact transform returns square roots whose last bit varies between identical calls
    (its SIMD paths depend on memory alignment); near-equal maxima then picked different pixels,
    so the same seeds gave different prompts. Squared distances between pixel centres are
    integers: rounding them removes that noise (exact for distances up to ~2000 pixels).
    """
    d = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    return np.rint(np.square(d, dtype=np.float64)).astype(np.int64)


def _most_interior(mask: np.ndarray) -> tuple[int, int]:
    """``(row, col)`` of the pixel farthest from the outside of ``mask`` (first in row-major order)."""
    dist = _inside_distance(mask)
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(r), int(c)


def _central_component(mask: np.ndarray, core: tuple) -> np.ndarray:
    """The connected component of ``mask`` with most pixels in ``core`` = (row, col, height, width)."""
    n, comp = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    r, c, h, w = core
    inner = comp[max(0, r) : max(0, r) + int(math.ceil(h)), max(0, c) : max(0, c) + int(math.ceil(w))]
    counts = np.bincount(inner.ravel(), minlength=n)[1:]
    return comp == 1 + int(np.argmax(counts))


def _farthest_points(mask: np.ndarray, first: tuple[int, int], n: int, max_pixels: int = 40_000) -> np.ndarray:
    """``n`` cells of ``mask`` spread by farthest-point sampling from ``first``; (n, 2) (row, col)."""
    rows, cols = np.nonzero(mask)
    if rows.size > max_pixels:
        step = int(math.ceil(rows.size / max_pixels))
        rows, cols = rows[::step], cols[::step]
    chosen = [first]
    d2 = (rows - first[0]) ** 2 + (cols - first[1]) ** 2
    while len(chosen) < n:
        i = int(np.argmax(d2))
        if d2[i] == 0:
            break
        chosen.append((int(rows[i]), int(cols[i])))
        d2 = np.minimum(d2, (rows - rows[i]) ** 2 + (cols - cols[i]) ** 2)
    return np.array(chosen, dtype=np.float64)


def seed_points(seeds: np.ndarray, ws: np.ndarray, frame: Frame, stroke_points: int) -> dict:
    """Prompt points of every seed code present.

    Parameters
    ----------
    seeds : (H, W) ndarray of uint16
        Full-resolution seeds.
    ws : (new_h, new_w) ndarray of uint16
        The same seeds on the work grid (:func:`work_seeds`).
    frame : Frame
    stroke_points : int
        Most points taken from one stroke.

    Returns
    -------
    dict
        ``{code: (n, 2) float64 array of input-frame (x, y)}`` for every code ``>= 1`` present.
    """
    out = {}
    spacing = max(1.0, STROKE_SPACING * max(frame.new_h, frame.new_w))
    fx, fy = frame.width / frame.new_w, frame.height / frame.new_h
    click_extent = max(CLICK_PIXELS, CLICK_CELLS * max(fx, fy))
    mx, my = int(math.ceil(fx)) + 2, int(math.ceil(fy)) + 2  # reach of a cell's footprint
    bx, by, bw, bh = nonzero_rect(ws)  # work only where seeds are
    crop = ws[by : by + bh, bx : bx + bw]
    for code in codes_present(crop):
        if code == 0:
            continue
        n, comp, stats, _ = cv2.connectedComponentsWithStats((crop == code).view(np.uint8), connectivity=8)
        pts = []
        for i in range(1, n):
            x, y, cw, ch = (int(v) for v in stats[i, :4])
            cells = comp[y : y + ch, x : x + cw] == i
            x, y = x + bx, y + by  # work-grid coordinates
            if max(cw * fx, ch * fy) <= click_extent:
                # a click: its most interior pixel at full resolution, exact
                r0, r1 = max(0, int(y * fy) - my), min(frame.height, int(math.ceil((y + ch) * fy)) + my)
                c0, c1 = max(0, int(x * fx) - mx), min(frame.width, int(math.ceil((x + cw) * fx)) + mx)
                sub = seeds[r0:r1, c0:c1] == code
                sub = _central_component(sub, (int(y * fy) - r0, int(x * fx) - c0, ch * fy, cw * fx))
                if sub.any():
                    r, c = _most_interior(sub)
                    pts.append(frame.to_input([(c0 + c, r0 + r)])[0])
                    continue
            dist = _inside_distance(cells)
            first = np.unravel_index(int(np.argmax(dist)), dist.shape)
            count = int(min(stroke_points, max(1, math.ceil(max(cw, ch) / spacing))))
            spine = dist >= 0.49 * dist[first]  # (0.7 x the largest distance)²: the middle of a thick stroke
            rc = _farthest_points(spine, (int(first[0]), int(first[1])), count)
            pts.extend(np.column_stack([rc[:, 1] + x, rc[:, 0] + y]))
        if pts:
            unique = np.unique(np.round(np.asarray(pts, np.float64), 3), axis=0)
            out[int(code)] = unique
    return out


def box_to_input(window: tuple, frame: Frame) -> np.ndarray:
    """A box window ``(r0, r1, c0, c1)`` (end exclusive) as SAM's two input-frame corners, (2, 2) ``(x, y)``."""
    r0, r1, c0, c1 = window
    return frame.to_input([(c0, r0), (c1 - 1, r1 - 1)])
