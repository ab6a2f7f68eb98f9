"""Input coercion and the error messages users see.

Every public entry point funnels its arrays through these helpers, so that a bad argument
fails early with a message that names the argument, what was expected and what was received.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ipyseg._constants import MAX_OBJECTS
from ipyseg.display import as_picture
from ipyseg.geometry import box_window
from ipyseg.io import checked_image_path, read_image_file, sample_path  # noqa: F401  (re-exported)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def check_max_display_pixels(value, allow_none: bool = False) -> None:
    """``max_display_pixels``: an integer >= 4 (or ``None`` where the caller has a default)."""
    if allow_none and value is None:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 4:
        extra = " (or None)" if allow_none else ""
        raise ValueError(f"`max_display_pixels` must be an integer >= 4{extra}; got {value!r}")


def as_image(image, name: str = "image") -> np.ndarray:
    """Validate an image and return it as shown with the default display: uint8 RGB or RGBA.

    Parameters
    ----------
    image : array_like, PIL image, str or path
        Gray, RGB or RGBA (see :func:`ipyseg.io.as_image_data`); any integer dtype, bool or
        finite floats.
    name : str
        Argument name used in error messages.

    Returns
    -------
    (H, W, 3) or (H, W, 4) ndarray of uint8
        A new C-contiguous array (never a view of the input), gray expanded to RGB. 8-bit
        images are returned as they are; wider integers and floats through their robust
        default display range (:mod:`ipyseg.display`).
    """
    return np.array(as_picture(image, name=name).image(), order="C", copy=True)


def as_seeds(seeds, shape: tuple, name: str = "seeds") -> np.ndarray:
    """Validate a seed array against an image shape.

    Parameters
    ----------
    seeds : (H, W) array_like of int
        ``0`` unmarked, ``1`` background, ``k + 1`` object ``k``.
    shape : tuple
        Shape of the image the seeds belong to; only (H, W) is compared.

    Returns
    -------
    (H, W) ndarray of uint16
        A new C-contiguous array.
    """
    if isinstance(seeds, (list, tuple)):
        seeds = np.asarray(seeds)
    if not isinstance(seeds, np.ndarray):
        raise TypeError(f"`{name}` must be a numpy array of seed codes; got {_describe(seeds)}")
    if seeds.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D (H, W) array; got shape {seeds.shape}")
    if seeds.shape != tuple(shape[:2]):
        raise ValueError(
            f"`{name}` (shape {seeds.shape}) must have the same height and width as the image (shape {tuple(shape)})"
        )
    kind = seeds.dtype.kind
    if kind == "b":
        return seeds.astype(np.uint16) * np.uint16(2)  # True = first object
    if kind == "f":
        if not np.isfinite(seeds).all() or not np.array_equal(seeds, np.round(seeds)):
            raise ValueError(f"`{name}` must hold integer seed codes; got non-integer floats")
    elif kind not in "iu":
        raise TypeError(f"`{name}` must have an integer dtype; got {seeds.dtype}")
    if seeds.size:
        lo, hi = seeds.min(), seeds.max()
        if lo < 0 or hi > MAX_OBJECTS + 1:
            raise ValueError(
                f"`{name}` codes must lie in [0, {MAX_OBJECTS + 1}] (0 unmarked, 1 background, "
                f"k + 1 object k for k <= {MAX_OBJECTS}); got values in [{lo:g}, {hi:g}]"
            )
    return np.ascontiguousarray(seeds, dtype=np.uint16).copy()


#: Files whose pixel values carry compression noise: a mask read from one is thresholded.
_LOSSY_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")


def as_labels(mask, shape: tuple, name: str = "mask") -> np.ndarray:
    """Convert an external mask or label image to (H, W) uint16 labels.

    Binary masks (bool, or two values of which the larger is 255 or 65535, such as 0/255)
    become object 1. Integer label images of any integer dtype with values in
    [0, ``MAX_OBJECTS``] are kept as they are, also from 8- and 16-bit files (``save_labels``'
    PNG, cellpose / StarDist TIFFs). An 8-bit file holding 255 (a gray or anti-aliased mask)
    and a lossy file (JPEG, with compression noise) are thresholded at 128; float files at 0.5.
    """
    if isinstance(mask, (str, os.PathLike)):
        mask = _read_mask_file(mask, name)
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"`{name}` must be a numpy array or a path to a mask image; got {_describe(mask)}")
    if mask.ndim != 2 or mask.shape != tuple(shape[:2]):
        raise ValueError(
            f"`{name}` (shape {mask.shape}) must be 2-D with the image's height and width ({tuple(shape[:2])})"
        )
    if mask.dtype == np.bool_:
        return mask.astype(np.uint16)
    if mask.dtype.kind == "f":
        if not np.isfinite(mask).all():
            raise ValueError(f"`{name}` contains NaN or infinite values")
        return (mask > 0.5).astype(np.uint16)
    if mask.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must be bool or integer; got dtype {mask.dtype}")
    vals = np.unique(mask)
    if vals.min() < 0:
        raise ValueError(f"`{name}` must not contain negative labels; got minimum {vals.min()}")
    if vals.size <= 2 and (vals.max() > MAX_OBJECTS or vals.max() == 255):  # a 0/255 or 0/65535 binary mask
        return (mask > 0).astype(np.uint16)
    if vals.max() > MAX_OBJECTS:
        raise ValueError(f"`{name}` labels must lie in [0, {MAX_OBJECTS}]; got maximum {vals.max()}")
    return np.ascontiguousarray(mask, dtype=np.uint16).copy()


def _read_mask_file(path, name: str) -> np.ndarray:
    """A mask or label image file as an array: colour reduced to its largest channel, an 8-bit
    file holding 255 (a gray or anti-aliased mask) or a lossy one thresholded at 128.
    """
    lossy = Path(path).suffix.lower() in _LOSSY_SUFFIXES
    mask = read_image_file(path, name)
    if mask.ndim == 3:
        mask = mask[:, :, :3].max(axis=2)
    if mask.dtype == np.uint8 and (lossy or mask.max() == 255):
        mask = mask > 127
    return mask


def as_instance_labels(labels, shape: tuple, name: str = "labels") -> np.ndarray:
    """Like :func:`as_labels`, but ids of any size: an instance label image whose ids exceed
    ``MAX_OBJECTS`` (int32 / int64 ids from another tool) is renumbered 1..n in id order, as long
    as it holds at most ``MAX_OBJECTS`` objects. (H, W) uint16.
    """
    if isinstance(labels, (str, os.PathLike)):
        labels = _read_mask_file(labels, name)  # read once; ids may exceed MAX_OBJECTS (a 32-bit TIFF)
    if isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" and labels.ndim == 2 and labels.size:
        vals = np.unique(labels)
        if vals.size > 2 and vals.max() > MAX_OBJECTS and vals.min() >= 0:
            n = vals.size - (vals[0] == 0)
            if n > MAX_OBJECTS:
                raise ValueError(f"`{name}` holds {n} objects; at most {MAX_OBJECTS} are supported")
            ranks = np.searchsorted(vals, labels) + (vals[0] != 0)
            labels = ranks.astype(np.uint16)
    return as_labels(labels, shape, name)


def as_points(points, name: str = "points") -> np.ndarray:
    """Convert (x, y) points in image pixels to an (N, 2) float array of (row, col).

    This and :class:`ipyseg.geometry.Viewport` are the only places where x/y become row/col.
    """
    try:
        raw = np.asarray(points)
        if raw.dtype.kind not in "iuf":  # strings ("12"), objects, bools are not coordinates
            raise TypeError(f"dtype {raw.dtype}")
        arr = raw.astype(float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` must be a sequence of (x, y) number pairs; got {_describe(points)}") from err
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty sequence of (x, y) pairs; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"`{name}` contains NaN or infinite coordinates")
    return arr[:, ::-1].copy()


def as_boxes(boxes, shape: tuple, name: str = "boxes") -> dict:
    """Validate box prompts ``{seed code: (x0, y0, x1, y1)}`` (inclusive image-pixel corners).

    Returns
    -------
    dict
        ``{code: (r0, r1, c0, c1)}``: the windows (end exclusive) of the pixels whose centres
        lie in each box, clipped to the image (as the widget's box tool stores them).
    """
    if not isinstance(boxes, dict):
        raise TypeError(f"`{name}` must be a dict {{seed code: (x0, y0, x1, y1)}}; got {_describe(boxes)}")
    out = {}
    for code, box in boxes.items():
        code = as_label_code(code, f"{name} key")
        if code < 2:
            raise ValueError(f"`{name}` keys must be object seed codes (k + 1 >= 2); got {code}")
        try:
            x0, y0, x1, y1 = (float(v) for v in box)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}[{code}]` must be 4 numbers (x0, y0, x1, y1); got {box!r}") from None
        if not np.isfinite([x0, y0, x1, y1]).all():
            raise ValueError(f"`{name}[{code}]` must be finite; got {box!r}")
        window = box_window((y0, x0), (y1, x1), shape)
        if window[0] >= window[1] or window[2] >= window[3]:
            raise ValueError(f"`{name}[{code}]` {tuple(box)} does not overlap the image ({shape[1]} x {shape[0]})")
        out[code] = window
    return out


def as_label_code(label, name: str = "label") -> int:
    """Validate a seed code to paint with (1 background, k + 1 object k)."""
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer seed code; got {_describe(label)}")
    if not 1 <= int(label) <= MAX_OBJECTS + 1:
        raise ValueError(
            f"`{name}` must be BACKGROUND (1) or an object code k + 1 in [2, {MAX_OBJECTS + 1}]; got {label}"
        )
    return int(label)


def as_object_id(obj, name: str = "obj") -> int:
    """Validate an object id (``1`` is the first object; ``0`` is the background, not an object)."""
    if isinstance(obj, bool) or not isinstance(obj, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer object id in [1, {MAX_OBJECTS}]; got {_describe(obj)}")
    if not 1 <= int(obj) <= MAX_OBJECTS:
        raise ValueError(f"`{name}` must be an object id in [1, {MAX_OBJECTS}] (0 is the background); got {obj}")
    return int(obj)


def as_radius(radius, name: str = "radius") -> float:
    """Validate a brush radius in image pixels (a positive finite number)."""
    if isinstance(radius, bool) or not isinstance(radius, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a number of image pixels; got {_describe(radius)}")
    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"`{name}` must be a positive number of image pixels; got {radius}")
    return float(radius)
