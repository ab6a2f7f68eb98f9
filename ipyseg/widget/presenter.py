"""What the canvas shows: the display side of ``SegmentWidget`` (a mixin).

Samples the full-resolution photo, labels and seeds at the canvas pixels of the current view
and hands them to :class:`ipyseg.ui.canvas_view.CanvasView`. Kept apart from ``widget.py`` so that
the controller reads as state and edits; every method here only reads widget state.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ipyseg import display
from ipyseg._util.arrays import changed_window
from ipyseg.ui import render

_photo_counter = itertools.count(1)  # photo redraw generations (latest wins, any thread)


class DisplayMixin:
    """Redraw methods of ``SegmentWidget``: photo, overlay, seeds and boxes for the current view."""

    def _canvas_window(self, window) -> tuple:
        """Canvas-pixel window covering image window ``(r0, r1, c0, c1)``, with a margin."""
        vp = self.viewport
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

    def _display_index(self, arr: np.ndarray) -> np.ndarray:
        """``arr`` sampled at the centre of every canvas pixel (nearest neighbour)."""
        rows, cols = self.viewport.canvas_pixel_sources()
        return render.sample_nearest(arr, rows, cols)

    def _redraw_seeds(self, window=None) -> None:
        vp = self.viewport
        cw = (0, vp.canvas_height, 0, vp.canvas_width) if window is None else self._canvas_window(window)
        rows, cols = vp.canvas_pixel_sources()
        r0, r1, c0, c1 = cw
        index = np.zeros((vp.canvas_height, vp.canvas_width), np.uint8)
        if self.show_seeds:
            index[r0:r1, c0:c1] = render.sample_nearest(self._doc.seed_state.array, rows[r0:r1], cols[c0:c1])
        with self.view.batch():
            self.view.show_index(self.view.seeds_layer, index, render.seed_lut(), cw)
            if self.show_seeds and self._doc.seed_state.boxes:
                self._draw_boxes()

    def _draw_boxes(self) -> None:
        rects, colors = [], []
        for code, (r0, r1, c0, c1) in sorted(self._doc.seed_state.boxes.items()):
            x0, y0 = self.viewport.image_to_canvas(r0 - 0.5, c0 - 0.5)
            x1, y1 = self.viewport.image_to_canvas(r1 - 0.5, c1 - 0.5)
            rects.append((float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
            colors.append(render.css(render.seed_color(code)))
        self.view.draw_boxes(rects, colors)

    def _redraw_overlay(self, full: bool = False, window=None) -> None:
        """Send the overlay where it changed; ``window`` (image pixels) bounds what may have."""
        if full or window is None or self._display_labels is None:
            labels = self._display_index(self.labels)
        else:
            labels = render.resample_window(
                self._display_labels, self.labels, self._canvas_window(window), *self.viewport.canvas_pixel_sources()
            )
        self._display_labels = labels  # the labels as the canvas samples them, before styling
        if self.overlay_mode == "contour":
            index = render.contours(labels)
        elif self.overlay_mode == "hidden":
            index = np.zeros_like(labels)
        else:
            index = labels
        window = None if full else changed_window(self._overlay_index, index)
        if window is None and not full:
            return
        self._overlay_index = index
        opacity = 1.0 if self.overlay_mode == "contour" else self.opacity
        self.view.show_index(self.view.overlay_layer, index, render.label_lut(opacity), window)

    def _photo_for_view(self) -> np.ndarray:
        """The photo as the canvas shows it: area-averaged when shrunk, pixel-exact when enlarged.

        The data (full precision) is sampled at the canvas pixels once per view and kept; a new
        display range or gamma only maps those samples (display.Picture.render).
        """
        vp = self.viewport
        key = (vp.zoom, vp.top, vp.left, vp.canvas_width, vp.canvas_height)
        cached = self._view_data
        if cached is None or cached[0] != key:
            self._view_data = cached = (key, display.sample_view(self._doc.picture.data3, vp))
        return self._doc.picture.render(cached[1])

    def _redraw_photo(self, lossless: bool = True) -> None:
        """Send the photo layer: a lossless PNG at zoom 1 (unless ``lossless`` is false), else JPEG.

        Redraws from several threads (event thread, the lossless-photo timer) never leave an
        older photo on top: only the newest redraw is sent.
        """
        self._photo_generation = gen = next(_photo_counter)
        photo = self._photo_for_view()
        if lossless and self.viewport.zoom == 1.0:
            encoded = render.encode_png(photo)
        else:
            # Zoomed views change on every pan step, contrast on every slider step: JPEG
            # quality 92 keeps them quick (a lossless PNG follows a contrast change).
            encoded = render.encode_jpeg(photo, 92)
        with self.view.batch():
            if gen == self._photo_generation:
                self.view.show_photo(encoded)

    def _redraw_all(self) -> None:
        with self.view.batch():
            self._redraw_photo()
            self._redraw_overlay(full=True)
            self._redraw_seeds()
