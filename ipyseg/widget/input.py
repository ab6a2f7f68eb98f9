"""Pointer and keyboard input of ``SegmentWidget`` (a mixin).

ipycanvas delivers mouse and key events as canvas ``(x, y)``; they are converted to image
``(row, col)`` here, once, through the widget's :class:`~ipyseg.geometry.Viewport`, and routed
to the current tool's gesture handler (:mod:`ipyseg.ui.tools`). ipyevents adds the mouse button and
modifiers that ipycanvas' events lack. The canvas overlay (:mod:`ipyseg.ui.overlay`) sends wheel
zoom (and keeps focus clicks from ipycanvas); touch input comes through
:class:`ipyseg.widget.touch.TouchInput`.
"""

from __future__ import annotations

import time

import numpy as np

from ipyseg._constants import BACKGROUND
from ipyseg.ui import render, shortcuts
from ipyseg.ui.events import clean_canvas_message, clean_dom_event
from ipyseg.ui.tools import Tool

#: Seconds within which ipyevents' button/modifier report belongs to the same press.
PRESS_MATCH_SECONDS = 0.5


class InputMixin:
    """Event handlers of ``SegmentWidget``: mouse, wheel, keys, and the stroke preview."""

    def _connect_events(self) -> None:
        layer = self.view.event_layer
        # Every front-end message passes the edge check (events.py) once, before ipycanvas'
        # own dispatch: malformed ones are dropped there and counted in ``dropped_events``.
        self.dropped_events = 0
        self.view.canvas.on_msg(layer._handle_frontend_event, remove=True)
        self.view.canvas.on_msg(self._on_canvas_message)
        layer.on_mouse_down(self._on_mouse_down)
        layer.on_mouse_move(self._on_mouse_move)
        layer.on_mouse_up(self._on_mouse_up)
        layer.on_mouse_out(self._on_mouse_out)
        layer.on_mouse_wheel(self._on_mouse_wheel)
        layer.on_key_down(self._on_key_down)
        layer.on_client_ready(self._presenter.redraw_all)
        self._touch.connect(layer)
        self._overlay.on_zoom(self._on_zoom_gesture)
        try:
            import ipyevents
        except ImportError:  # pragma: no cover - a declared dependency
            self._dom_events = None
        else:
            # ipycanvas reports no mouse button or modifier: ipyevents adds them, and stops
            # the browser's context menu so that a right-drag can paint background.
            self._dom_events = ipyevents.Event(
                source=self.view.canvas, watched_events=["mousedown", "contextmenu"], prevent_default_action=True
            )
            self._dom_events.on_dom_event(self._on_dom_event)

    def _on_canvas_message(self, _, content, buffers) -> None:
        vp = self.viewport
        clean = clean_canvas_message(content, bound=16.0 * max(vp.canvas_width, vp.canvas_height))
        if clean is None:
            self.dropped_events += 1
            return
        self.view.event_layer._handle_frontend_event(_, clean, buffers)

    def _active_handler(self):
        return self._pan_gesture if self._pan_gesture.active else self._handlers[self.tool]

    def _on_mouse_down(self, x, y):
        # ipycanvas focuses the canvas before it measures the mouse-down position; when that
        # focus scrolls the page, the measured position is off by the scroll. The browser
        # always reports a mouse-move at the press position first, measured before any
        # scroll, so that position is the one the user pressed at. The page moved under the
        # pointer, so the later events of this press are off by the same amount: the shift is
        # taken out of them until the button is released (a click stays a click).
        self._press_shift = (0.0, 0.0)
        if self._last_move is not None:
            self._press_shift = (x - self._last_move[0], y - self._last_move[1])
            x, y = self._last_move
        row, col = self.viewport.canvas_to_image(x, y)
        now = time.monotonic()
        report, self._dom_report = self._dom_report, None
        self._down_at = (now, float(row), float(col))
        self._button_code = None
        with self._from_ui():
            if report is not None and now - report[0] < PRESS_MATCH_SECONDS:  # ipyevents came first
                self._down_at = None
                self._apply_press_info(report[1], (float(row), float(col)), started=False)
            if not self._pan_gesture.active:
                self._active_handler().down(self, float(row), float(col))

    def _on_dom_event(self, event: dict) -> None:
        """Handle ipyevents' report of a press: which button, which modifiers."""
        event = clean_dom_event(event)
        if event is None:
            self.dropped_events += 1
            return
        if event["type"] != "mousedown":
            return
        if event.get("button") == 2:
            kind = "background"
        elif event.get("button") == 1 or event.get("shiftKey"):
            kind = "pan"
        else:
            kind = None
        now = time.monotonic()
        down, self._down_at = self._down_at, None
        if down is not None and now - down[0] < PRESS_MATCH_SECONDS:  # its mouse-down came first
            with self._from_ui():
                self._apply_press_info(kind, down[1:], started=True)
        else:
            self._dom_report = (now, kind)

    def _apply_press_info(self, kind, start, *, started: bool) -> None:
        """Make the press at image ``start`` a background (right button) or pan gesture.

        ``started``: the tool's handler has already seen the mouse-down (it is cancelled; no
        tool commits anything before mouse-up).
        """
        if kind == "background":
            self._button_code = BACKGROUND
            handler = self._handlers[self.tool]
            if started and isinstance(getattr(handler, "points", None), list) and handler.points:
                handler.down(self, *handler.points[0])  # redraw the first dab in background colour
        elif kind == "pan":
            if started:
                self._handlers[self.tool].cancel(self)
            self._pan_gesture.down(self, *start)

    def _unshift(self, x, y):
        """A position of the current press in the frame of its mouse-down (see _on_mouse_down)."""
        return x - self._press_shift[0], y - self._press_shift[1]

    def _on_mouse_move(self, x, y):
        self._last_move = (x, y)
        x, y = self._unshift(x, y)
        handler = self._active_handler()
        tool = self.tool
        with self.view.batch():
            if tool in (Tool.BRUSH, Tool.ERASER, Tool.POINT):
                radius = self._brush_radius if tool != Tool.POINT else self._point_radius
                color = "#ffffff" if tool == Tool.ERASER else render.css(render.seed_color(self._paint_code))
                self.view.draw_cursor(x, y, radius * self.viewport.scale, color)
            else:
                self.view.draw_crosshair(x, y, render.css(render.seed_color(self._object_code)))
            if handler.active:
                row, col = self.viewport.canvas_to_image(x, y)
                with self._from_ui():
                    handler.move(self, float(row), float(col))

    def _on_mouse_up(self, x, y):
        row, col = self.viewport.canvas_to_image(*self._unshift(x, y))
        self._press_shift = (0.0, 0.0)
        try:
            with self._from_ui():
                self._active_handler().up(self, float(row), float(col))
        finally:
            self._button_code = None

    def _on_mouse_out(self, x, y):
        self._last_move = None
        self.view.clear_cursor()
        handler = self._active_handler()
        if (
            handler.active
            and handler is not self._handlers[Tool.POLYGON]
            and handler is not self._handlers[Tool.LIVEWIRE]
        ):
            self._on_mouse_up(x, y)
        self._press_shift = (0.0, 0.0)

    def _on_mouse_wheel(self, dx, dy):
        """Ignore ipycanvas' wheel events: they carry no modifier, so a scroll cannot be told from a zoom.

        Zoom comes from the overlay instead (ctrl/⌘ + wheel, touch-pad pinch).
        """

    def _on_zoom_gesture(self, x, y, factor):
        """Ctrl/⌘ + wheel or a touch-pad pinch at canvas ``(x, y)`` (from the overlay)."""
        with self._from_ui():
            self.zoom_by(factor, x, y)

    def _cancel_gesture(self):
        """Drop the gesture in progress, committing nothing (e.g. a second finger landed)."""
        for handler in (*self._handlers.values(), self._pan_gesture):
            handler.cancel(self)
        self._button_code = None
        self._press_shift = (0.0, 0.0)

    def _on_key_down(self, key, shift_key, ctrl_key, meta_key):
        with self._from_ui():
            if not any(cb(key, shift_key, ctrl_key, meta_key) for cb in self._key_callbacks):  # see on_key()
                shortcuts.handle_key(self, key, shift_key, ctrl_key, meta_key)

    def _preview(self, points_rc: np.ndarray, code: int) -> None:
        xs, ys = self.viewport.image_to_canvas(points_rc[:, 0], points_rc[:, 1])
        width = 2 * self._brush_radius * self.viewport.scale
        if code == 0:
            self.view.erase_segment(xs, ys, width)
        else:
            self.view.stroke_segment(xs, ys, render.css(render.seed_color(code), 0.9), width)
