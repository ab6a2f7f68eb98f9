"""Getting masks out: PNG files, COCO run-length encoding, polygons."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

_LOSSLESS = {".png", ".bmp", ".tif", ".tiff"}


def save_png(arr: np.ndarray, path, name: str = "path") -> Path:
    """Write an (H, W) uint8 array as a lossless image (PNG unless the suffix says BMP/TIFF).

    Parameters
    ----------
    arr : (H, W) array_like of bool or integers in [0, 255]
        Written as 8-bit gray (``True`` -> 1).
    path : str or path
        Ends in ``.png``, ``.bmp``, ``.tif`` or ``.tiff``; written atomically (a temporary file
        in the same folder, then renamed).

    Returns
    -------
    Path
    """
    from PIL import Image

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a file path; got {type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() not in _LOSSLESS:
        raise ValueError(
            f"`{name}` must end in one of {sorted(_LOSSLESS)} (lossless; JPEG blurs mask edges); got '{path.name}'"
        )
    if not path.parent.exists():
        raise FileNotFoundError(f"`{name}`: folder '{path.parent}' does not exist")
    a = np.asarray(arr)
    if a.ndim != 2 or a.dtype.kind not in "biu":
        raise ValueError(f"`arr` must be a 2-D (H, W) array of bool or integers; got shape {a.shape}, dtype {a.dtype}")
    if a.size and a.dtype.kind in "iu" and (int(a.min()) < 0 or int(a.max()) > 255):
        raise ValueError(f"`arr` values must lie in [0, 255]; got [{int(a.min())}, {int(a.max())}]")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        Image.fromarray(np.ascontiguousarray(a, dtype=np.uint8)).save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _as_mask(mask, name: str = "mask") -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D (H, W) array; got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be bool or numeric; got dtype {arr.dtype}")
    return arr.astype(bool, copy=False)


def to_coco_rle(mask) -> dict:
    """COCO run-length encoding of a binary mask (uncompressed, column-major).

    Parameters
    ----------
    mask : (H, W) array_like of bool

    Returns
    -------
    dict
        ``{"size": [H, W], "counts": [n0, n1, ...]}`` with alternating runs of 0s and 1s in
        Fortran (column-major) order, starting with 0s, as ``pycocotools.mask.frPyObjects``
        accepts it.
    """
    m = _as_mask(mask)
    flat = m.ravel(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": [int(c) for c in counts]}


def from_coco_rle(rle: dict) -> np.ndarray:
    """Decode :func:`to_coco_rle` output back to an (H, W) bool mask.

    Parameters
    ----------
    rle : dict
        ``{"size": [H, W], "counts": [n0, n1, ...]}`` (uncompressed; compressed COCO strings
        need ``pycocotools``).
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise TypeError(f"`rle` must be a dict with 'size' and 'counts'; got {type(rle).__name__} {str(rle)[:80]}")
    if isinstance(rle["counts"], (str, bytes)):
        raise ValueError("`rle` counts are a compressed COCO string; decode it with pycocotools.mask.decode")
    try:
        h, w = (int(v) for v in rle["size"])
        counts = np.asarray(rle["counts"], dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`rle` must hold 'size' [H, W] and integer 'counts'; got {str(rle)[:80]}") from err
    if h < 0 or w < 0 or counts.ndim != 1 or (counts < 0).any():
        raise ValueError(f"`rle` size and counts must be non-negative; got size {[h, w]}")
    if counts.sum() != h * w:
        raise ValueError(f"`rle` counts sum to {counts.sum()}; expected {h * w} for size {[h, w]}")
    values = np.arange(counts.size) % 2 == 1
    return np.repeat(values, counts).reshape((h, w), order="F")


def to_polygons(mask, *, tolerance: float = 0.0, min_area: float = 1.0) -> list[np.ndarray]:
    """Outer contours of a binary mask as polygons.

    Parameters
    ----------
    mask : (H, W) array_like of bool
    tolerance : float
        Douglas-Peucker simplification tolerance in pixels (0 keeps every vertex).
    min_area : float
        Polygons of smaller area are dropped.

    Returns
    -------
    list of (N, 2) ndarray of float
        Vertices as ``(x, y)`` image coordinates (COCO's convention), one array per component.
    """
    for arg, value in (("tolerance", tolerance), ("min_area", min_area)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"`{arg}` must be a number >= 0; got {type(value).__name__} {value!r}")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{arg}` must be a finite number >= 0; got {value}")
    m = _as_mask(mask).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        if tolerance > 0:
            c = cv2.approxPolyDP(c, float(tolerance), True)
        if len(c) >= 3 and cv2.contourArea(c) >= min_area:
            out.append(c.reshape(-1, 2).astype(float))
    return out
