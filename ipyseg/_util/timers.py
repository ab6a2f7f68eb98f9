"""A restartable timer (:class:`Later`)."""

from __future__ import annotations

import threading
import weakref


class Later:
    """Calls ``fn()`` once, ``delay`` seconds after the last :meth:`schedule` (a restartable timer).

    ``fn`` is a zero-argument callable or a ``weakref.WeakMethod`` (then the timer never keeps its
    object alive). The owner calls :meth:`cancel` when it closes; the timer thread is a daemon
    that lives at most ``delay`` seconds.
    """

    def __init__(self, delay: float, fn):
        self.delay = float(delay)
        self._fn = fn
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        return self._timer is not None

    def schedule(self, delay: float | None = None) -> None:
        """(Re)start the countdown: ``delay`` seconds (default: the constructor's)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.delay if delay is None else float(delay), self._fire)
            self._timer.daemon = True
            self._timer.name = "ipyseg-later"
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._timer is not threading.current_thread():
                return
            self._timer = None
        self._call()

    def _call(self) -> None:
        fn = self._fn() if isinstance(self._fn, weakref.WeakMethod) else self._fn
        if fn is not None:
            fn()

    def flush(self) -> bool:
        """Run a pending call now, in this thread; ``False`` if none was pending."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is None:
            return False
        timer.cancel()
        self._call()
        return True

    def cancel(self) -> None:
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
