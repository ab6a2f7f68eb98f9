"""The ipycanvas view: named layers and the draw commands that fill them.

It knows display pixels, not segmentation: callers hand it index images (labels or seeds at
display resolution) with colour tables, stroke paths in canvas coordinates, and a cursor.
All drawing of one update is sent as one message (:meth:`CanvasView.batch`).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from contextlib import contextmanager

import numpy as np
from ipycanvas import MultiCanvas
from ipycanvas.canvas import _CANVAS_MANAGER, COMMANDS

from ipyseg.geometry import Viewport
from ipyseg.ui import frontend as _frontend
from ipyseg.ui import render
from ipyseg.ui.lifecycle import close_tree

LAYER_NAMES = ("image", "overlay", "seeds", "cursor")

#: ipycanvas caches draw commands and their image buffers in ONE manager per kernel
#: (``_CANVAS_MANAGER``), so every view of every widget, from the event thread and from engine
#: threads, must hold this one lock while it fills or flushes that cache; otherwise two widgets
#: drawing at once could pair an image buffer with another widget's command.
DRAW_LOCK = threading.RLock()
_batch_depth = 0  # nesting of batch() across all views (guarded by DRAW_LOCK)
#: Give each view an :class:`ipyseg.ui.frontend.ImageRelease`, so that the page does not keep every
#: image ipycanvas received (set to ``False`` before creating a widget to measure without it).
RELEASE_IMAGES = True

_unsent: list = []  # (view, layer index, nbytes) of images queued in the open batch (DRAW_LOCK)


def _drawing(method):
    """Make a draw method a no-op once the view is closed (its canvas has no front end)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self._closed:
            return None
        return method(self, *args, **kwargs)

    return wrapper


def _log_sent(t: float) -> None:
    """Record the images of the message sent at ``t`` in their views' ``sent`` logs (DRAW_LOCK held)."""
    for view, layer, n in _unsent:
        view.sent.append((t, layer, n))
    _unsent.clear()


#: Kernel-wide widgets that closing a view (or a widget holding one) must leave open: ipycanvas' canvas manager.
SHARED_WIDGETS = (_CANVAS_MANAGER,)


class CanvasView:
    """A ``MultiCanvas`` with layers ``image | overlay | seeds | cursor`` (bottom to top).

    Parameters
    ----------
    viewport : Viewport
        Display size and the canvas <-> image mapping.

    Attributes
    ----------
    canvas : ipycanvas.MultiCanvas
        The widget to display; its top layer (``cursor_layer``) receives mouse and key events.
    bytes_sent : int
        Total image bytes sent to the front end (for benchmarks).
    sent : collections.deque
        The last 256 images sent, oldest first, as ``(time, layer, nbytes)``: ``time.time()``
        just before the message carrying it was handed to the kernel's comm, the layer's index in
        :data:`LAYER_NAMES`, the encoded size. In-page latency benchmarks match these to the
        images the page draws.
    """

    def __init__(self, viewport: Viewport):
        self.viewport = viewport
        self.canvas = MultiCanvas(len(LAYER_NAMES), width=viewport.canvas_width, height=viewport.canvas_height)
        # Scale down to the notebook's width in CSS, never up; ipycanvas maps events back to
        # canvas pixels (CSS offset x canvas width / CSS width).
        self.canvas.layout.width = "100%"
        self.canvas.layout.max_width = f"{viewport.canvas_width}px"
        self.canvas.layout.height = "auto"
        self.image_layer, self.overlay_layer, self.seeds_layer, self.cursor_layer = (
            self.canvas[i] for i in range(len(LAYER_NAMES))
        )
        self._layers = [self.canvas[i] for i in range(len(LAYER_NAMES))]
        self.lock = DRAW_LOCK  # shared by all views: the command cache is kernel-wide
        self.bytes_sent = 0
        self.sent: deque = deque(maxlen=256)
        #: The page-side fix for ipycanvas keeping every received image (None if disabled).
        self.image_release = None
        if RELEASE_IMAGES and _frontend.ImageRelease is not None:
            self.image_release = _frontend.ImageRelease(canvases=[self.image_layer])
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Stop drawing and close the canvas widgets (its layers and layouts, not the shared manager)."""
        with DRAW_LOCK:
            self._closed = True
            close_tree(self.canvas, *filter(None, [self.image_release]), keep=SHARED_WIDGETS)

    @contextmanager
    def batch(self):
        """Send every draw command issued inside as one front-end message (re-entrant).

        Like ``ipycanvas.hold_canvas``, but it also flushes and restores the command cache when
        the body raises (``hold_canvas`` would leave caching switched on for good), and nested
        batches are merged rather than flushed early.
        """
        global _batch_depth
        with DRAW_LOCK:
            if _batch_depth:
                _batch_depth += 1
                try:
                    yield
                finally:
                    _batch_depth -= 1
                return
            _batch_depth = 1
            was_caching = _CANVAS_MANAGER._caching
            _CANVAS_MANAGER._caching = True
            try:
                yield
            finally:
                _batch_depth = 0
                t_send = time.time()
                try:
                    _CANVAS_MANAGER.flush()
                finally:
                    _CANVAS_MANAGER._caching = was_caching
                    _log_sent(t_send)

    @property
    def event_layer(self):
        """The layer whose front-end messages carry the user's mouse and key events."""
        return self.cursor_layer

    # ------------------------------------------------------------------ pixels
    @_drawing
    def put_png(self, layer, png: bytes, x: int = 0, y: int = 0, *, clear=None) -> None:
        """Draw PNG bytes at canvas ``(x, y)``; ``clear=(w, h)`` first clears that rectangle.

        ipycanvas' own ``put_image_data`` re-encodes RGB as JPEG (quality 75); sending our own
        PNG through the same ``putImageData`` command keeps labels and photo lossless.
        """
        if clear is not None:
            layer.clear_rect(x, y, clear[0], clear[1])
        t_send = time.time()
        layer._canvas_manager.send_draw_command(layer, COMMANDS["putImageData"], [int(x), int(y)], [png])
        self.bytes_sent += len(png)
        with DRAW_LOCK:
            _unsent.append((self, self._layers.index(layer), len(png)))
            if not _batch_depth:  # not batched: already sent
                _log_sent(t_send)

    @_drawing
    def show_photo(self, encoded: bytes) -> None:
        """Replace the photo layer with an encoded display-resolution image (PNG or JPEG bytes)."""
        with self.batch():
            self.image_layer.clear()
            self.put_png(self.image_layer, encoded)

    @_drawing
    def show_index(self, layer, index: np.ndarray, lut: np.ndarray, window=None) -> None:
        """Replace a rectangle of ``layer`` by a palette-coloured index image.

        Parameters
        ----------
        layer : ipycanvas.Canvas
        index : (h, w) ndarray of uint8
            The whole display-resolution index image (labels or seeds).
        lut : (256, 4) ndarray of uint8
            RGBA colour per index.
        window : tuple, optional
            ``(r0, r1, c0, c1)`` in canvas pixels: only that part is sent. Default: all.
        """
        h, w = index.shape
        r0, r1, c0, c1 = (0, h, 0, w) if window is None else window
        if r1 <= r0 or c1 <= c0:
            return
        png = render.encode_palette_png(index[r0:r1, c0:c1], lut)
        with self.batch():
            self.put_png(layer, png, c0, r0, clear=(c1 - c0, r1 - r0))

    # ----------------------------------------------------------------- vectors
    @_drawing
    def stroke_segment(self, xs, ys, color: str, width: float) -> None:
        """Preview part of a brush stroke on the seeds layer (canvas coordinates)."""
        layer = self.seeds_layer
        with self.batch():
            layer.stroke_style = color
            layer.fill_style = color
            layer.line_width = max(1.0, width)
            layer.line_cap = "round"
            layer.line_join = "round"
            if len(xs) == 1:
                layer.fill_circle(float(xs[0]), float(ys[0]), max(0.5, width / 2))
            else:
                layer.stroke_lines(np.column_stack([xs, ys]))

    @_drawing
    def erase_segment(self, xs, ys, width: float) -> None:
        """Preview an eraser stroke: clear the seeds layer under it."""
        layer = self.seeds_layer
        with self.batch():
            layer.global_composite_operation = "destination-out"
            self.stroke_segment(xs, ys, "#000000", width)
            layer.global_composite_operation = "source-over"

    @_drawing
    def draw_cursor(self, x: float, y: float, radius: float, color: str) -> None:
        """Show the brush footprint (a circle of ``radius`` canvas pixels) at ``(x, y)``."""
        layer = self.cursor_layer
        with self.batch():
            layer.clear()
            layer.line_width = 1.5
            layer.stroke_style = color
            layer.stroke_circle(float(x), float(y), max(1.0, radius))

    @_drawing
    def draw_crosshair(self, x: float, y: float, color: str) -> None:
        """A small crosshair cursor for tools without a brush footprint."""
        layer = self.cursor_layer
        with self.batch():
            layer.clear()
            layer.line_width = 1.0
            layer.stroke_style = color
            layer.stroke_line(x - 6, y, x + 6, y)
            layer.stroke_line(x, y - 6, x, y + 6)

    @_drawing
    def draw_guide(self, xs, ys, color: str, closed: bool) -> None:
        """A polyline (polygon, live-wire, box outline) on the cursor layer, above everything."""
        layer = self.cursor_layer
        with self.batch():
            layer.line_width = 1.5
            layer.stroke_style = color
            layer.set_line_dash([6, 4])
            pts = np.column_stack([xs, ys])
            if closed:
                layer.stroke_polygon(pts)
            elif len(pts) > 1:
                layer.stroke_lines(pts)
            layer.set_line_dash([])

    @_drawing
    def draw_boxes(self, rects, colors) -> None:
        """Outline box constraints ``(x, y, w, h)`` on the seeds layer."""
        layer = self.seeds_layer
        with self.batch():
            layer.line_width = 2.0
            layer.set_line_dash([8, 4])
            for (x, y, w, h), color in zip(rects, colors, strict=True):
                layer.stroke_style = color
                layer.stroke_rect(x, y, w, h)
            layer.set_line_dash([])

    @_drawing
    def clear_cursor(self) -> None:
        """Remove the brush cursor."""
        with self.batch():
            self.cursor_layer.clear()
