"""Coarse-to-fine segmentation for large photos, for any segmenter. Pure numpy + OpenCV.

A segmenter runs on a block-averaged copy of the photo (integer factor ``k``, so coarse pixel
``(i, j)`` is exactly the full-resolution block ``[i k, (i + 1) k) x [j k, (j + 1) k)``), with
block-reduced seeds. Its labels are replicated back to full resolution, and only a narrow
*band* is recomputed per full-resolution pixel:

* blocks on a label boundary (a neighbour has another label),
* blocks whose seeds disagree (two codes in one block) or that the coarse result contradicts.

Each band pixel takes the label whose *local* mean colour (over the coarse blocks of that label
within ``radius`` blocks, boundary blocks excluded) is nearest to its own colour, and every
seeded pixel takes its seed's label, so seeds stay hard constraints at full resolution.

:class:`Multiscale` keeps what can be reused between strokes on one photo: the image pyramid,
the block-reduced seeds (updated only where the seeds changed), the previous result (only the
changed blocks are rewritten), and a per-method cost estimate that picks a quick *preview*
factor and the *final* factor. :func:`segment_fast` is the one-call pure form.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from ipyseg._util.arrays import changed_window
from ipyseg.objects import regions
from ipyseg.segmentation.engine import Cancelled
from ipyseg.segmentation.run import run_segmenter
from ipyseg.segmenters.local import ObjectScores
from ipyseg.segmenters.registry import full_resolution

#: Pixels of the coarse image of the final stage (about 0.3 MP).
FINAL_PIXELS = 300_000
#: Photos up to this many pixels are segmented at full resolution (``1.6 * FINAL_PIXELS``), so
#: that e.g. 640 x 480 is not halved for being a little above ``FINAL_PIXELS``.
FULL_RESOLUTION_PIXELS = 480_000
#: Compute budget (seconds) of a preview stage; a slower method gets a smaller preview image.
PREVIEW_SECONDS = 0.03
#: Smallest preview image (pixels).
MIN_PREVIEW_PIXELS = 5_000


@dataclass(frozen=True)
class _Previous:
    """The last result of a :class:`Multiscale`, what the next one at the same factor reuses."""

    factor: int
    labels: np.ndarray  # (H, W) uint16, read-only
    coarse: np.ndarray | None = None  # (h, w) coarse labels (None at factor 1)
    band: np.ndarray | None = None  # (h, w) bool: the blocks decided pixel by pixel
    seeds: np.ndarray | None = None  # (H, W) the full-resolution seeds it was made with
    image: np.ndarray | None = None  # the full-resolution colours the band was decided with


@dataclass
class FastResult:
    """Labels from :meth:`Multiscale.segment` and what is needed to show them cheaply.

    Attributes
    ----------
    labels : (H, W) ndarray of uint16
        Full-resolution labels: a new, read-only array (the next call starts from it).
    window : tuple or None
        ``(r0, r1, c0, c1)`` image window outside which ``labels`` equals ``base``; ``None``
        means anything may have changed.
    base : (H, W) ndarray of uint16 or None
        The previous result of the same :class:`Multiscale` that ``window`` refers to. A caller
        that did not show ``base`` (e.g. it dropped a stale result) must ignore ``window``.
    factor : int
        Block size of the coarse stage (1 = computed at full resolution).
    final : bool
        ``False`` for a preview: a finer stage (``factor`` of :meth:`Multiscale.plan`) remains.
    seconds : dict
        Time per step (``"coarse"``, ``"refine"``).
    """

    labels: np.ndarray
    window: tuple | None
    factor: int
    final: bool = True
    base: np.ndarray | None = None
    seconds: dict = field(default_factory=dict)


def factor_for(shape, max_pixels: int) -> int:
    """Smallest integer block size ``k`` with ``ceil(H / k) * ceil(W / k) <= max_pixels``."""
    h, w = shape[:2]
    k = max(1, int(math.floor(math.sqrt(h * w / float(max_pixels)))))
    while math.ceil(h / k) * math.ceil(w / k) > max_pixels:
        k += 1
    return k


def block_reduce_seeds(seeds: np.ndarray, k: int):
    """Reduce seeds by ``k x k`` blocks (the last row/column of blocks may be partial).

    Parameters
    ----------
    seeds : (H, W) ndarray of uint16
    k : int

    Returns
    -------
    code : (ceil(H / k), ceil(W / k)) ndarray of uint16
        The block's seed code if all its seeded pixels agree, else ``0``.
    mixed : same shape, ndarray of bool
        Blocks holding two or more different seed codes.
    """
    h, w = seeds.shape
    hb, wb = -(-h // k), -(-w // k)
    if (hb * k, wb * k) != (h, w):
        padded = np.zeros((hb * k, wb * k), seeds.dtype)
        padded[:h, :w] = seeds
        seeds = padded
    blocks = seeds.reshape(hb, k, wb, k)
    top = blocks.max(axis=(1, 3))
    low = (blocks - blocks.dtype.type(1)).min(axis=(1, 3)) + blocks.dtype.type(1)  # smallest non-zero code (0 wraps)
    mixed = (top != low) & (top > 0)
    code = np.where(mixed, 0, top).astype(np.uint16)
    return code, mixed


def block_reduce_labels(labels: np.ndarray, k: int) -> np.ndarray:
    """The most frequent label of each ``k x k`` block (the last row/column of blocks may be partial).

    Parameters
    ----------
    labels : (H, W) ndarray of uint16
        E.g. a prior (a loaded mask or boxes): ``0`` background, ``k`` object k.
    k : int

    Returns
    -------
    (ceil(H / k), ceil(W / k)) ndarray of uint16
        Exactly the shape of :meth:`Multiscale.level` ``(k)``. A partial block counts only its
        pixels inside the image; ties go to the larger label (an object over background).
    """
    h, w = labels.shape
    if k == 1:
        return np.ascontiguousarray(labels, dtype=np.uint16).copy()
    out = np.zeros((-(-h // k), -(-w // k)), np.uint16)
    rows = np.flatnonzero(labels.any(axis=1))
    if rows.size == 0:
        return out
    cols = np.flatnonzero(labels[rows[0] : rows[-1] + 1].any(axis=0))
    # Blocks outside the objects' bounding box are background: reduce only the blocks inside it.
    b0, b1, d0, d1 = rows[0] // k, -(-(rows[-1] + 1) // k), cols[0] // k, -(-(cols[-1] + 1) // k)
    out[b0:b1, d0:d1] = _block_mode(labels[b0 * k : b1 * k, d0 * k : d1 * k], k)
    return out


def _block_mode(labels: np.ndarray, k: int) -> np.ndarray:
    """:func:`block_reduce_labels` without the bounding-box shortcut."""
    h, w = labels.shape
    hb, wb = -(-h // k), -(-w // k)
    present = np.flatnonzero(np.bincount(labels.ravel(), minlength=1))
    if present.size == 1:
        return np.full((hb, wb), present[0], np.uint16)
    rows = np.full(hb, k, np.int32)
    rows[-1] = h - (hb - 1) * k
    cols = np.full(wb, k, np.int32)
    cols[-1] = w - (wb - 1) * k
    rest = np.outer(rows, cols)  # pixels of each block not yet counted for an object: background
    out = np.zeros((hb, wb), np.uint16)
    best = np.full((hb, wb), -1, np.int32)
    indicator = np.zeros((hb * k, wb * k), np.uint8)  # padding stays 0: counts only real pixels
    for lab in present[present > 0]:
        np.equal(labels, lab, out=indicator[:h, :w].view(bool))
        count = indicator.reshape(hb * k, wb, k).sum(axis=2, dtype=np.int32).reshape(hb, k, wb).sum(axis=1)
        rest -= count
        win = count >= best  # labels ascend: ties go to the larger one
        out[win] = lab
        np.maximum(best, count, out=best)
    out[rest > best] = 0  # background only where it strictly outnumbers every object
    return out


def seed_labels(code: np.ndarray) -> np.ndarray:
    """Label implied by seed codes: ``1`` (background) -> 0, ``k + 1`` -> k, ``0`` -> 0."""
    return np.where(code >= 2, code - 1, 0).astype(np.uint16)


class Multiscale:
    """Coarse-to-fine segmentation of one photo, reusing work between calls.

    Parameters
    ----------
    image : (H, W, 3|4) ndarray of uint8 or float32
        The validated photo (RGB or RGBA; alpha is ignored), or the float32 segmentation image
        of a display-mapped image (values in [0, 1], see :mod:`ipyseg.display`).
    final_pixels : int
        Size of the final stage's coarse image; photos up to 1.6 times this size are segmented
        at full resolution.
    preview_seconds : float
        Compute budget of a preview stage. A method whose estimated cost at the final size
        exceeds it is first run on a smaller image; ``0`` disables previews.
    radius : int
        Neighbourhood (in blocks) of the local colour means used in the band.

    Notes
    -----
    Calls of :meth:`segment` are serialised by a lock: each one reads and updates the previous
    result and the per-object scores, so a synchronous call from the kernel's thread
    (``Engine.run_sync``) waits for the worker's computation instead of interleaving with it.
    """

    def __init__(
        self,
        image: np.ndarray,
        *,
        final_pixels: int = FINAL_PIXELS,
        preview_seconds: float = PREVIEW_SECONDS,
        radius: int = 2,
    ):
        self._source = image
        self.image = _rgb(image)
        self.shape = image.shape[:2]
        h, w = self.shape
        full = h * w <= FULL_RESOLUTION_PIXELS * final_pixels / FINAL_PIXELS
        self.final_pixels = int(final_pixels)
        self.final_factor = 1 if full else factor_for(self.shape, int(final_pixels))
        self.preview_seconds = float(preview_seconds)
        self.radius = int(radius)
        self._levels: dict[int, np.ndarray] = {}
        self._seeds: dict[int, tuple] = {}  # k -> (full seeds copy, code, mixed)
        self._priors: dict[int, tuple] = {}  # k -> (full prior copy, coarse prior)
        self._last: _Previous | None = None
        self._objects: dict[int, ObjectScores] = {}  # k -> per-object scores of one-vs-rest methods
        self._lock = threading.RLock()  # one segment() at a time (see Notes)
        self._cost: dict = {}  # method key -> {factor: seconds of the coarse segmentation}
        self._final_cost: dict = {}  # method key -> seconds of a whole final stage (coarse + band)
        self.rebuilds = 0  # images replaced by set_image (for tests)

    def set_image(self, image: np.ndarray) -> None:
        """Segment another version of the same photo from now on (e.g. after a display-range change).

        Nothing happens for the image already in use (the same object). Otherwise the pyramid
        is rebuilt on demand; the block-reduced seeds, the previous result (its changed blocks
        are still rewritten, so the result stays exact) and the cost estimates are kept.
        """
        if image is self._source:
            return
        if image.shape[:2] != self.shape:
            raise ValueError(f"`image` (shape {image.shape}) must have this photo's height and width {self.shape}")
        self._source = image
        self.image = _rgb(image)
        self._levels = {}  # a new dict: a computation still using the old image fills the old one
        self.rebuilds += 1

    # ------------------------------------------------------------ planning
    def plan(self, func: Callable, params: dict | None = None) -> list[int]:
        """Block factors to run, coarsest first: ``[final]`` or ``[preview, final]``.

        A preview is planned when the final stage (its coarse segmentation and the band, as
        measured by earlier calls) is estimated to take more than twice the preview budget; its factor is the finest multiple of the final factor estimated to fit
        the budget (at least ``MIN_PREVIEW_PIXELS`` pixels). Estimates are the measured times
        of earlier calls, scaled by pixel count to levels not measured yet.
        """
        if full_resolution(func):
            return [1]
        k = self.final_factor
        key = _key(func, params)
        # the whole final stage (coarse segmentation and band) as measured, else the coarse estimate
        final = max(self._estimate(key, k), self._final_cost.get(key, 0.0))
        if self.preview_seconds <= 0 or final <= 2 * self.preview_seconds:
            return [k]
        m = 2
        while self._pixels(m * k) > MIN_PREVIEW_PIXELS and self._estimate(key, m * k) > self.preview_seconds:
            m += 1
        if self._pixels(m * k) < MIN_PREVIEW_PIXELS and m > 2:
            m -= 1
        return [m * k, k]

    def level(self, k: int) -> np.ndarray:
        """The photo block-averaged by ``k`` (cached), ``(ceil(H / k), ceil(W / k), 3)``, the photo's dtype.

        Multiples of the final factor are reduced from the final level (cheap).
        """
        levels, image = self._levels, self.image  # one image throughout, even if set_image runs meanwhile
        if k not in levels:
            kf = self.final_factor
            base, m = (image, k) if kf == 1 or k == kf or k % kf else (self.level(kf), k // kf)
            h, w = base.shape[:2]
            hb, wb = -(-h // m), -(-w // m)
            if (hb * m, wb * m) != (h, w):
                base = cv2.copyMakeBorder(base, 0, hb * m - h, 0, wb * m - w, cv2.BORDER_REPLICATE)
            levels[k] = np.ascontiguousarray(cv2.resize(base, (wb, hb), interpolation=cv2.INTER_AREA))
        return levels[k]

    # ---------------------------------------------------------- segmenting
    def segment_staged(
        self, func, seeds, prior=None, params=None, *, preview=False, should_stop=None, boxes=None
    ) -> FastResult:
        """The quick preview stage (``preview=True``, see :meth:`plan`) or the final stage.

        A preview whose plan has a single stage is the final result (``final=True``).
        """
        plan = self.plan(func, params)
        k = plan[0] if preview else plan[-1]
        final = k == plan[-1]
        result = self.segment(func, seeds, prior, params, factor=k, refine=final, should_stop=should_stop, boxes=boxes)
        result.final = final
        return result

    def segment(
        self,
        func: Callable,
        seeds: np.ndarray,
        prior: np.ndarray | None = None,
        params: dict | None = None,
        *,
        factor: int | None = None,
        refine: bool = True,
        should_stop: Callable[[], bool] | None = None,
        boxes: dict | None = None,
    ) -> FastResult:
        """Segment at block factor ``factor`` (default: the final one) and refine the band.

        Parameters
        ----------
        func : callable
            A registered segmenter (``func(image, seeds, **params)``).
        seeds : (H, W) ndarray of uint16
            Full-resolution seeds (not modified).
        prior : (H, W) ndarray of uint16, optional
            Starting labels for methods that accept one.
        params : dict, optional
            Method parameters.
        factor : int, optional
            Block size; ``1`` runs ``func`` at full resolution. Default: the final factor, or 1
            for segmenters with ``full_resolution = True``.
        refine : bool
            Decide the band pixel by pixel (and enforce seeds). ``False`` (for previews) only
            replicates the blocks.
        should_stop : callable, optional
            Polled between steps; when it returns ``True``, :class:`Cancelled` is raised.
        boxes : dict, optional
            ``{code: (r0, r1, c0, c1)}`` box prompts for segmenters that take ``boxes``
            (scaled to the coarse image with it).

        Returns
        -------
        FastResult
        """
        with self._lock:
            return self._segment(func, seeds, prior, params, factor, refine, should_stop, boxes)

    def _segment(self, func, seeds, prior, params, factor, refine, should_stop, boxes) -> FastResult:
        if factor is None:
            factor = 1 if full_resolution(func) else self.final_factor
        k = max(1, int(factor))
        params = dict(params or {})
        stop = should_stop or (lambda: False)
        t0 = time.perf_counter()
        if k == 1:
            cache = self._objects.setdefault(1, ObjectScores())
            labels = run_segmenter(func, self.image, seeds, prior, params, boxes, cache).copy()
            labels.flags.writeable = False
            if _has_work(seeds, prior, boxes):  # an empty answer costs nothing: it says nothing of the cost
                self._learn(func, params, time.perf_counter() - t0, 1)
            last = self._last
            base = last.labels if last is not None and last.factor == 1 else None
            window = None if base is None else changed_window(base, labels)
            self._last = _Previous(1, labels)
            return FastResult(labels, window, 1, base=base, seconds={"coarse": time.perf_counter() - t0})

        code, mixed = self._coarse_seeds(seeds, k)
        small = self.level(k)
        cprior = None if prior is None else self._coarse_prior(prior, k)
        cboxes = (
            None
            if not boxes
            else {c: (r0 // k, -(-r1 // k), c0 // k, -(-c1 // k)) for c, (r0, r1, c0, c1) in boxes.items()}
        )
        tc = time.perf_counter()
        coarse = run_segmenter(func, small, code, cprior, params, cboxes, self._objects.setdefault(k, ObjectScores()))
        t1 = time.perf_counter()
        work = _has_work(code, cprior, cboxes)
        if work:  # an empty answer costs nothing: it says nothing of the cost
            self._learn(func, params, t1 - tc, k)
        if stop():
            raise Cancelled
        image = self.image  # the full-resolution colours the band was decided with
        labels, window, band = self._refine(coarse, code, mixed, seeds, k, refine, image)
        labels.flags.writeable = False
        base = self._last.labels if window is not None else None
        used = self._seeds[k][0] if k in self._seeds else seeds.copy()
        self._last = _Previous(k, labels, coarse, band, used, image)
        t2 = time.perf_counter()
        if work and refine and k == self.final_factor:  # what the user waits for without a preview
            key = _key(func, params)
            old = self._final_cost.get(key)
            self._final_cost[key] = t2 - t0 if old is None else 0.5 * (old + t2 - t0)
        return FastResult(labels, window, k, base=base, seconds={"coarse": t1 - t0, "refine": t2 - t1})

    # ------------------------------------------------------------- private
    def _pixels(self, k: int) -> int:
        return -(-self.shape[0] // k) * -(-self.shape[1] // k)

    def _learn(self, func, params, seconds: float, k: int) -> None:
        times = self._cost.setdefault(_key(func, params), {})
        times[k] = seconds if k not in times else 0.5 * (times[k] + seconds)

    def _estimate(self, key, k: int) -> float:
        """Estimated seconds of the coarse segmentation at factor ``k``."""
        times = self._cost.get(key)
        if not times:
            return 2e-6 * self._pixels(k)  # unknown method: assume a slow one
        if k in times:
            return times[k]
        near = min(times, key=lambda q: abs(q - k))
        return times[near] * self._pixels(k) / self._pixels(near)

    def _coarse_seeds(self, seeds: np.ndarray, k: int):
        """Block-reduced seeds, recomputed only inside the window where ``seeds`` changed."""
        kf = self.final_factor
        if k != kf and kf > 1 and k % kf == 0:  # a preview level: reduce the final level's blocks
            code_f, mixed_f = self._coarse_seeds(seeds, kf)
            code, mixed = block_reduce_seeds(code_f, k // kf)
            return code, mixed | _block_any(mixed_f, k // kf)
        cached = self._seeds.get(k)
        if cached is None or cached[0].shape != seeds.shape:
            code, mixed = block_reduce_seeds(seeds, k)
        else:
            prev, code, mixed = cached
            win = changed_window(prev, seeds)
            if win is not None:
                code, mixed = code.copy(), mixed.copy()
                r0, r1, c0, c1 = win
                b0, b1, d0, d1 = r0 // k, -(-r1 // k), c0 // k, -(-c1 // k)
                sub_code, sub_mixed = block_reduce_seeds(seeds[b0 * k : b1 * k, d0 * k : d1 * k], k)
                code[b0:b1, d0:d1] = sub_code
                mixed[b0:b1, d0:d1] = sub_mixed
        self._seeds[k] = (seeds.copy(), code, mixed)  # a copy: callers may edit theirs in place
        return code, mixed

    def _coarse_prior(self, prior: np.ndarray, k: int) -> np.ndarray:
        """Block-reduced prior (:func:`block_reduce_labels`), recomputed only where it changed.

        Preview levels (multiples of the final factor) reduce the final level's blocks again.
        """
        kf = self.final_factor
        if k != kf and kf > 1 and k % kf == 0:
            return block_reduce_labels(self._coarse_prior(prior, kf), k // kf)
        cached = self._priors.get(k)
        if cached is None or cached[0].shape != prior.shape:
            coarse = block_reduce_labels(prior, k)
        else:
            prev, coarse = cached
            win = changed_window(prev, prior)
            if win is not None:
                coarse = coarse.copy()
                r0, r1, c0, c1 = win
                b0, b1, d0, d1 = r0 // k, -(-r1 // k), c0 // k, -(-c1 // k)
                coarse[b0:b1, d0:d1] = block_reduce_labels(prior[b0 * k : b1 * k, d0 * k : d1 * k], k)
        self._priors[k] = (prior.copy(), coarse)  # a copy: callers may edit theirs in place
        return coarse

    def _refine(self, coarse, code, mixed, seeds, k, refine, image):
        """Full-resolution labels: blocks replicated, band pixels decided one by one."""
        h, w = self.shape
        kernel = np.ones((3, 3), np.uint8)
        band = cv2.dilate(coarse, kernel) != cv2.erode(coarse, kernel)
        band |= mixed
        band |= (code > 0) & (coarse != seed_labels(code))

        # Only blocks whose decision can differ from the previous result (same factor) are
        # rewritten: a band block's decision reads the coarse labels, the band and the seeds
        # within ``radius + 1`` blocks, so blocks farther than that from a changed coarse label
        # or a changed seed keep their pixels.
        last = self._last
        if last is not None and last.factor == k and last.image is image:
            labels = last.labels.copy()
            changed = coarse != last.coarse
            swin = changed_window(last.seeds, seeds)
            if swin is not None:
                r0, r1, c0, c1 = swin
                changed[r0 // k : -(-r1 // k), c0 // k : -(-c1 // k)] = True
            reach = np.ones((2 * self.radius + 3, 2 * self.radius + 3), np.uint8)
            near = cv2.dilate(changed.view(np.uint8), reach).view(bool)
            dirty = changed | ((band | last.band) & near)
            cwin = changed_window(np.zeros_like(dirty), dirty)
        else:
            labels = np.empty((h, w), np.uint16)
            cwin = (0, coarse.shape[0], 0, coarse.shape[1])
        if cwin is None:  # nothing changed since the previous result
            return labels, (0, 0, 0, 0), band
        b0, b1, d0, d1 = cwin
        up = cv2.resize(coarse[b0:b1, d0:d1], None, fx=k, fy=k, interpolation=cv2.INTER_NEAREST)
        r0, r1, c0, c1 = b0 * k, min(h, b1 * k), d0 * k, min(w, d1 * k)
        labels[r0:r1, c0:c1] = up[: r1 - r0, : c1 - c0]

        bi, bj = np.nonzero(band[b0:b1, d0:d1])
        if refine and bi.size:
            bi += b0
            bj += d0
            self._decide_band(labels, coarse, band, seeds, bi, bj, k)
        window = None if last is None or last.factor != k else (r0, r1, c0, c1)  # a new image: still the changed blocks
        return labels, window, band

    def _decide_band(self, labels, coarse, band, seeds, bi, bj, k):
        """Label every full-resolution pixel of the band blocks ``(bi, bj)`` in place.

        Each pixel takes the label maximising ``c . m - |m|^2 / 2`` (the nearest local mean
        colour ``m``); seeded pixels take their seed's label.
        """
        h, w = self.shape
        r = self.radius
        ksize = (2 * r + 1, 2 * r + 1)
        # Work on the band's bounding box (plus the mean's reach) of the coarse image only.
        y0, y1 = max(0, int(bi.min()) - r), min(coarse.shape[0], int(bi.max()) + r + 1)
        x0, x1 = max(0, int(bj.min()) - r), min(coarse.shape[1], int(bj.max()) + r + 1)
        small = self.level(k)[y0:y1, x0:x1].astype(np.float32)
        sub, inner = coarse[y0:y1, x0:x1], ~band[y0:y1, x0:x1]
        li, lj = bi - y0, bj - x0
        steps = np.arange(k)
        rr = np.minimum(bi[:, None] * k + steps, h - 1)[:, :, None]  # (n, k, 1)
        cc = np.minimum(bj[:, None] * k + steps, w - 1)[:, None, :]  # (n, 1, k)
        colors = self.image[rr, cc].reshape(bi.size, k * k, 3).astype(np.float32)  # (n, k*k, 3)
        own = coarse[bi, bj]
        # every label the pixels' neighbourhoods can hold (not only the band blocks' own), so a
        # block's decision does not depend on which other blocks are decided with it; each
        # label's local means are computed over its own bounding box (plus the reach) only, so
        # a band of 1,000 objects costs their areas, not 1,000 passes over the image
        best = np.full((bi.size, k * k), -np.inf, np.float32)
        out = np.repeat(own[:, None], k * k, axis=1)
        sh, sw = sub.shape
        reg = regions(sub)
        boxes = [(0, (0, sh, 0, sw))] if (sub == 0).any() else []
        boxes += [(int(lab), tuple(int(v) for v in reg.bbox[i])) for i, lab in enumerate(reg.ids)]
        for lab, (a0, a1, b0, b1) in boxes:
            a0, a1, b0, b1 = max(0, a0 - r), min(sh, a1 + r), max(0, b0 - r), min(sw, b1 + r)
            rows = np.flatnonzero((li >= a0) & (li < a1) & (lj >= b0) & (lj < b1))
            if rows.size == 0:
                continue
            m = ((sub[a0:a1, b0:b1] == lab) & inner[a0:a1, b0:b1]).astype(np.float32)
            pi, pj = li[rows] - a0, lj[rows] - b0
            cnt = cv2.boxFilter(m, -1, ksize, normalize=False, borderType=cv2.BORDER_CONSTANT)[pi, pj]
            box_sums = cv2.boxFilter(
                small[a0:a1, b0:b1] * m[:, :, None], -1, ksize, normalize=False, borderType=cv2.BORDER_CONSTANT
            )
            mean = box_sums[pi, pj] / np.maximum(cnt, 1)[:, None]  # (n, 3)
            score = np.matmul(colors[rows], mean[:, :, None])[:, :, 0] - 0.5 * (mean * mean).sum(axis=1)[:, None]
            score[cnt == 0] = -np.inf
            b = best[rows]
            win = score > b
            o = out[rows]
            o[win] = lab
            out[rows] = o
            best[rows] = np.maximum(b, score)
        s = seeds[rr, cc].reshape(bi.size, k * k)
        out = np.where(s >= 2, s - 1, np.where(s == 1, 0, out)).astype(np.uint16)
        labels[rr, cc] = out.reshape(bi.size, k, k)


def _has_work(seeds: np.ndarray, prior, boxes) -> bool:
    """Whether a segmenter has anything to segment (object seeds, a prior or boxes)."""
    return bool(boxes) or (prior is not None and bool(prior.any())) or bool((seeds >= 2).any())


def _rgb(image: np.ndarray) -> np.ndarray:
    """The colour channels of a photo: RGBA becomes one contiguous read-only RGB copy."""
    if image.shape[2] != 4:
        return image
    rgb = np.ascontiguousarray(image[:, :, :3])
    rgb.flags.writeable = False
    return rgb


def _block_any(mask: np.ndarray, m: int) -> np.ndarray:
    """Whether any pixel of each ``m x m`` block of ``mask`` is set (last blocks may be partial)."""
    h, w = mask.shape
    hb, wb = -(-h // m), -(-w // m)
    padded = np.zeros((hb * m, wb * m), bool)
    padded[:h, :w] = mask
    return padded.reshape(hb, m, wb, m).any(axis=(1, 3))


def _key(func, params) -> tuple:
    return (id(func), tuple(sorted((params or {}).items(), key=lambda kv: kv[0])).__repr__())


def segment_fast(
    func: Callable,
    image: np.ndarray,
    seeds: np.ndarray,
    prior: np.ndarray | None = None,
    params: dict | None = None,
    *,
    final_pixels: int = FINAL_PIXELS,
    cache: Multiscale | None = None,
) -> np.ndarray:
    """Coarse-to-fine segmentation (the widget's final stage) as one pure call.

    Parameters
    ----------
    func : callable
        A segmenter, e.g. ``ipyseg.segmenters.get("grabcut")``.
    image : (H, W, 3|4) ndarray of uint8, or of float32 in [0, 1]
        Validated photo (or a display-mapped segmentation image).
    seeds : (H, W) ndarray of uint16
        Validated seeds.
    prior : (H, W) ndarray of uint16, optional
    params : dict, optional
    final_pixels : int
        Coarse image size; photos up to 1.6 times this size are segmented at full resolution.
    cache : Multiscale, optional
        Reuse the pyramid and previous result of an earlier call on the same photo.

    Returns
    -------
    (H, W) ndarray of uint16
        Labels; seeded pixels carry their seed's label.
    """
    ms = cache if cache is not None else Multiscale(image, final_pixels=final_pixels)
    return ms.segment(func, seeds, prior, params).labels.copy()
