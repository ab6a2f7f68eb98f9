"""Getting masks out: PNG files, COCO run-length encoding, polygons."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

_LOSSLESS = {".png", ".bmp", ".tif", ".tiff"}


def save_png(arr: np.ndarray, path, name: str = "path") -> Path:
    """Write an (H, W) uint8 array as a lossless image (PNG unless the suffix says BMP/TIFF)."""
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
    Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8)).save(path)
    return path


def _as_mask(mask, name: str = "mask") -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D (H, W) array; got shape {arr.shape}")
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
    """Decode :func:`to_coco_rle` output back to an (H, W) bool mask."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
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
    m = _as_mask(mask).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        if tolerance > 0:
            c = cv2.approxPolyDP(c, float(tolerance), True)
        if len(c) >= 3 and cv2.contourArea(c) >= min_area:
            out.append(c.reshape(-1, 2).astype(float))
    return out
