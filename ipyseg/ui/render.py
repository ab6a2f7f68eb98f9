"""Labels and seeds to display pixels. Pure numpy (plus encoders), no widgets.

Overlays are sent as palette PNGs: one byte per display pixel before compression, with the
colour table and per-entry transparency in the PNG header. That is lossless (no JPEG fringes on
label edges) and a fraction of the size and encoding time of an RGBA PNG.
"""

from __future__ import annotations

import functools
import io

import cv2
import numpy as np
from PIL import Image

#: Colour of background seeds.
BACKGROUND_COLOR = (230, 40, 40)


#: The first object colours: a bright green first, then Kelly's (1965) colours of maximum
#: contrast without white, black, red (background seeds are red) and the near-black olive,
#: then a few saturated extras. 24 entries.
_FIRST = np.array(
    [
        (46, 204, 64),
        (0, 103, 165),
        (243, 132, 0),
        (135, 86, 146),
        (243, 195, 0),
        (161, 202, 241),
        (194, 178, 128),
        (132, 132, 130),
        (0, 136, 86),
        (230, 143, 172),
        (249, 147, 121),
        (96, 78, 151),
        (246, 166, 0),
        (179, 68, 108),
        (120, 40, 200),
        (136, 45, 23),
        (141, 182, 0),
        (101, 69, 34),
        (226, 88, 34),
        (0, 200, 200),
        (255, 0, 255),
        (0, 255, 127),
        (30, 144, 255),
        (255, 215, 180),
    ],
    dtype=np.uint8,
)

#: Colours repeat with this period (object k and k + 254 look alike): the overlay is sent as
#: an 8-bit palette image, entry 0 transparent, entry 1 the background seeds' red.
PERIOD = 254


def _golden_hues(n: int) -> np.ndarray:
    """``n`` RGB colours whose hue advances by the golden angle (137.5 degrees) from one to the
    next, so that neighbouring ids are far apart in hue; saturation and value cycle too, and
    reds near the background seeds' colour are skipped.
    """
    out, i = [], 0
    while len(out) < n:
        hue = (0.11 + i * 0.381966) % 1.0
        i += 1
        if hue < 0.03 or hue > 0.96:  # red: the colour of background seeds
            continue
        sat = (1.0, 0.65, 0.85)[len(out) % 3]
        val = (0.95, 0.8, 1.0, 0.7)[len(out) % 4]
        rgb = cv2.cvtColor(
            np.array([[[hue * 180.0, sat * 255.0, val * 255.0]]], np.float32).astype(np.uint8), cv2.COLOR_HSV2RGB
        )
        out.append(tuple(int(c) for c in rgb[0, 0]))
    return np.array(out, np.uint8)


#: Object colours, object k uses ``PALETTE[(k - 1) % PERIOD]``: :data:`_FIRST`, then golden-angle hues.
PALETTE = np.concatenate([_FIRST, _golden_hues(PERIOD - len(_FIRST))])
PALETTE.flags.writeable = False


def object_color(k: int) -> tuple:
    """RGB colour of object ``k`` (k >= 1)."""
    return tuple(int(c) for c in PALETTE[(int(k) - 1) % PERIOD])


def _index_tables() -> tuple[np.ndarray, np.ndarray]:
    ids = np.arange(65536, dtype=np.int64)
    labels = np.where(ids > 0, (ids - 1) % PERIOD + 1, 0).astype(np.uint8)  # object k -> 1..254
    seeds = np.where(ids >= 2, (ids - 2) % PERIOD + 2, ids).astype(np.uint8)  # 1 stays 1, code k + 1 -> 2..255
    labels.flags.writeable = seeds.flags.writeable = False
    return labels, seeds


_LABEL_INDEX, _SEED_INDEX = _index_tables()


def label_index(labels: np.ndarray) -> np.ndarray:
    """uint8 palette index of (h, w) labels (any id up to 65,535) for :func:`label_lut`."""
    if labels.dtype == np.uint8 and (labels.size == 0 or int(labels.max()) <= PERIOD):
        return labels
    return _LABEL_INDEX[labels]


def seed_index(seeds: np.ndarray) -> np.ndarray:
    """uint8 palette index of (h, w) seed codes (up to 65,535) for :func:`seed_lut`."""
    if seeds.dtype == np.uint8:
        return seeds
    return _SEED_INDEX[seeds]


def seed_color(code: int) -> tuple:
    """RGB colour used to draw seed code ``code`` (1 background, k + 1 object k)."""
    return BACKGROUND_COLOR if code == 1 else object_color(code - 1)


def css(rgb, alpha: float = 1.0) -> str:
    """CSS ``rgba(...)`` of an RGB triple and an opacity."""
    return f"rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.3f})"


@functools.lru_cache(maxsize=32)
def label_lut(opacity: float) -> np.ndarray:
    """(256, 4) RGBA table for labels: 0 transparent, k the object colour at ``opacity`` (read-only, cached)."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[1 : PERIOD + 1, :3] = PALETTE
    lut[1:, 3] = int(round(255 * float(opacity)))
    lut.flags.writeable = False
    return lut


@functools.lru_cache(maxsize=32)
def seed_lut(alpha: float = 0.9) -> np.ndarray:
    """(256, 4) RGBA table for seed codes: 0 transparent, 1 background colour, k + 1 object k (read-only, cached)."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[1, :3] = BACKGROUND_COLOR
    lut[2:, :3] = PALETTE
    lut[1:, 3] = int(round(255 * alpha))
    lut.flags.writeable = False
    return lut


def sample_nearest(arr: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``arr[rows[:, None], cols[None, :]]``, computed as two contiguous gathers (several times faster).

    Parameters
    ----------
    arr : (H, W) or (H, W, C) ndarray
    rows : (h,) ndarray of intp
    cols : (w,) ndarray of intp

    Returns
    -------
    (h, w) or (h, w, C) ndarray, same dtype as ``arr``
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


def encode_jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    """JPEG of an (h, w, 3|4) uint8 RGB(A) array (alpha dropped), for transient zoomed views."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb[:, :, :3], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def contours(index: np.ndarray) -> np.ndarray:
    """Keep only the boundary pixels of each labelled region (4-neighbourhood), zero elsewhere (same dtype)."""
    edge = np.zeros(index.shape, bool)
    edge[1:, :] |= index[1:, :] != index[:-1, :]
    edge[:-1, :] |= index[:-1, :] != index[1:, :]
    edge[:, 1:] |= index[:, 1:] != index[:, :-1]
    edge[:, :-1] |= index[:, :-1] != index[:, 1:]
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    return np.where(edge, index, 0).astype(index.dtype)
