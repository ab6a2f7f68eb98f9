"""Many objects, each in its own window: the semantics of one-vs-rest and its incremental cache.

With two or more objects, object k's sub-problem (its seeds as foreground, every other mark as
background, see :func:`ipyseg.segmenters.common.one_vs_rest`) is solved in a *window*, not on
the whole image:

* the window starts as the bounding box of what defines the object (its seeds, its box, its
  prior pixels), its *extent*, grown on every side by a margin that reaches the nearest other
  object's extent (``max(MIN_MARGIN, longest side // 2, gap to the nearest other extent)``),
  clipped to the image: the window holds the neighbours' marks, the background evidence a
  colour model needs, and a lone object gets most of the image;
* while the object's mask (score >= 0.5) reaches a window side that is not the image border,
  the margin doubles and the object is solved again (at most until the window is the image);
* outside its window an object's score is 0. Each pixel goes to the object of highest score
  >= 0.5 (ties: the lower id), as before.

An object's result is therefore a function of the image, the seeds and prior inside its final
window, its own box and the method's parameters. :class:`ObjectScores` keeps each object's score
crop and reuses it while none of these changed, so an edit costs the objects whose windows it
touches, not every object of the image. The incremental result equals a fresh computation
bit for bit (tested over random edit sequences).

An object whose seeds are enclosed by other marks (every pixel next to them is marked: an object
taken exactly, from proposals, a loaded label image or a proofreading edit) is exactly its seeds,
without solving anything. One object alone keeps the whole image (a single photo's object is not
windowed).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ipyseg._constants import BACKGROUND, FOREGROUND
from ipyseg._util.arrays import changed_window
from ipyseg.objects import regions

#: Smallest margin (pixels of the image the segmenter sees) around an object's marks.
MIN_MARGIN = 16


@dataclass
class _Entry:
    extent: tuple  # bounding box of what defines the object (seeds, box, prior)
    margin: int  # the first margin (from the extent and the nearest other extent)
    box: tuple | None
    window: tuple  # the final window (r0, r1, c0, c1)
    score: np.ndarray  # float32 score inside window


class ObjectScores:
    """Per-object score crops of one photo and one method, reused between calls.

    Owned by whoever calls the segmenter repeatedly on one photo (the widget's
    :class:`~ipyseg.segmentation.multiscale.Multiscale`, one per block factor). It resets itself
    when the image object, the shape, the method or its parameters change. Not thread-safe: one
    caller at a time, like its owner.
    """

    def __init__(self):
        self._key = None
        self._image: np.ndarray | None = None
        self._seeds: np.ndarray | None = None
        self._prior: np.ndarray | None = None
        self._entries: dict[int, _Entry] = {}
        self._labels: np.ndarray | None = None
        self._best: np.ndarray | None = None
        self.solved = 0  # sub-problems solved since creation (for tests and benchmarks)

    def clear(self) -> None:
        """Forget everything (the next call computes every object)."""
        self._key = self._image = None
        self._seeds = self._prior = self._labels = self._best = None
        self._entries = {}

    def labels(self, binary, image, seeds, codes, boxes, prior, params) -> np.ndarray:
        """Labels of ``codes`` (two or more) by the windowed semantics of this module.

        Parameters
        ----------
        binary : callable
            ``binary(image, seeds, prior=None, **params)`` -> (h, w) score in [0, 1] or bool.
        image : (H, W, 3) ndarray
        seeds : (H, W) ndarray of uint16
        codes : list of int
            Seed codes of the objects (``k + 1``), ascending.
        boxes : dict
            ``{code: (r0, r1, c0, c1)}``.
        prior : (H, W) ndarray of uint16 or None
        params : dict

        Returns
        -------
        (H, W) ndarray of uint16
            A new array.
        """
        key = (binary, _params_key(params), prior is None)
        if key != self._key or image is not self._image or self._seeds is None or self._seeds.shape != seeds.shape:
            self.clear()
            self._key, self._image = key, image  # the image itself, not its id: ids are reused
        changed = self._changes(seeds, prior)
        extents = _extents(seeds, codes, boxes, prior)
        margins = _margins(extents, codes)
        shape = seeds.shape
        dirty_rects = []
        entries = {}
        for code in codes:
            old = self._entries.get(code)
            box = boxes.get(code)
            if (
                old is not None
                and old.extent == extents[code]
                and old.margin == margins[code]
                and old.box == box
                and not any(_meets(old.window, c) for c in changed)
            ):
                entries[code] = old
                continue
            window, score = self._solve(binary, image, seeds, code, box, extents[code], margins[code], prior, params)
            entries[code] = _Entry(extents[code], margins[code], box, window, score)
            dirty_rects.append(window)
            if old is not None:
                dirty_rects.append(old.window)
        dirty_rects += [e.window for c, e in self._entries.items() if c not in entries]
        self._entries = entries
        if self._labels is None:
            self._labels = np.zeros(shape, np.uint16)
            self._best = np.zeros(shape, np.float32)
            self._composite((0, shape[0], 0, shape[1]))
        else:
            for rect in _merge_rects(dirty_rects):
                self._composite(rect)
        self._seeds = seeds.copy()
        self._prior = None if prior is None else prior.copy()
        return self._labels.copy()

    # ------------------------------------------------------------- private
    def _changes(self, seeds, prior) -> list[tuple]:
        """Windows where the seeds (and the prior) changed since the last call."""
        if self._seeds is None:
            return []
        out = [w for w in (changed_window(self._seeds, seeds),) if w is not None]
        if prior is not None and self._prior is not None:
            w = changed_window(self._prior, prior)
            if w is not None:
                out.append(w)
        return out

    def _solve(self, binary, image, seeds, code, box, extent, margin, prior, params):
        shape = seeds.shape
        h, w = shape
        r0, r1, c0, c1 = extent
        if box is None and prior is None:
            enclosed = _enclosed(seeds, code, extent)
            if enclosed is not None:
                return enclosed
        while True:
            win = (max(0, r0 - margin), min(h, r1 + margin), max(0, c0 - margin), min(w, c1 + margin))
            score = object_score(binary, image, seeds, code, box, prior, params, win)
            self.solved += 1
            if win == (0, h, 0, w) or not _touches(score >= 0.5, win, shape):
                return win, score
            margin *= 2

    def _composite(self, rect) -> None:
        """Recompute labels and best score inside ``rect`` from every object whose window meets it."""
        r0, r1, c0, c1 = rect
        lab = self._labels[r0:r1, c0:c1]
        best = self._best[r0:r1, c0:c1]
        lab[...] = 0
        best[...] = 0
        for code in sorted(self._entries):
            e = self._entries[code]
            wr0, wr1, wc0, wc1 = e.window
            a0, a1, b0, b1 = max(r0, wr0), min(r1, wr1), max(c0, wc0), min(c1, wc1)
            if a0 >= a1 or b0 >= b1:
                continue
            s = e.score[a0 - wr0 : a1 - wr0, b0 - wc0 : b1 - wc0]
            bsub = best[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0]
            win = (s >= 0.5) & (s > bsub)
            lab[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0][win] = code - 1
            np.maximum(bsub, s, out=bsub)


def _enclosed(seeds, code, extent):
    """``(window, score)`` of an object whose seeds are enclosed by other marks, else ``None``.

    Enclosed: no unmarked pixel next to the object's seeds can reach the rest of the image,
    because every pixel two steps away is marked (8-neighbours; unmarked pixels right next to
    the seeds are then trapped, as where a block-reduced copy of an exact object's background
    ring mixes object and outside). This is how an object taken exactly looks (proposals, a
    loaded label image, the proofreading edits): it is its seeds, and nothing is solved (at full
    resolution the band takes every seeded pixel's label).
    """
    h, w = seeds.shape
    r0, r1, c0, c1 = extent
    win = (max(0, r0 - 2), min(h, r1 + 2), max(0, c0 - 2), min(w, c1 + 2))
    s = seeds[win[0] : win[1], win[2] : win[3]]
    fg = (s == code).view(np.uint8)
    near = cv2.dilate(fg, np.ones((3, 3), np.uint8))
    ring2 = cv2.dilate(near, np.ones((3, 3), np.uint8)) > near
    if (ring2 & (s == 0)).any():
        return None
    return win, fg.astype(np.float32)


def _params_key(params: dict):
    try:
        return tuple(sorted((k, repr(v)) for k, v in params.items()))
    except TypeError:
        return id(params)


def _extents(seeds, codes, boxes, prior) -> dict[int, tuple]:
    """Bounding box of each object's seeds, box and prior pixels."""
    found = {}
    reg = regions(seeds)
    for i, c in enumerate(reg.ids):
        found[int(c)] = tuple(int(v) for v in reg.bbox[i])
    if prior is not None:
        preg = regions(prior)
        for i, k in enumerate(preg.ids):
            found[int(k) + 1] = _union(found.get(int(k) + 1), tuple(int(v) for v in preg.bbox[i]))
    for c, b in boxes.items():
        found[int(c)] = _union(found.get(int(c)), tuple(int(v) for v in b))
    return {c: found.get(c, (0, 1, 0, 1)) for c in codes}


def _margins(extents: dict, codes: list) -> dict[int, int]:
    """Each object's first margin: ``max(MIN_MARGIN, longest side // 2, gap to the nearest other extent)``.

    The gap between two boxes is the larger of their row and column gaps (0 when they overlap).
    """
    e = np.array([extents[c] for c in codes], np.int64).reshape(-1, 4)
    out = {}
    step = 512  # rows of the pairwise gap matrix at a time (memory stays small for 65,534 objects)
    for i in range(0, len(codes), step):
        a = e[i : i + step, None, :]
        gap = np.maximum(
            np.maximum(e[None, :, 0] - a[:, :, 1], a[:, :, 0] - e[None, :, 1]),
            np.maximum(e[None, :, 2] - a[:, :, 3], a[:, :, 2] - e[None, :, 3]),
        ).clip(min=0)
        rows = np.arange(gap.shape[0])
        gap[rows, i + rows] = np.iinfo(np.int64).max  # not the object itself
        nearest = gap.min(axis=1)
        side = np.maximum(a[:, 0, 1] - a[:, 0, 0], a[:, 0, 3] - a[:, 0, 2]) // 2
        for j, m in enumerate(np.maximum(np.maximum(nearest, side), MIN_MARGIN)):
            out[codes[i + j]] = int(m)
    return out


def _union(a, b):
    if a is None:
        return b
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def _meets(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _touches(mask, win, shape) -> bool:
    """Whether ``mask`` (the window's) reaches a window side that is not the image border."""
    h, w = shape
    r0, r1, c0, c1 = win
    return bool(
        (r0 > 0 and mask[0].any())
        or (r1 < h and mask[-1].any())
        or (c0 > 0 and mask[:, 0].any())
        or (c1 < w and mask[:, -1].any())
    )


def object_score(binary, image, seeds, code, box, prior, params, win) -> np.ndarray:
    """Object ``code``'s sub-problem solved in image window ``win``: its seeds against every
    other mark; unmarked pixels outside its ``box`` are background and those inside lean to it.

    Parameters
    ----------
    binary : callable
        ``binary(image, seeds, prior=None, **params)`` with seeds of codes 0/1/2.
    image : (H, W, 3) ndarray
    seeds : (H, W) ndarray of uint16
    code : int
        The object's seed code (``k + 1``).
    box : tuple or None
        ``(r0, r1, c0, c1)``, image coordinates.
    prior : (H, W) ndarray of uint16 or None
    params : dict
    win : tuple
        ``(r0, r1, c0, c1)``; the whole image passes ``image`` itself to ``binary``.

    Returns
    -------
    (r1 - r0, c1 - c0) ndarray of float32
    """
    r0, r1, c0, c1 = win
    s = seeds[r0:r1, c0:c1]
    sub = np.where(s == code, FOREGROUND, np.where(s > 0, BACKGROUND, 0)).astype(np.uint8)
    pr = None if prior is None else prior[r0:r1, c0:c1] == code - 1
    if box is not None:
        b0, b1, d0, d1 = box
        inside = np.zeros(sub.shape, bool)
        inside[max(0, b0 - r0) : max(0, b1 - r0), max(0, d0 - c0) : max(0, d1 - c0)] = True
        sub[~inside & (sub == 0)] = BACKGROUND
        free = inside if prior is None else inside & (prior[r0:r1, c0:c1] == 0)
        pr = free if pr is None else pr | free
    whole = (r0, r1, c0, c1) == (0, seeds.shape[0], 0, seeds.shape[1])
    crop = image if whole else np.ascontiguousarray(image[r0:r1, c0:c1])
    return np.asarray(binary(crop, sub, prior=pr, **params), dtype=np.float32)


def _merge_rects(rects) -> list[tuple]:
    """Rectangles with overlapping ones merged into their bounding box (fewer composite passes)."""
    out: list[tuple] = []
    for r in sorted(set(rects)):
        for i, o in enumerate(out):
            if _meets(o, r):
                out[i] = _union(o, r)
                break
        else:
            out.append(r)
    return out
