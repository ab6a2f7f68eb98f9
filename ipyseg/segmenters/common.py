"""Helpers shared by segmenters: one-vs-rest for binary methods and user-intent clean-up."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ipyseg._constants import BACKGROUND, FOREGROUND
from ipyseg.seeds import codes_present


def object_codes(seeds: np.ndarray) -> list[int]:
    """Seed codes of the objects present (``k + 1`` for object k), ascending."""
    return [int(c) for c in codes_present(seeds) if c >= FOREGROUND]


def one_vs_rest(binary):
    """Lift a binary segmenter to many objects.

    ``binary(image, seeds, prior=..., **params)`` sees seeds with codes 0/1/2 only and returns a
    per-pixel object score in [0, 1] or a bool mask. Each object is segmented against everything
    else marked; a pixel claimed by several objects goes to the highest score (ties: lower id).
    """

    @functools.wraps(binary)
    def wrapper(image, seeds, *, prior=None, **params):
        codes = object_codes(seeds)
        if prior is not None:
            codes = sorted(set(codes) | {int(k) + 1 for k in np.unique(prior) if k > 0})
        labels = np.zeros(seeds.shape, dtype=np.uint8)
        if not codes:
            return labels
        if len(codes) == 1 and codes[0] == FOREGROUND:
            pr = None if prior is None else prior > 0
            return (binary(image, seeds, prior=pr, **params) >= 0.5).astype(np.uint8)
        best = np.zeros(seeds.shape, dtype=np.float32)
        for code in codes:
            sub = np.where(seeds == code, FOREGROUND, np.where(seeds > 0, BACKGROUND, 0)).astype(np.uint8)
            pr = None if prior is None else prior == code - 1
            score = binary(image, sub, prior=pr, **params).astype(np.float32)
            win = (score >= 0.5) & (score > best)
            labels[win] = code - 1
            best = np.maximum(best, score)
        return labels

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
