"""Pointer, keyboard and touch input of one widget, and the :class:`~ipyseg.ui.tools.ToolTarget` tools act on.

ipycanvas delivers mouse and key events as canvas ``(x, y)``; :class:`PointerInput` converts
them to image ``(row, col)`` here, once, through the widget's
:class:`~ipyseg.geometry.Viewport`, and routes them to the current tool's gesture handler
(:mod:`ipyseg.ui.tools`). ipyevents adds the mouse button and modifiers that ipycanvas'
events lack. The canvas overlay (:mod:`ipyseg.ui.overlay`) sends wheel zoom (and keeps focus
clicks from ipycanvas); touch input comes through :class:`ipyseg.widget.touch.TouchInput`.
It owns the gesture state (handlers, the press in progress, the last pointer position, key
callbacks); it reads the widget through :class:`Pointed` and edits through the
:class:`~ipyseg.widget.editor.Editor`.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from typing import Protocol

import numpy as np

from ipyseg._constants import BACKGROUND
from ipyseg.geometry import Viewport
from ipyseg.ui import render, shortcuts
from ipyseg.ui.canvas_view import CanvasView
from ipyseg.ui.events import clean_canvas_message, clean_dom_event
from ipyseg.ui.overlay import CanvasOverlay
from ipyseg.ui.tools import Tool, make_handlers
from ipyseg.widget.controller import Controller
from ipyseg.widget.document import ImageDocument
from ipyseg.widget.editor import Editor
from ipyseg.widget.gate import EditGate
from ipyseg.widget.presenter import Presenter
from ipyseg.widget.touch import TouchInput

#: Seconds within which ipyevents' button/modifier report belongs to the same press.
PRESS_MATCH_SECONDS = 0.5
#: Largest zoom: one image pixel spans this many canvas pixels.
MAX_PIXEL_ZOOM = 32.0


class Pointed(Protocol):
    """What a :class:`PointerInput` reads (``SegmentWidget`` provides it; shortcuts get the widget itself)."""

    viewport: Viewport
    view: CanvasView
    tool: str
    label: int
    brush_size: float
    object_code: int

    @property
    def presenter(self) -> Presenter:
        """What the canvas shows (previews and guides go there)."""

    @property
    def document(self) -> ImageDocument:
        """The photo drawn on."""

    def zoom_by(self, factor: float, x: float | None = None, y: float | None = None) -> None:
        """Zoom by ``factor`` keeping canvas point ``(x, y)`` fixed."""


class PointerInput:
    """Mouse, keys and touch of one widget, as tool gestures; the tools' :class:`~ipyseg.ui.tools.ToolTarget`.

    Parameters
    ----------
    host : Pointed
        The widget (held weakly).
    editor : Editor
        Where committed gestures go.
    gate : EditGate
        The widget's edit gate (a browser event is one edit, marked as coming from the browser).
    controller : Controller
        Where an error inside a browser event is reported.
    """

    def __init__(self, host: Pointed, editor: Editor, gate: EditGate, controller: Controller) -> None:
        self._host = weakref.proxy(host)
        self._editor = editor
        self._gate = gate
        self._controller = controller
        self.handlers = make_handlers()  # one gesture handler per tool, by tool name
        self.pan_gesture = make_handlers()[Tool.PAN.value]  # the middle-button / shift drag
        self.touch = TouchInput(self)
        self.last_move = None  # last pointer position (canvas x, y), see on_mouse_down
        self.dropped_events = 0  # malformed front-end messages dropped at the edge (events.py)
        self.dom_events = None  # the ipyevents source of buttons and modifiers
        self._press_shift = (0.0, 0.0)  # focus scroll of the current press, see on_mouse_down
        self._down_at = None  # (time, row, col) of a mouse-down not yet matched with ipyevents' report
        self._dom_report = None  # (time, kind) of an ipyevents report not yet matched with a mouse-down
        self._button_code = None  # BACKGROUND during a right-button gesture
        self._shift = False  # shift held at the current press (the pick tool merges)
        self._released = True  # the current press has been released (see _apply_press_info)
        self._key_callbacks = []  # see on_key()

    # ------------------------------------------------------------ wiring
    def connect(self, view: CanvasView, overlay: CanvasOverlay | None = None) -> None:
        """Listen to ``view``'s canvas (and ``overlay``'s zoom gestures, connected once)."""
        layer = view.event_layer
        # Every front-end message passes the edge check (events.py) once, before ipycanvas'
        # own dispatch: malformed ones are dropped there and counted in ``dropped_events``.
        view.canvas.on_msg(layer._handle_frontend_event, remove=True)
        view.canvas.on_msg(self._on_canvas_message)
        layer.on_mouse_down(self.on_mouse_down)
        layer.on_mouse_move(self.on_mouse_move)
        layer.on_mouse_up(self.on_mouse_up)
        layer.on_mouse_out(self.on_mouse_out)
        layer.on_mouse_wheel(self.on_mouse_wheel)
        layer.on_key_down(self.on_key_down)
        layer.on_client_ready(self._host.presenter.redraw_all)
        self.touch.connect(layer)
        if overlay is not None:
            overlay.on_zoom(self.on_zoom_gesture)
        if self.dom_events is not None:
            self.dom_events.close()
        try:
            import ipyevents
        except ImportError:  # pragma: no cover - a declared dependency
            self.dom_events = None
        else:
            # ipycanvas reports no mouse button or modifier: ipyevents adds them, and stops
            # the browser's context menu so that a right-drag can paint background.
            self.dom_events = ipyevents.Event(
                source=view.canvas, watched_events=["mousedown", "contextmenu"], prevent_default_action=True
            )
            self.dom_events.on_dom_event(self.on_dom_event)

    def on_key(self, callback, remove: bool = False) -> None:
        """Add (or ``remove``) a key callback, called before the shortcuts (see ``SegmentWidget.on_key``)."""
        if remove:
            self._key_callbacks = [cb for cb in self._key_callbacks if cb != callback]
        elif callback not in self._key_callbacks:
            self._key_callbacks = [*self._key_callbacks, callback]

    @contextlib.contextmanager
    def from_ui(self):
        """Mark changes as coming from the browser: segmentation then runs in the background.

        An error inside (a tool failing on odd input, say) cancels the gesture and is shown in
        the status line, instead of vanishing into the kernel's log; the seeds are untouched.
        """
        with self._gate.edit(ui=True):
            try:
                yield
            except Exception as err:
                if self._gate.ui_depth > 1:
                    raise
                self.cancel_gesture()
                self._controller.report_error(err, f"⚠ {type(err).__name__}: {err}")

    def active_handler(self):
        """The gesture handler events go to: the pan gesture while it runs, else the tool's."""
        return self.pan_gesture if self.pan_gesture.active else self.handlers[self._host.tool]

    def gesture_key(self, key: str) -> None:
        """Hand ``"Enter"`` / ``"Escape"`` to the gesture in progress (close / cancel)."""
        self.active_handler().key(self, key)

    def cancel_gesture(self) -> None:
        """Drop the gesture in progress, committing nothing (a second finger, a new photo, an error)."""
        for handler in (*self.handlers.values(), self.pan_gesture):
            handler.cancel(self)
        self._button_code = None
        self._press_shift = (0.0, 0.0)

    def tool_changed(self, old: str) -> None:
        """The tool changed from ``old``: its half-drawn gesture is dropped."""
        if old in self.handlers:
            self.handlers[old].cancel(self)
            self._host.presenter.redraw_seeds()

    # ------------------------------------------------------------ events
    def _on_canvas_message(self, _, content, buffers) -> None:
        vp = self._host.viewport
        clean = clean_canvas_message(content, bound=16.0 * max(vp.canvas_width, vp.canvas_height))
        if clean is None:
            self.dropped_events += 1
            return
        self._host.view.event_layer._handle_frontend_event(_, clean, buffers)

    def on_mouse_down(self, x, y):
        """A press at canvas ``(x, y)``."""
        # ipycanvas focuses the canvas before it measures the mouse-down position; when that
        # focus scrolls the page, the measured position is off by the scroll. The browser
        # always reports a mouse-move at the press position first, measured before any
        # scroll, so that position is the one the user pressed at. The page moved under the
        # pointer, so the later events of this press are off by the same amount: the shift is
        # taken out of them until the button is released (a click stays a click).
        self._press_shift = (0.0, 0.0)
        if self.last_move is not None:
            self._press_shift = (x - self.last_move[0], y - self.last_move[1])
            x, y = self.last_move
        row, col = self._host.viewport.canvas_to_image(x, y)
        now = time.monotonic()
        report, self._dom_report = self._dom_report, None
        self._down_at = (now, float(row), float(col))
        self._button_code = None
        self._shift = False
        self._released = False
        with self.from_ui():
            if report is not None and now - report[0] < PRESS_MATCH_SECONDS:  # ipyevents came first
                self._down_at = None
                self._apply_press_info(report[1], (float(row), float(col)), started=False)
            if not self.pan_gesture.active:
                self.active_handler().down(self, float(row), float(col))

    def on_dom_event(self, event: dict) -> None:
        """Handle ipyevents' report of a press: which button, which modifiers."""
        event = clean_dom_event(event)
        if event is None:
            self.dropped_events += 1
            return
        if event["type"] != "mousedown":
            return
        if event.get("button") == 2:
            kind = "background"
        elif event.get("shiftKey") and event.get("button") != 1 and self._host.tool == Tool.PICK:
            kind = "shift"  # shift-click merges, it does not pan
        elif event.get("button") == 1 or event.get("shiftKey"):
            kind = "pan"
        else:
            kind = None
        now = time.monotonic()
        down, self._down_at = self._down_at, None
        if down is not None and now - down[0] < PRESS_MATCH_SECONDS:  # its mouse-down came first
            with self.from_ui():
                self._apply_press_info(kind, down[1:], started=True)
        else:
            self._dom_report = (now, kind)

    def _apply_press_info(self, kind, start, *, started: bool) -> None:
        """Make the press at image ``start`` a background (right button) or pan gesture.

        ``started``: the tool's handler has already seen the mouse-down (it is cancelled; no
        tool commits anything before mouse-up).
        """
        if kind == "shift":
            if started and self._released:  # the click has acted already (as a plain pick)
                self.handlers[Tool.PICK].shift_came_late(self)
            else:
                self._shift = True
        elif kind == "background":
            self._button_code = BACKGROUND
            handler = self.handlers[self._host.tool]
            if started and isinstance(getattr(handler, "points", None), list) and handler.points:
                handler.down(self, *handler.points[0])  # redraw the first dab in background colour
        elif kind == "pan":
            if started:
                self.handlers[self._host.tool].cancel(self)
            self.pan_gesture.down(self, *start)

    def _unshift(self, x, y):
        """A position of the current press in the frame of its mouse-down (see on_mouse_down)."""
        return x - self._press_shift[0], y - self._press_shift[1]

    def on_mouse_move(self, x, y):
        """The pointer moved to canvas ``(x, y)``: the cursor, and the gesture in progress."""
        self.last_move = (x, y)
        x, y = self._unshift(x, y)
        host = self._host
        handler = self.active_handler()
        tool = host.tool
        with host.view.batch():
            if tool in (Tool.BRUSH, Tool.ERASER, Tool.POINT):
                radius = self.brush_radius if tool != Tool.POINT else self.point_radius
                color = "#ffffff" if tool == Tool.ERASER else render.css(render.seed_color(self.paint_code))
                host.view.draw_cursor(x, y, radius * host.viewport.scale, color)
            else:
                host.view.draw_crosshair(x, y, render.css(render.seed_color(self.object_code)))
            if handler.active:
                row, col = host.viewport.canvas_to_image(x, y)
                with self.from_ui():
                    handler.move(self, float(row), float(col))

    def on_mouse_up(self, x, y):
        """The button went up at canvas ``(x, y)``: the gesture commits."""
        row, col = self._host.viewport.canvas_to_image(*self._unshift(x, y))
        self._press_shift = (0.0, 0.0)
        try:
            with self.from_ui():
                self.active_handler().up(self, float(row), float(col))
        finally:
            self._button_code = None
            self._shift = False
            self._released = True

    def on_mouse_out(self, x, y):
        """The pointer left the canvas: a drag ends there (a polygon or live wire stays open)."""
        self.pointer_left()
        handler = self.active_handler()
        if (
            handler.active
            and handler is not self.handlers[Tool.POLYGON]
            and handler is not self.handlers[Tool.LIVEWIRE]
        ):
            self.on_mouse_up(x, y)
        self._press_shift = (0.0, 0.0)

    def pointer_left(self) -> None:
        """No pointer over the canvas (a finger lifted, the mouse left): no cursor."""
        self.last_move = None
        self._host.view.clear_cursor()

    def on_mouse_wheel(self, dx, dy):
        """Ignore ipycanvas' wheel events: they carry no modifier, so a scroll cannot be told from a zoom.

        Zoom comes from the overlay instead (ctrl/⌘ + wheel, touch-pad pinch).
        """

    def on_zoom_gesture(self, x, y, factor):
        """Ctrl/⌘ + wheel or a touch-pad pinch at canvas ``(x, y)`` (from the overlay)."""
        with self.from_ui():
            self._host.zoom_by(factor, x, y)

    def on_key_down(self, key, shift_key, ctrl_key, meta_key):
        """A key pressed on the focused canvas: the callbacks of ``on_key``, then the shortcuts."""
        with self.from_ui():
            if not any(cb(key, shift_key, ctrl_key, meta_key) for cb in self._key_callbacks):
                shortcuts.handle_key(self._host, key, shift_key, ctrl_key, meta_key)

    # ------------------------------------------------------------ the view
    def move_view(self, factor: float, anchor, to) -> None:
        """Zoom by ``factor``, with the image point under canvas ``anchor`` moving to canvas ``to``."""
        vp = self._host.viewport
        max_zoom = MAX_PIXEL_ZOOM / min(vp.fit_scale_x, vp.fit_scale_y)
        zoom = min(max(1.0, vp.zoom * float(factor)), max(1.0, max_zoom))
        row, col = vp.canvas_to_image(*anchor)
        x, y = to
        vp.set_view(zoom, row + 0.5 - y / (vp.fit_scale_y * zoom), col + 0.5 - x / (vp.fit_scale_x * zoom))
        self._host.presenter.redraw_all()

    def zoom_at_pointer(self, factor: float) -> None:
        """Zoom by ``factor`` around the last pointer position (the centre without one)."""
        x, y = self.last_move if self.last_move is not None else (None, None)
        self._host.zoom_by(factor, x, y)

    # ------------------------------------------------------------ ToolTarget
    @property
    def viewport(self) -> Viewport:
        """The widget's view."""
        return self._host.viewport

    @property
    def image_shape(self) -> tuple:
        """``(H, W, 3|4)`` of the photo."""
        return self._host.document.picture.shape

    @property
    def paint_code(self) -> int:
        """What a gesture paints: the label, or background during a right-button gesture."""
        return BACKGROUND if self._button_code == BACKGROUND else int(self._host.label)

    @property
    def object_code(self) -> int:
        """The current object's seed code."""
        return self._host.object_code

    @property
    def brush_radius(self) -> float:
        """Brush radius in image pixels (half of ``brush_size``, at least 0.5)."""
        return max(0.5, self._host.brush_size / 2.0)

    @property
    def point_radius(self) -> float:
        """Radius of a point seed: visible on the canvas (>= 3 display pixels), at least 5 image pixels."""
        return max(5.0, 3.0 / self._host.viewport.scale)

    def preview(self, points_rc: np.ndarray, code: int) -> None:
        """Draw part of a stroke preview (nothing is committed)."""
        vp, view = self._host.viewport, self._host.view
        xs, ys = vp.image_to_canvas(points_rc[:, 0], points_rc[:, 1])
        width = 2 * self.brush_radius * vp.scale
        if code == 0:
            view.erase_segment(xs, ys, width)
        else:
            view.stroke_segment(xs, ys, render.css(render.seed_color(code), 0.9), width)

    def redraw_seeds(self) -> None:
        """Redraw the seed layer (drops a preview)."""
        self._host.presenter.redraw_seeds()

    def commit_stroke(self, points_rc: np.ndarray, code: int, radius: float) -> None:
        """Paint a stroke as one undo step, then segment."""
        self._editor.stroke(points_rc, code, radius)

    def commit_fill(self, window, footprint, code: int) -> None:
        """Set ``code`` on a footprint of image ``window``, then segment."""
        self._editor.fill(window, footprint, code)

    def commit_polygon(self, points_rc: np.ndarray, code: int, *, exact: bool = False) -> None:
        """Fill a polygon (``exact``: make it the object), then segment."""
        self._editor.polygon(points_rc, code, exact=exact)

    def commit_box(self, window) -> None:
        """Make image ``window`` the current object's box, then segment."""
        self._editor.box(window, self.object_code)

    def show_guide(self, points_rc: np.ndarray, closed: bool) -> None:
        """Draw an outline through image points on the cursor layer."""
        if len(points_rc) == 0:
            return
        xs, ys = self._host.viewport.image_to_canvas(points_rc[:, 0], points_rc[:, 1])
        self._host.view.draw_guide(xs, ys, render.css(render.seed_color(self.object_code)), closed)

    def clear_guide(self) -> None:
        """Remove the outline."""
        self._host.view.clear_cursor()

    def pan(self, d_row: float, d_col: float) -> None:
        """Move the view by image pixels (when zoomed in)."""
        vp = self._host.viewport
        if vp.zoom > 1.0:
            vp.set_view(vp.zoom, vp.top + d_row, vp.left + d_col)
            self._host.presenter.redraw_all()

    def wand(self, row: float, col: float):
        """The magic wand's ``(window, footprint)`` at image ``(row, col)``."""
        return self._editor.wand(row, col)

    def livewire(self):
        """The live wire of the photo."""
        return self._host.document.livewire()

    @property
    def shift_pressed(self) -> bool:
        """Whether shift was held at the current press (the pick tool's merge)."""
        return self._shift

    def pick(self, row: float, col: float) -> None:
        """Make the object at image ``(row, col)`` current."""
        self._editor.pick(int(row), int(col))

    def merge_into_current(self, row: float, col: float) -> None:
        """Merge the object at image ``(row, col)`` into the current one."""
        self._editor.merge_into_current(row, col)

    def select(self, code: int) -> None:
        """Make the object of seed code ``code`` current again."""
        self._host.label = code

    def commit_split(self, points_rc: np.ndarray) -> None:
        """Split the object the stroke crosses most."""
        self._editor.split_where(points_rc)
