"""What the canvas shows: photo, overlay, seeds and boxes of one widget, for the current view.

:class:`Presenter` samples the full-resolution photo, labels and seeds at the canvas pixels
of the current view and hands them to :class:`ipyseg.ui.canvas_view.CanvasView`. It reads
what it shows through :class:`Shown` (public attributes of ``SegmentWidget``) and owns only
its caches of what the canvas holds, which :meth:`Presenter.new_photo` forgets.
"""

from __future__ import annotations

import itertools
import math
import time
import weakref
from typing import Protocol

import numpy as np

from ipyseg import display
from ipyseg._util.arrays import changed_window
from ipyseg._util.timers import Later
from ipyseg.geometry import Viewport
from ipyseg.ui import render
from ipyseg.ui.canvas_view import CanvasView
from ipyseg.widget.document import ImageDocument

_photo_counter = itertools.count(1)  # photo redraw generations (latest wins, any thread)

#: Seconds a moving control must rest before the photo is sent lossless again.
LOSSLESS_DELAY = 0.25


class Shown(Protocol):
    """What a :class:`Presenter` reads (``SegmentWidget`` provides it)."""

    viewport: Viewport
    view: CanvasView
    labels: np.ndarray
    show_seeds: bool
    overlay_mode: str
    opacity: float

    @property
    def document(self) -> ImageDocument:
        """The photo shown."""

    @property
    def closed(self) -> bool:
        """Whether the widget is closed (nothing is drawn)."""


class Presenter:
    """Redraws of one widget's canvas; owns the caches of what the canvas shows."""

    def __init__(self, shown: Shown) -> None:
        self._shown = weakref.proxy(shown)  # the widget owns its presenter, not the other way round
        self._display_labels: np.ndarray | None = None  # labels sampled at canvas pixels
        self._overlay_index: np.ndarray | None = None  # what the overlay layer shows
        self._view_data = None  # (view key, the data sampled at the canvas pixels)
        self._generation = 0
        self.lossless_later = Later(LOSSLESS_DELAY, weakref.WeakMethod(self._send_lossless_photo))

    @property
    def overlay_index(self) -> np.ndarray | None:
        """(canvas H, canvas W) label index the overlay layer shows (before colouring), or ``None``."""
        return self._overlay_index

    def new_photo(self) -> None:
        """Forget what was sampled from the previous photo (or look of the photo)."""
        self.lossless_later.cancel()
        self._view_data = None
        self._display_labels = self._overlay_index = None

    def new_look(self) -> None:
        """The photo's display settings changed: its view samples stay, the lossless resend is off."""
        self.lossless_later.cancel()
        self._view_data = None

    def canvas_window(self, window) -> tuple:
        """Canvas-pixel window covering image window ``(r0, r1, c0, c1)``, with a margin."""
        vp = self._shown.viewport
        r0, r1, c0, c1 = window
        x0, y0 = vp.image_to_canvas(r0 - 0.5, c0 - 0.5)
        x1, y1 = vp.image_to_canvas(r1 - 0.5, c1 - 0.5)
        m = 2
        return (
            max(0, int(math.floor(y0)) - m),
            min(vp.canvas_height, int(math.ceil(y1)) + m),
            max(0, int(math.floor(x0)) - m),
            min(vp.canvas_width, int(math.ceil(x1)) + m),
        )

    def display_index(self, arr: np.ndarray) -> np.ndarray:
        """(H, W) ``arr`` sampled at the centre of every canvas pixel (nearest neighbour)."""
        rows, cols = self._shown.viewport.canvas_pixel_sources()
        return render.sample_nearest(arr, rows, cols)

    def redraw_seeds(self, window=None) -> None:
        """Send the seeds (and boxes) layer where image window ``window`` changed (default: all)."""
        w = self._shown
        vp, state = w.viewport, w.document.seed_state
        cw = (0, vp.canvas_height, 0, vp.canvas_width) if window is None else self.canvas_window(window)
        rows, cols = vp.canvas_pixel_sources()
        r0, r1, c0, c1 = cw
        index = np.zeros((vp.canvas_height, vp.canvas_width), np.uint8)
        if w.show_seeds:
            index[r0:r1, c0:c1] = render.seed_index(render.sample_nearest(state.array, rows[r0:r1], cols[c0:c1]))
        with w.view.batch():
            w.view.show_index(w.view.seeds_layer, index, render.seed_lut(), cw)
            if w.show_seeds and state.boxes:
                self._draw_boxes(state.boxes)

    def _draw_boxes(self, boxes) -> None:
        vp = self._shown.viewport
        rects, colors = [], []
        for code, (r0, r1, c0, c1) in sorted(boxes.items()):
            x0, y0 = vp.image_to_canvas(r0 - 0.5, c0 - 0.5)
            x1, y1 = vp.image_to_canvas(r1 - 0.5, c1 - 0.5)
            rects.append((float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
            colors.append(render.css(render.seed_color(code)))
        self._shown.view.draw_boxes(rects, colors)

    def redraw_overlay(self, full: bool = False, window=None) -> None:
        """Send the overlay where it changed; ``window`` (image pixels) bounds what may have."""
        w = self._shown
        if full or window is None or self._display_labels is None:
            labels = self.display_index(w.labels)
        else:
            labels = render.resample_window(
                self._display_labels, w.labels, self.canvas_window(window), *w.viewport.canvas_pixel_sources()
            )
        self._display_labels = labels  # the labels as the canvas samples them, before styling
        if w.overlay_mode == "contour":
            index = render.label_index(render.contours(labels))
        elif w.overlay_mode == "hidden":
            index = np.zeros(labels.shape, np.uint8)
        else:
            index = render.label_index(labels)
        window = None if full else changed_window(self._overlay_index, index)
        if window is None and not full:
            return
        self._overlay_index = index
        opacity = 1.0 if w.overlay_mode == "contour" else w.opacity
        w.view.show_index(w.view.overlay_layer, index, render.label_lut(opacity), window)

    def photo_for_view(self) -> np.ndarray:
        """The photo as the canvas shows it: area-averaged when shrunk, pixel-exact when enlarged.

        Returns a (canvas H, canvas W, 3|4) uint8 array. The data (full precision) is sampled
        at the canvas pixels once per view and kept; a new display range or gamma only maps
        those samples (display.Picture.render).
        """
        vp, pic = self._shown.viewport, self._shown.document.picture
        key = (vp.zoom, vp.top, vp.left, vp.canvas_width, vp.canvas_height)
        cached = self._view_data
        if cached is None or cached[0] != key:
            self._view_data = cached = (key, display.sample_view(pic.data3, vp))
        return pic.render(cached[1])

    def redraw_photo(self, lossless: bool = True) -> None:
        """Send the photo layer: a lossless PNG at zoom 1 (unless ``lossless`` is false), else JPEG.

        Redraws from several threads (event thread, the lossless-photo timer) never leave an
        older photo on top: only the newest redraw is sent.
        """
        self._generation = gen = next(_photo_counter)
        photo = self.photo_for_view()
        if lossless and self._shown.viewport.zoom == 1.0:
            encoded = render.encode_png(photo)
        else:
            # Zoomed views change on every pan step, contrast on every slider step: JPEG
            # quality 92 keeps them quick (a lossless PNG follows a contrast change).
            encoded = render.encode_jpeg(photo, 92)
        with self._shown.view.batch():
            if gen == self._generation:
                self._shown.view.show_photo(encoded)

    def redraw_photo_while_moving(self, moving: bool) -> None:
        """Redraw the photo after a look change; while a control ``moving``, JPEG now and PNG once it rests."""
        t0 = time.perf_counter()
        self.lossless_later.cancel()  # not in the middle of this redraw
        self.redraw_photo(lossless=not moving)
        if moving and self._shown.viewport.zoom == 1.0:
            # A lossless PNG once the control is still (longer than a few redraws: not between steps).
            self.lossless_later.schedule(max(self.lossless_later.delay, 4 * (time.perf_counter() - t0)))

    def _send_lossless_photo(self) -> None:
        try:
            if not self._shown.closed and self._shown.viewport.zoom == 1.0:
                self.redraw_photo(lossless=True)
        except ReferenceError:  # the widget is gone
            pass

    def redraw_all(self) -> None:
        """Send photo, overlay and seeds for the current view."""
        with self._shown.view.batch():
            self.redraw_photo()
            self.redraw_overlay(full=True)
            self.redraw_seeds()

    def close(self) -> None:
        """Stop the lossless-photo timer and free the caches."""
        self.new_photo()
