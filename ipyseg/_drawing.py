"""What the canvas shows: the display side of ``SegmentWidget`` (a mixin).

Samples the full-resolution photo, labels and seeds at the canvas pixels of the current view
and hands them to :class:`ipyseg.canvas_view.CanvasView`. Kept apart from ``widget.py`` so that
the controller reads as state and edits; every method here only reads widget state.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from . import render


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
            index[r0:r1, c0:c1] = render.sample_nearest(self._state.array, rows[r0:r1], cols[c0:c1])
        with self.view.batch():
            self.view.show_index(self.view.seeds_layer, index, render.seed_lut(), cw)
            if self.show_seeds and self._state.boxes:
                self._draw_boxes()

    def _draw_boxes(self) -> None:
        rects, colors = [], []
        for code, (r0, r1, c0, c1) in sorted(self._state.boxes.items()):
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
        window = None if full else render.changed_window(self._overlay_index, index)
        if window is None and not full:
            return
        self._overlay_index = index
        opacity = 1.0 if self.overlay_mode == "contour" else self.opacity
        self.view.show_index(self.view.overlay_layer, index, render.label_lut(opacity), window)

    def _photo_for_view(self) -> np.ndarray:
        """The photo as the canvas shows it: area-averaged when shrunk, pixel-exact when enlarged."""
        vp = self.viewport
        rgb = self._image
        if vp.scale >= 1.0:
            rows, cols = vp.canvas_pixel_sources()
            return render.sample_nearest(rgb, rows, cols)
        r0, r1, c0, c1 = vp.visible_region()
        return cv2.resize(rgb[r0:r1, c0:c1], (vp.canvas_width, vp.canvas_height), interpolation=cv2.INTER_AREA)

    def _redraw_all(self) -> None:
        with self.view.batch():
            photo = self._photo_for_view()
            if self.viewport.zoom == 1.0:
                self.view.show_photo(render.encode_png(photo))  # lossless
            else:
                # Zoomed views change on every pan step: JPEG quality 92 keeps them quick.
                self.view.show_photo(render.encode_jpeg(photo, 92))
            self._redraw_overlay(full=True)
            self._redraw_seeds()
