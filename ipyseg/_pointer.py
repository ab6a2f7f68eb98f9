"""Pointer input that is not a plain mouse: focus clicks, touch screens and pens.

* :class:`FocusClickGate`: a click whose only purpose is to give the canvas the keyboard
  focus leaves no seed; a drag that starts on an unfocused canvas still paints.
* :class:`TouchInput`: ipycanvas' touch events (it calls ``preventDefault`` on them, so the
  browser sends no mouse events for a finger or a pen) become the current tool's gesture.

Both work in canvas ``(x, y)`` and hand positions to ``SegmentWidget``'s mouse handlers, which
convert them to image ``(row, col)`` once, as for the mouse.
"""

from __future__ import annotations

import math
import time

#: A press report older than this (seconds) at the next mouse-down is not its partner. The
#: report is sent in the same browser task as ipycanvas' mouse-down and arrives just before it,
#: so the next mouse-down is its partner; the bound is generous because a busy kernel may take
#: a while between the two messages.
PRESS_REPORT_SECONDS = 5.0


def _touch_points(touches) -> list[tuple[float, float]] | None:
    """``[(x, y), ...]`` from an ipycanvas touch list, or ``None`` if any point is malformed."""
    if not isinstance(touches, (list, tuple)):
        return None
    out = []
    for t in touches:
        if not isinstance(t, (list, tuple)) or len(t) != 2:
            return None
        x, y = t
        if (
            isinstance(x, bool)
            or isinstance(y, bool)
            or not isinstance(x, (int, float))
            or not isinstance(y, (int, float))
        ):
            return None
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        out.append((float(x), float(y)))
    return out


class FocusClickGate:
    """Holds back a press on a canvas that did not have the keyboard focus.

    The front end reports every press (:meth:`report`) before ipycanvas' mouse-down arrives.
    A press on an unfocused canvas is held (:meth:`hold`); if the pointer then moves more
    than ``slop`` canvas pixels with the button down, :meth:`drag` returns the press position
    and the gesture starts there as usual; if the button comes up first, :meth:`release`
    says the click only focused the canvas: nothing happens. Without a front-end report
    (touch input, or a front end without the overlay) every press acts at once.

    Parameters
    ----------
    slop : float
        Canvas pixels the pointer may move and still be a click.
    """

    def __init__(self, slop: float = 6.0):
        self.slop = float(slop)
        self._report: tuple[float, bool] | None = None
        self._held: tuple[float, float] | None = None
        self.last = ""  # what the last mouse-down was: "held", "focused", "no report", "stale report"

    @property
    def holding(self) -> bool:
        return self._held is not None

    def report(self, focused: bool) -> None:
        self._report = (time.monotonic(), bool(focused))

    def hold(self, x: float, y: float) -> bool:
        """At a mouse-down at canvas ``(x, y)``: ``True`` if the press is held back."""
        report, self._report = self._report, None
        self._held = None
        if report is None:
            self.last = "no report"
        elif time.monotonic() - report[0] >= PRESS_REPORT_SECONDS:
            self.last = "stale report"
        elif report[1]:
            self.last = "focused"
        else:
            self.last = "held"
            self._held = (float(x), float(y))
        return self._held is not None

    def drag(self, x: float, y: float) -> tuple[float, float] | None:
        """At a move: the held press position once the pointer has left the slop circle."""
        if self._held is not None and math.hypot(x - self._held[0], y - self._held[1]) > self.slop:
            held, self._held = self._held, None
            return held
        return None

    def release(self) -> bool:
        """At mouse-up (or mouse-out): ``True`` if the press was held (a focus click)."""
        held, self._held = self._held, None
        return held is not None

    def clear(self) -> None:
        self._report = None
        self._held = None


class TouchInput:
    """Touch and pen input: one finger acts like the mouse, two fingers pinch-zoom and pan.

    * One finger: the current tool's gesture, as a mouse press at the touch, moves, and a
      release where the finger left (a tap is a click: point, wand, polygon vertex...).
    * A second finger: the one-finger gesture in progress is cancelled (nothing is
      committed); while two or more fingers touch, spreading them zooms around their centre
      and moving them pans the view. Painting resumes after every finger has been lifted.

    ipycanvas sends the touches still on the screen: a ``touch_end`` without touches means
    the last finger left, at the position of its last move.

    Parameters
    ----------
    widget : SegmentWidget
    """

    #: A pinch step is applied once the spread changes by this factor or the centre moves this far.
    MIN_ZOOM_STEP = 1.03
    MIN_PAN_PIXELS = 2.0

    def __init__(self, widget):
        self._w = widget
        self._mode: str | None = None  # None, "draw" or "pinch"
        self._last: tuple[float, float] | None = None
        self._pinch: tuple[float, float, float] | None = None  # centre x, y and spread

    def connect(self, layer) -> None:
        layer.on_touch_start(self.start)
        layer.on_touch_move(self.move)
        layer.on_touch_end(self.end)
        layer.on_touch_cancel(self.cancel)

    @property
    def mode(self) -> str | None:
        return self._mode

    # ----------------------------------------------------------------- events
    def start(self, touches) -> None:
        pts = _touch_points(touches)
        if not pts:
            return
        w = self._w
        if len(pts) == 1 and self._mode is None:
            self._mode = "draw"
            self._last = pts[0]
            w._focus_gate.clear()  # a touch is never a focus click
            w._on_mouse_move(*pts[0])  # the press position (and the brush footprint under the finger)
            w._on_mouse_down(*pts[0])
        elif len(pts) >= 2:
            if self._mode == "draw":
                w._cancel_gesture()
            self._mode = "pinch"
            self._pinch = self._spread(pts)

    def move(self, touches) -> None:
        pts = _touch_points(touches)
        if not pts:
            return
        if self._mode == "draw" and len(pts) == 1:
            self._last = pts[0]
            self._w._on_mouse_move(*pts[0])
        elif self._mode == "pinch" and len(pts) >= 2:
            self._pinch_to(self._spread(pts))

    def end(self, touches) -> None:
        pts = _touch_points(touches)
        if pts is None:
            return
        if self._mode == "draw" and not pts:
            self._mode = None
            self._w._on_mouse_up(*self._last)
            self._leave()
        elif self._mode == "pinch":
            self._pinch = self._spread(pts) if len(pts) >= 2 else None
            if not pts:
                self._mode = None
                self._leave()

    def cancel(self, touches) -> None:
        """The browser took the touch away (e.g. a system gesture): nothing is committed."""
        if self._mode == "draw":
            self._w._cancel_gesture()
        self._mode = None
        self._pinch = None
        self._leave()

    # ---------------------------------------------------------------- helpers
    def _leave(self) -> None:
        self._last = None
        self._w._last_move = None
        self._w.view.clear_cursor()

    @staticmethod
    def _spread(pts) -> tuple[float, float, float]:
        a, b = pts[0], pts[1]
        return (0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1]), math.hypot(a[0] - b[0], a[1] - b[1]))

    def _pinch_to(self, now) -> None:
        if self._pinch is None:
            self._pinch = now
            return
        x0, y0, d0 = self._pinch
        x1, y1, d1 = now
        factor = d1 / d0 if d0 > 0 and d1 > 0 else 1.0
        if max(factor, 1 / factor) < self.MIN_ZOOM_STEP and math.hypot(x1 - x0, y1 - y0) < self.MIN_PAN_PIXELS:
            return
        self._pinch = now
        with self._w._from_ui():
            self._w._move_view(factor, (x0, y0), (x1, y1))
