"""``SegmentWidget``: toolbar + canvas view + controller, with numpy state in Python."""

from __future__ import annotations

import contextlib
import dataclasses
import html
import math
import warnings
from dataclasses import dataclass

import cv2
import ipywidgets as widgets
import numpy as np
import traitlets

from . import render, segmenters
from ._constants import BACKGROUND, FOREGROUND
from ._validation import (
    as_image,
    as_label_code,
    as_labels,
    as_points,
    as_radius,
    as_seeds,
    sample_path,
)
from .canvas_view import CanvasView
from .engine import Engine, Result
from .geometry import MAX_DISPLAY_PIXELS, Viewport, stroke_footprint
from .multiscale import FastResult, Multiscale
from .seeds import SeedState
from .tools import Tool, make_handlers


class SegmentationWarning(RuntimeWarning):
    """A segmenter failed; the seeds and the last good labels were kept."""


class _Array(traitlets.Instance):
    """An ndarray trait that notifies on every new array object.

    Stock traitlets compares old and new values with ``==``, an element-wise pass over the
    whole image per update; here identity decides.
    """

    def __init__(self, **kwargs):
        super().__init__(np.ndarray, **kwargs)

    def set(self, obj, value):
        new_value = self._validate(obj, value)
        old_value = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new_value
        if old_value is not new_value:
            obj._notify_trait(self.name, old_value, new_value)


@dataclass(frozen=True)
class _Request:
    seeds: np.ndarray
    method: str
    params: dict
    prior: np.ndarray | None
    preview: bool = False  # first the quick stage of the fast path, then the final one


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


class SegmentWidget(widgets.VBox):
    """Interactive segmentation of one image: paint seeds, get labels.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like, PIL image, path, or None
        The photo; ``None`` uses the bundled sample (a coffee cup on a table). Gray, RGB or RGBA;
        uint8, uint16 or float in [0, 1].
    method : str, optional
        Segmentation method (see :func:`ipyseg.methods`); default: the library's best.
    max_display_pixels : int
        Upper bound on the display canvas size; seeds and labels stay full resolution.
    **params
        Parameters of ``method``.

    Attributes
    ----------
    image : (H, W, 3|4) ndarray of uint8
        The validated photo (read-only).
    labels : (H, W) ndarray of uint8
        Result, full resolution: ``0`` background, ``k`` object k (read-only; observable).
    mask : (H, W) ndarray of bool
        ``labels > 0``.
    seeds : (H, W) ndarray of uint8
        A copy of the seeds (``0`` unmarked, ``1`` background, ``k + 1`` object k); assigning
        an array replaces them as one undo step.
    """

    seeds = _Array()
    labels = _Array(read_only=True)
    method = traitlets.Unicode()
    params = traitlets.Dict()
    label = traitlets.Int(FOREGROUND)
    tool = traitlets.Unicode(Tool.BRUSH.value)
    brush_size = traitlets.Float(10.0)
    opacity = traitlets.Float(0.5)
    status = traitlets.Unicode("", read_only=True)

    def __init__(self, image=None, *, method: str | None = None, max_display_pixels: int = MAX_DISPLAY_PIXELS, **params):
        img = _frozen(as_image(sample_path() if image is None else image))
        segmenters.get(method)
        method = method or segmenters.DEFAULT_METHOD
        segmenters.check_params(method, params)
        self._image = img
        self._state = SeedState(img.shape)
        self._prior: np.ndarray | None = None
        self._params_by_method: dict[str, dict] = {method: dict(params)}
        self._ui_depth = 0
        self._syncing = False
        self._handlers = make_handlers()
        self._last_move = None  # last pointer position, see _on_mouse_down
        self.last_error: BaseException | None = None
        self.last_seconds = 0.0

        self.viewport = Viewport(img.shape, int(max_display_pixels))
        self.view = CanvasView(self.viewport)
        self._engine = Engine(self._compute, self._apply_result, self._on_busy)
        self._fast = Multiscale(img)  # coarse-to-fine for every segmentation (multiscale.py)
        self._fast.level(self._fast.final_factor)
        self._overlay_index: np.ndarray | None = None
        self._toolbar, self._status_html = self._build_toolbar(method)
        super().__init__(children=[self._toolbar, self.view.canvas, self._status_html])

        with self._sync(), self.hold_trait_notifications():
            self.set_trait("labels", _frozen(np.zeros(img.shape[:2], np.uint8)))
            self.method = method
            self.params = dict(params)
            self.brush_size = float(max(3, round(0.02 * max(img.shape[:2]))))
            self._publish_seeds()
        self._connect_events()
        self._redraw_all()

    # ------------------------------------------------------------ public API
    @property
    def image(self) -> np.ndarray:
        """(H, W, 3|4) uint8 photo as validated (read-only)."""
        return self._image

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: pixels of any object."""
        return self.labels > 0

    def paint(self, points, label: int = FOREGROUND, radius: float | None = None) -> None:
        """Paint a stroke through ``points`` as one undo step, then segment.

        Parameters
        ----------
        points : (N, 2) array_like
            ``(x, y)`` in image pixels (x = column, y = row); one point paints a disk.
        label : int
            Seed code: ``BACKGROUND``, ``FOREGROUND`` or ``k + 1`` for object k.
        radius : float, optional
            Brush radius in image pixels; default ``brush_size / 2``.
        """
        pts = as_points(points)
        code = as_label_code(label)
        r = self._brush_radius if radius is None else as_radius(radius)
        self._commit_stroke(pts, code, r)

    def click(self, x: float, y: float, label: int = FOREGROUND) -> None:
        """Add a point seed (a small disk) at image ``(x, y)``, then segment."""
        pts = as_points([(x, y)], "x, y")
        self._commit_stroke(pts, as_label_code(label), self._point_radius)

    def erase(self, points, radius: float | None = None) -> None:
        """Erase seeds along a stroke through image ``(x, y)`` points, then segment."""
        pts = as_points(points)
        r = self._brush_radius if radius is None else as_radius(radius)
        self._commit_stroke(pts, 0, r)

    def undo(self) -> bool:
        """Undo the last seed edit; ``False`` if there was nothing to undo."""
        return self._after_edit(self._state.undo())

    def redo(self) -> bool:
        """Redo the last undone edit; ``False`` if there was nothing to redo."""
        return self._after_edit(self._state.redo())

    def clear(self) -> None:
        """Remove every seed (one undo step) and any loaded mask; labels become empty."""
        self._prior = None
        if not self._after_edit(self._state.clear()):
            self._segment()

    def cutout(self, alpha: bool = False) -> np.ndarray:
        """The photo with the background removed.

        Parameters
        ----------
        alpha : bool
            ``False``: (H, W, 3) RGB with background pixels zeroed (``bitwise_and`` style).
            ``True``: (H, W, 4) RGBA with the mask as alpha (times the photo's own alpha).

        Returns
        -------
        ndarray of uint8
        """
        mask = self.mask
        rgb = self._image[:, :, :3]
        if not alpha:
            return rgb * mask[:, :, None].astype(np.uint8)
        a = mask.astype(np.uint8) * 255
        if self._image.shape[2] == 4:
            a = np.minimum(a, self._image[:, :, 3])
        return np.dstack([rgb, a])

    def load_mask(self, mask_or_path) -> None:
        """Use an external mask or label image as the starting labels.

        Parameters
        ----------
        mask_or_path : (H, W) ndarray or path
            Bool, 0/255 or label image (a JPEG mask is thresholded at 128). It becomes
            ``labels`` now, and later strokes refine it (methods that accept a prior, such as
            GrabCut, start unmarked pixels from it).
        """
        self._prior = _frozen(as_labels(mask_or_path, self._image.shape, "mask_or_path"))
        self._segment()

    def save_mask(self, path) -> None:
        """Save ``mask`` as an 8-bit PNG (0 background, 255 object)."""
        from .export import save_png

        save_png(self.mask.astype(np.uint8) * 255, path, "path")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until background segmentation (from mouse strokes) is done; ``False`` on timeout."""
        return self._engine.wait(timeout)

    # ------------------------------------------------------------ traitlets
    @traitlets.validate("seeds")
    def _valid_seeds(self, proposal):
        if self._syncing:
            return proposal.value
        return as_seeds(proposal.value, self._image.shape)

    @traitlets.observe("seeds")
    def _seeds_assigned(self, change):
        if not self._syncing:
            self._after_edit(self._state.replace(change.new))

    @traitlets.validate("method")
    def _valid_method(self, proposal):
        segmenters.get(proposal.value)
        return proposal.value

    @traitlets.observe("method")
    def _method_changed(self, change):
        if change.old == "" or self._syncing:
            return
        stored = self._params_by_method.get(change.new, {})
        with self._sync():
            self.params = dict(stored)
            self._method_dropdown.value = change.new
        self._segment()

    @traitlets.validate("params")
    def _valid_params(self, proposal):
        value = proposal.value
        if not isinstance(value, dict):
            raise TypeError(f"`params` must be a dict; got {type(value).__name__}")
        if self.method:
            segmenters.check_params(self.method, value)
        return dict(value)

    @traitlets.observe("params")
    def _params_changed(self, change):
        self._params_by_method[self.method] = dict(change.new)
        if not self._syncing:
            self._segment()

    @traitlets.validate("label")
    def _valid_label(self, proposal):
        return as_label_code(proposal.value)

    @traitlets.validate("tool")
    def _valid_tool(self, proposal):
        try:
            return Tool(proposal.value).value
        except ValueError:
            raise ValueError(f"`tool` must be one of {[t.value for t in Tool]}; got {proposal.value!r}") from None

    @traitlets.observe("tool")
    def _tool_changed(self, change):
        if change.old in self._handlers:
            self._handlers[change.old].cancel(self)
            self._redraw_seeds()  # drop any half-drawn preview

    @traitlets.validate("brush_size")
    def _valid_brush(self, proposal):
        return as_radius(proposal.value, "brush_size")

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal):
        v = float(proposal.value)
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"`opacity` must be in [0, 1]; got {proposal.value}")
        return v

    @traitlets.observe("opacity")
    def _opacity_changed(self, change):
        self._redraw_overlay(full=True)

    # ---------------------------------------------------------- controller
    @property
    def _brush_radius(self) -> float:
        return max(0.5, self.brush_size / 2.0)

    @property
    def _point_radius(self) -> float:
        # Visible on the display canvas (>= 3 display pixels), at least 5 image pixels.
        return max(5.0, 3.0 / self.viewport.scale)

    def _commit_stroke(self, points_rc: np.ndarray, code: int, radius: float) -> None:
        window, footprint = stroke_footprint(points_rc, radius, self._image.shape)
        changed = self._state.apply(window, footprint, code)
        if not self._after_edit(changed):
            # Nothing changed (e.g. erasing where nothing was): drop the preview.
            self._redraw_seeds(window)

    def _after_edit(self, window) -> bool:
        """Refresh after a seed edit touching ``window`` (image pixels); ``False`` if none."""
        if window is None:
            return False
        self._redraw_seeds(window)
        self._publish_seeds()
        self._segment()
        return True

    def _publish_seeds(self) -> None:
        with self._sync():
            self.seeds = self._state.array.copy()

    @contextlib.contextmanager
    def _sync(self):
        prev, self._syncing = self._syncing, True
        try:
            yield
        finally:
            self._syncing = prev

    @contextlib.contextmanager
    def _from_ui(self):
        """Mark changes as coming from the browser: segmentation then runs in the background."""
        self._ui_depth += 1
        try:
            yield
        finally:
            self._ui_depth -= 1

    def _segment(self) -> None:
        request = _Request(
            seeds=self._state.array.copy(),
            method=self.method,
            params=dict(self.params),
            prior=self._prior,
            preview=bool(self._ui_depth),
        )
        if self._ui_depth:
            self._engine.submit(request)
        else:
            result = self._engine.run_sync(request)
            if result.error is not None and result.generation == self._engine.generation:
                warnings.warn(
                    f"{request.method} failed ({result.error!r}); seeds and the last good labels were kept",
                    SegmentationWarning,
                    stacklevel=3,
                )

    def _compute(self, request: _Request) -> np.ndarray:
        func = segmenters.get(request.method)
        if request.prior is not None and not (request.seeds > 0).any():
            return request.prior.copy()
        return self._fast.segment_staged(
            func, request.seeds, request.prior, request.params, preview=request.preview, should_stop=self._engine.stale
        )

    def _apply_result(self, result: Result) -> None:
        self.last_seconds = result.seconds
        if result.error is not None:
            self.last_error = result.error
            self._set_status(f"⚠ {self.method} failed: {type(result.error).__name__}: {result.error}", error=True)
            return
        self.last_error = None
        value, window = result.labels, None
        if isinstance(value, FastResult):
            # The window is relative to the fast path's previous result: only if that is shown.
            value, window = value.labels, (value.window if value.base is self.labels else None)
            if not result.labels.final:  # a preview: the final stage follows (latest wins)
                self._engine.submit(dataclasses.replace(result.request, preview=False))
        self.set_trait("labels", _frozen(np.asarray(value, dtype=np.uint8)))
        self._redraw_overlay(window=window)
        n = int(self.labels.max())
        objs = f"{n} object{'s' if n != 1 else ''}"
        self._set_status(f"{self.method} · {1000 * result.seconds:.0f} ms · {objs}")

    def _on_busy(self, busy: bool) -> None:
        if busy:
            self._set_status(f"⏳ segmenting with {self.method}…")

    def _set_status(self, text: str, error: bool = False) -> None:
        self.set_trait("status", text)
        color = "#b00020" if error else "#444"
        self._status_html.value = f'<span style="color:{color};font-size:90%">{html.escape(text)}</span>'

    # ------------------------------------------------------------- drawing
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
        index[r0:r1, c0:c1] = self._state.array[rows[r0:r1, None], cols[None, c0:c1]]
        self.view.show_index(self.view.seeds_layer, index, render.seed_lut(), cw)

    def _redraw_overlay(self, full: bool = False, window=None) -> None:
        """Send the overlay where it changed; ``window`` (image pixels) bounds what may have."""
        if full or window is None or self._overlay_index is None:
            index = self._display_index(self.labels)
        else:
            index = render.resample_window(self._overlay_index, self.labels, self._canvas_window(window),
                                           *self.viewport.canvas_pixel_sources())
        window = None if full else render.changed_window(self._overlay_index, index)
        if window is None and not full:
            return
        self._overlay_index = index
        self.view.show_index(self.view.overlay_layer, index, render.label_lut(self.opacity), window)

    def _redraw_all(self) -> None:
        vp = self.viewport
        rgb = self._image
        if (vp.canvas_width, vp.canvas_height) != (rgb.shape[1], rgb.shape[0]):
            rgb = cv2.resize(rgb, (vp.canvas_width, vp.canvas_height), interpolation=cv2.INTER_AREA)
        self.view.show_photo(rgb)
        self._redraw_overlay(full=True)
        self._redraw_seeds()

    # -------------------------------------------------------------- events
    def _connect_events(self) -> None:
        layer = self.view.event_layer
        layer.on_mouse_down(self._on_mouse_down)
        layer.on_mouse_move(self._on_mouse_move)
        layer.on_mouse_up(self._on_mouse_up)
        layer.on_mouse_out(self._on_mouse_out)
        layer.on_client_ready(self._redraw_all)

    def _on_mouse_down(self, x, y):
        # ipycanvas focuses the canvas before it measures the mouse-down position; when that
        # focus scrolls the page, the measured position is off by the scroll. The browser
        # always reports a mouse-move at the press position first, measured before any
        # scroll, so that position is the one the user pressed at.
        if self._last_move is not None:
            x, y = self._last_move
        row, col = self.viewport.canvas_to_image(x, y)
        with self._from_ui():
            self._handlers[self.tool].down(self, float(row), float(col))

    def _on_mouse_move(self, x, y):
        self._last_move = (x, y)
        handler = self._handlers[self.tool]
        radius = self._brush_radius if self.tool != Tool.POINT else self._point_radius
        color = render.css(render.seed_color(self.label)) if self.tool != Tool.ERASER else "#ffffff"
        with self.view.batch():
            self.view.draw_cursor(x, y, radius * self.viewport.scale, color)
            if handler.active:
                row, col = self.viewport.canvas_to_image(x, y)
                with self._from_ui():
                    handler.move(self, float(row), float(col))

    def _on_mouse_up(self, x, y):
        row, col = self.viewport.canvas_to_image(x, y)
        with self._from_ui():
            self._handlers[self.tool].up(self, float(row), float(col))

    def _on_mouse_out(self, x, y):
        self._last_move = None
        self.view.clear_cursor()
        handler = self._handlers[self.tool]
        if handler.active:
            self._on_mouse_up(x, y)

    def _preview(self, points_rc: np.ndarray, code: int) -> None:
        xs, ys = self.viewport.image_to_canvas(points_rc[:, 0], points_rc[:, 1])
        width = 2 * self._brush_radius * self.viewport.scale
        if code == 0:
            self.view.erase_segment(xs, ys, width)
        else:
            self.view.stroke_segment(xs, ys, render.css(render.seed_color(code), 0.9), width)

    # ------------------------------------------------------------- toolbar
    def _label_button_changed(self, change):
        if change.new is not None and change.new != self.label:
            self.label = change.new

    def _label_trait_changed(self, change):
        btns = self.controls["label"]
        btns.value = change.new if change.new in (FOREGROUND, BACKGROUND) else None

    def _method_picked(self, change):
        if change.new != self.method:
            with self._from_ui():
                self.method = change.new

    def _build_toolbar(self, method: str):
        lay = widgets.Layout
        label_btns = widgets.ToggleButtons(
            options=[("Foreground", FOREGROUND), ("Background", BACKGROUND)],
            value=FOREGROUND,
            tooltips=["Paint object seeds", "Paint background seeds"],
            style={"button_width": "96px"},
        )
        tool_btns = widgets.ToggleButtons(
            options=[("Brush", "brush"), ("Point", "point"), ("Eraser", "eraser")],
            value="brush",
            icons=["paint-brush", "dot-circle-o", "eraser"],
            tooltips=["Drag to paint", "Click to place a point seed", "Drag to erase seeds"],
            style={"button_width": "80px"},
        )
        size = widgets.FloatSlider(
            value=10, min=1, max=max(50, round(0.15 * max(self._image.shape[:2]))), step=1,
            description="Brush", readout_format=".0f", layout=lay(width="260px"),
        )
        dropdown = widgets.Dropdown(options=segmenters.available(), value=method, description="Method", layout=lay(width="220px"))
        opacity = widgets.FloatSlider(value=0.5, min=0, max=1, step=0.05, description="Opacity", layout=lay(width="240px"))
        undo = widgets.Button(icon="undo", tooltip="Undo", layout=lay(width="40px"))
        redo = widgets.Button(icon="repeat", tooltip="Redo", layout=lay(width="40px"))
        clear = widgets.Button(description="Clear", icon="trash", tooltip="Remove all seeds", layout=lay(width="80px"))
        status = widgets.HTML(value="")

        label_btns.observe(self._label_button_changed, "value")
        self.observe(self._label_trait_changed, "label")
        widgets.link((tool_btns, "value"), (self, "tool"))
        widgets.link((size, "value"), (self, "brush_size"))
        widgets.link((opacity, "value"), (self, "opacity"))

        def ui(fn):
            def handler(*_):
                with self._from_ui():
                    fn()

            return handler

        dropdown.observe(self._method_picked, "value")
        undo.on_click(ui(self.undo))
        redo.on_click(ui(self.redo))
        clear.on_click(ui(self.clear))
        self._method_dropdown = dropdown
        self.buttons = {"undo": undo, "redo": redo, "clear": clear}
        self.controls = {"label": label_btns, "tool": tool_btns, "brush_size": size, "method": dropdown, "opacity": opacity}
        row1 = widgets.HBox([label_btns, tool_btns, undo, redo, clear])
        row2 = widgets.HBox([dropdown, size, opacity])
        return widgets.VBox([row1, row2]), status
