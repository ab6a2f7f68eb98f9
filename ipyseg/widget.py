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
from ._constants import BACKGROUND, FOREGROUND, MAX_OBJECTS
from ._drawing import DisplayMixin
from ._input import InputMixin
from ._segment import apply_boxes
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
from .geometry import MAX_DISPLAY_PIXELS, Viewport, box_window, polygon_footprint, stroke_footprint
from .multiscale import FastResult, Multiscale
from .seeds import SeedState, codes_present
from .toolbar import Toolbar
from .tools import Tool, make_handlers

#: Largest zoom: one image pixel spans this many canvas pixels.
MAX_PIXEL_ZOOM = 32.0
OVERLAY_MODES = ("filled", "contour", "hidden")


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
    boxes: dict | None = None  # box prompts, for segmenters that take ``boxes``
    prepare: bool = False  # call the segmenter's ``prepare(image, **params)`` first (background requests)


def _in_range(value, lo: float, hi: float, name: str) -> float:
    v = float(value)
    if not lo <= v <= hi:
        raise ValueError(f"`{name}` must be in [{lo:g}, {hi:g}]; got {value}")
    return v


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


class SegmentWidget(DisplayMixin, InputMixin, widgets.VBox):
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
    object_names = traitlets.Dict()
    preserve_objects = traitlets.Bool(True)
    overlay_mode = traitlets.Unicode("filled")
    show_seeds = traitlets.Bool(True)
    wand_tolerance = traitlets.Float(24.0)
    wand_connectivity = traitlets.Int(8)

    def __init__(
        self, image=None, *, method: str | None = None, max_display_pixels: int = MAX_DISPLAY_PIXELS, **params
    ):
        img = _frozen(as_image(sample_path() if image is None else image))
        if (
            isinstance(max_display_pixels, bool)
            or not isinstance(max_display_pixels, (int, np.integer))
            or max_display_pixels < 4
        ):
            raise ValueError(f"`max_display_pixels` must be an integer >= 4; got {max_display_pixels!r}")
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
        self._pan_gesture = make_handlers()[Tool.PAN.value]
        self._last_move = None  # last pointer position, see _on_mouse_down
        self._press_shift = (0.0, 0.0)  # focus scroll of the current press, see _on_mouse_down
        self._down_at = None  # (time, row, col) of a mouse-down not yet matched with ipyevents' report
        self._dom_report = None  # (time, kind) of an ipyevents report not yet matched with a mouse-down
        self._button_code = None  # BACKGROUND during a right-button gesture
        self._last_object_code = FOREGROUND
        self._livewire_cache = None
        self._wand_image = None
        self.last_error: BaseException | None = None
        self.last_seconds = 0.0

        self.viewport = Viewport(img.shape, int(max_display_pixels))
        self.view = CanvasView(self.viewport)
        self._engine = Engine(self._compute, self._apply_result, self._on_busy)
        self._fast = Multiscale(img)  # coarse-to-fine for every segmentation (multiscale.py)
        self._fast.level(self._fast.final_factor)
        self._label_ids: list[int] = []  # objects present in labels
        self._busy_note = ""  # what the busy status says besides "segmenting" (e.g. preparing)
        self._overlay_index: np.ndarray | None = None  # what the overlay layer shows
        self._display_labels: np.ndarray | None = None  # labels sampled at canvas pixels
        with self._sync(), self.hold_trait_notifications():
            self.set_trait("labels", _frozen(np.zeros(img.shape[:2], np.uint8)))
            self.method = method
            self.params = dict(params)
            self.brush_size = float(max(3, round(0.02 * max(img.shape[:2]))))
            self._publish_seeds()
        self._toolbar = Toolbar(self)
        self.controls, self.buttons = self._toolbar.controls, self._toolbar.buttons
        self._status_html = self._toolbar.status
        self._toolbar.refresh_objects()
        super().__init__(children=[self._toolbar.box, self.view.canvas, self._status_html])
        self._connect_events()
        self._redraw_all()
        self._prepare_in_background()

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

    # ----------------------------------------------------------- objects
    def objects(self) -> list[int]:
        """Ids of the objects that exist (seeded, segmented, boxed, named or selected), ascending."""
        ids = {int(c) - 1 for c in codes_present(self._state.array) if c >= FOREGROUND}
        ids |= {int(k) for k in self._label_ids}
        ids |= {c - 1 for c in self._state.boxes}
        ids |= {int(k) for k in self.object_names}
        ids.add(self._last_object_code - 1)
        return sorted(ids)

    def new_object(self) -> int:
        """Start a new object: returns its id k and makes it current (``label = k + 1``)."""
        k = max(self.objects()) + 1
        if k > MAX_OBJECTS:
            raise ValueError(f"at most {MAX_OBJECTS} objects are supported; all ids are in use")
        self.label = k + 1
        return k

    def paint_box(self, box, obj: int | None = None) -> None:
        """Constrain an object to a rectangle (GrabCut's box): outside it is background.

        Parameters
        ----------
        box : tuple of float
            ``(x0, y0, x1, y1)`` corners in image pixels (inclusive).
        obj : int, optional
            Object id; default the current object.
        """
        a, b = as_points([box[:2], box[2:]], "box")
        h, w = self._image.shape[:2]
        window = box_window(a, b, self._image.shape)
        if window[0] >= window[1] or window[2] >= window[3]:
            raise ValueError(f"`box` {tuple(box)} does not overlap the image ({w} x {h})")
        code = self._object_code if obj is None else as_label_code(int(obj) + 1, "obj + 1")
        self._after_edit(self._state.set_box(code, window))

    def magic_wand(self, x: float, y: float, label: int | None = None) -> None:
        """The region of similar colour around image ``(x, y)`` becomes seeds of ``label``.

        Uses ``wand_tolerance`` and ``wand_connectivity``; ``label`` defaults to ``w.label``.
        """
        ((row, col),) = as_points([(x, y)], "x, y")
        code = int(self.label) if label is None else as_label_code(label)
        window, footprint = self._wand(row, col)
        if window is not None:
            self._commit_fill(window, footprint, code)

    def polygon(self, points, label: int | None = None) -> None:
        """Fill the polygon through image ``(x, y)`` vertices with seeds of ``label`` (default ``w.label``)."""
        pts = as_points(points)
        if len(pts) < 3:
            raise ValueError(f"`points` must have at least 3 vertices; got {len(pts)}")
        self._commit_polygon(pts, int(self.label) if label is None else as_label_code(label))

    def livewire(self, anchors, obj: int | None = None) -> np.ndarray:
        """Close an edge-snapping contour through image ``(x, y)`` anchors; its inside becomes the object.

        Returns
        -------
        (N, 2) ndarray of float
            The contour as ``(x, y)`` image coordinates.
        """
        pts = as_points(anchors, "anchors")
        if len(pts) < 2:
            raise ValueError(f"`anchors` must have at least 2 points; got {len(pts)}")
        code = self._object_code if obj is None else as_label_code(int(obj) + 1, "obj + 1")
        lw = self._livewire()
        path = [pts[:1]]
        for a, b in zip(pts, np.vstack([pts[1:], pts[:1]]), strict=True):
            lw.anchor(a)
            path.append(lw.path_to(b))
        contour = np.concatenate(path)
        self._commit_polygon(contour, code, exact=True)
        return contour[:, ::-1].copy()

    def fill(self, mask, label: int = FOREGROUND) -> None:
        """Set seeds of ``label`` on every pixel of a (H, W) bool ``mask`` (one undo step)."""
        m = as_labels(mask, self._image.shape, "mask") > 0
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size:
            window = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
            self._commit_fill(window, m[window[0] : window[1], window[2] : window[3]], as_label_code(label))

    # -------------------------------------------------------------- view
    @property
    def zoom(self) -> float:
        """Current zoom (1 = the whole image fits the canvas)."""
        return self.viewport.zoom

    def zoom_by(self, factor: float, x: float | None = None, y: float | None = None) -> None:
        """Zoom by ``factor`` keeping canvas point ``(x, y)`` (default: the centre) fixed."""
        vp = self.viewport
        x = vp.canvas_width / 2 if x is None else float(x)
        y = vp.canvas_height / 2 if y is None else float(y)
        max_zoom = MAX_PIXEL_ZOOM / min(vp.fit_scale_x, vp.fit_scale_y)
        zoom = min(max(1.0, vp.zoom * float(factor)), max(1.0, max_zoom))
        row, col = vp.canvas_to_image(x, y)
        vp.set_view(zoom, row + 0.5 - y / (vp.fit_scale_y * zoom), col + 0.5 - x / (vp.fit_scale_x * zoom))
        self._redraw_all()

    def reset_view(self) -> None:
        """Show the whole image again."""
        self.viewport.set_view(1.0, 0.0, 0.0)
        self._redraw_all()

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
        self._segment()
        self._prepare_in_background()

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
            self._prepare_in_background()

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
        return _in_range(proposal.value, 0.0, 1.0, "opacity")

    @traitlets.observe("opacity", "overlay_mode")
    def _overlay_style_changed(self, change):
        self._redraw_overlay(full=True)

    @traitlets.validate("overlay_mode")
    def _valid_overlay_mode(self, proposal):
        if proposal.value not in OVERLAY_MODES:
            raise ValueError(f"`overlay_mode` must be one of {list(OVERLAY_MODES)}; got {proposal.value!r}")
        return proposal.value

    @traitlets.observe("show_seeds")
    def _show_seeds_changed(self, change):
        self._redraw_seeds()

    @traitlets.validate("wand_tolerance")
    def _valid_wand_tolerance(self, proposal):
        return _in_range(proposal.value, 0.0, 255.0, "wand_tolerance")

    @traitlets.validate("wand_connectivity")
    def _valid_wand_connectivity(self, proposal):
        if proposal.value not in (4, 8):
            raise ValueError(f"`wand_connectivity` must be 4 or 8; got {proposal.value!r}")
        return proposal.value

    @traitlets.validate("object_names")
    def _valid_object_names(self, proposal):
        names = {}
        for k, v in dict(proposal.value).items():
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= MAX_OBJECTS:
                raise ValueError(f"`object_names` keys must be object ids in [1, {MAX_OBJECTS}]; got {k!r}")
            names[int(k)] = str(v)
        return names

    @traitlets.observe("object_names")
    def _object_names_changed(self, change):
        if hasattr(self, "_toolbar"):
            self._toolbar.refresh_objects()

    @traitlets.observe("label")
    def _label_changed(self, change):
        if change.new >= FOREGROUND:
            self._last_object_code = change.new

    # ---------------------------------------------------------- controller
    @property
    def _brush_radius(self) -> float:
        return max(0.5, self.brush_size / 2.0)

    @property
    def _point_radius(self) -> float:
        # Visible on the display canvas (>= 3 display pixels), at least 5 image pixels.
        return max(5.0, 3.0 / self.viewport.scale)

    @property
    def _object_code(self) -> int:
        """Seed code of the current object (the last object label selected)."""
        return self._last_object_code

    @property
    def _paint_code(self) -> int:
        """What a gesture paints: the label, or background during a right-button gesture."""
        return BACKGROUND if self._button_code == BACKGROUND else int(self.label)

    def _protect(self, code: int) -> tuple:
        """Seed codes an edit with ``code`` must keep ("preserve other objects")."""
        if not self.preserve_objects or code < FOREGROUND:
            return ()
        return tuple(int(c) for c in codes_present(self._state.array) if c >= FOREGROUND and c != code)

    def _commit_stroke(self, points_rc: np.ndarray, code: int, radius: float) -> None:
        window, footprint = stroke_footprint(points_rc, radius, self._image.shape)
        self._commit_fill(window, footprint, code)

    def _commit_fill(self, window, footprint, code: int) -> None:
        changed = self._state.apply(window, footprint, code, protect=self._protect(code))
        if not self._after_edit(changed) and window is not None:
            # Nothing changed (e.g. erasing where nothing was): drop the preview.
            self._redraw_seeds(window)

    def _commit_polygon(self, points_rc: np.ndarray, code: int, *, exact: bool = False) -> None:
        """Fill a polygon with seeds of ``code``; ``exact``: make it the object (see _commit_region)."""
        window, footprint = polygon_footprint(points_rc, self._image.shape)
        if window is None:
            return
        if exact:
            self._commit_region(window, footprint, code)
        else:
            self._commit_fill(window, footprint, code)

    def _commit_region(self, window, footprint, code: int, ring: float = 2.0) -> None:
        """Make the region object ``code`` exactly, as one undo step.

        The inside is seeded ``code`` and a thin ring just outside it becomes background seeds
        (on unmarked pixels only), so every method keeps the region as drawn.
        """
        r0, r1, c0, c1 = window
        h, w = self._image.shape[:2]
        m = int(math.ceil(ring)) + 1
        outer = (max(0, r0 - m), min(h, r1 + m), max(0, c0 - m), min(w, c1 + m))
        grown = np.zeros((outer[1] - outer[0], outer[3] - outer[2]), np.uint8)
        grown[r0 - outer[0] : r1 - outer[0], c0 - outer[2] : c1 - outer[2]] = footprint
        k = 2 * int(math.ceil(ring)) + 1
        halo = cv2.dilate(grown, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool) & ~grown.astype(
            bool
        )
        everything = tuple(range(BACKGROUND, 256))  # the ring only takes unmarked pixels
        changed = self._state.apply_many(
            [(window, footprint, code, self._protect(code)), (outer, halo, BACKGROUND, everything)]
        )
        self._after_edit(changed)

    def _commit_box(self, window) -> None:
        self._after_edit(self._state.set_box(self._object_code, window))

    def _wand(self, row: float, col: float):
        """Magic wand: the region around ``(row, col)`` within ``wand_tolerance`` of its colour.

        Returns ``(window, footprint)`` as :func:`ipyseg.geometry.stroke_footprint` does.
        """
        h, w = self._image.shape[:2]
        r, c = int(round(row)), int(round(col))
        if not (0 <= r < h and 0 <= c < w):
            return None, None
        if self._wand_image is None:  # floodFill needs a writable image even in mask-only mode
            self._wand_image = np.array(self._image[:, :, :3], order="C")
        mask = np.zeros((h + 2, w + 2), np.uint8)
        tol = (self.wand_tolerance,) * 3
        flags = self.wand_connectivity | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
        _, _, _, (x, y, bw, bh) = cv2.floodFill(self._wand_image, mask, (c, r), (0, 0, 0), tol, tol, flags)
        window = (y, y + bh, x, x + bw)
        return window, mask[1 + y : 1 + y + bh, 1 + x : 1 + x + bw].astype(bool)

    def _livewire(self):
        if self._livewire_cache is None:
            from .livewire import LiveWire

            self._livewire_cache = LiveWire(self._image[:, :, :3])
        return self._livewire_cache

    def _pan(self, d_row: float, d_col: float) -> None:
        vp = self.viewport
        if vp.zoom > 1.0:
            vp.set_view(vp.zoom, vp.top + d_row, vp.left + d_col)
            self._redraw_all()

    def _zoom_at_pointer(self, factor: float) -> None:
        x, y = self._last_move if self._last_move is not None else (None, None)
        self.zoom_by(factor, x, y)

    def _show_guide(self, points_rc: np.ndarray, closed: bool) -> None:
        if len(points_rc) == 0:
            return
        xs, ys = self.viewport.image_to_canvas(points_rc[:, 0], points_rc[:, 1])
        self.view.draw_guide(xs, ys, render.css(render.seed_color(self._object_code)), closed)

    def _clear_guide(self) -> None:
        self.view.clear_cursor()

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
        """Mark changes as coming from the browser: segmentation then runs in the background.

        An error inside (a tool failing on odd input, say) cancels the gesture and is shown in
        the status line, instead of vanishing into the kernel's log; the seeds are untouched.
        """
        self._ui_depth += 1
        try:
            yield
        except Exception as err:
            if self._ui_depth > 1:
                raise
            self.last_error = err
            for handler in (*self._handlers.values(), self._pan_gesture):
                handler.cancel(self)
            self._set_status(f"⚠ {type(err).__name__}: {err}", error=True)
        finally:
            self._ui_depth -= 1

    def _make_request(self, *, background: bool | None = None) -> _Request:
        seeds = self._state.array.copy()
        prior, boxes = self._prior, None
        if self._state.boxes:
            if segmenters.accepts(segmenters.get(self.method), "boxes"):
                boxes = dict(self._state.boxes)  # box prompts, as they are
            else:
                # GrabCut's rectangle: each object lies inside its box, outside all boxes is background.
                seeds, prior = apply_boxes(seeds, prior, self._state.boxes)
        background = bool(self._ui_depth) if background is None else background
        return _Request(
            seeds=seeds,
            method=self.method,
            params=dict(self.params),
            prior=prior,
            preview=bool(self._ui_depth),
            boxes=boxes,
            prepare=background,
        )

    def _prepare_in_background(self) -> None:
        """Run the method's ``prepare`` (e.g. SAM's image encoder) in the engine thread, busy shown.

        A segmenter may define ``prepare(image, **params)``: expensive per-photo work done once
        when the photo or the method is set, instead of on the first stroke. The request also
        segments (the seeds as they are), so it is an ordinary request for the engine: a newer
        one replaces it, and every background request prepares first (a no-op once done).
        """
        if getattr(segmenters.get(self.method), "prepare", None) is None:
            return
        self._busy_note = "preparing the image"
        self._engine.submit(self._make_request(background=True))

    def _segment(self) -> None:
        request = self._make_request()
        if self._ui_depth:
            self._engine.submit(request)  # the engine shows "busy" at once
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
        prepare = getattr(func, "prepare", None)
        if request.prepare and prepare is not None:
            prepare(self._fast.image, **request.params)
        if request.prior is not None and not (request.seeds > 0).any() and not request.boxes:
            return request.prior.copy()  # a loaded mask, not refined yet
        return self._fast.segment_staged(
            func,
            request.seeds,
            request.prior,
            request.params,
            preview=request.preview,
            should_stop=self._engine.stale,
            boxes=request.boxes,
        )

    def _apply_result(self, result: Result) -> None:
        self.last_seconds = result.seconds
        self._busy_note = ""
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
        labels = _frozen(np.asarray(value, dtype=np.uint8))
        self._label_ids = [int(k) for k in codes_present(labels) if k > 0]
        self.set_trait("labels", labels)
        self._redraw_overlay(window=window)
        if hasattr(self, "_toolbar"):
            self._toolbar.refresh_objects()
        n = len(self._label_ids)
        objs = f"{n} object{'s' if n != 1 else ''}"
        self._set_status(f"{self.method} · {1000 * result.seconds:.0f} ms · {objs}")

    def _on_busy(self, busy: bool) -> None:
        if busy:
            self._set_status(
                f"⏳ {self.method}: {self._busy_note}…" if self._busy_note else f"⏳ segmenting with {self.method}…"
            )

    def _set_status(self, text: str, error: bool = False) -> None:
        self.set_trait("status", text)
        color = "#b00020" if error else "#444"
        self._status_html.value = f'<span style="color:{color};font-size:90%">{html.escape(text)}</span>'
