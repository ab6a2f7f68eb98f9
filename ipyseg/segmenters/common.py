"""Helpers shared by segmenters: one-vs-rest for binary methods and user-intent clean-up."""

from __future__ import annotations

import functools
import inspect

import cv2
import numpy as np

from ipyseg._constants import FOREGROUND
from ipyseg.seeds import codes_present
from ipyseg.segmenters.local import ObjectScores, object_score


def object_codes(seeds: np.ndarray) -> list[int]:
    """Seed codes of the objects present (``k + 1`` for object k), ascending."""
    return [int(c) for c in codes_present(seeds) if c >= FOREGROUND]


def one_vs_rest(binary=None, *, local: bool = True):
    """Lift a binary segmenter to many objects (``@one_vs_rest`` or ``@one_vs_rest(local=False)``).

    ``binary(image, seeds, prior=..., **params)`` sees seeds with codes 0/1/2 only and returns a
    per-pixel object score in [0, 1] or a bool mask. Each object is segmented against everything
    else marked; a pixel claimed by several objects goes to the highest score (ties: lower id).

    The lifted segmenter takes ``boxes`` (``{seed code: (r0, r1, c0, c1)}``, end exclusive): a
    box belongs to its object only. In object k's sub-problem the unmarked pixels outside box k
    are background (GrabCut's rectangle) and those inside lean to the object (the prior); objects
    without a box are not constrained by the others' boxes. It is marked ``per_object_boxes``.

    With two or more objects each is solved in its own window (:mod:`ipyseg.segmenters.local`),
    so its cost follows its size, not the image's. The lifted segmenter takes ``cache``, an
    :class:`~ipyseg.segmenters.local.ObjectScores` its caller keeps between calls on one photo
    (the widget does): objects whose window an edit did not touch are then not solved again.
    It is marked ``local``. ``local=False`` is for methods that fit a model to the whole image
    (GrabCut's colour mixtures, which a small window starves of background): every object is
    then solved on the whole image, and ``func.local`` is ``False``.
    """
    if binary is None:
        return functools.partial(one_vs_rest, local=local)

    @functools.wraps(binary)
    def wrapper(image, seeds, *, prior=None, boxes=None, cache=None, **params):
        boxes = dict(boxes or {})
        codes = object_codes(seeds)
        if prior is not None or boxes:
            extra = set() if prior is None else {int(k) + 1 for k in np.unique(prior) if k > 0}
            codes = sorted(set(codes) | extra | {int(c) for c in boxes})
        labels = np.zeros(seeds.shape, dtype=np.uint16)
        if not codes:
            return labels
        if len(codes) == 1 and codes[0] == FOREGROUND and not boxes:
            pr = None if prior is None else prior > 0
            return (binary(image, seeds, prior=pr, **params) >= 0.5).astype(np.uint16)
        if local and len(codes) >= 2:
            cache = ObjectScores() if cache is None else cache
            return cache.labels(binary, image, seeds, codes, boxes, prior, params)
        best = np.zeros(seeds.shape, dtype=np.float32)
        whole = (0, seeds.shape[0], 0, seeds.shape[1])
        for code in codes:
            score = object_score(binary, image, seeds, code, boxes.get(code), prior, params, whole)
            win = (score >= 0.5) & (score > best)
            labels[win] = code - 1
            best = np.maximum(best, score)
        return labels

    sig = inspect.signature(binary)
    params = list(sig.parameters.values())
    if "boxes" not in sig.parameters:
        at = next((i for i, q in enumerate(params) if q.kind is q.VAR_KEYWORD), len(params))
        params.insert(at, inspect.Parameter("boxes", inspect.Parameter.KEYWORD_ONLY, default=None))
    at = next((i for i, q in enumerate(params) if q.kind is q.VAR_KEYWORD), len(params))
    params.insert(at, inspect.Parameter("cache", inspect.Parameter.KEYWORD_ONLY, default=None))
    wrapper.__signature__ = sig.replace(parameters=params)
    wrapper.per_object_boxes = True
    wrapper.local = bool(local)
    return wrapper


def keep_seeded_components(mask: np.ndarray, fg_seeds: np.ndarray) -> np.ndarray:
    """Keep only the connected components of ``mask`` that touch a foreground seed."""
    n, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, dtype=bool)
    keep[np.unique(comp[fg_seeds & mask])] = True
    keep[0] = False
    return keep[comp]


def fill_unseeded_holes(mask: np.ndarray, bg_seeds: np.ndarray) -> np.ndarray:
    """Fill holes of ``mask`` (background regions not reaching the border) with no background seed."""
    inv = (~mask).astype(np.uint8)
    n, comp = cv2.connectedComponents(inv, connectivity=4)
    if n <= 1:
        return mask
    border = np.zeros(n, dtype=bool)
    border[np.unique(np.concatenate([comp[0], comp[-1], comp[:, 0], comp[:, -1]]))] = True
    seeded = np.zeros(n, dtype=bool)
    seeded[np.unique(comp[bg_seeds])] = True
    hole = ~border & ~seeded
    hole[0] = False
    return mask | hole[comp]
