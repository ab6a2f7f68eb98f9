"""Array helpers: read-only checks, a per-array memo, the window where two arrays differ."""

from __future__ import annotations

import threading
import weakref

import cv2
import numpy as np


def immutable(arr: np.ndarray) -> bool:
    """Whether no array can change ``arr``'s pixels: it and every array it views are read-only
    (a read-only view of a writable buffer, e.g. a video reader's frame, can still change).
    """
    while isinstance(arr, np.ndarray):
        if arr.flags.writeable:
            return False
        arr = arr.base
    return arr is None or isinstance(arr, bytes)


class ArrayMemo:
    """A value computed once per immutable array object, kept while that array lives.

    :meth:`get` computes the value again for a writable array (or one viewing writable memory,
    see :func:`immutable`): its pixels can change under the same object.
    """

    def __init__(self):
        self._entries: dict[int, tuple] = {}  # id(array) -> (weakref to it, value)
        self._lock = threading.Lock()

    def get(self, arr: np.ndarray, compute):
        """``compute(arr)``, remembered for ``arr`` if it is immutable."""
        if not immutable(arr):
            return compute(arr)
        ident = id(arr)
        with self._lock:
            entry = self._entries.get(ident)
        if entry is not None and entry[0]() is arr:
            return entry[1]
        value = compute(arr)
        entries = self._entries

        def forget(_ref, ident=ident):  # no lock: a collection may run this inside the locked block
            entries.pop(ident, None)  # the array died: no other live array has its id yet

        ref = weakref.ref(arr, forget)
        with self._lock:
            entries[ident] = (ref, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def changed_window(old: np.ndarray | None, new: np.ndarray):
    """Bounding box ``(r0, r1, c0, c1)`` of the pixels where two equal-shape arrays differ.

    ``None`` when they are equal; the whole array when ``old`` is ``None``.
    """
    if old is None or old.shape != new.shape:
        return (0, new.shape[0], 0, new.shape[1])
    diff = old != new
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0] : rows[-1] + 1].any(axis=0))
    return (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def nonzero_rect(arr: np.ndarray) -> tuple:
    """``cv2.boundingRect`` of the non-zero pixels of an (H, W) integer array: ``(x, y, w, h)``.

    OpenCV takes only 8-bit masks; a 16-bit array is read as its bytes (two per pixel), so no
    full-size temporary is made. ``(0, 0, 0, 0)`` when every pixel is zero.
    """
    a = np.ascontiguousarray(arr)
    n = a.dtype.itemsize
    x, y, w, h = (int(v) for v in cv2.boundingRect(a.view(np.uint8)))
    if n == 1 or w == 0:
        return (x, y, w, h) if w else (0, 0, 0, 0)
        return (0, 0, 0, 0)
    return (x // n, y, -(-(x + w) // n) - x // n, h)


def union_windows(windows) -> tuple:
    """The smallest ``(r0, r1, c0, c1)`` window holding every one of ``windows`` (at least one)."""
    ws = list(windows)
    return (min(w[0] for w in ws), max(w[1] for w in ws), min(w[2] for w in ws), max(w[3] for w in ws))
