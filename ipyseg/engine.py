"""Runs segmentations off the event thread: latest request wins, stale results are dropped.

The engine knows nothing about widgets. It is handed a ``compute`` function (snapshot in,
labels out) and an ``apply`` callback (called with the result of the newest request only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Cancelled(Exception):
    """Raised by a ``compute`` function that gave up on a request superseded by a newer one."""


@dataclass
class Result:
    """Outcome of one request: ``labels`` or ``error``, plus timing."""

    generation: int
    labels: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    info: dict = field(default_factory=dict)
    request: Any = None


class Engine:
    """Single background worker with a one-slot queue.

    Parameters
    ----------
    compute : callable
        ``compute(request) -> labels``; runs in the worker thread (or the caller's, for
        :meth:`run_sync`). It must not touch widgets. It may poll :meth:`stale` and raise
        :class:`Cancelled` to abandon work nobody will see.
    apply : callable
        ``apply(result)``, called for the newest request's result only, with the engine's
        apply lock held (so results land in order).
    on_busy : callable, optional
        ``on_busy(bool)`` when the worker starts or stops computing.
    """

    def __init__(self, compute: Callable, apply: Callable, on_busy: Callable | None = None):
        self._compute = compute
        self._apply = apply
        self._on_busy = on_busy or (lambda busy: None)
        self._cond = threading.Condition()
        self._apply_lock = threading.RLock()
        self._pending = None  # (generation, request)
        self._generation = 0
        self._running = False
        self._running_generation = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.dropped = 0  # stale results discarded (for tests and benchmarks)

    @property
    def generation(self) -> int:
        return self._generation

    def next_generation(self) -> int:
        """Mark the state as changed; results of older requests will be dropped."""
        with self._cond:
            self._generation += 1
            return self._generation

    def submit(self, request) -> int:
        """Queue ``request`` for the worker, replacing any request still waiting."""
        with self._cond:
            if self._closed:
                raise RuntimeError("engine is closed")
            self._generation += 1
            self._pending = (self._generation, request)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="ipyseg-engine", daemon=True)
                self._thread.start()
            self._cond.notify_all()
            gen, idle = self._generation, not self._running
        if idle:
            self._on_busy(True)  # show "busy" at once, not when the worker gets scheduled
        return gen

    def discard(self) -> None:
        """Drop the waiting request and make the running one stale, so that no result of the
        current state is applied any more (e.g. the widget switched to another photo).
        """
        with self._apply_lock, self._cond:
            self._generation += 1
            self._pending = None

    def run_sync(self, request) -> Result:
        """Compute ``request`` in the calling thread and apply it (it becomes the newest)."""
        gen = self.next_generation()
        with self._cond:
            self._pending = None  # a waiting request is older than this one
        result = self._run(gen, request)
        self._deliver(result)
        return result

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no request is waiting or running; ``False`` if ``timeout`` expired."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._running:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stale(self) -> bool:
        """``True`` when the request being computed has been superseded by a newer one."""
        return self._running_generation != self._generation

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._pending is not None or self._running

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()

    # ---------------------------------------------------------------- private
    def _run(self, gen: int, request) -> Result:
        self._running_generation = gen
        t0 = time.perf_counter()
        try:
            labels = self._compute(request)
            return Result(gen, labels=labels, seconds=time.perf_counter() - t0, request=request)
        except Cancelled:
            return Result(gen, error=Cancelled(), seconds=time.perf_counter() - t0, request=request)
        except Exception as err:  # a failing segmenter must not kill the widget
            return Result(gen, error=err, seconds=time.perf_counter() - t0, request=request)

    def _deliver(self, result: Result) -> None:
        with self._apply_lock:
            if result.generation != self._generation or isinstance(result.error, Cancelled):
                self.dropped += 1
                return
            self._apply(result)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                gen, request = self._pending
                self._pending = None
                self._running = True
            self._on_busy(True)
            try:
                self._deliver(self._run(gen, request))
            finally:
                with self._cond:
                    idle = self._pending is None
                if idle:
                    self._on_busy(False)
                with self._cond:
                    self._running = False
                    self._cond.notify_all()
