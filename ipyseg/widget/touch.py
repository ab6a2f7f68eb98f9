"""Touch screens and pens: ipycanvas' touch events as the current tool's gestures.

ipycanvas calls ``preventDefault`` on touch events, so the browser sends no mouse events for a
finger or a pen: without :class:`TouchInput` no stroke would arrive at all. It works in canvas
``(x, y)`` and hands positions to the mouse handlers of
:class:`ipyseg.widget.input.PointerInput`, which convert them to image ``(row, col)`` once, as
for the mouse.
"""

from __future__ import annotations

import math


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
    pointer : ipyseg.widget.input.PointerInput
        The widget's pointer input (``on_mouse_down`` / ``move`` / ``up``, ``cancel_gesture``,
        ``pointer_left``, ``move_view``, ``from_ui``).
    """

    #: A pinch step is applied once the spread changes by this factor or the centre moves this far.
    MIN_ZOOM_STEP = 1.03
    MIN_PAN_PIXELS = 2.0

    def __init__(self, pointer):
        self._w = pointer
        self._mode: str | None = None  # None, "draw" or "pinch"
        self._last: tuple[float, float] | None = None
        self._pinch: tuple[float, float, float] | None = None  # centre x, y and spread

    def connect(self, layer) -> None:
        """Listen to ``layer``'s touch events."""
        layer.on_touch_start(self.start)
        layer.on_touch_move(self.move)
        layer.on_touch_end(self.end)
        layer.on_touch_cancel(self.cancel)

    @property
    def mode(self) -> str | None:
        """The gesture in progress: ``"draw"``, ``"pinch"`` or ``None``."""
        return self._mode

    # ----------------------------------------------------------------- events
    def start(self, touches) -> None:
        """A finger went down (``touches``: the front end's list of points)."""
        pts = _touch_points(touches)
        if not pts:
            return
        w = self._w
        if len(pts) == 1 and self._mode is None:
            self._mode = "draw"
            self._last = pts[0]
            w.on_mouse_move(*pts[0])  # the press position (and the brush footprint under the finger)
            w.on_mouse_down(*pts[0])
        elif len(pts) >= 2:
            if self._mode == "draw":
                w.cancel_gesture()
            self._mode = "pinch"
            self._pinch = self._spread(pts)

    def move(self, touches) -> None:
        """Fingers moved: draw, or pan and zoom with two."""
        pts = _touch_points(touches)
        if not pts:
            return
        if self._mode == "draw" and len(pts) == 1:
            self._last = pts[0]
            self._w.on_mouse_move(*pts[0])
        elif self._mode == "pinch" and len(pts) >= 2:
            self._pinch_to(self._spread(pts))

    def end(self, touches) -> None:
        """Fingers lifted: the stroke or the pinch ends."""
        pts = _touch_points(touches)
        if pts is None:
            return
        if self._mode == "draw" and not pts:
            self._mode = None
            self._w.on_mouse_up(*self._last)
            self._leave()
        elif self._mode == "pinch":
            self._pinch = self._spread(pts) if len(pts) >= 2 else None
            if not pts:
                self._mode = None
                self._leave()

    def cancel(self, touches) -> None:
        """The browser took the touch away (e.g. a system gesture): nothing is committed."""
        if self._mode == "draw":
            self._w.cancel_gesture()
        self._mode = None
        self._pinch = None
        self._leave()

    # ---------------------------------------------------------------- helpers
    def _leave(self) -> None:
        self._last = None
        self._w.pointer_left()

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
        with self._w.from_ui():
            self._w.move_view(factor, (x0, y0), (x1, y1))
