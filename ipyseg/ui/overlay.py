"""The canvas' front-end companion: a status badge on the canvas, wheel zoom and keyboard focus.

:class:`CanvasOverlay` is a small anywidget placed just before the canvas in ``SegmentWidget``.
Its front end (``_frontend/overlay.js``) does three things ipycanvas 0.14 cannot:

* shows a badge in the top-right corner of the visible part of the canvas (busy,
  ``preview · refining`` with the elapsed time, errors), where the eyes are, also on a tall
  canvas whose status line is off-screen;
* lets the notebook scroll when the wheel turns over the canvas (ipycanvas calls
  ``preventDefault`` on every wheel event), and turns ctrl/⌘ + wheel and touch-pad pinch into
  ``zoom`` messages with the canvas position;
* gives the canvas the keyboard while the pointer is over it, and keeps a click that only
  focuses the canvas away from ipycanvas (no seed); a drag from there is passed on and paints.

:class:`Badge` holds the badge's state in Python (one lock, any thread) and sends it to the
overlay. Messages from the front end are validated here, once: a malformed one is dropped.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anywidget
import traitlets

_FRONTEND = Path(__file__).parent / "static"

#: A zoom message's factor is clamped to this range (one coalesced burst of wheel events).
MAX_ZOOM_STEP = 4.0


def _finite(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


class CanvasOverlay(anywidget.AnyWidget):
    """Front-end companion of a canvas (place it just before the canvas, in the same box).

    Parameters
    ----------
    max_width : int
        The canvas' width in pixels (its CSS ``max-width``), so that the badge sits in the
        canvas' corner when the canvas is narrower than the notebook.

    Attributes
    ----------
    badge : dict
        ``{"kind": "" | "busy" | "refining" | "error", "text": str, "elapsed": float, "seq": int}``
        (set through :class:`Badge`).
    ready : bool
        ``True`` once a front end has rendered the overlay (wheel zoom and focus handling run).
    """

    _esm = (_FRONTEND / "overlay.js").read_text(encoding="utf-8")
    _css = (_FRONTEND / "overlay.css").read_text(encoding="utf-8")
    badge = traitlets.Dict().tag(sync=True)

    def __init__(self, max_width: int):
        super().__init__()
        self.layout.width = "100%"
        self.layout.max_width = f"{int(max_width)}px"
        self.ready = False
        self._on_zoom: Callable | None = None
        self.on_msg(self._handle_message)

    def on_zoom(self, callback: Callable) -> None:
        """``callback(x, y, factor)``: zoom by ``factor`` around canvas ``(x, y)``."""
        self._on_zoom = callback

    def _handle_message(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict):
            return
        event = content.get("event")
        if event == "zoom" and self._on_zoom is not None:
            x, y, factor = (_finite(content.get(k)) for k in ("x", "y", "factor"))
            if x is None or y is None or factor is None or factor <= 0:
                return
            self._on_zoom(x, y, min(MAX_ZOOM_STEP, max(1.0 / MAX_ZOOM_STEP, factor)))
        elif event == "ready":
            self.ready = True


class Badge:
    """What the canvas' badge says: busy, a preview being refined, an error, or nothing.

    * :meth:`busy` when an edit starts a segmentation (clears an error: the user acted);
    * :meth:`refining` when a preview is shown and the final stage runs;
    * :meth:`done` on a successful final result; :meth:`idle` when the engine stops without
      one (a dropped or cancelled request): clears busy states, keeps an error;
    * :meth:`error` shows an error until the next successful result or edit.

    The front end shows ``busy`` only after a short delay (quick answers do not flash a badge)
    and counts the elapsed time itself from ``elapsed`` (seconds since the edit, when sent).

    Parameters
    ----------
    overlay : CanvasOverlay
    """

    #: Longest badge text; the status line has the whole message.
    MAX_CHARS = 160

    def __init__(self, overlay: CanvasOverlay):
        self._overlay = overlay
        self._lock = threading.Lock()
        self._kind = ""
        self._t0: float | None = None
        self._seq = 0

    @property
    def kind(self) -> str:
        """What the badge shows now: ``"busy"``, ``"refining"``, ``"error"`` or ``""``."""
        return self._kind

    def busy(self, method: str) -> None:
        """Show that ``method`` is running (the clock starts)."""
        with self._lock:
            self._t0 = time.monotonic()
            self._send("busy", f"⏳ {method}…")

    def working(self, method: str) -> None:
        """The engine started a request: show busy unless a badge already says more."""
        with self._lock:
            if self._kind == "":
                self._t0 = time.monotonic()
                self._send("busy", f"⏳ {method}…")

    def refining(self, method: str) -> None:
        """Show that a quick result is shown and ``method`` refines it."""
        with self._lock:
            if self._t0 is None:
                self._t0 = time.monotonic()
            self._send("refining", f"{method}: preview · refining…")

    def done(self) -> None:
        """Hide the badge: the result is final."""
        with self._lock:
            self._t0 = None
            self._send("", "")

    def idle(self) -> None:
        """Hide a busy or refining badge (an error stays)."""
        with self._lock:
            if self._kind in ("busy", "refining"):
                self._t0 = None
                self._send("", "")

    def error(self, text: str) -> None:
        """Show ``text`` as an error (shortened to ``MAX_CHARS``)."""
        with self._lock:
            self._t0 = None
            text = text if len(text) <= self.MAX_CHARS else text[: self.MAX_CHARS - 1] + "…"
            self._send("error", text)

    def _send(self, kind: str, text: str) -> None:
        self._kind = kind
        self._seq += 1
        elapsed = 0.0 if self._t0 is None else time.monotonic() - self._t0
        self._overlay.badge = {"kind": kind, "text": text, "elapsed": round(elapsed, 3), "seq": self._seq}
