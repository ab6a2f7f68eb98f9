"""One edit at a time: the kernel runs widget messages and notebook cells on different threads.

ipykernel 7 handles comm messages (the canvas's mouse events, the toolbar's clicks) on a
subshell thread while a cell runs on the main thread. Without a gate a cell could see a
mouse edit half done (a box set, its segmentation not yet requested), and ``w.wait()`` could
return before that segmentation starts.
"""

from __future__ import annotations

import contextlib
import threading


class EditGate:
    """Serialise edits of one widget across threads; know whether this thread is handling the browser."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()

    @property
    def ui_depth(self) -> int:
        """How many browser-event handlers this thread is inside (0: code from a cell)."""
        return getattr(self._local, "depth", 0)

    @contextlib.contextmanager
    def edit(self, *, ui: bool = False):
        """Hold the gate for one edit; ``ui``: the edit comes from the browser."""
        with self._lock:
            if not ui:
                yield
                return
            self._local.depth = self.ui_depth + 1
            try:
                yield
            finally:
                self._local.depth -= 1

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until no other thread is inside an edit; ``False`` on timeout."""
        if not self._lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            return False
        self._lock.release()
        return True
