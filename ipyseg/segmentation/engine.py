"""Runs segmentations off the event thread: latest request wins, stale results are dropped.

The engine knows nothing about widgets. It is handed a ``compute`` function (snapshot in,
labels out) and an ``apply`` callback (called with the result of the newest request only).
"""

from __future__ import annotations

import threading
import time
import weakref
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


def _weak(func: Callable | None) -> Callable[[], Callable | None]:
    """A getter for ``func`` that does not keep a bound method's object alive."""
    if func is None:
        return lambda: None
    if getattr(func, "__self__", None) is not None and hasattr(func, "__func__"):
        return weakref.WeakMethod(func)
    return lambda: func


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

    Notes
    -----
    The engine owns its worker thread: :meth:`close` stops and joins it. Bound methods are
    held weakly, so the worker never keeps their object (a widget with its photo) alive; when
    that object is collected, the worker exits at its next request (owners should also call
    :meth:`close` from a finaliser). Anything a ``compute`` raises in the worker, even
    ``SystemExit`` or ``KeyboardInterrupt``, becomes an error result: the worker survives.
    """

    def __init__(self, compute: Callable, apply: Callable, on_busy: Callable | None = None):
        self._compute = _weak(compute)
        self._apply = _weak(apply)
        self._on_busy_ref = _weak(on_busy)
        self._cond = threading.Condition()
        self._apply_lock = threading.RLock()
        self._pending = None  # (generation, request)
        self._generation = 0
        self._running = False
        self._running_generation = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.dropped = 0  # stale results discarded (for tests and benchmarks)
        self.last_apply_error: BaseException | None = None  # an apply/on_busy callback that raised
        self._listeners: list[Callable] = []  # on_result callbacks (benchmarks, tests)

    @property
    def generation(self) -> int:
        """Number of the newest request; a result of an older one is stale."""
        return self._generation

    def next_generation(self) -> int:
        """Mark the state as changed; results of older requests will be dropped."""
        with self._cond:
            self._generation += 1
            return self._generation

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def thread(self) -> threading.Thread | None:
        """The worker thread, if one was started (for tests)."""
        return self._thread

    def on_result(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(result)`` after each result is applied (in the applying thread).

        For timing and tests: the callback is held strongly, so its owner must remove it.
        """
        if remove:
            self._listeners.remove(callback)
        else:
            self._listeners.append(callback)

    def _on_busy(self, busy: bool) -> None:
        cb = self._on_busy_ref()
        if cb is not None:
            cb(busy)

    def submit(self, request) -> int:
        """Queue ``request`` for the worker, replacing any request still waiting."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the engine is closed (its widget was closed)")
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
        """Compute ``request`` in the calling thread and apply it (it becomes the newest).

        ``KeyboardInterrupt`` and ``SystemExit`` raised by the computation propagate (the
        user interrupted the kernel); the newest applied result stays as it was.
        """
        if self._closed:
            raise RuntimeError("the engine is closed (its widget was closed)")
        gen = self.next_generation()
        with self._cond:
            self._pending = None  # a waiting request is older than this one
        result = self._run(gen, request, catch=Exception)
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
        """``True`` when the request being computed was superseded by a newer one, or the engine closed."""
        return self._closed or self._running_generation != self._generation

    @property
    def busy(self) -> bool:
        """Whether a request is pending or running."""
        with self._cond:
            return self._pending is not None or self._running

    def close(self, timeout: float | None = 10.0) -> bool:
        """Stop the worker: drop any waiting request, let a running one give up, join the thread.

        Idempotent. Results that arrive after this are not applied. Returns ``False`` if the
        worker was still busy after ``timeout`` seconds (it exits as soon as its computation
        ends; it is a daemon thread).
        """
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # ---------------------------------------------------------------- private
    def _run(self, gen: int, request, catch=BaseException) -> Result:
        self._running_generation = gen
        t0 = time.perf_counter()
        compute = self._compute()
        try:
            if compute is None:
                raise Cancelled
            labels = compute(request)
            return Result(gen, labels=labels, seconds=time.perf_counter() - t0, request=request)
        except Cancelled:
            return Result(gen, error=Cancelled(), seconds=time.perf_counter() - t0, request=request)
        except catch as err:  # a failing segmenter must not kill the widget, nor the worker
            return Result(gen, error=err, seconds=time.perf_counter() - t0, request=request)
        finally:
            del compute

    def _deliver(self, result: Result) -> None:
        with self._apply_lock:
            apply = self._apply()
            if (
                apply is None
                or self._closed
                or result.generation != self._generation
                or isinstance(result.error, Cancelled)
            ):
                self.dropped += 1
                return
            apply(result)
            for listener in tuple(self._listeners):
                listener(result)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed or self._compute() is None:  # closed, or the owner is gone
                    self._pending = None
                    self._cond.notify_all()
                    return
                gen, request = self._pending
                self._pending = None
                self._running = True
            try:
                self._on_busy(True)
                self._deliver(self._run(gen, request))
            except BaseException as err:  # an apply callback failed: keep the worker alive
                self.last_apply_error = err
            finally:
                with self._cond:
                    idle = self._pending is None
                    request = None
                if idle:
                    try:
                        self._on_busy(False)
                    except BaseException as err:
                        self.last_apply_error = err
                with self._cond:
                    self._running = False
                    self._cond.notify_all()
