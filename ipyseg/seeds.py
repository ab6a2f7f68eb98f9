"""Seed state: the full-resolution seed array with an undo/redo history.

Pure numpy, no widgets. Each edit (one drag, one click, one ``seeds = ...``) is one history item
made of atoms; an atom stores only what changed, either as flat indices (sparse edits) or as a
window's before/after patches (dense edits), whichever is smaller.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from ipyseg._constants import BACKGROUND, CODE_DTYPE
from ipyseg._util.arrays import union_windows

#: Default bound on the number of undo steps (as in napari).
HISTORY_SIZE = 100


@dataclass
class _Atom:
    window: tuple  # (r0, r1, c0, c1)
    index: np.ndarray | None  # flat indices into the window, or None for a dense patch
    old: np.ndarray
    new: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.old.nbytes + self.new.nbytes + (0 if self.index is None else self.index.nbytes)

    def write(self, state: SeedState, values: np.ndarray) -> None:
        r0, r1, c0, c1 = self.window
        patch = state.array[r0:r1, c0:c1]
        if self.index is None:
            patch[...] = values
        else:
            patch.flat[self.index] = values if values.size == self.index.size else values[0]

    def undo(self, state: SeedState) -> None:
        self.write(state, self.old)

    def redo(self, state: SeedState) -> None:
        self.write(state, self.new)


@dataclass
class _BoxAtom:
    """A change of the box constraints (``{code: window}``), e.g. from the box tool."""

    window: tuple
    old: dict
    new: dict
    nbytes: int = 64

    def undo(self, state: SeedState) -> None:
        state.boxes = dict(self.old)

    def redo(self, state: SeedState) -> None:
        state.boxes = dict(self.new)


class SeedState:
    """Full-resolution seed codes plus bounded undo/redo history.

    Parameters
    ----------
    shape : tuple
        ``(H, W)`` of the image.
    history_size : int
        Maximum number of undo steps kept.
    history_bytes : int or None
        Bound on the memory the history may use; the oldest steps are dropped beyond it.
        Defaults to 4 bytes per image pixel.

    Attributes
    ----------
    array : (H, W) ndarray of uint16
        The seeds. Mutate only through the methods, so that history stays right.
    boxes : dict
        Box constraints ``{seed code: (r0, r1, c0, c1)}``: the object lies inside its box
        (GrabCut's rectangle). Part of the history like the array.
    """

    def __init__(self, shape, history_size: int = HISTORY_SIZE, history_bytes: int | None = None):
        self.array = np.zeros(tuple(shape[:2]), dtype=CODE_DTYPE)
        self.boxes: dict[int, tuple] = {}
        self._undo: deque[list[_Atom]] = deque(maxlen=history_size)
        self._redo: list[list[_Atom]] = []
        self._history_bytes = history_bytes if history_bytes is not None else 4 * self.array.size

    # ------------------------------------------------------------------ edits
    def apply(self, window, footprint: np.ndarray, label: int, *, protect=()) -> tuple | None:
        """Set ``label`` on the footprint's pixels as one undo step.

        Parameters
        ----------
        window : tuple of int
            ``(r0, r1, c0, c1)`` where ``footprint`` sits in the array.
        footprint : (r1 - r0, c1 - c0) ndarray of bool
        label : int
            Seed code to write (``0`` erases).
        protect : iterable of int
            Seed codes that this edit must not overwrite ("preserve other objects").

        Returns
        -------
        tuple or None
            The changed window, or ``None`` if nothing changed (no history item is made).
        """
        return self.apply_many([(window, footprint, label, protect)])

    def apply_many(self, edits, boxes: dict | None = None) -> tuple | None:
        """Apply several ``(window, footprint, label, protect)`` edits, in order, as one undo step.

        ``boxes``: the new box constraints ``{code: window}``, changed in the same undo step
        (``None`` keeps them).
        """
        atoms = []
        if boxes is not None and boxes != self.boxes:
            h, w = self.array.shape
            atoms.append(_BoxAtom((0, h, 0, w), dict(self.boxes), dict(boxes)))
            self.boxes = dict(boxes)
        for window, footprint, label, protect in edits:
            if window is None:
                continue
            r0, r1, c0, c1 = window
            patch = self.array[r0:r1, c0:c1]
            change = footprint & (patch != label)
            table, kept = _protected(protect, label)
            if table is not None:  # one table lookup instead of a pass per code (thousands of objects)
                change &= ~table[patch]
            for code in kept:
                change &= patch != code
            if change.any():
                index = np.flatnonzero(change)
                atoms.append(self._make_atom(window, patch, index, label))
                patch.flat[index] = label
        if not atoms:
            return None
        self._push(atoms)
        return union_windows(a.window for a in atoms)

    def replace(self, new: np.ndarray, *, boxes: dict | None = None, _extra=()) -> tuple | None:
        """Replace the whole array (already validated, same shape) as one undo step.

        ``boxes``: new box constraints changed in the same step (``None`` keeps them).
        """
        if boxes is not None and boxes != self.boxes:
            h, w = self.array.shape
            _extra = (*_extra, _BoxAtom((0, h, 0, w), dict(self.boxes), dict(boxes)))
            self.boxes = dict(boxes)
        diff = new != self.array
        if not diff.any():
            if _extra:
                self._push(list(_extra))
                return union_windows(a.window for a in _extra)
            return None
        rows = np.flatnonzero(diff.any(axis=1))
        cols = np.flatnonzero(diff.any(axis=0))
        window = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        r0, r1, c0, c1 = window
        patch = self.array[r0:r1, c0:c1]
        newpatch = new[r0:r1, c0:c1]
        index = np.flatnonzero(diff[r0:r1, c0:c1])
        atom = self._make_atom(window, patch, index, newpatch.flat[index])
        patch[...] = newpatch
        self._push([*_extra, atom])
        return union_windows([window, *(a.window for a in _extra)])

    def set_box(self, code: int, window: tuple | None) -> tuple | None:
        """Set (or with ``None`` remove) the box of seed code ``code`` as one undo step."""
        new = dict(self.boxes)
        if window is None:
            new.pop(code, None)
        else:
            new[code] = tuple(int(v) for v in window)
        if new == self.boxes:
            return None
        touched = [w for w in (self.boxes.get(code), new.get(code)) if w is not None]
        atom = _BoxAtom(union_windows(touched), dict(self.boxes), new)
        self.boxes = new
        self._push([atom])
        return atom.window

    def clear(self) -> tuple | None:
        """Erase every seed and box as one undo step."""
        return self.replace(np.zeros_like(self.array), boxes={})

    def load(self, array: np.ndarray, boxes: dict) -> None:
        """Start over from saved seeds and boxes: no undo history (used to restore a session)."""
        self.array[...] = array
        self.boxes = {int(k): tuple(int(v) for v in w) for k, w in boxes.items()}
        self._undo.clear()
        self._redo.clear()

    # ---------------------------------------------------------------- history
    @property
    def can_undo(self) -> bool:
        """Whether there is an edit to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone edit to redo."""
        return bool(self._redo)

    def undo(self) -> tuple | None:
        """Revert the last edit; returns the changed window, or ``None`` if there is none."""
        if not self._undo:
            return None
        item = self._undo.pop()
        for atom in reversed(item):
            atom.undo(self)
        self._redo.append(item)
        return union_windows(a.window for a in item)

    def redo(self) -> tuple | None:
        """Re-apply the last undone edit; returns the changed window, or ``None``."""
        if not self._redo:
            return None
        item = self._redo.pop()
        for atom in item:
            atom.redo(self)
        self._undo.append(item)
        return union_windows(a.window for a in item)

    # ---------------------------------------------------------------- private
    def forget_history(self) -> None:
        """Drop every undo and redo step (frees their memory); the seeds stay."""
        self._undo.clear()
        self._redo.clear()

    def _make_atom(self, window, patch, index, new) -> _Atom:
        r0, r1, c0, c1 = window
        area = (r1 - r0) * (c1 - c0)
        old = patch.flat[index].copy()
        new = np.broadcast_to(np.asarray(new, dtype=CODE_DTYPE), old.shape)
        sparse_bytes = index.size * (4 + 2 * old.itemsize)
        if sparse_bytes < 2 * old.itemsize * area:
            idx = index.astype(np.int32 if area < 2**31 else np.int64)
            if (new == new.flat[0]).all():  # one label painted: store it once
                new = new[:1]
            return _Atom(window, idx, old, np.ascontiguousarray(new))
        after = patch.copy()
        after.flat[index] = new
        return _Atom(window, None, patch.copy(), after)

    def _push(self, item: list[_Atom]) -> None:
        self._undo.append(item)
        self._redo.clear()
        total = sum(a.nbytes for it in self._undo for a in it)
        while len(self._undo) > 1 and total > self._history_bytes:
            total -= sum(a.nbytes for a in self._undo.popleft())


def _protected(protect, label: int) -> tuple:
    """The codes ``protect`` keeps (``label`` excluded): ``(lookup table, ())`` for more than four,
    else ``(None, codes)`` (a pass per code is cheaper). A contiguous ``range`` (every object)
    fills a slice of the table instead of iterating over its codes.
    """
    if isinstance(protect, range) and protect.step == 1 and len(protect) > 4:
        table = np.zeros(65536, bool)
        table[max(0, protect.start) : max(0, protect.stop)] = True
    else:
        kept = np.fromiter((c for c in protect if c != label), np.int64)
        if kept.size <= 4:
            return None, kept
        table = np.zeros(65536, bool)
        table[kept] = True
    table[label] = False
    return table, ()


def codes_present(arr: np.ndarray) -> np.ndarray:
    """The values that occur in a uint8 or uint16 array (seeds or labels), ascending.

    Parameters
    ----------
    arr : (H, W) ndarray of uint8 or uint16

    Returns
    -------
    (n,) ndarray of intp
        Uses OpenCV's histogram: about 15 x faster than ``np.bincount`` on a 12 MP image.
    """
    a = np.ascontiguousarray(arr)
    if a.dtype not in (np.uint8, np.uint16):
        a = a.astype(np.uint16)
    bins = 256 if a.dtype == np.uint8 else 65536
    hist = cv2.calcHist([a], [0], None, [bins], [0, bins]).ravel()
    return np.flatnonzero(hist)


def exact_seeds(labels: np.ndarray) -> np.ndarray:
    """Seeds that give back ``labels`` exactly: every object's pixels seeded as it, and a one-pixel
    background ring around the objects (a COCO import, a batch of proposals).

    Parameters
    ----------
    labels : (H, W) ndarray of int
        ``0`` background, ``k`` object k (k < 65,535).

    Returns
    -------
    (H, W) ndarray of uint16
        ``k + 1`` on object k, ``1`` (background) on the ring, ``0`` elsewhere.
    """
    seeds = np.where(labels > 0, labels.astype(np.uint32) + 1, 0).astype(CODE_DTYPE)
    ring = cv2.dilate((labels > 0).view(np.uint8), np.ones((3, 3), np.uint8)).view(bool) & (labels == 0)
    seeds[ring] = BACKGROUND
    return seeds
