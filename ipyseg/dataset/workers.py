"""The Annotator's two background threads: the autosaver and the prefetcher.

Both are owned objects: whoever creates one calls :meth:`close`, which stops its thread (the
autosaver writes what is pending first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class Autosaver:
    """Writes snapshots off the event thread, latest per key wins, bursts coalesced.

    Parameters
    ----------
    write : callable
        ``write(key, snapshot)``, called in the saver thread.
    delay : float
        Seconds to let a burst of edits settle before writing (a save lands within about
        ``delay`` plus the write time).
    on_error : callable, optional
        ``on_error(key, exception)`` when a write fails. The snapshot is kept and written again
        (after 0.5 s, doubling up to :attr:`MAX_BACKOFF`) unless a newer one replaced it.
    on_written : callable, optional
        ``on_written(key)`` after a snapshot of ``key`` was written (saver thread).

    Notes
    -----
    :meth:`put` hands over a ready snapshot; :meth:`mark` a callable that makes one at write time
    (so that a burst of 50 strokes costs one snapshot) and may return ``None`` for "nothing to
    write". A ``put`` for a key replaces a pending ``mark``. :meth:`latest` answers with the newest
    snapshot of a key from the moment it exists (put, made by a mark, or being written), never
    with an older one: every snapshot gets a sequence number, and an older write finishing does
    not hide a newer snapshot.
    """

    MAX_BACKOFF = 5.0

    def __init__(
        self,
        write: Callable,
        delay: float = 0.3,
        on_error: Callable | None = None,
        keep: int = 4,
        on_written: Callable | None = None,
    ):
        self._write = write
        self._on_written = on_written or (lambda key: None)
        self._delay = float(delay)
        self._on_error = on_error or (lambda key, err: None)
        self._cond = threading.Condition()
        # key -> ("put", snapshot, seq) | ("mark", callable, (seq, snapshot) of a put it replaced, or None)
        self._pending: OrderedDict = OrderedDict()
        self._latest: OrderedDict = OrderedDict()  # key -> (seq, snapshot): the newest handed over or made
        self._keep = keep
        self._seq = 0
        self._writing = False
        self._closed = False
        self._versions: dict = {}  # key -> sequence number of its newest snapshot (kept for every key)
        self._written: dict = {}  # key -> sequence number of its last snapshot written
        self._inflight: set = set()  # keys of the batch being written
        self._failing: set = set()  # keys whose last write failed (queued again)
        self._backoff = 0.0
        self._batches = 0
        self.writes = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._loop, name="ipyseg-autosave", daemon=True)
        self._thread.start()

    def put(self, key, snapshot) -> None:
        """Queue a ready ``snapshot`` of ``key`` (replaces what is pending for it)."""
        with self._cond:
            self._check_open()
            seq = self._remember(key, snapshot)
            self._pending[key] = ("put", snapshot, seq)
            self._pending.move_to_end(key)
            self._cond.notify_all()

    def mark(self, key, make: Callable) -> None:
        """Queue ``make()`` for ``key``: called at write time to make the snapshot (``None``: nothing to write)."""
        with self._cond:
            self._check_open()
            kind, old, seq = self._pending.get(key, (None, None, None))
            # a pending ready snapshot stands in when ``make`` has nothing newer; it keeps its own
            # sequence number (it must never pass for newer than a snapshot handed over after it)
            fallback = (seq, old) if kind == "put" else seq  # a replaced mark passes its fallback on
            self._pending[key] = ("mark", make, fallback)
            self._cond.notify_all()

    def note(self, key, snapshot) -> None:
        """Make ``snapshot`` the newest of ``key`` for :meth:`latest` now (a ``mark``'s callable
        calls this with what it made, under the caller's own lock, so that no reader sees an
        older snapshot in between).
        """
        with self._cond:
            self._remember(key, snapshot)

    def version(self, key) -> tuple[int, bool]:
        """``(sequence number of key's newest snapshot, whether it is written)``; ``(0, True)``
        when none was handed over in this session.

        A reader that notes this before reading ``key``'s file can trust what it read only if
        the snapshot was written then and the number has not changed since.
        """
        with self._cond:
            seq = self._versions.get(key, 0)
            return seq, self._written.get(key, 0) == seq

    def latest(self, key):
        """The newest snapshot of ``key`` handed over (pending, being written or written), or ``None``."""
        with self._cond:
            kind, value, _seq = self._pending.get(key, (None, None, None))
            if kind == "put":
                return value
            entry = self._latest.get(key)
            return None if entry is None else entry[1]

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write everything pending now; ``False`` if ``timeout`` expired first or a write failed
        again (the snapshot stays queued).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_now = True
            start = self._batches
            self._cond.notify_all()
            while self._pending or self._writing:
                if self._failing and self._batches > start and not self._writing:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                if not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
            return not self._failing

    def close(self, timeout: float | None = 30.0) -> bool:
        """Write what is pending, then stop the thread; ``False`` if something could not be written."""
        if self._closed:
            return True
        self.flush(timeout)
        with self._cond:
            self._closed = True  # one more attempt at what is pending, then the thread ends
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._cond:
            return not self._pending and not self._failing and not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """Whether the saver thread is running (``False`` once :meth:`close` returned)."""
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Number of keys waiting to be written."""
        with self._cond:
            return len(self._pending)

    # ------------------------------------------------------------------ private
    _flush_now = False

    def _check_open(self):
        if self._closed:
            raise RuntimeError("the autosaver is closed")

    def _remember(self, key, snapshot) -> int:
        """Record ``snapshot`` as the newest of ``key``; returns its sequence number."""
        entry = self._latest.get(key)
        if entry is not None and entry[1] is snapshot:
            return entry[0]
        self._seq += 1
        self._versions[key] = self._seq
        self._latest[key] = (self._seq, snapshot)
        self._latest.move_to_end(key)
        while len(self._latest) > self._keep:  # forget the oldest written snapshots (they are on disk)
            victim = next((k for k in self._latest if k not in self._pending and k not in self._inflight), None)
            if victim is None or victim == key:
                break
            del self._latest[victim]
        return self._seq

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
                if not self._flush_now and not self._closed:
                    # let the burst settle; after a failed write, wait longer before the retry
                    self._cond.wait(max(self._delay, self._backoff))
                self._flush_now = False
                batch, self._pending = self._pending, OrderedDict()
                self._inflight = set(batch)
                self._writing = True
            failed = False
            try:
                for key, (kind, value, seq) in batch.items():
                    snapshot = None
                    try:
                        if kind == "put":
                            snapshot = value
                        else:  # a mark: made now, else the put it replaced (with that put's number)
                            fallback, snapshot = seq, value()
                            if snapshot is not None:
                                with self._cond:
                                    seq = self._remember(key, snapshot)
                            elif fallback is not None:
                                seq, snapshot = fallback
                        if snapshot is None:
                            continue
                        with self._cond:
                            pending = self._pending.get(key)
                            if pending is not None and pending[0] == "put":
                                if pending[2] > seq:
                                    continue  # a newer snapshot came meanwhile: it is written next
                                # a put handed over before this mark made its snapshot: older
                                # (left pending, it would be written last and this one never)
                                del self._pending[key]
                        self._write(key, snapshot)
                        self.writes += 1
                        with self._cond:
                            self._failing.discard(key)
                            self._written[key] = max(self._written.get(key, 0), seq)
                        self._on_written(key)
                    except Exception as err:  # a failing write must not stop autosaving, nor lose the snapshot
                        self.errors += 1
                        failed = True
                        with self._cond:
                            self._failing.add(key)
                            if snapshot is not None and key not in self._pending and not self._closed:
                                self._pending[key] = ("put", snapshot, seq)  # again, unless a newer one came
                        self._on_error(key, err)
            finally:
                with self._cond:
                    self._backoff = min(self.MAX_BACKOFF, max(0.5, 2 * self._backoff)) if failed else 0.0
                    self._batches += 1
                    self._inflight = set()
                    self._writing = False
                    self._cond.notify_all()


class Prefetcher:
    """Prepares items in a background thread; keeps at most ``size`` of them.

    Parameters
    ----------
    prepare : callable
        ``prepare(i) -> value``, called in the prefetch thread (or by :meth:`get` on a miss).
    size : int
        Items kept (least recently wanted dropped first).
    warm : callable, optional
        ``warm(i, value) -> bool``: slower extra work done only in the prefetch thread, after the
        value is stored (e.g. a segmenter's image encoder whose result lands in its own cache),
        also for wanted items already cached; it returns whether it did any work. :meth:`get`
        does not wait for it and never runs it. Its errors are ignored.
    """

    def __init__(self, prepare: Callable, size: int = 3, warm: Callable | None = None):
        self._prepare = prepare
        self._warm = warm
        self._size = int(size)
        self._cond = threading.Condition()
        self._cache: OrderedDict = OrderedDict()
        self._wanted: list = []
        self._busy_with = None
        self._closed = False
        self.hits = 0
        self.misses = 0
        self.warmed = 0
        self._thread = threading.Thread(target=self._loop, name="ipyseg-prefetch", daemon=True)
        self._thread.start()

    def want(self, indices) -> None:
        """Prepare these items next (in order); cached ones are only warmed (``warm`` decides if needed)."""
        with self._cond:
            self._wanted = [i for i in indices if self._warm is not None or i not in self._cache]
            self._cond.notify_all()

    def get(self, i):
        """Item ``i``: from the cache, waiting for the thread if it is preparing it, or now."""
        with self._cond:
            while self._busy_with == i:
                self._cond.wait()
            if i in self._cache:
                self.hits += 1
                self._cache.move_to_end(i)
                return self._cache[i]
            self.misses += 1
        value = self._prepare(i)
        self._store(i, value)
        return value

    def put(self, i, value) -> None:
        """Keep ``value`` as item ``i`` (prepared elsewhere)."""
        self._store(i, value)

    def drop(self, i) -> None:
        """Forget item ``i`` (it is prepared again when wanted)."""
        with self._cond:
            self._cache.pop(i, None)

    def drop_if(self, stale: Callable) -> list:
        """Forget the cached items for which ``stale(i, value)`` is true; returns their indices."""
        with self._cond:
            gone = [i for i, v in self._cache.items() if stale(i, v)]
            for i in gone:
                del self._cache[i]
            return gone

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is wanted and the thread is not working (for tests and benchmarks)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._wanted or self._busy_with is not None or self._warming:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    @property
    def alive(self) -> bool:
        """Whether the prefetch thread is running (``False`` once :meth:`close` returned)."""
        return self._thread.is_alive()

    def cached(self) -> list:
        """Indices of the items held, least recently wanted first."""
        with self._cond:
            return list(self._cache)

    def close(self) -> None:
        """Stop the thread and drop the cache (waits for the item being prepared)."""
        with self._cond:
            self._closed = True
            self._cache.clear()
            self._cond.notify_all()
        self._thread.join(30)

    def _store(self, i, value) -> None:
        with self._cond:
            self._cache[i] = value
            self._cache.move_to_end(i)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)

    _warming = False

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._wanted and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                i = self._wanted.pop(0)
                cached = self._cache.get(i)
                if cached is not None and self._warm is None:
                    continue
                self._busy_with = i if cached is None else None
                self._warming = cached is not None
            if cached is not None:
                value = cached  # prepared already: only warm it
            else:
                try:
                    value = self._prepare(i)
                except Exception as err:  # shown when the item is opened (get() prepares it again)
                    value = None
                    del err
            with self._cond:
                self._busy_with = None
                if value is not None and not self._closed and cached is None:
                    self._cache[i] = value
                    self._cache.move_to_end(i)
                    while len(self._cache) > self._size:
                        self._cache.popitem(last=False)
                self._warming = value is not None and self._warm is not None and not self._closed
                self._cond.notify_all()
            if self._warming:
                try:
                    if self._warm(i, value):  # get(i) has the value already; this runs on
                        self.warmed += 1
                except Exception as err:  # the owner reports it when it does the work itself
                    del err
                finally:
                    with self._cond:
                        self._warming = False
                        self._cond.notify_all()
