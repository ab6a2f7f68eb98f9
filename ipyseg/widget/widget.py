"""``SegmentWidget``: toolbar + canvas view + controller, with numpy state in Python."""

from __future__ import annotations

import contextlib
import functools
import html
import time
import weakref
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import traitlets

from ipyseg import objects, segmenters, session
from ipyseg._constants import BACKGROUND, FOREGROUND, MAX_OBJECTS
from ipyseg._validation import (
    as_labels,
    as_points,
    as_radius,
    as_seeds,
    check_max_display_pixels,
    sample_path,
)
from ipyseg.display import Mapping
from ipyseg.export import save_label_image, save_png
from ipyseg.geometry import MAX_DISPLAY_PIXELS, Viewport, box_window
from ipyseg.segmentation.engine import Engine
from ipyseg.session import SessionState
from ipyseg.ui.canvas_view import SHARED_WIDGETS, CanvasView
from ipyseg.ui.lifecycle import close_tree, track_cell
from ipyseg.ui.overlay import Badge, CanvasOverlay
from ipyseg.ui.toolbar import Toolbar
from ipyseg.ui.tools import Tool
from ipyseg.widget import sessions, traits
from ipyseg.widget.controller import Controller
from ipyseg.widget.document import ImageDocument
from ipyseg.widget.editor import Editor
from ipyseg.widget.gate import EditGate
from ipyseg.widget.input import PointerInput
from ipyseg.widget.prepare import PreparedImage, prepare, resized_for
from ipyseg.widget.presenter import Presenter
from ipyseg.widget.traits import ArrayTrait, MethodName, Real, Setting, frozen, in_range

#: Longest time in seconds :meth:`SegmentWidget.close` waits for a running computation.
CLOSE_WAIT = 2.0


def _editing(method):
    """Refuse an edit on a closed widget (before anything changes)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self._check_open()
        with self._gate.edit():
            return method(self, *args, **kwargs)

    return wrapper


def _close_engine(engine: Engine) -> None:
    """Finaliser of a collected widget: stop its worker without waiting (it may be this thread)."""
    engine.close(timeout=0)


class SegmentWidget(widgets.VBox):
    """Interactive segmentation of one image: paint seeds, get labels.

    Parameters
    ----------
    image : array_like, PIL image, path, or None
        The image; ``None`` uses the bundled sample (a coffee cup on a table). 2-D gray,
        (H, W, 3|4) RGB(A), or 3-D with a channel axis (``channel_axis``); any integer dtype,
        bool, or finite floats. TIFF files are read with tifffile (16-bit, float, OME / ImageJ
        channel axes). Arrays that ``np.asarray`` reads (dask, zarr) work. A stack of planes is
        refused: use ``ipyseg.Annotator`` for those (each plane an item), or pass one plane
        (an array, or ``ipyseg.io.TiffPlane(path, i)`` to read only that plane of a file).
    method : str, optional
        Segmentation method (see :func:`ipyseg.methods`); default: the library's best.
    max_display_pixels : int
        Upper bound on the display canvas size; seeds and labels stay full resolution.
    channel_axis : int, optional
        The axis holding channels. Default: the last axis when it has 3 or 4 entries (RGB(A)).
    rgb : bool, optional
        ``False`` shows 3 or 4 channels as separate channels (own ranges and colours) instead of RGB(A).
    channels : list of int, optional
        Channels to show (default: all); see the ``channels`` trait.
    channel_colors : list, optional
        One colour per shown channel (names such as ``"magenta"``, ``"#rrggbb"`` or (r, g, b));
        default gray for one channel, red / green / blue for up to three, then Fiji's order.
    display_range : pair, list of pairs, dict or None
        See the ``display_range`` trait; default: robust percentiles per channel (8-bit: (0, 255)).
    gamma : float
        Display gamma in [0.1, 10].
    **params
        Parameters of ``method``.

    Attributes
    ----------
    image : (H, W, 3|4) ndarray of uint8
        The image as shown (display range, gamma and channel colours applied), full resolution,
        read-only; for 8-bit photos the photo itself.
    data : (H, W) or (H, W, C) ndarray
        The image's values in their own dtype (channels last), read-only.
    display_range : (lo, hi) or tuple of (lo, hi)
        Values mapped to black and full brightness: one pair for gray and RGB images, one per
        channel otherwise (assign one pair to set them all, a dict ``{channel: pair}`` for some,
        ``None`` for the defaults).
    gamma : float
        Exponent applied after the display range.
    channels : tuple of int
        The channels shown (composite); ``(0, 1, 2)`` for RGB images.
    channel_colors : tuple of (r, g, b)
        Colour of each shown channel.
    labels : (H, W) ndarray of uint16
        Result, full resolution: ``0`` background, ``k`` object k (read-only; observable).
    mask : (H, W) ndarray of bool
        ``labels > 0``.
    seeds : (H, W) ndarray of uint16
        A copy of the seeds (``0`` unmarked, ``1`` background, ``k + 1`` object k); assigning
        an array replaces them as one undo step.
    """

    seeds = ArrayTrait()
    labels = ArrayTrait(read_only=True)
    method = MethodName()
    params = traitlets.Dict()
    label = traitlets.Int(FOREGROUND)
    tool = traitlets.Unicode(Tool.BRUSH.value)
    brush_size = Real(10.0)
    opacity = Real(0.5)
    status = traitlets.Unicode("", read_only=True)
    object_names = traitlets.Dict()
    preserve_objects = traitlets.Bool(True)
    overlay_mode = traitlets.Unicode("filled")
    show_seeds = traitlets.Bool(True)
    wand_tolerance = Real(24.0)
    wand_connectivity = traitlets.Int(8)
    object_classes = traitlets.Dict()
    classes = traitlets.List(traitlets.Unicode())
    revision = traitlets.Int(0, read_only=True)
    display_range = Setting()
    gamma = Real(1.0)
    channels = Setting()
    channel_colors = Setting()

    def __init__(
        self,
        image=None,
        *,
        method: str | None = None,
        max_display_pixels: int = MAX_DISPLAY_PIXELS,
        channel_axis: int | None = None,
        rgb: bool | None = None,
        channels=None,
        channel_colors=None,
        display_range=None,
        gamma: float = 1.0,
        **params,
    ):
        if isinstance(image, PreparedImage):  # see prepare_image()
            self._doc = ImageDocument.from_prepared(image)
        else:  # the image's data at full precision and how it is shown (display.py)
            self._doc = ImageDocument.open(
                sample_path() if image is None else image,
                channel_axis=channel_axis,
                rgb=rgb,
                channels=channels,
                channel_colors=channel_colors,
                display_range=display_range,
                gamma=gamma,
            )
        img = self._doc.picture  # .shape is (H, W, 3|4), as the display image's
        check_max_display_pixels(max_display_pixels)
        segmenters.get(method)
        method = method or segmenters.DEFAULT_METHOD
        params = segmenters.check_params(method, params)  # checked and converted (e.g. 3.0 -> 3)
        self._params_by_method: dict[str, dict] = {method: dict(params)}
        self._params_checked_for: str | None = None  # see _method_changed
        self._gate = EditGate()  # edits come from cells and from the kernel's comm thread
        self._syncing = False
        self._closed = False

        self.viewport = Viewport(img.shape, int(max_display_pixels))
        self.view = CanvasView(self.viewport)
        self._overlay = CanvasOverlay(self.viewport.canvas_width)  # badge, wheel zoom, focus (overlay.py)
        self._badge = Badge(self._overlay)
        self._status_html = widgets.HTML()
        self._controller = Controller(self, self._badge, self._show_labels, self._show_status)
        self._engine = self._controller.engine
        # The engine holds the controller weakly; when the widget is collected, its worker stops.
        self._finalizer = weakref.finalize(self, _close_engine, self._engine)
        self._presenter = Presenter(self)  # what the canvas shows, and its caches
        self._editor = Editor(self, self._presenter.redraw_seeds, self._publish_seeds, self._segment)
        self._input = PointerInput(self, self._editor, self._gate, self._controller)  # mouse, keys, touch
        self._doc.multiscale.level(self._doc.multiscale.final_factor)
        with self._sync(), self.hold_trait_notifications():
            self.set_trait("labels", frozen(np.zeros(img.shape[:2], np.uint16)))
            self.method = method
            self.params = dict(params)
            self.brush_size = float(max(3, round(0.02 * max(img.shape[:2]))))
            self._show_picture_settings()
            self._publish_seeds()
        self._toolbar = Toolbar(self)
        self.controls, self.buttons = self._toolbar.controls, self._toolbar.buttons
        self._toolbar.refresh_objects()
        super().__init__(children=[self._toolbar.box, self._overlay, self.view.canvas, self._status_html])
        self.add_class("ipyseg")
        self._input.connect(self.view, self._overlay)
        self._presenter.redraw_all()
        track_cell(self)  # re-running this notebook cell closes this widget (see close())
        self._controller.prepare_in_background()

    # ------------------------------------------------------------ public API
    @property
    def image(self) -> np.ndarray:
        """(H, W, 3|4) uint8: the image as shown, full resolution (read-only; computed when read)."""
        return self._doc.picture.image()

    @property
    def document(self) -> ImageDocument:
        """The photo on show and its annotation state (seeds with undo history, boxes, loaded mask, pyramid).

        A new photo (:meth:`set_image`) is a new document. For tools, tests and plug-ins that
        need more than the public traits; edit through the widget's methods, which also redraw
        and segment.
        """
        return self._doc

    @property
    def last_error(self) -> BaseException | None:
        """The error the status line shows (a segmenter or a tool that failed), else ``None``."""
        return self._controller.last_error

    @property
    def last_seconds(self) -> float:
        """Seconds the last applied segmentation took."""
        return self._controller.last_seconds

    @property
    def engine(self) -> Engine:
        """The background worker that computes segmentations; for tools, benchmarks and tests."""
        return self._engine

    @property
    def controller(self) -> Controller:
        """Requests, results, status and errors (the engine is ``w.controller.engine``); for tools and tests."""
        return self._controller

    @property
    def presenter(self) -> Presenter:
        """What draws the canvas (photo, overlay, seeds) and its caches; for tools and tests."""
        return self._presenter

    @property
    def editor(self) -> Editor:
        """Seed edits as undo steps (strokes, fills, polygons, boxes, the wand); for tools and tests."""
        return self._editor

    @property
    def input(self) -> PointerInput:
        """Mouse, keys and touch, and the target the tools act on; for the toolbar, tests and plug-ins."""
        return self._input

    @property
    def dropped_events(self) -> int:
        """How many malformed front-end messages were dropped at the edge (see the README's "Robustness")."""
        return self._input.dropped_events

    @property
    def toolbar(self) -> Toolbar:
        """The toolbar (its controls, object list and contrast row), for tests and extensions."""
        return self._toolbar

    @property
    def overlay(self) -> CanvasOverlay:
        """The canvas overlay: the badge, wheel zoom and focus handling of the page."""
        return self._overlay

    @property
    def params_by_method(self) -> dict:
        """``{method: params}`` of every method used in this widget (a copy): what switching back restores."""
        return {m: dict(p) for m, p in self._params_by_method.items()}

    @property
    def data(self) -> np.ndarray:
        """(H, W) or (H, W, C): the image's values in their own dtype, channels last (read-only)."""
        return self._doc.picture.data

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: pixels of any object."""
        return self.labels > 0

    @_editing
    def paint(self, points, label: int | None = None, radius: float | None = None) -> None:
        """Paint a stroke through ``points`` as one undo step, then segment.

        Parameters
        ----------
        points : (N, 2) array_like
            ``(x, y)`` in image pixels (x = column, y = row); one point paints a disk.
        label : int, optional
            Seed code: ``BACKGROUND``, ``FOREGROUND`` or ``k + 1`` for object k; default the
            current object (``w.object_code``), as for every drawing method.
        radius : float, optional
            Brush radius in image pixels; default ``brush_size / 2``.
        """
        pts = as_points(points)
        code = self._editor.drawing_code(label)
        r = self._input.brush_radius if radius is None else as_radius(radius)
        self._editor.stroke(pts, code, r)

    @_editing
    def click(self, x: float, y: float, label: int | None = None) -> None:
        """Add a point seed (a small disk) at image ``(x, y)`` of ``label`` (default the current object), then segment."""
        pts = as_points([(x, y)], "x, y")
        self._editor.stroke(pts, self._editor.drawing_code(label), self._input.point_radius)

    @_editing
    def erase(self, points, radius: float | None = None) -> None:
        """Erase seeds along a stroke through image ``(x, y)`` points, then segment."""
        pts = as_points(points)
        r = self._input.brush_radius if radius is None else as_radius(radius)
        self._editor.stroke(pts, 0, r)

    @_editing
    def undo(self) -> bool:
        """Undo the last seed edit; ``False`` if there was nothing to undo."""
        return self._editor.after_edit(self._doc.seed_state.undo())

    @_editing
    def redo(self) -> bool:
        """Redo the last undone edit; ``False`` if there was nothing to redo."""
        return self._editor.after_edit(self._doc.seed_state.redo())

    @_editing
    def clear(self) -> None:
        """Remove every seed (one undo step) and any loaded mask; labels become empty."""
        self._doc.prior = None
        if not self._editor.after_edit(self._doc.seed_state.clear()):
            self._segment()

    def cutout(self, alpha: bool = False) -> np.ndarray:
        """The image's data with the background removed, in its own dtype (a 16-bit image gives 16-bit data).

        Parameters
        ----------
        alpha : bool
            ``False``: background pixels zeroed (``bitwise_and`` style). ``True``: an alpha
            channel appended: the mask at the dtype's full scale (255, 65535, 1.0 for floats),
            times the image's own alpha.

        Returns
        -------
        ndarray
            (H, W, 3) for RGB and gray images (gray repeated, as the photo is shown), (H, W, C)
            for multi-channel images; one more channel with ``alpha``. Same dtype as ``data``.
        """
        return self._doc.picture.cutout(self.mask, alpha)

    @_editing
    def load_mask(self, mask_or_path) -> None:
        """Use an external mask or label image as the starting labels.

        Parameters
        ----------
        mask_or_path : (H, W) ndarray or path
            Bool, 0/255 (0/65535) or label image with ids 0..65,534, as an array or an 8/16-bit
            file (``save_labels``' PNG, a cellpose TIFF); a JPEG or gray/anti-aliased 8-bit
            mask is thresholded at 128. It becomes
            ``labels`` now, and later strokes refine it (methods that accept a prior, such as
            GrabCut, start unmarked pixels from it).
        """
        self._doc.prior = frozen(as_labels(mask_or_path, self._doc.picture.shape, "mask_or_path"))
        self._segment()

    def save_mask(self, path) -> None:
        """Save ``mask`` as an 8-bit PNG (0 background, 255 object)."""
        save_png(self.mask.astype(np.uint8) * 255, path, "path")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until background segmentation (from mouse strokes) is done; ``False`` on timeout.

        A mouse edit the kernel is handling meanwhile (on its comm thread) finishes first, so
        the segmentation it asks for is waited for too.
        """
        start = time.monotonic()
        if not self._gate.settle(timeout):
            return False
        return self._engine.wait(None if timeout is None else max(0.0, timeout - (time.monotonic() - start)))

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close the widget: stop its worker thread, free its working memory, remove its views.

        ``image``, ``seeds``, ``labels`` and ``mask`` stay readable (so do ``cutout`` and
        ``save_mask``); edits raise ``RuntimeError``. Undo history, the image pyramid and the
        display caches are freed. Re-running the notebook cell that created a widget closes it
        (its output was just replaced), so old photos do not pile up in the kernel.
        Idempotent. Waits at most :data:`CLOSE_WAIT` seconds for a running computation to give
        up; one that cannot (a model's encoder inside its C library) ends in the background,
        its thread exits then and its result is not applied (an embedding it computes still
        fills the model's cache, e.g. for the widget of a re-run cell).
        """
        if self.__dict__.get("_closed", False):
            return
        if "_toolbar" not in self.__dict__:  # the constructor failed part-way (ipywidgets' __del__)
            self.__dict__["_closed"] = True
            if "_engine" in self.__dict__:
                self._engine.close(timeout=0)
            return
        self._closed = True
        self._engine.close(timeout=CLOSE_WAIT)  # a running computation gives up (it polls stale())
        self._finalizer.detach()
        self._presenter.close()
        self._doc.release()
        self.view.close()
        close_tree(*self.children, self.layout, *filter(None, [self._input.dom_events]), keep=SHARED_WIDGETS)
        super().close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                "this SegmentWidget is closed: its image, seeds and labels stay readable, but it can no longer "
                "be edited; create a new SegmentWidget (e.g. SegmentWidget(w.data) and w2.seeds = w.seeds)"
            )

    # ------------------------------------------------- sessions and datasets (issue 10)
    @property
    def image_path(self):
        """The file the photo was read from (absolute ``Path``), or ``None`` for an array."""
        return self._doc.path

    def session_state(self) -> SessionState:
        """A snapshot of everything a saved session holds (cheap: arrays are shared, not copied).

        Returns
        -------
        ipyseg.session.SessionState
            Seeds, labels, loaded mask, boxes, object names and classes, method, params and the
            image's path and hashes. Safe to call from any thread.
        """
        doc = self._doc
        file_hash, pixels_hash = doc.hashes()
        boxes = sessions.boxes_of(doc.seed_state.boxes)
        return SessionState(
            shape=self._doc.picture.shape[:2],
            seeds=self.seeds,
            labels=self.labels,
            prior=self._doc.prior,
            boxes=boxes,
            object_names=dict(self.object_names),
            object_classes=dict(self.object_classes),
            method=self.method,
            params=dict(self.params),
            labels_current=not self._engine.busy,
            image_path=None if doc.path is None else str(doc.path),
            image_plane=doc.plane,
            image_file_sha256=file_hash,
            image_pixels_sha256=pixels_hash,
        )

    def restore_session(self, state: SessionState) -> None:
        """Restore a snapshot of :meth:`session_state` (or :func:`ipyseg.session.load`) on this photo.

        Seeds, boxes, loaded mask, labels, object names and classes, method and params are
        replaced; the undo history starts afresh. Labels saved while a segmentation was still
        running (``labels_current=False``) are recomputed.
        """
        r = sessions.restorable(state, self._doc.picture.shape, self.method, self._params_by_method)
        self._engine.discard()
        self._input.cancel_gesture()
        self._doc.seed_state.load(r.seeds, r.boxes)
        self._doc.prior = r.prior
        self._doc.note_labels(r.labels)
        with self._sync(), self.hold_trait_notifications():
            self.method = r.method
            self.params = r.params
            self.object_names = dict(state.object_names)
            self.object_classes = dict(state.object_classes)
            self.set_trait("labels", r.labels)
            self._publish_seeds()
        objs = self.objects()
        self._doc.last_object_code = FOREGROUND if not objs else min(objs) + 1
        if self.label != BACKGROUND:
            self.label = self._doc.last_object_code
        self._presenter.redraw_overlay(full=True)
        self._presenter.redraw_seeds()
        self._toolbar.refresh_objects()
        if not state.labels_current:
            self._segment()

    def save_session(self, path) -> Path:
        """Save seeds, boxes, loaded mask, labels, names, classes, method and params.

        Parameters
        ----------
        path : path
            The JSON sidecar, e.g. ``"cat.json"``; ``cat.seeds.png``, ``cat.labels.png`` (and
            ``cat.prior.png`` after :meth:`load_mask`) are written next to it. Every file is
            written atomically. The format is described in the README ("Files").

        Returns
        -------
        Path

        Notes
        -----
        Parameters that are Python objects (``sam``'s ``model``) are not written (JSON cannot hold
        them); their names are listed in the file, and ``load_session`` takes them again.
        """
        state = self.session_state()
        state.created = state.modified = session.now_iso()
        return session.save(state, path)

    @classmethod
    def load_session(cls, path, image=None, **kwargs) -> SegmentWidget:
        """A widget with a saved session restored.

        Parameters
        ----------
        path : path
            The session's JSON file (see :meth:`save_session`).
        image : array_like, PIL image, path, or None
            The photo; ``None`` reads the path recorded in the session (and its plane, for a
            plane of a TIFF stack). Either way it is checked against the recorded hash: another
            image raises ``ipyseg.session.SessionError``.
        **kwargs
            Passed to ``SegmentWidget`` (e.g. ``max_display_pixels``, display settings, or the
            parameters the session could not save, such as ``model=`` for ``sam``).
        """
        state = session.load(path)
        source = sessions.source_of(state, path, image, kwargs)
        w = cls(source, method=state.method or None, **{**state.params, **kwargs})
        session.check_image(state, w.data, w.image_path, path, shown=w.image)
        w.restore_session(state)
        return w

    def on_key(self, callback, remove: bool = False) -> None:
        """Call ``callback(key, shift, ctrl, meta)`` on key presses on the canvas, before the
        widget's own shortcuts; a callback that returns ``True`` has handled the key.

        ``key`` is the browser's ``KeyboardEvent.key`` (e.g. ``"a"``, ``"ArrowRight"``).
        """
        self._input.on_key(callback, remove)

    def save_labels(self, path) -> Path:
        """Save ``labels`` (0 background, k object k) losslessly: 8-bit PNG, 16-bit PNG/TIFF beyond 255 objects.

        Unlike :meth:`save_mask` (one 0/255 mask), every object keeps its id.
        """
        return save_label_image(self.labels, path, "path")

    def prepare_image(self, image, **display) -> PreparedImage:
        """Decode and pre-compute a photo for :meth:`set_image`; safe to call from any thread.

        Besides decoding, the pyramid of the fast path and the display photo, this runs the
        current method's per-photo work (its ``prepare``, e.g. ``sam``'s image encoder, with the
        current ``params``) on the image as the segmentation will receive it, so that
        ``set_image(prepared)`` does not wait for it. Call it in a background thread.

        Parameters
        ----------
        image : array_like, PIL image, path or ipyseg.io.TiffPlane
        **display
            Display settings, as the constructor takes them (``channel_axis``, ``rgb``,
            ``channels``, ``channel_colors``, ``display_range``, ``gamma``); default: the
            image's own defaults.

        Returns
        -------
        PreparedImage
        """
        return prepare(
            image,
            self.viewport.max_display_pixels,
            method=self.method,
            params=dict(self.params),
            display=display,
        )

    @_editing
    def set_image(self, image) -> None:
        """Show another photo in this widget, starting with no seeds, labels, names or classes.

        Method, params, tool and view settings are kept. With a :class:`PreparedImage` (from
        :meth:`prepare_image`, e.g. computed in a background thread) this only swaps references
        and sends the ready display photo.
        """
        if not isinstance(image, PreparedImage):
            image = prepare(image, self.viewport.max_display_pixels)  # the method's prepare runs in the background
        elif image.max_display_pixels != self.viewport.max_display_pixels:
            image = resized_for(image, self.viewport.max_display_pixels)  # prepared for another canvas size
        self._engine.discard()
        self._input.cancel_gesture()
        old_shape = self._doc.shape
        pic = image.picture
        self._doc = ImageDocument.from_prepared(image)  # everything per photo, in one assignment
        self._presenter.new_photo()
        vp = image.viewport
        vp.set_view(1.0, 0.0, 0.0)
        same_canvas = (vp.canvas_width, vp.canvas_height) == (self.viewport.canvas_width, self.viewport.canvas_height)
        self.viewport = vp
        if same_canvas:
            self.view.viewport = vp
        else:  # a new canvas of the new size (resizing one in place races with drawing on it)
            old = self.view
            self.view = CanvasView(vp)
            self._input.connect(self.view)
            self.children = [self.view.canvas if c is old.canvas else c for c in self.children]
            old.close()
        with self._sync(), self.hold_trait_notifications():
            self.set_trait("labels", frozen(np.zeros(pic.shape[:2], np.uint16)))
            self.object_names = {}
            self.object_classes = {}
            if self.label != BACKGROUND:
                self.label = FOREGROUND
            self._publish_seeds()
        self._show_picture_settings()  # display range, gamma and channels of the new photo
        self._toolbar.contrast.refresh()  # and its contrast row
        if old_shape != pic.shape[:2]:
            lo, hi = self.brush_size_range  # of the new photo
            self._toolbar.controls["brush_size"].max = hi
            self.brush_size = float(min(hi, max(3, round(0.02 * max(pic.shape[:2])))))
        if image.photo_current:
            with self.view.batch():
                self.view.show_photo(image.preview)  # small JPEG first: the new photo appears sooner
                self._presenter.redraw_overlay(full=True)
                self._presenter.redraw_seeds()
            self.view.show_photo(image.photo)  # then the lossless PNG (the front end draws in order)
        else:  # its display settings changed since it was prepared: draw it as it is now
            self._presenter.redraw_all()
        self._toolbar.refresh_objects()
        self._controller.show_status(f"{pic.shape[1]} x {pic.shape[0]}")
        self._controller.prepare_in_background()  # e.g. SAM's encoder for the new photo

    # ----------------------------------------------------------- objects
    def objects(self) -> list[int]:
        """Ids of the objects that exist (seeded, segmented, boxed, named, classed or selected), ascending."""
        return self._editor.object_ids()

    def objects_table(self):
        """One row per object of ``labels`` (id, class, name, area, box, centroid), see :func:`ipyseg.objects.table`."""
        return objects.table(self.labels, self.object_classes, self.object_names)

    @_editing
    def new_object(self) -> int:
        """Start a new object: returns its id k and makes it current (``label = k + 1``)."""
        k = max(self.objects()) + 1
        if k > MAX_OBJECTS:
            raise ValueError(f"at most {MAX_OBJECTS} objects are supported; all ids are in use")
        self.label = k + 1
        return k

    @_editing
    def propose(self, method: str | None = None, **params) -> list[int]:
        """Propose objects (:func:`ipyseg.propose` on the photo's data) and add them as exact objects.

        One undo step; objects overlapping work already here are left out; ``params`` are
        ``propose``'s (``diameter``, ``dark``). Returns the new ids (see :meth:`Editor.add_objects`).
        """
        return self._editor.propose(method, **params)

    @_editing
    def load_labels(self, labels) -> list[int]:
        """Add the objects of a label image (any integer dtype, an array or a file) to correct them.

        ``labels``: (H, W), 0 background, k object k (cellpose, StarDist, a threshold, a saved
        ``save_labels``). Like :meth:`propose`: one undo step, new ids after the existing ones,
        nothing over existing work; unlike :meth:`load_mask` (a prior that strokes refine), each
        object is kept exactly until it is edited. Returns the new ids.
        """
        return self._editor.add_objects(labels)

    @_editing
    def paint_box(self, box, label: int | None = None, *, obj: int | None = None) -> None:
        """Constrain an object to a rectangle (GrabCut's box): outside it is background.

        Parameters
        ----------
        box : tuple of float
            ``(x0, y0, x1, y1)`` corners in image pixels (inclusive).
        label : int, optional
            The object's seed code ``k + 1`` (``FOREGROUND`` for object 1); default the current
            object. A box belongs to one object: it constrains that object only.
        obj : int, optional
            The object id ``k`` instead of its seed code (the older spelling; not with ``label``).
        """
        a, b = as_points([box[:2], box[2:]], "box")
        h, w = self._doc.picture.shape[:2]
        window = box_window(a, b, self._doc.picture.shape)
        if window[0] >= window[1] or window[2] >= window[3]:
            raise ValueError(f"`box` {tuple(box)} does not overlap the image ({w} x {h})")
        code = self._editor.drawing_code(label, obj, objects_only=True)
        self._editor.box(window, code)

    @_editing
    def magic_wand(self, x: float, y: float, label: int | None = None) -> None:
        """The region of similar colour around image ``(x, y)`` becomes seeds of ``label``.

        Uses ``wand_tolerance`` and ``wand_connectivity``; ``label`` (a seed code) defaults to
        the current object.
        """
        ((row, col),) = as_points([(x, y)], "x, y")
        code = self._editor.drawing_code(label)
        window, footprint = self._editor.wand(row, col)
        if window is not None:
            self._editor.fill(window, footprint, code)

    @_editing
    def polygon(self, points, label: int | None = None) -> None:
        """Fill the polygon through image ``(x, y)`` vertices with seeds of ``label`` (default the current object)."""
        pts = as_points(points)
        if len(pts) < 3:
            raise ValueError(f"`points` must have at least 3 vertices; got {len(pts)}")
        self._editor.polygon(pts, self._editor.drawing_code(label))

    @_editing
    def livewire(self, anchors, label: int | None = None, *, obj: int | None = None) -> np.ndarray:
        """Close an edge-snapping contour through image ``(x, y)`` anchors; its inside becomes seeds of ``label``.

        ``label`` is a seed code (default the current object); ``obj``, the object id ``k``, is
        the older spelling of ``label = k + 1``.

        Returns
        -------
        (N, 2) ndarray of float
            The contour as ``(x, y)`` image coordinates.
        """
        pts = as_points(anchors, "anchors")
        if len(pts) < 2:
            raise ValueError(f"`anchors` must have at least 2 points; got {len(pts)}")
        code = self._editor.drawing_code(label, obj)
        return self._editor.livewire(pts, code)[:, ::-1].copy()

    @_editing
    def fill(self, mask, label: int | None = None) -> None:
        """Set seeds of ``label`` (default the current object) on every pixel of a (H, W) bool ``mask`` (one undo step)."""
        m = as_labels(mask, self._doc.picture.shape, "mask") > 0
        self._editor.fill_mask(m, self._editor.drawing_code(label))

    # -------------------------------------------------------------- view
    @property
    def zoom(self) -> float:
        """Current zoom (1 = the whole image fits the canvas)."""
        return self.viewport.zoom

    @_editing
    def zoom_by(self, factor: float, x: float | None = None, y: float | None = None) -> None:
        """Zoom by ``factor`` keeping canvas point ``(x, y)`` (default: the centre) fixed."""
        vp = self.viewport
        x = vp.canvas_width / 2 if x is None else float(x)
        y = vp.canvas_height / 2 if y is None else float(y)
        self._input.move_view(factor, (x, y), (x, y))

    @_editing
    def reset_view(self) -> None:
        """Show the whole image again."""
        self.viewport.set_view(1.0, 0.0, 0.0)
        self._presenter.redraw_all()

    # ------------------------------------------------------------ traitlets
    @traitlets.validate(*traits.PLAIN_CHECKS)
    def _valid_plain(self, proposal):
        return traits.PLAIN_CHECKS[proposal.trait.name](proposal.value)

    @traitlets.validate("seeds")
    def _valid_seeds(self, proposal):
        if self._syncing:
            return proposal.value
        self._check_open()
        return as_seeds(proposal.value, self._doc.picture.shape)

    @traitlets.observe("seeds")
    def _seeds_assigned(self, change):
        if not self._syncing:
            self._editor.after_edit(self._doc.seed_state.replace(change.new))

    @traitlets.validate("method")
    def _valid_method(self, proposal):
        if getattr(self, "_closed", False):
            self._check_open()
        segmenters.get(proposal.value)
        by_method = getattr(self, "_params_by_method", None)
        if by_method is not None and proposal.value != self.method:
            # refused before anything changes, e.g. "sam" before a model was given
            try:
                segmenters.check_params(proposal.value, by_method.get(proposal.value, {}))
            except (TypeError, ValueError):
                if not self._cross_validation_lock:
                    raise
                # the end of hold_trait_notifications: params may have been set with the method
                segmenters.check_params(proposal.value, self.params)
        return proposal.value

    @traitlets.observe("method")
    def _method_changed(self, change):
        if change.old == "" or self._syncing:
            return
        if self._params_checked_for == change.new:
            # params were set together with the method (hold_trait_notifications): they win
            self._params_by_method[change.new] = dict(self.params)
        else:
            stored = self._params_by_method.get(change.new, {})
            with self._sync():
                self.params = dict(stored)
        self._params_checked_for = None
        self._segment()
        self._controller.prepare_in_background()

    @traitlets.validate("params")
    def _valid_params(self, proposal):
        value = proposal.value
        if getattr(self, "_closed", False):
            self._check_open()
        if not isinstance(value, dict):
            raise TypeError(f"`params` must be a dict; got {type(value).__name__}")
        checked = segmenters.check_params(self.method, value) if self.method else dict(value)
        self._params_checked_for = self.method
        return checked

    @traitlets.observe("params")
    def _params_changed(self, change):
        self._params_checked_for = None
        self._params_by_method[self.method] = dict(change.new)
        if not self._syncing:
            self._segment()
            self._controller.prepare_in_background()

    @traitlets.observe("tool")
    def _tool_changed(self, change):
        self._input.tool_changed(change.old)  # drops any half-drawn preview

    @property
    def brush_size_range(self) -> tuple[float, float]:
        """Smallest and largest ``brush_size`` (image pixels): 1 to a quarter of the longer side (>= 50)."""
        return 1.0, float(max(50, round(0.25 * max(self._doc.picture.shape[:2]))))

    @traitlets.validate("brush_size")
    def _valid_brush(self, proposal):
        lo, hi = self.brush_size_range
        return in_range(as_radius(proposal.value, "brush_size"), lo, hi, "brush_size")

    @traitlets.observe("opacity", "overlay_mode")
    def _overlay_style_changed(self, change):
        self._presenter.redraw_overlay(full=True)

    @traitlets.observe("show_seeds")
    def _show_seeds_changed(self, change):
        self._presenter.redraw_seeds()

    # ------------------------------------------------ display (display.py, issue 11)
    @traitlets.validate("display_range", "channels", "channel_colors")
    def _valid_display(self, proposal):
        pic, value = self._doc.picture, proposal.value
        if proposal.trait.name == "channels":
            return pic.check_channels(value)
        if proposal.trait.name == "channel_colors":
            return pic.check_colors(value, len(self.channels))
        return pic.public_range(pic.check_range(value, pic.mapping.ranges))

    @traitlets.observe("display_range", "gamma", "channels", "channel_colors")
    def _display_changed(self, change):
        if self._syncing:
            return
        self._check_open()
        pic = self._doc.picture
        if change.name == "channels" and len(self.channel_colors) != len(change.new):
            with self._sync():
                self.channel_colors = None  # the default colours for the new count
        ranges = pic.check_range(self.display_range, pic.mapping.ranges)
        mapping = Mapping(ranges, float(self.gamma), tuple(self.channels), tuple(self.channel_colors))
        seen_changed = self._doc.show_as(mapping)
        self._presenter.redraw_photo_while_moving(bool(self._ui_depth))
        if seen_changed:  # what is segmented is what is seen: the wand, live wire and pyramid follow
            self._doc.use_picture(pic)
            if self._doc.has_marks():
                self._segment()

    def _show_picture_settings(self) -> None:
        """Set the display traits from ``self._doc.picture``'s mapping (no redraw, no segmentation)."""
        pic = self._doc.picture
        m = pic.mapping
        with self._sync(), self.hold_trait_notifications():
            self.display_range = pic.public_range(m.ranges)
            self.gamma = m.gamma
            self.channels = m.channels
            self.channel_colors = m.colors

    @traitlets.observe("object_names", "object_classes", "classes")
    def _object_classes_changed(self, change):
        self._toolbar.refresh_objects()

    @traitlets.observe("seeds", "labels", "object_names", "object_classes", "method", "params")
    def _bump_revision(self, change):
        """``revision`` counts the changes a saved session holds (seed, box, mask, result, names, ...)."""
        self.set_trait("revision", self.revision + 1)

    @traitlets.observe("label")
    def _label_changed(self, change):
        if change.new >= FOREGROUND:
            self._doc.last_object_code = change.new

    # ---------------------------------------------------------- plumbing
    @property
    def object_code(self) -> int:
        """Seed code of the current object (``k + 1`` for object k): what drawing methods mark by default."""
        return self._doc.last_object_code

    def _publish_seeds(self) -> None:
        with self._sync():
            self.seeds = self._doc.seed_state.array.copy()

    @contextlib.contextmanager
    def _sync(self):
        prev, self._syncing = self._syncing, True
        try:
            yield
        finally:
            self._syncing = prev

    @property
    def _ui_depth(self) -> int:
        return self._gate.ui_depth

    def _segment(self) -> None:
        self._controller.segment(ui=bool(self._ui_depth))

    def _show_labels(self, labels: np.ndarray, window) -> None:
        """Make ``labels`` the result (the controller's callback): trait, overlay, object list."""
        labels = frozen(labels)
        self._doc.note_labels(labels)
        self.set_trait("labels", labels)
        self._presenter.redraw_overlay(window=window)  # before the bookkeeping: what the user waits for
        self._toolbar.refresh_objects()

    def _show_status(self, text: str, error: bool = False) -> None:
        self.set_trait("status", text)
        color = "#b00020" if error else "#444"
        self._status_html.value = f'<span style="color:{color};font-size:90%">{html.escape(text)}</span>'
