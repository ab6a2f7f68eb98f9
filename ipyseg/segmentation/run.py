"""The pure, widget-free entry point: ``segment(image, seeds, method=None, **params)``."""

from __future__ import annotations

import numpy as np

from ipyseg import segmenters
from ipyseg._constants import BACKGROUND, FOREGROUND, MAX_OBJECTS
from ipyseg._validation import as_boxes, as_labels, as_seeds
from ipyseg.display import as_picture


def segment(
    image,
    seeds,
    method: str | None = None,
    *,
    prior=None,
    boxes=None,
    channel_axis=None,
    rgb=None,
    channels=None,
    channel_colors=None,
    display_range=None,
    gamma=1.0,
    **params,
) -> np.ndarray:
    """Segment ``image`` from user seeds.

    Parameters
    ----------
    image : array_like, PIL image or path
        Gray, RGB(A) or channels (see :class:`ipyseg.SegmentWidget`); any integer dtype, bool or
        finite floats. The method sees the image as the widget would show it with the same
        display settings (``channel_axis`` ... ``gamma``, same meaning as there): the display
        range applied at full precision.
    seeds : (H, W) ndarray of int
        ``0`` unmarked, ``1`` background (``BACKGROUND``), ``k + 1`` object k
        (``FOREGROUND = 2`` is the first object).
    method : str or None
        A name from :func:`ipyseg.methods`; ``None`` is the library's default.
    prior : (H, W) ndarray, optional
        Starting labels (``0`` background, ``k`` object k, or a bool mask) that unmarked pixels
        lean towards, for methods that support it (e.g. a loaded mask or a box for GrabCut).
    boxes : dict, optional
        ``{seed code: (x0, y0, x1, y1)}``: object ``code - 1`` lies in that rectangle (inclusive
        image-pixel corners), as the widget's box tool. A box constrains its own object only.
        Methods that take boxes get them as they are (``sam``: a box prompt; ``grabcut`` and
        ``click_graphcut``: GrabCut's rectangle per object, in that object's subproblem the
        outside of its box is background); for the others see :func:`apply_boxes` (via
        :func:`box_inputs`).
    channel_axis, rgb, channels, channel_colors, display_range, gamma
        Display settings, as for :class:`ipyseg.SegmentWidget`.
    **params
        Method parameters, checked by name and value (see the README's method table): an
        unknown name or a value of the wrong kind raises ``TypeError``, a value out of range
        or not finite raises ``ValueError``.

    Returns
    -------
    (H, W) ndarray of uint16
        Labels: ``0`` background, ``k`` object k. All background when no object is seeded.
    """
    func = segmenters.get(method)
    params = segmenters.check_params(method, params)
    pic = as_picture(
        image,
        channel_axis=channel_axis,
        rgb=rgb,
        channels=channels,
        channel_colors=channel_colors,
        display_range=display_range,
        gamma=gamma,
    )
    img = pic.segmentation_image()
    sds = as_seeds(seeds, pic.shape)
    pri = None if prior is None else as_labels(prior, pic.shape, "prior")
    bxs = None if boxes is None else as_boxes(boxes, pic.shape)
    sds, pri, bxs = box_inputs(func, sds, pri, bxs)
    return run_segmenter(func, img, sds, pri, params, bxs)


def box_inputs(func, seeds: np.ndarray, prior, boxes):
    """What a segmenter receives for the box tool's rectangles: ``(seeds, prior, boxes)``.

    The one decision shared by :func:`segment`, the widget and the benchmarks. A segmenter whose
    signature names ``boxes`` (:func:`ipyseg.segmenters.accepts`) gets them as they are, with
    ``seeds`` and ``prior`` untouched; for any other segmenter they are folded into the seeds
    and the prior by :func:`apply_boxes` and ``boxes`` becomes ``None``.

    Parameters
    ----------
    func : callable
        The segmenter (e.g. ``ipyseg.segmenters.get(method)``).
    seeds : (H, W) ndarray of uint16
        ``0`` unmarked, ``1`` background, ``k + 1`` object k (not modified).
    prior : (H, W) ndarray of uint16 or None
        Starting labels (a loaded mask), ``0`` background, ``k`` object k (not modified).
    boxes : dict or None
        ``{code: (r0, r1, c0, c1)}`` windows (end exclusive), as the widget stores them.

    Returns
    -------
    seeds : (H, W) ndarray of uint16
        ``seeds`` itself, or a new array with the boxes applied.
    prior : (H, W) ndarray of uint16 or None
        ``prior`` itself, or a new array with the boxes applied.
    boxes : dict or None
        A copy of ``boxes`` for segmenters that take them, else ``None`` (also when empty).
    """
    if not boxes:
        return seeds, prior, None
    if segmenters.accepts(func, "boxes") and not _every_object_boxed(func, seeds, prior, boxes):
        return seeds, prior, dict(boxes)
    seeds, prior = apply_boxes(seeds, prior, boxes)
    return seeds, prior, None


def _every_object_boxed(func, seeds: np.ndarray, prior, boxes: dict) -> bool:
    """A one-vs-rest method with every object boxed gets GrabCut's rectangle exactly as before boxes were per object."""
    if not getattr(func, "per_object_boxes", False):
        return False
    present = {int(c) for c in np.unique(seeds) if c >= FOREGROUND}
    if prior is not None:
        present |= {int(k) + 1 for k in np.unique(prior) if k > 0}
    return present <= set(boxes)


def apply_boxes(seeds: np.ndarray, prior, boxes: dict):
    """GrabCut's rectangle for methods without a ``boxes`` input: ``(seeds, prior)`` with the boxes applied.

    Each object lies inside its box: unset prior pixels there become that object (where boxes
    overlap, the lower code's). A box constrains its own object only, and seeds and a prior are
    shared by all objects, so the outside of the boxes becomes background only when that
    constrains no object without a box: unmarked pixels outside all boxes become background
    seeds if *every* object present has a box (objects present: the codes ``>= 2`` of
    ``seeds``, the objects of ``prior`` and the codes of ``boxes``). With one box-less object
    (say object 1 painted, a box drawn for object 2) the seeds are left as they are, and the
    boxes are only a prior.

    Segmenters that take ``boxes`` (``grabcut``, ``click_graphcut``, ``sam``) apply them per
    object instead; :func:`box_inputs` makes that choice.

    Parameters
    ----------
    seeds : (H, W) ndarray of uint16
        ``0`` unmarked, ``1`` background, ``k + 1`` object k.
    prior : (H, W) ndarray of uint16 or None
        ``0`` background, ``k`` object k.
    boxes : dict
        ``{code: (r0, r1, c0, c1)}`` windows, end exclusive.

    Returns
    -------
    seeds : (H, W) ndarray of uint16
        A new array.
    prior : (H, W) ndarray of uint16
        A new array (zeros and the boxes when ``prior`` is ``None``).
    """
    seeds = seeds.copy()
    inside = np.zeros(seeds.shape, bool)
    present = {int(c) for c in np.unique(seeds) if c >= 2}
    if prior is not None:
        present |= {int(k) + 1 for k in np.unique(prior) if k > 0}
    prior = np.zeros(seeds.shape, np.uint16) if prior is None else prior.copy()
    for code, (r0, r1, c0, c1) in sorted(boxes.items()):
        inside[r0:r1, c0:c1] = True
        sub = prior[r0:r1, c0:c1]
        sub[sub == 0] = code - 1
    if present <= set(boxes):
        seeds[~inside & (seeds == 0)] = BACKGROUND
    return seeds, prior


def run_segmenter(
    func, image: np.ndarray, seeds: np.ndarray, prior, params: dict, boxes=None, cache=None
) -> np.ndarray:
    """Call a segmenter on validated inputs and check what it returns.

    Declared parameters are checked (and converted) again here, so that a direct caller such
    as :func:`ipyseg.segmentation.multiscale.segment_fast` cannot hand a NaN to a segmenter either.
    ``boxes`` (``{code: (r0, r1, c0, c1)}``) reach segmenters whose signature names ``boxes``;
    ``cache`` (an :class:`~ipyseg.segmenters.local.ObjectScores` kept by the caller for one photo)
    those that name ``cache`` (the one-vs-rest methods).
    """
    params = segmenters.check_func_params(func, params)
    rgb = image[:, :, :3] if image.shape[2] == 4 else image
    use_prior = prior is not None and prior.any() and segmenters.accepts_prior(func)
    use_boxes = bool(boxes) and segmenters.accepts(func, "boxes")
    if not use_boxes and not use_prior and not (seeds >= 2).any():
        return np.zeros(seeds.shape, dtype=np.uint16)
    kwargs = dict(params)
    if use_prior:
        kwargs["prior"] = prior
    if use_boxes:
        kwargs["boxes"] = dict(boxes)
    if cache is not None and segmenters.accepts(func, "cache"):
        kwargs["cache"] = cache
    labels = np.asarray(func(np.ascontiguousarray(segmenters.adapt_image(func, rgb)), seeds, **kwargs))
    return _check_labels(labels, seeds.shape, getattr(func, "__name__", repr(func)))


def _check_labels(labels: np.ndarray, shape: tuple, name: str) -> np.ndarray:
    """A segmenter's answer as uint16 labels, or an error naming the segmenter (never wrapped)."""
    if labels.shape != shape:
        raise ValueError(f"segmenter {name!r} returned labels of shape {labels.shape}; expected {shape}")
    if labels.dtype == np.bool_:
        return labels.astype(np.uint16)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"segmenter {name!r} returned labels of dtype {labels.dtype}; expected integers or bool")
    if labels.size:
        lo, hi = int(labels.min()) if labels.dtype.kind == "i" else 0, int(labels.max())
        if lo < 0 or hi > MAX_OBJECTS:
            raise ValueError(
                f"segmenter {name!r} returned labels in [{lo}, {hi}]; expected 0 (background) or an "
                f"object id k in [1, {MAX_OBJECTS}]"
            )
    return labels.astype(np.uint16, copy=False)
