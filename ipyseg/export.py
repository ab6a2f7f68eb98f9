"""Getting masks out: PNG files, COCO run-length encoding, polygons."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ipyseg._util.files import atomic_write
from ipyseg.objects import crops

_LOSSLESS = {".png", ".bmp", ".tif", ".tiff"}


def encode_label_png(arr: np.ndarray, name: str = "labels") -> bytes:
    """(H, W) integer array -> PNG bytes: 8-bit if every value fits, else 16-bit."""
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.dtype.kind not in "iub":
        raise ValueError(f"`{name}` must be a 2-D integer array; got {arr.dtype} array of shape {arr.shape}")
    hi = int(arr.max()) if arr.size else 0
    lo = int(arr.min()) if arr.size else 0
    if lo < 0 or hi > 65535:
        raise ValueError(f"`{name}` values must lie in [0, 65535] to be stored as PNG; got [{lo}, {hi}]")
    arr = np.ascontiguousarray(arr, dtype=np.uint8 if hi <= 255 else np.uint16)
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8/uint16 single-channel array
        raise RuntimeError(f"PNG encoding of `{name}` failed")
    return buf.tobytes()


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


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def to_polygons(mask, *, tolerance: float = 0.0, min_area: float = 1.0, holes: bool = True) -> list[np.ndarray]:
    """Contours of a binary mask as polygons, holes included.

    Parameters
    ----------
    mask : (H, W) array_like of bool
    tolerance : float
        Douglas-Peucker simplification tolerance in pixels (0 keeps every vertex).
    min_area : float
        Rings of smaller area are dropped.
    holes : bool
        Also return the holes' rings (``False``: outer contours only).

    Returns
    -------
    list of (N, 2) ndarray of float
        Rings as ``(x, y)`` image coordinates of boundary pixel centres (COCO's convention).
        Each outer ring is followed by the rings of its holes. Outer rings have a positive
        signed (shoelace) area in ``(x, y)`` with ``y`` down, holes a negative one, so filling
        them with the even-odd or non-zero rule (``cv2.fillPoly`` of the whole list, say) gives
        the object with its holes. COCO's polygon format has no holes (its polygons are
        united); :func:`to_coco` writes an object with holes as RLE instead.
    """
    for arg, value in (("tolerance", tolerance), ("min_area", min_area)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"`{arg}` must be a number >= 0; got {type(value).__name__} {value!r}")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{arg}` must be a finite number >= 0; got {value}")
    if not isinstance(holes, bool):
        raise TypeError(f"`holes` must be True or False; got {type(holes).__name__} {holes!r}")
    m = np.ascontiguousarray(_as_mask(mask), dtype=np.uint8)
    mode = cv2.RETR_CCOMP if holes else cv2.RETR_EXTERNAL
    contours, hierarchy = cv2.findContours(m, mode, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return []
    hierarchy = hierarchy.reshape(-1, 4)

    def ring(i, outer):
        c = contours[i]
        if tolerance > 0:
            c = cv2.approxPolyDP(c, float(tolerance), True)
        if len(c) < 3 or cv2.contourArea(c) < min_area:
            return None
        r = c.reshape(-1, 2).astype(float)
        if (_signed_area(r) > 0) != outer:
            r = r[::-1].copy()
        return r

    out = []
    for i in range(len(contours)):
        if hierarchy[i, 3] != -1:  # a hole: listed after its parent
            continue
        outer = ring(i, True)
        if outer is None:
            continue
        out.append(outer)
        child = hierarchy[i, 2]
        while child != -1:
            hole = ring(child, False)
            if hole is not None:
                out.append(hole)
            child = hierarchy[child, 0]
    return out


# --------------------------------------------------------------------- label images
def save_label_image(labels, path, name: str = "path") -> Path:
    """Write (H, W) labels losslessly: 8-bit PNG, or 16-bit PNG/TIFF beyond 255 objects.

    Written atomically (temporary file, then rename).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a file path; got {type(path).__name__}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".tif", ".tiff"):
        raise ValueError(f"`{name}` must end in .png, .tif or .tiff (lossless, 8 or 16 bit); got '{path.name}'")
    arr = np.asarray(labels)
    if suffix == ".png":
        data = encode_label_png(arr, "labels")
    else:
        enc = encode_label_png(arr, "labels")  # validates the range
        arr = cv2.imdecode(np.frombuffer(enc, np.uint8), cv2.IMREAD_UNCHANGED)  # uint8 or uint16, as the PNG
        data = _tiff_bytes(arr)
    return atomic_write(path, data)


def _tiff_bytes(arr: np.ndarray) -> bytes:
    """A single-page grayscale TIFF, deflate (zlib) compressed.

    Not OpenCV's default LZW: tifffile (which ipyseg reads TIFFs with) decodes LZW only with the
    optional ``imagecodecs`` package, but deflate with the standard library's zlib. Pillow and
    OpenCV read it too.
    """
    import io

    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric="minisblack", compression="zlib")
    return buf.getvalue()


# ------------------------------------------------------------------------------ COCO
def _rle_counts_from_crop(crop: np.ndarray, r0: int, c0: int, h: int) -> np.ndarray:
    """Uncompressed column-major RLE change positions of a full ``h``-row image holding ``crop``.

    Works on the crop only (cost grows with the object, not the image): positions where the
    column-major flattened mask changes, in full-image coordinates.
    """
    ch, cw = crop.shape
    padded = np.zeros((ch + 2, cw), np.int8)
    padded[1:-1] = crop
    d = np.diff(padded.T.ravel())  # column-major order of the padded crop
    q = np.flatnonzero(d) + 1  # index in padded flat of the first pixel after the change
    col, row = np.divmod(q, ch + 2)
    pos = (c0 + col) * h + (r0 + row - 1)
    # An object touching the top and bottom rows has runs that continue into the next column:
    # the end and the restart fall on the same position and cancel.
    u, n = np.unique(pos, return_counts=True)
    return u[n % 2 == 1]


def _object_rle(crop: np.ndarray, r0: int, c0: int, h: int, w: int) -> dict:
    from pycocotools import mask as mask_utils

    pos = _rle_counts_from_crop(crop, r0, c0, h)
    counts = np.diff(np.concatenate([[0], pos, [h * w]])).tolist()
    rle = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    return {"size": [h, w], "counts": rle["counts"].decode("ascii")}


def _objects(labels: np.ndarray):
    """``(k, crop, r0, c0)`` for every object k of a label image (cost: its labelled pixels, not objects x image)."""
    yield from crops(labels)


def _object_polygons(crop: np.ndarray, r0: int, c0: int, tolerance: float):
    """COCO polygons of one object, or ``None`` when they would not cover all of it.

    ``None`` (the caller writes RLE) when the object has a hole (COCO polygons are united, they
    cannot hold one) or when a part of it would be lost: :func:`to_polygons` drops rings of
    area < 1 (a 1-px-wide line, a single pixel, a part simplified away), so every outer
    contour (connected part) of the object must come back as a ring.
    """
    m = np.ascontiguousarray(crop, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    parents = hierarchy.reshape(-1, 4)[:, 3]
    if (parents != -1).any():  # a hole, however small
        return None
    rings = to_polygons(crop, tolerance=tolerance, min_area=1.0)
    if len(rings) != len(contours) or not all(_signed_area(r) > 0 for r in rings):
        return None
    return [(r + (c0, r0)).ravel().tolist() for r in rings]


def to_coco(items, *, classes=None, segmentation: str = "rle", tolerance: float = 0.0, info=None) -> dict:
    """A COCO instance-segmentation dataset from label images.

    Parameters
    ----------
    items : iterable
        ``(file_name, labels)``, ``(file_name, labels, object_classes)`` or ``(file_name, labels,
        object_classes, attributes)`` per image, where ``labels`` is an (H, W) integer label image
        (0 background, k object k), ``object_classes`` maps object ids to class names, and
        ``attributes`` (a JSON-able dict, e.g. ``{"annotator": "ann", "status": "done"}``) is
        written as every annotation's ``attributes`` (CVAT's field for them).
    classes : list of str, optional
        Category names; category ids are 1, 2, ... in this order. ``None``: one category,
        ``"object"``. An object without a class gets the first category.
    segmentation : {"rle", "polygon"}
        ``"rle"``: compressed COCO RLE (``pycocotools``), exact. ``"polygon"``: polygons through
        the boundary pixel centres (:func:`to_polygons`, ``tolerance`` simplifies them); an
        object with holes, or with any part too thin for a polygon (a 1-px-wide line, a single
        pixel), is written as RLE, since COCO polygons cannot hold holes and a dropped part
        would be lost.
    tolerance : float
        Polygon simplification in pixels.
    info : dict, optional
        COCO ``info`` block.

    Returns
    -------
    dict
        ``images``, ``annotations``, ``categories``, ``info``, ``licenses``; ``json.dump`` it, or
        read it with ``pycocotools.coco.COCO``.
    """
    if segmentation not in ("rle", "polygon"):
        raise ValueError(f'`segmentation` must be "rle" or "polygon"; got {segmentation!r}')
    names = ["object"] if classes is None else [str(c) for c in classes]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"`classes` must be a non-empty list of distinct names; got {classes!r}")
    cat_id = {n: i + 1 for i, n in enumerate(names)}
    images, annotations = [], []
    for image_id, item in enumerate(items, start=1):
        file_name, labels, obj_classes, attributes = (*item, {}, None)[:4]
        labels = np.asarray(labels)
        if labels.ndim != 2 or labels.dtype.kind not in "iu":
            raise ValueError(
                f"labels of '{file_name}' must be a 2-D integer array; got {labels.dtype} of shape {labels.shape}"
            )
        h, w = labels.shape
        images.append({"id": image_id, "file_name": str(file_name), "width": int(w), "height": int(h)})
        for k, crop, r0, c0 in _objects(labels):
            cls = (obj_classes or {}).get(k, names[0])
            if cls not in cat_id:
                raise ValueError(f"object {k} of '{file_name}' has class {cls!r}, which is not in `classes` {names}")
            seg = None
            if segmentation == "polygon":
                seg = _object_polygons(crop, r0, c0, tolerance)
            if seg is None:
                seg = _object_rle(crop, r0, c0, h, w)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": cat_id[cls],
                    "segmentation": seg,
                    "area": int(crop.sum()),
                    "bbox": [int(c0), int(r0), int(crop.shape[1]), int(crop.shape[0])],
                    "iscrowd": 0,
                    **({"attributes": dict(attributes)} if attributes else {}),
                }
            )
    return {
        "info": dict(info or {"description": "ipyseg export", "version": "1.0"}),
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n, "supercategory": ""} for n, i in cat_id.items()],
    }


def write_coco(coco: dict, path, name: str = "path") -> Path:
    """Write a COCO dict as JSON, atomically."""
    import json

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a file path; got {type(path).__name__}")
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"`{name}`: folder '{path.parent}' does not exist")
    return atomic_write(path, json.dumps(coco, separators=(",", ":")).encode("utf-8"))
