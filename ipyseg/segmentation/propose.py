"""Object proposals: an instance label image to correct, instead of one click per object.

The built-in ``"blobs"`` method is for bright, roughly round objects on a darker background
(fluorescent nuclei, cells, colonies, grains): smooth, threshold (Otsu), split touching objects
by a watershed seeded at the maxima of the distance to the background, drop the crumbs. One
size parameter, the expected object diameter in pixels. Pure numpy + OpenCV.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ipyseg._constants import MAX_OBJECTS
from ipyseg.io import as_image_data


@dataclass(frozen=True)
class Proposer:
    """One proposal method: ``check(**params) -> params`` (checked, defaults filled in, before any
    image is read) and ``run(image, **params) -> (H, W) uint16`` instance labels.
    """

    check: Callable
    run: Callable


#: Proposal methods by name: ``"blobs"`` here; ``"sam"`` (the automatic mask generator) is added
#: by ``ipyseg.sam`` with :func:`register_proposer`.
PROPOSERS: dict[str, Proposer] = {}


def register_proposer(name: str, check: Callable, run: Callable) -> None:
    """Make ``propose(image, name, **params)`` call ``run(image, **check(**params))``."""
    PROPOSERS[name] = Proposer(check, run)


def propose(image, method: str | None = None, **params) -> np.ndarray:
    """Propose objects: an instance label image.

    Parameters
    ----------
    image : array_like, PIL image or path
        (H, W) gray, (H, W, 3|4) RGB(A) or any image :func:`ipyseg.io.as_image_data` reads,
        any integer dtype or finite floats.
    method : {"blobs", "sam"} or None
        ``None`` = ``"blobs"``: bright (or ``dark``) roughly round objects, one size parameter;
        colour images are reduced to their mean intensity. ``"sam"``: Segment-Anything's
        automatic mask generator with your model (see :func:`ipyseg.sam.automask.auto_masks`).
    **params
        ``"blobs"``: ``diameter`` (float > 1, default 20), the expected object diameter in pixels:
        it sets the smoothing (``diameter / 10``), the smallest distance between two object
        centres (``diameter / 2``) and the smallest object kept (a disk of ``diameter / 4``);
        ``dark`` (bool, default False): objects darker than the background (stained nuclei in
        bright field). ``"sam"``: ``model`` (a :class:`ipyseg.sam.SamModel`, required),
        ``points_per_side``, ``min_score``, ``min_stability``, ``nms_iou``, ``max_area``.

    Returns
    -------
    (H, W) ndarray of uint16
        ``0`` background, ``1..n`` objects (``"blobs"``: in reading order of their centres).

    Raises
    ------
    ValueError
        An unknown ``method``, a parameter value out of range (``diameter`` not a finite number
        in (1, the image's larger side]), more than ``MAX_OBJECTS`` objects.
    TypeError
        An unknown parameter or one of the wrong type.
    """
    name, checked = check_propose_params(method, **params)
    return PROPOSERS[name].run(image, **checked)


def check_propose_params(method=None, **params) -> tuple[str, dict]:
    """Check :func:`propose`'s ``method`` and parameters before any image is read.

    Returns ``(method, params)`` with the defaults filled in; raises ``TypeError`` for an
    unknown parameter or a wrong type, ``ValueError`` for a wrong value (bounds that depend on
    the image, such as ``diameter``'s, are checked by ``propose``).
    """
    name = "blobs" if method is None else method
    if not isinstance(name, str) or name not in PROPOSERS:
        raise ValueError(f"`method` must be one of {sorted(PROPOSERS)} or None; got {method!r}")
    return name, PROPOSERS[name].check(**params)


def _check_blobs(**params) -> dict:
    unknown = sorted(set(params) - {"diameter", "dark"})
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown} for propose method 'blobs'; it takes diameter, dark")
    diameter, dark = params.get("diameter", 20.0), params.get("dark", False)
    if isinstance(diameter, bool) or not isinstance(diameter, (int, float, np.integer, np.floating)):
        raise TypeError(f"`diameter` must be a number of pixels > 1; got {diameter!r}")
    if not math.isfinite(float(diameter)) or float(diameter) <= 1:
        raise ValueError(f"`diameter` must be a finite number of pixels > 1; got {diameter!r}")
    if not isinstance(dark, (bool, np.bool_)):
        raise TypeError(f"`dark` must be True or False; got {dark!r}")
    return {"diameter": float(diameter), "dark": bool(dark)}


def _run_blobs(image, *, diameter: float, dark: bool) -> np.ndarray:
    gray = _intensity(image)
    if diameter > max(gray.shape):
        raise ValueError(
            f"`diameter` must be at most the image's larger side ({max(gray.shape)} pixels); got {diameter!r}"
        )
    return _blobs(gray, diameter, dark)


register_proposer("blobs", _check_blobs, _run_blobs)


def _intensity(image) -> np.ndarray:
    """float32 (H, W) intensity in [0, 1] (percentiles 0.5 and 99.5 mapped to 0 and 1)."""
    img = as_image_data(image, name="image")
    a = img.data.astype(np.float32)  # (H, W, C)
    a = a[:, :, :3].mean(axis=2) if img.rgb else a.max(axis=2)
    lo, hi = np.percentile(a, (0.5, 99.5))
    if hi <= lo:
        return np.zeros(a.shape, np.float32)
    return np.clip((a - lo) / (hi - lo), 0, 1).astype(np.float32)


def _blobs(gray: np.ndarray, diameter: float, dark: bool) -> np.ndarray:
    h, w = gray.shape
    g = 1.0 - gray if dark else gray
    sigma = max(0.5, diameter / 10)
    smooth = cv2.GaussianBlur(g, (0, 0), sigma)
    u8 = np.round(smooth * 255).astype(np.uint8)
    _, fg = cv2.threshold(u8, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if not fg.any() or fg.all():
        return np.zeros((h, w), np.uint16)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    dist = cv2.distanceTransform(fg, cv2.DIST_L2, 5)
    # centres: maxima of the (slightly smoothed) distance within diameter / 2, at least a
    # quarter diameter from the background; a plateau's maxima are merged by connectivity
    dist_s = cv2.GaussianBlur(dist, (0, 0), max(0.5, diameter / 20))
    k = max(3, int(diameter / 2) | 1)
    peak = (dist_s >= cv2.dilate(dist_s, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))) & (
        dist_s >= diameter / 8
    )
    n, markers = cv2.connectedComponents(peak.view(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros((h, w), np.uint16)
    # flood from the centres and from the background. OpenCV floods by the difference between
    # a pixel and its flooded neighbour, so the foreground's relief spans 0..127 and the
    # background sits at 255: crossing the rim costs more than anything inside an object, so
    # every object fills from its centre before the background front may enter it, and
    # touching objects part where their fronts meet
    markers = markers.astype(np.int32)
    markers[fg == 0] = n
    relief = np.round(127 * (1 - dist_s / max(float(dist_s.max()), 1e-6))).astype(np.uint8)
    relief[fg == 0] = 255
    cv2.watershed(cv2.merge([relief, relief, relief]), markers)
    labels = np.where((markers > 0) & (markers < n) & (fg > 0), markers, 0)
    # drop crumbs, renumber 1..m (markers are numbered in reading order of their centres)
    counts = np.bincount(labels.ravel(), minlength=n)
    keep = counts >= math.pi * (diameter / 4) ** 2 * 0.5
    keep[0] = False
    order = np.flatnonzero(keep)
    if order.size > MAX_OBJECTS:
        raise ValueError(f"`image`: {order.size} objects proposed; at most {MAX_OBJECTS} are supported")
    lut = np.zeros(n, np.uint16)
    lut[order] = np.arange(1, order.size + 1, dtype=np.uint16)
    return lut[labels]
