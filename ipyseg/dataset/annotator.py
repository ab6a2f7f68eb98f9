"""``Annotator``: segment a whole dataset, one image after the other, without losing work.

It composes a :class:`~ipyseg.SegmentWidget` (``a.widget``) and talks to it only through its
public methods: ``set_image`` / ``prepare_image`` to switch photos, ``session_state`` /
``restore_session`` to save and restore, ``revision`` to learn that something changed,
``load_mask`` for ``carry_over``, ``on_key`` for its shortcuts.

Threads (all stopped by :meth:`Annotator.close`): an autosaver writes every committed change
within about a second; a prefetcher decodes and prepares the next photos and then runs the
method's per-photo work on them (e.g. Segment-Anything's image encoder), so that "next" waits
for neither; a short timer prepares them again after a display change has come to rest.

Display settings (contrast, gamma, channels, colours) belong to the annotator, not to one item:
every item is prepared with them, and a change the user makes on the current item (the
contrast control, ``a.widget.display_range = ...``) becomes the setting for the items after it.
"""

from __future__ import annotations

import atexit
import html
import math
import os
import threading
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import traitlets

from ipyseg import segmenters, session
from ipyseg._util.timers import Later
from ipyseg._validation import check_max_display_pixels
from ipyseg.dataset.lock import FolderLock
from ipyseg.dataset.sources import PLANE_MARK, items_from
from ipyseg.dataset.workers import Autosaver, Prefetcher
from ipyseg.display import default_colors
from ipyseg.session import SessionError, SessionState
from ipyseg.ui import shortcuts
from ipyseg.widget.prepare import PreparedImage, prepare, prepare_segmenter
from ipyseg.widget.widget import SegmentWidget

INDEX_NAME = "index.json"
INDEX_FORMAT = "ipyseg-annotations"
INDEX_VERSION = 1
#: Plane counts of the source's TIFF files, remembered between openings (hidden: not an item).
PLANES_NAME = ".ipyseg-planes.json"
#: Seconds a display change must rest before the prefetched items are prepared again with it.
REPREPARE_DELAY = 0.5


@dataclass
class _Prefetched:
    """One item made ready by the prefetcher."""

    prepared: PreparedImage
    state: object  # SessionState, None (no saved work) or SessionError
    display_version: int
    note: str = ""  # why the annotator's display settings could not be used for this item
    saver_version: tuple = (0, True)  # the autosaver's version of the item when its file was read


#: Seconds navigation waits for the segmentation of the item it leaves, so that its saved
#: labels include the last edit.
LEAVE_WAIT = 5.0

#: How many unreadable items in a row an Annotator passes over to find one to open first
#: (if the first of them fails for another reason, e.g. display settings, the rest fail too).
MAX_UNREADABLE_AT_OPEN = 20

#: Open annotators of this process by output folder: re-running a cell replaces the old one.
_OPEN: dict[str, weakref.ref] = {}


class Annotator(widgets.VBox):
    """Annotate a folder (or list, or stack) of images; every change is saved to ``out``.

    Parameters
    ----------
    source : str, Path, list or ndarray
        A folder (its ``.png .jpg .jpeg .tif .tiff .bmp .webp`` files, sorted by name), a glob
        pattern, a list of paths, a list of arrays, or an (N, H, W[, C]) stack (see
        :func:`ipyseg.dataset.sources.items_from`).
    out : str or Path
        Folder for everything saved (created if missing). Opening a folder with earlier work
        resumes it at the first item that is neither done nor skipped.
    classes : list of str, optional
        Category names; ``None`` means one category, ``"object"``.
    method : str, optional
        Segmentation method for new items (saved items keep their own).
    carry_over : bool
        Start each new item from the previous item's labels (a z-stack or a video clip is then
        refined, not redrawn).
    max_display_pixels : int, optional
        As for ``SegmentWidget``.
    channel_axis, rgb : optional
        How each item's axes are read, as for ``SegmentWidget`` (for a stack array or a TIFF:
        the axes of one plane). With ``channel_axis`` a TIFF's planes are its leading axes
        before the last three.
    channels, channel_colors, display_range, gamma : optional
        Display settings for every item, as for ``SegmentWidget``. ``display_range=None``: each
        item's own robust range. A change made on the current item (contrast control, or
        ``a.widget.display_range = ...``) applies to the next items too (see
        :attr:`display_settings`); an item the settings do not fit (e.g. fewer channels) is
        shown with its defaults and a note.
    **params
        Parameters of ``method``.

    Attributes
    ----------
    widget : SegmentWidget
        The current item's segmentation widget, with its full API.
    index : int
        The current item (a traitlet: assign it to move).
    """

    index = traitlets.Int(0)
    _closed = True  # until fully open

    def __init__(
        self,
        source,
        *,
        out,
        classes=None,
        method: str | None = None,
        carry_over: bool = False,
        max_display_pixels: int | None = None,
        channel_axis: int | None = None,
        rgb: bool | None = None,
        channels=None,
        channel_colors=None,
        display_range=None,
        gamma: float = 1.0,
        **params,
    ):
        _check_arguments(out=out, carry_over=carry_over, max_display_pixels=max_display_pixels)
        self._layout = {"channel_axis": channel_axis, "rgb": rgb}
        self._display = {
            "channels": tuple(channels) if isinstance(channels, list) else channels,
            "channel_colors": tuple(channel_colors) if isinstance(channel_colors, list) else channel_colors,
            "display_range": display_range,
            "gamma": gamma,
        }
        self._display_version = 0
        out = Path(out).absolute()
        known = _read_plane_counts(out / PLANES_NAME)
        self._items = items_from(source, image_ndim=None if channel_axis is None else 3, plane_counts=known)
        self._items = _without_our_files(self._items, out)
        self._plane_counts_changed = self._items.plane_counts != known
        if not len(self._items):
            raise ValueError(f"`source` holds no images ({self._items.description})")
        if classes is None:
            classes = ["object"]
        if isinstance(classes, str) or not all(isinstance(c, str) and c for c in classes):
            raise TypeError(f"`classes` must be a list of non-empty names (str); got {classes!r}")
        if not classes or len(set(classes)) != len(classes):
            raise ValueError(f"`classes` must be a non-empty list of distinct names; got {classes!r}")
        self.classes = list(classes)
        self.carry_over = bool(carry_over)
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        self._take_folder()
        try:
            self._open(method, max_display_pixels, params)
        except BaseException:
            self._lock.release()
            for worker in (getattr(self, "_saver", None), getattr(self, "_prefetcher", None)):
                if worker is not None:
                    worker.close()
            raise

    def _open(self, method, max_display_pixels, params) -> None:
        session.remove_stray_temporaries(self.out)
        self._nav = threading.RLock()
        self._current: int | None = None
        self._errors: dict[int, str] = {}
        self._unreadable: dict[int, str] = {}  # items whose image could not be opened
        self._last_unreadable: int | None = None
        self._created: dict[int, str] = {}  # "created" of the saved state an item was opened with
        self._status, self._index_doc = self._read_index()
        self._saved_revision = -1
        self._restoring = False
        self._notes: dict[int, str] = {}
        self._current_picture = None
        self._saver = Autosaver(self._write, on_error=self._save_failed)
        self._prefetcher = Prefetcher(self._prepare_item, size=3, warm=self._warm_item)
        self._reprepare = Later(REPREPARE_DELAY, weakref.WeakMethod(self._prefetch_around))
        if self._plane_counts_changed:
            session.write_json(self.out / PLANES_NAME, {"format": "ipyseg-planes", "files": self._items.plane_counts})

        from ipyseg.geometry import MAX_DISPLAY_PIXELS

        self._max_display_pixels = MAX_DISPLAY_PIXELS if max_display_pixels is None else max_display_pixels
        # The method and params new items get (checked before anything is decoded).
        self._default_method = method or segmenters.DEFAULT_METHOD
        self._default_params = segmenters.check_params(self._default_method, params)
        start = self._first_open()
        first = None
        for attempt in range(min(len(self._items), MAX_UNREADABLE_AT_OPEN)):
            try:
                first = self._prepare_item(start, strict=True)  # bad display settings raise here
                break
            except (ValueError, TypeError, OSError) as err:
                if attempt == 0:
                    first_error = err
                self._unreadable[start] = str(err)
                start = (start + 1) % len(self._items)
        if first is None:
            raise first_error
        self._prefetcher.put(start, first)
        kw = {} if max_display_pixels is None else {"max_display_pixels": max_display_pixels}
        self.widget = SegmentWidget(first.prepared, method=method, **kw, **params)
        self.widget.classes = self.classes
        self._default_method = self.widget.method
        self._default_params = dict(self.widget.params)
        self.widget.on_key(self._on_key)
        self.widget.observe(self._on_revision, "revision")
        self.widget.observe(self._on_display, ["display_range", "gamma", "channels", "channel_colors"])
        self._header = self._build_header()
        super().__init__(children=[self._header, self.widget])
        self._closed = False
        self._current_picture = first.prepared.picture  # the widget shows it already
        self._show(start, prepared=first)
        self._finalizer = weakref.finalize(
            self, _close_quietly, self._saver, self._prefetcher, self._lock, self._reprepare
        )
        atexit.register(self._finalizer)

    # ------------------------------------------------------------------ public API
    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        done, total = self.progress
        return f"Annotator({total} items, {done} done, index {self.index}, out='{self.out}')"

    @property
    def status(self) -> list[str]:
        """One of ``"untouched"``, ``"in progress"``, ``"done"``, ``"skipped"`` per item."""
        return list(self._status)

    @property
    def progress(self) -> tuple[int, int]:
        """``(done, total)``."""
        return self._status.count("done"), len(self._status)

    @property
    def item_keys(self) -> list[str]:
        """Item names, as used for their files in ``out`` (``stack.tif#0003`` for a plane of a stack)."""
        return list(self._items.keys)

    @property
    def display_settings(self) -> dict:
        """The display settings every item is prepared with.

        ``{"channel_axis", "rgb", "channels", "channel_colors", "display_range", "gamma"}``:
        the constructor's, updated whenever the user changes them on the current item. ``None``
        means the item's own default (``display_range``: its robust range; ``channels``: all;
        ``channel_colors``: the default colours); a ``display_range`` dict ``{channel: (lo, hi)}``
        pins some channels and leaves the others automatic.
        """
        return {**self._layout, **self._display}

    def next(self) -> int:
        """Go to the next item (the last one stays; items whose image cannot be read are passed
        over); returns the new index.
        """
        self._check_open()
        return self._go(self.index + 1, +1)

    def previous(self) -> int:
        """Go to the previous item (passing over items whose image cannot be read); returns the new index."""
        self._check_open()
        return self._go(self.index - 1, -1)

    def _go(self, i: int, step: int) -> int:
        """Show the first item from ``i`` in direction ``step`` that opens (else stay); the new index."""
        while 0 <= i < len(self) and not self._opened(i):
            i += step
        return self.index

    def _opened(self, i: int) -> bool:
        """Go to item ``i``; ``False`` if its image is known, or now found, not to open."""
        if i in self._unreadable:
            return False
        try:
            self.index = i
        except ValueError:
            if i not in self._unreadable:
                raise  # not a file that cannot be read
            return False
        return True

    @staticmethod
    def _check_advance(advance) -> bool:
        if not isinstance(advance, (bool, np.bool_)):
            raise TypeError(f"`advance` must be True or False; got {advance!r}")
        return bool(advance)

    def _check_open(self) -> None:
        if getattr(self, "_closed", False):
            raise RuntimeError("this Annotator is closed; open the folder again with ipyseg.Annotator(...)")

    def goto(self, i: int) -> int:
        """Go to item ``i`` (negative counts from the end); returns the new index."""
        self.index = self._check_index(i)
        return self.index

    def mark_done(self, *, advance: bool = True) -> None:
        """Mark the current item done (saved now), then go to the next unfinished item.

        Waits for a segmentation still running, so that the saved labels are final.
        """
        self._check_open()
        self._set_status("done", self._check_advance(advance))

    def skip(self, *, advance: bool = True) -> None:
        """Mark the current item skipped (not to be annotated), then go to the next unfinished one."""
        self._check_open()
        self._set_status("skipped", self._check_advance(advance))

    def labels(self, i: int) -> np.ndarray:
        """(H, W) labels of item ``i`` (0 background, k object k), read from disk if not loaded.

        An item without saved work has all-zero labels.
        """
        return self._labels_and_classes(self._check_index(i))[0]

    def object_classes(self, i: int) -> dict:
        """``{object id: class name}`` of item ``i`` (objects without a class are left out)."""
        return self._labels_and_classes(self._check_index(i))[1]

    def export_coco(self, path, *, segmentation: str = "rle", statuses=("done",)) -> Path:
        """Write a COCO instance-segmentation JSON of the items whose status is in ``statuses``.

        Parameters
        ----------
        path : path
            The JSON file (written atomically).
        segmentation : {"rle", "polygon"}
            See :func:`ipyseg.export.to_coco`.
        statuses : tuple of str
            Which items to include; default the done ones.

        Returns
        -------
        Path
        """
        from ipyseg.export import to_coco, write_coco

        chosen = self._chosen(statuses)
        self.flush()

        stale = []

        def items():
            for i in chosen:
                labels, classes = self._labels_and_classes(i)
                if self._image_changed(i, labels):
                    stale.append(i)
                    continue
                yield (self._items.keys[i], labels, classes)

        coco = to_coco(items(), classes=self.classes, segmentation=segmentation, info={"description": "ipyseg"})
        self._warn_changed(stale)
        return write_coco(coco, path)

    def save_labels(self, folder, *, statuses=("done",), suffix: str = ".png") -> list[Path]:
        """One label image per item (``statuses``: default the done ones) in ``folder``.

        Files are named after the items (``IMG_0042.jpg`` -> ``IMG_0042.png``; a plane of a
        stack ``stack.tif#0003`` -> ``stack#0003.png``): 8-bit PNG, or 16-bit beyond 255 objects;
        ``suffix=".tif"`` writes TIFF.
        """
        from ipyseg.export import save_label_image

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if not isinstance(suffix, str) or suffix.lower() not in (".png", ".tif", ".tiff"):
            raise ValueError(f'`suffix` must be ".png", ".tif" or ".tiff" (lossless label images); got {suffix!r}')
        chosen = self._chosen(statuses)
        names = [self._label_file_name(i, suffix) for i in chosen]
        if len(set(names)) != len(names):
            names = [self._items.keys[i] + suffix for i in chosen]
        self.flush()
        out, stale = [], []
        for i, name in zip(chosen, names, strict=True):
            labels = self.labels(i)
            if self._image_changed(i, labels):
                stale.append(i)
                continue
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            out.append(save_label_image(labels, target))
        self._warn_changed(stale)
        return out

    def _image_changed(self, i: int, labels: np.ndarray) -> bool:
        """Whether item ``i``'s image no longer has its labels' size (the file changed since)."""
        try:
            return tuple(labels.shape) != tuple(self._items.size(i))
        except (OSError, ValueError):
            return True  # cannot be read any more

    def _warn_changed(self, stale: list[int]) -> None:
        if stale:
            names = ", ".join(self._items.name(i) for i in stale[:5]) + (" ..." if len(stale) > 5 else "")
            warnings.warn(
                f"{len(stale)} item(s) left out of the export: their image file changed size (or cannot be read) "
                f"since it was annotated, so their labels no longer fit: {names}",
                UserWarning,
                stacklevel=3,
            )

    def _label_file_name(self, i: int, suffix: str) -> str:
        key = self._items.keys[i]
        if self._items.plane(i) is None:
            return Path(key).with_suffix(suffix).as_posix()
        file, plane = key.rsplit(PLANE_MARK, 1)
        return Path(file).with_suffix("").as_posix() + PLANE_MARK + plane + suffix

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write every pending change now (autosave does it within about a second anyway)."""
        with self._nav:
            if self._current is not None and self.widget.revision != self._saved_revision:
                self._put_current()
        return self._saver.flush(timeout)

    def close(self) -> None:
        """Save what is pending, stop the threads, release ``out`` and close the widgets."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            self._reprepare.cancel()
            self._saver.close()
            self._prefetcher.close()
            self._lock.release()
            key = self._open_key()
            if _OPEN.get(key) is not None and _OPEN[key]() is self:
                del _OPEN[key]
            atexit.unregister(self._finalizer)
            self.widget.close()
            super().close()

    # ------------------------------------------------------------------ navigation
    @traitlets.validate("index")
    def _valid_index(self, proposal):
        self._check_open()
        return self._check_index(proposal.value)

    @traitlets.observe("index")
    def _index_changed(self, change):
        if self._current != change.new and not self._closed:
            try:
                self._show(change.new)
            except Exception:
                if self._current is not None and self.index != self._current:
                    self.set_trait("index", self._current)  # we stay where we were
                raise

    def _check_index(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"`index` must be an integer; got {type(i).__name__} {i!r}")
        n = len(self._items)
        if not -n <= int(i) < n:
            raise IndexError(f"`index` must be in [0, {n - 1}] (or negative from the end); got {i}")
        return int(i) % n

    def _first_open(self) -> int:
        for i, s in enumerate(self._status):
            if s not in ("done", "skipped"):
                return i
        return 0

    def _next_unfinished(self, after: int) -> int | None:
        n = len(self._status)
        for d in range(1, n + 1):
            j = (after + d) % n
            if self._status[j] in ("untouched", "in progress") and j not in self._unreadable:
                return j
        return None

    def _show(self, i: int, prepared=None) -> None:
        w = self.widget
        with self._nav:
            if self._current is not None and self._current != i:
                # a segmentation still running gives the labels to save (exports read them); one
                # slower than LEAVE_WAIT is saved as not current and redone when the item is opened
                w.wait(LEAVE_WAIT)
                if w.revision != self._saved_revision:
                    self._put_current()
            try:
                item = prepared if prepared is not None else self._prefetcher.get(i)
            except (ValueError, TypeError, OSError) as err:
                self._unreadable[i] = str(err)
                self._last_unreadable = i
                self._update_header()
                raise ValueError(
                    f"item {i} ({self._items.name(i)}) cannot be opened: {err}; next() and previous() pass over "
                    f"it from now on (its files are kept)"
                ) from err
            self._unreadable.pop(i, None)
            if item.display_version != self._display_version:  # display settings changed since
                self._prefetcher.drop(i)
                item = self._prefetcher.get(i)
            image, state = item.prepared, item.state
            self._notes[i] = item.note
            key = self._items.keys[i]
            latest = self._saver.latest(key)
            if latest is not None:
                state = latest
            elif not item.saver_version[1] or item.saver_version != self._saver.version(key):
                state = self._saved_state(i, image)  # saved since (or being saved when) the prefetch read it
            self._restoring = True
            try:
                self._current = i
                if self._current_picture is not image.picture:
                    w.set_image(image)
                self._current_picture = image.picture
                self._errors.pop(i, None)
                if isinstance(state, Exception):
                    self._errors[i] = str(state)
                elif state is not None:
                    if state.created:
                        self._created[i] = state.created
                    try:
                        w.restore_session(state)
                    except (ValueError, TypeError) as err:
                        self._errors[i] = f"'{self._json_path(i)}': {err}"
                if state is None or i in self._errors:
                    w.method = self._default_method
                    w.params = dict(self._default_params)
            finally:
                self._restoring = False
            self._saved_revision = w.revision
            if state is None and i not in self._errors and self.carry_over and i > 0:
                try:
                    prior = self.labels(i - 1)
                except SessionError as err:  # the previous item's files are damaged: nothing to carry
                    self._notes[i] = f"labels not carried over: {err}"
                    prior = np.zeros((0, 0), np.uint8)
                if prior.shape == w.image.shape[:2] and prior.any():
                    w.load_mask(prior)
                    w.object_classes = {k: c for k, c in self.object_classes(i - 1).items() if (prior == k).any()}
            self.set_trait("index", i)
            self._update_header()
        self._prefetch_around()

    def _prefetch_around(self) -> None:
        """Prefetch the next item, the next unfinished one and the previous one (in that order)."""
        if self._closed or self._current is None:
            return
        i = self._current
        nxt = self._next_unfinished(i)
        wanted = [j for j in (i + 1, nxt, i - 1) if j is not None and 0 <= j < len(self) and j != i]
        self._prefetcher.want(list(dict.fromkeys(wanted)))

    # ------------------------------------------------------------------ display settings
    def _on_display(self, change) -> None:
        """The user changed how the current item is shown: the next items follow."""
        if self._restoring or self._closed or self._current is None:
            return
        w = self.widget
        pic = self._current_picture  # the Picture the widget shows (its defaults tell what is pinned)
        settings = _settings_of(pic, w.display_range, w.gamma, w.channels, w.channel_colors)
        if settings == self._display:
            return
        self._display = settings
        self._display_version += 1
        version = self._display_version
        self._prefetcher.drop_if(lambda i, item: item.display_version != version)
        self._reprepare.schedule()  # prepare the neighbours again once the control rests

    def _set_status(self, status: str, advance: bool) -> None:
        i = self._current
        if i in self._errors:
            raise RuntimeError(f"item {i} ({self._items.name(i)}) could not be loaded: {self._errors[i]}")
        self.widget.wait(120)
        with self._nav:
            self._status[i] = status
            self._put_current()
            self._update_header()
        if advance:
            j = self._next_unfinished(i)
            while j is not None and not self._opened(j):
                j = self._next_unfinished(j)  # passes over the unreadable ones

    # ------------------------------------------------------------------ keyboard
    def _on_key(self, key, shift, ctrl, meta) -> bool:
        combo = shortcuts.combo_of(key, shift, ctrl, meta)
        run = shortcuts.ANNOTATOR_TABLE.get(combo)
        if run is None:
            return False
        run(self)
        return True

    # ------------------------------------------------------------------ saving
    def _json_path(self, i: int) -> Path:
        return self.out / (self._items.keys[i] + ".json")

    def _snapshot(self, i: int) -> SessionState | None:
        """The current widget's state for item ``i`` with status and timestamps, or ``None``."""
        if i in self._errors:
            return None  # keep the files as they are (they could not be loaded)
        state = self.widget.session_state()
        status = self._status[i]
        if status == "untouched":
            if state.is_empty:
                return None
            status = self._status[i] = "in progress"
            if i == self._current:
                self._update_header()
        state.status = status
        state.modified = session.now_iso()
        prev = self._saver.latest(self._items.keys[i])
        state.created = (prev.created if prev is not None else None) or self._created.get(i) or state.modified
        return state

    def _put_current(self) -> None:
        i = self._current
        state = self._snapshot(i)
        self._saved_revision = self.widget.revision
        if state is not None:
            self._saver.put(self._items.keys[i], state)
        self._update_header()

    def _on_revision(self, change) -> None:
        if self._restoring or self._closed or self._current is None:
            return
        i = self._current
        key = self._items.keys[i]

        def make():
            with self._nav:
                if self._current != i:
                    return None  # we moved on: navigation put the final snapshot
                rev = self.widget.revision
                state = self._snapshot(i)
                self._saved_revision = rev
                if state is not None:
                    self._saver.note(key, state)  # visible to a return to this item from now on
                return state

        self._saver.mark(key, make)

    def _write(self, key: str, state: SessionState) -> None:
        path = self.out / (key + ".json")
        session.save(state, path)
        entry = {"status": state.status, "mtime_ns": path.stat().st_mtime_ns, "objects": len(_ids(state.labels))}
        items = self._index_doc["items"]
        old = items.get(key) or {}
        items[key] = entry
        if (old.get("status"), old.get("objects")) != (entry["status"], entry["objects"]):
            self._write_index()  # otherwise the sidecar's newer mtime tells the next opening to re-read it

    def _save_failed(self, key: str, err: Exception) -> None:
        self._show_message(f"⚠ could not save '{key}': {type(err).__name__}: {err}", error=True)

    # ------------------------------------------------------------------ index
    def _index_path(self) -> Path:
        return self.out / INDEX_NAME

    def _read_index(self):
        """Statuses from ``index.json``, checked against the item files' modification times."""
        path = self._index_path()
        doc = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "classes": self.classes, "items": {}}
        if path.exists():
            try:
                old = session.read_json(path, "annotation index")
                if old.get("format") == INDEX_FORMAT and isinstance(old.get("items"), dict):
                    doc["items"] = old["items"]
            except SessionError:
                pass  # rebuilt from the item files below
        on_disk = _scan_jsons(self.out)
        items = doc["items"]
        changed = False
        status = []
        for i, key in enumerate(self._items.keys):
            entry = items.get(key)
            mtime = on_disk.get(key)
            if mtime is None:
                if entry is not None and entry.get("status") != "untouched":
                    items.pop(key)
                    changed = True
                status.append("untouched")
                continue
            if entry is None or entry.get("mtime_ns") != mtime:
                try:
                    sidecar = session.read_json(self._json_path(i))
                    st = sidecar.get("status") if sidecar.get("status") in session.STATUSES else "in progress"
                except SessionError as err:
                    self._errors[i] = str(err)
                    st = (entry or {}).get("status", "in progress")
                items[key] = entry = {**(entry or {}), "status": st, "mtime_ns": mtime}
                changed = True
            status.append(entry.get("status", "in progress"))
        self._index_doc = doc
        if changed or not path.exists():
            self._write_index()
        return status, doc

    def _write_index(self) -> None:
        session.write_json(self._index_path(), {**self._index_doc, "classes": self.classes})

    # ------------------------------------------------------------------ items
    def _prepare_item(self, i: int, strict: bool = False) -> _Prefetched:
        """The prefetcher's work: item ``i``'s photo, prepared with the display settings, and saved state.

        ``strict``: display settings that do not fit the item raise instead of falling back to
        the item's defaults (with a note).
        """
        version, display = self._display_version, dict(self._display)
        saver_version = self._saver.version(self._items.keys[i])  # before the file is read
        note = ""
        try:
            prepared = prepare_for(self, i, {**self._layout, **display})
        except (ValueError, TypeError) as err:
            if strict or all(v is None for k, v in display.items() if k != "gamma"):
                raise
            try:
                prepared = prepare_for(self, i, dict(self._layout))
            except (ValueError, TypeError):
                raise err from None
            note = f"shown with its own display settings: {err}"
        return _Prefetched(prepared, self._saved_state(i, prepared), version, note, saver_version)

    def _saved_state(self, i: int, prepared: PreparedImage):
        """Item ``i``'s state from its files (checked against the photo), ``None`` or the SessionError."""
        path = self._json_path(i)
        if not path.exists():
            return None
        try:
            state = session.load(path)
            session.check_image(
                state, prepared.picture.data, prepared.path, path, shown=prepared.image, file_hash=prepared.file_sha256
            )
        except SessionError as err:
            return err
        return state

    def _method_of(self, item: _Prefetched) -> tuple[str, dict] | None:
        """The method and params item will be segmented with (its saved ones, or the defaults)."""
        state = item.state
        if isinstance(state, SessionState) and state.method:
            method = state.method
            params = dict(state.params)
            if method == self._default_method:  # objects a session cannot save (sam's model)
                for k, v in self._default_params.items():
                    params.setdefault(k, v)
            try:
                return method, segmenters.check_params(method, params)
            except (TypeError, ValueError):
                return None  # the widget reports it when the item is opened
        return self._default_method, dict(self._default_params)

    def _warm_item(self, i: int, item: _Prefetched) -> bool:
        """Prefetch thread: run the item's method's ``prepare`` (e.g. SAM's encoder) ahead of time."""
        if self._closed or item.display_version != self._display_version:
            return False
        chosen = self._method_of(item)
        if chosen is None or item.prepared.prepared_for == chosen:
            return False  # nothing to do (or done already for this method and params)
        return prepare_segmenter(item.prepared, *chosen)

    def _labels_and_classes(self, i: int) -> tuple[np.ndarray, dict]:
        """Item ``i``'s newest labels and classes, reading only what is needed from disk."""
        if (i == self._current and i not in self._errors) or self._saver.latest(self._items.keys[i]) is not None:
            state = self._state_of(i)
            return state.labels, dict(state.object_classes)
        path = self._json_path(i)
        if path.exists():
            labels, classes = session.load_labels(path)
            return labels, classes
        return np.zeros(self._items.size(i), np.uint8), {}

    def _state_of(self, i: int) -> SessionState | None:
        """Item ``i``'s newest state: the widget's, a pending save's, or the files'."""
        if i == self._current and i not in self._errors:
            return self.widget.session_state()
        latest = self._saver.latest(self._items.keys[i])
        if latest is not None:
            return latest
        path = self._json_path(i)
        return session.load(path) if path.exists() else None

    def _chosen(self, statuses) -> list[int]:
        if isinstance(statuses, str):
            statuses = (statuses,)
        try:
            statuses = list(statuses)
        except TypeError:
            raise TypeError(
                f"`statuses` must be a status or a list of them {list(session.STATUSES)}; got {statuses!r}"
            ) from None
        bad = [s for s in statuses if s not in session.STATUSES]
        if bad:
            raise ValueError(f"`statuses` must be among {list(session.STATUSES)}; got {bad}")
        return [i for i, s in enumerate(self._status) if s in statuses]

    def _open_key(self) -> str:
        return str(self.out.resolve())  # x/../out and a symlink name the same folder

    def _take_folder(self) -> None:
        key = self._open_key()
        old = _OPEN.get(key)
        if old is not None and old() is not None:
            old().close()  # the same folder re-opened in this process (a re-run cell)
        self._lock = FolderLock(self.out).acquire()
        _OPEN[key] = weakref.ref(self)

    # ------------------------------------------------------------------ header

    def _build_header(self):
        lay = widgets.Layout
        self._title = widgets.HTML()
        self._bar = widgets.IntProgress(min=0, max=len(self), layout=lay(width="180px"))
        self._message = widgets.HTML()
        b = self.buttons = {
            "previous": widgets.Button(
                icon="chevron-left", tooltip="Previous image (, or ←)", layout=lay(width="40px")
            ),
            "next": widgets.Button(icon="chevron-right", tooltip="Next image (. or →)", layout=lay(width="40px")),
            "done": widgets.Button(
                description="Done", icon="check", button_style="success", tooltip="Done, next unfinished (a)"
            ),
            "skip": widgets.Button(description="Skip", icon="forward", tooltip="Skip this image (x)"),
        }

        def ui(fn):
            def handler(_):
                try:
                    fn()
                except Exception as err:
                    self._show_message(f"⚠ {type(err).__name__}: {err}", error=True)

            return handler

        b["previous"].on_click(ui(self.previous))
        b["next"].on_click(ui(self.next))
        b["done"].on_click(ui(self.mark_done))
        b["skip"].on_click(ui(self.skip))
        row = widgets.HBox(
            [b["previous"], b["next"], b["done"], b["skip"], self._bar, self._title],
            layout=lay(align_items="center", flex_flow="row wrap"),
        )
        return widgets.VBox([row, self._message])

    def _update_header(self) -> None:
        i = self._current
        done, total = self.progress
        skipped = self._status.count("skipped")
        self._bar.value = done
        self._bar.description = ""
        text = f"<b>{i + 1} / {total}</b> · {html.escape(self._items.name(i))} · {self._status[i]}"
        unreadable = f", {len(self._unreadable)} cannot be opened" if self._unreadable else ""
        text += f' <span style="color:#666">({done} done, {skipped} skipped{unreadable})</span>'
        self._title.value = text
        if i in self._errors:
            self._show_message(
                f"⚠ saved work of this image could not be loaded, so it is not autosaved (fix or delete its "
                f"files to start over): {self._errors[i]}",
                error=True,
            )
        elif self._notes.get(i):
            self._show_message(f"ⓘ {self._notes[i]}")
        elif self._unreadable and self._last_unreadable in self._unreadable:
            j = self._last_unreadable
            self._show_message(f"⚠ passed over item {j + 1} ({self._items.name(j)}): {self._unreadable[j]}", error=True)
        elif all(s in ("done", "skipped") for s in self._status):
            self._show_message("✓ every image is done or skipped: export with a.export_coco(...)")
        else:
            self._show_message("")

    def _show_message(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#2e7d32"
        self._message.value = f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""


def prepare_for(annotator: Annotator, i: int, display: dict | None = None) -> PreparedImage:
    """Item ``i``'s photo made ready for the annotator's widget (any thread)."""
    return prepare(
        annotator._items.source(i),
        annotator._max_display_pixels,
        f"item {i} ({annotator._items.keys[i]})",
        display=display,
    )


def _same_pair(a, b) -> bool:
    return all(math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b, strict=True))


def _settings_of(pic, display_range, gamma, channels, channel_colors) -> dict:
    """The annotator's display settings from a widget's, ``None`` where they are the item's defaults."""
    ranges = (display_range,) if pic.groups == 1 else tuple(display_range)
    pinned = {g: tuple(r) for g, r in enumerate(ranges) if not _same_pair(r, pic.default_ranges[g])}
    if not pinned:
        rng = None
    elif pic.groups == 1:
        rng = pinned[0]
    else:
        rng = pinned
    all_channels = (0, 1, 2) if pic.rgb else tuple(range(pic.n_channels))
    chans = None if tuple(channels) == all_channels else tuple(channels)
    if pic.rgb:
        colors = None
    else:
        colors = None if tuple(channel_colors) == default_colors(len(channels)) else tuple(channel_colors)
    return {"channels": chans, "channel_colors": colors, "display_range": rng, "gamma": float(gamma)}


def _read_plane_counts(path: Path) -> dict:
    """TIFF plane counts remembered in ``out`` (``{}`` when missing or unreadable)."""
    try:
        doc = session.read_json(path, "plane counts")
    except SessionError:
        return {}
    files = doc.get("files")
    return files if isinstance(files, dict) else {}


def _ids(labels: np.ndarray) -> list[int]:
    from ipyseg.seeds import codes_present

    if labels.dtype == np.uint8:
        return [int(k) for k in codes_present(labels) if k]
    return [int(k) for k in np.unique(labels) if k]


#: Files an annotator writes next to an item's sidecar (``<key>.<kind>.png``).
_COMPANION_SUFFIXES = (".labels.png", ".seeds.png", ".prior.png")


def _without_our_files(items, out: Path):
    """``items`` without the annotator's own PNGs, when ``out`` lies in the source folder (or a
    recursive glob reaches it): they are not photos to annotate.
    """
    if items.root is None:
        return items
    out = out.resolve()

    def ours(f) -> bool:
        p = Path(f)
        if not p.name.endswith(_COMPANION_SUFFIXES):
            return False
        try:
            return p.resolve().is_relative_to(out)
        except OSError:
            return False

    keep = [i for i in range(len(items)) if not ours(items.path(i))]
    return items if len(keep) == len(items) else items.subset(keep)


def _check_arguments(*, out, carry_over, max_display_pixels) -> None:
    """The Annotator's own arguments, checked before anything is read or created."""
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"`out` must be a folder path; got {type(out).__name__} {out!r}")
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"`out` must be a folder (created if missing); got '{out}', which is a file")
    if not isinstance(carry_over, (bool, np.bool_)):
        raise TypeError(f"`carry_over` must be True or False; got {carry_over!r}")
    check_max_display_pixels(max_display_pixels, allow_none=True)


def _scan_jsons(out: Path) -> dict[str, int]:
    """``{item key: mtime_ns}`` of every item sidecar under ``out`` (one directory walk)."""
    found = {}
    for root, _dirs, files in os.walk(out):
        rel = Path(root).relative_to(out)
        for f in files:
            ours = session.TMP_MARK in f or (rel == Path(".") and f in (INDEX_NAME, PLANES_NAME))
            if f.endswith(".json") and not ours:  # items may be hidden files (".a.png") too
                key = (rel / f[: -len(".json")]).as_posix()
                try:
                    found[key] = os.stat(os.path.join(root, f)).st_mtime_ns
                except OSError:
                    pass
    return found


def _close_quietly(saver, prefetcher, lock, later) -> None:
    try:
        later.cancel()
        saver.close(10)
        prefetcher.close()
    finally:
        lock.release()
