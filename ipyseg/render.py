"""Labels and seeds to display pixels. Pure numpy (plus encoders), no widgets.

Overlays are sent as palette PNGs: one byte per display pixel before compression, with the
colour table and per-entry transparency in the PNG header. That is lossless (no JPEG fringes on
label edges) and a fraction of the size and encoding time of an RGBA PNG.
"""

from __future__ import annotations

import colorsys
import functools
import io

import cv2
import numpy as np
from PIL import Image

#: Colour of background seeds.
BACKGROUND_COLOR = (230, 40, 40)


def _make_palette(n: int = 24) -> np.ndarray:
    """``n`` well-separated RGB colours (golden-ratio hue steps, alternating brightness)."""
    cols = []
    for i in range(n):
        h = (0.33 + i * 0.61803398875) % 1.0
        s = 0.85 if i % 3 else 0.65
        v = 1.0 if i % 2 == 0 else 0.78
        cols.append([round(255 * c) for c in colorsys.hsv_to_rgb(h, s, v)])
    return np.array(cols, dtype=np.uint8)


#: Object colours: object k uses ``PALETTE[(k - 1) % len(PALETTE)]`` (object 1 is green).
PALETTE = _make_palette()


def object_color(k: int) -> tuple:
    """RGB colour of object ``k`` (k >= 1)."""
    return tuple(int(c) for c in PALETTE[(k - 1) % len(PALETTE)])


def seed_color(code: int) -> tuple:
    """RGB colour used to draw seed code ``code`` (1 background, k + 1 object k)."""
    return BACKGROUND_COLOR if code == 1 else object_color(code - 1)


def css(rgb, alpha: float = 1.0) -> str:
    return f"rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.3f})"


@functools.lru_cache(maxsize=32)
def label_lut(opacity: float) -> np.ndarray:
    """(256, 4) RGBA table for labels: 0 transparent, k the object colour at ``opacity`` (read-only, cached)."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[1:, :3] = [object_color(k) for k in range(1, 256)]
    lut[1:, 3] = int(round(255 * float(opacity)))
    lut.flags.writeable = False
    return lut


@functools.lru_cache(maxsize=32)
def seed_lut(alpha: float = 0.9) -> np.ndarray:
    """(256, 4) RGBA table for seed codes: 0 transparent, 1 background colour, k + 1 object k (read-only, cached)."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[1:, :3] = [seed_color(c) for c in range(1, 256)]
    lut[1:, 3] = int(round(255 * alpha))
    lut.flags.writeable = False
    return lut


def resample_nearest(arr: np.ndarray, window, out_shape) -> np.ndarray:
    """Nearest-neighbour resample of ``arr[r0:r1, c0:c1]`` to ``out_shape`` (rows, cols).

    Samples the source pixel under each destination pixel centre, so a label image maps
    pixel-exactly onto the canvas.
    """
    r0, r1, c0, c1 = window
    oh, ow = out_shape
    rows = np.minimum(r0 + ((np.arange(oh) + 0.5) * (r1 - r0) / oh).astype(np.intp), r1 - 1)
    cols = np.minimum(c0 + ((np.arange(ow) + 0.5) * (c1 - c0) / ow).astype(np.intp), c1 - 1)
    return arr[rows[:, None], cols[None, :]]


def sample_nearest(arr: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``arr[rows[:, None], cols[None, :]]``, computed as two contiguous gathers (several times faster).

    Parameters
    ----------
    arr : (H, W) ndarray
    rows : (h,) ndarray of intp
    cols : (w,) ndarray of intp

    Returns
    -------
    (h, w) ndarray, same dtype as ``arr``
    """
    return arr.take(rows, axis=0).take(cols, axis=1)


def resample_window(index: np.ndarray, arr: np.ndarray, window, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A copy of display ``index`` with ``window = (r0, r1, c0, c1)`` resampled from ``arr``.

    ``rows`` and ``cols`` map every display row and column to its source (see
    :meth:`ipyseg.geometry.Viewport.canvas_pixel_sources`); pixels outside the window keep their
    old values, so only the part of a full-resolution label image that changed is sampled.
    """
    out = index.copy()
    r0, r1, c0, c1 = window
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = sample_nearest(arr, rows[r0:r1], cols[c0:c1])
    return out


def encode_palette_png(index: np.ndarray, lut: np.ndarray, compress_level: int = 1) -> bytes:
    """Encode an (h, w) uint8 index image with an RGBA lookup table as a palette PNG."""
    im = Image.fromarray(np.ascontiguousarray(index, dtype=np.uint8), mode="P")
    used = int(index.max()) + 1 if index.size else 1
    im.putpalette(lut[:used, :3].ravel().tobytes(), rawmode="RGB")
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=compress_level, transparency=lut[:used, 3].tobytes())
    return buf.getvalue()


def encode_png(rgb: np.ndarray, compress_level: int = 1) -> bytes:
    """Lossless PNG of an (h, w, 3|4) uint8 RGB(A) array (for the base photo)."""
    code = cv2.COLOR_RGB2BGR if rgb.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, code), [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:  # pragma: no cover - cv2 only fails on invalid input
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def changed_window(old: np.ndarray | None, new: np.ndarray):
    """Bounding box ``(r0, r1, c0, c1)`` of the pixels where two equal-shape arrays differ.

    ``None`` when they are equal; the whole array when ``old`` is ``None``.
    """
    if old is None or old.shape != new.shape:
        return (0, new.shape[0], 0, new.shape[1])
    diff = old != new
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0] : rows[-1] + 1].any(axis=0))
    return (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
