"""The pure, widget-free entry point: ``segment(image, seeds, method=None, **params)``."""

from __future__ import annotations

import numpy as np

from . import segmenters
from ._validation import as_image, as_labels, as_seeds


def segment(image, seeds, method: str | None = None, *, prior=None, **params) -> np.ndarray:
    """Segment ``image`` from user seeds.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like, PIL image or path
        Gray, RGB or RGBA; uint8, uint16, or float in [0, 1].
    seeds : (H, W) ndarray of int
        ``0`` unmarked, ``1`` background (``BACKGROUND``), ``k + 1`` object k
        (``FOREGROUND = 2`` is the first object).
    method : str or None
        A name from :func:`ipyseg.methods`; ``None`` is the library's default.
    prior : (H, W) ndarray, optional
        Starting labels (``0`` background, ``k`` object k, or a bool mask) that unmarked pixels
        lean towards, for methods that support it (e.g. a loaded mask or a box for GrabCut).
    **params
        Method parameters; unknown names raise ``TypeError``.

    Returns
    -------
    (H, W) ndarray of uint8
        Labels: ``0`` background, ``k`` object k. All background when no object is seeded.
    """
    func = segmenters.get(method)
    segmenters.check_params(method, params)
    img = as_image(image)
    sds = as_seeds(seeds, img.shape)
    pri = None if prior is None else as_labels(prior, img.shape, "prior")
    return run_segmenter(func, img, sds, pri, params)


def run_segmenter(func, image: np.ndarray, seeds: np.ndarray, prior, params: dict) -> np.ndarray:
    """Call a segmenter on validated inputs and check what it returns."""
    rgb = image[:, :, :3] if image.shape[2] == 4 else image
    use_prior = prior is not None and prior.any() and segmenters.accepts_prior(func)
    if not (seeds >= 2).any() and not use_prior:
        return np.zeros(seeds.shape, dtype=np.uint8)
    kwargs = dict(params)
    if use_prior:
        kwargs["prior"] = prior
    labels = np.asarray(func(np.ascontiguousarray(rgb), seeds, **kwargs))
    if labels.shape != seeds.shape:
        raise ValueError(
            f"segmenter {getattr(func, '__name__', func)!r} returned shape {labels.shape}; expected {seeds.shape}"
        )
    if labels.dtype == np.bool_:
        return labels.astype(np.uint8)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"segmenter returned dtype {labels.dtype}; expected integer labels")
    return labels.astype(np.uint8, copy=False)
