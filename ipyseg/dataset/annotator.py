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
import threading
import weakref
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import traitlets

from ipyseg import session
from ipyseg._util.timers import Later
from ipyseg.dataset.arguments import (
    check_arguments,
    checked_advance,
    checked_classes,
    checked_index,
    checked_items,
    display_of,
    read_source,
)
from ipyseg.dataset.batch import BatchReport, check_task, jobs_for, run_batch
from ipyseg.dataset.claims import ItemClaims, ItemHeld
from ipyseg.dataset.cocoimport import states_from_coco
from ipyseg.dataset.current import CurrentItem
from ipyseg.dataset.exports import check_label_suffix, save_label_files, write_coco_of
from ipyseg.dataset.header import Header
from ipyseg.dataset.loading import ItemLoader, Prefetched
from ipyseg.dataset.records import (  # noqa: F401  (INDEX_* and PLANES_NAME: the names they had here)
    INDEX_FORMAT,
    INDEX_NAME,
    INDEX_VERSION,
    PLANES_NAME,
    ItemRecord,
    ItemRecords,
    read_plane_counts,
    write_plane_counts,
)
from ipyseg.dataset.starts import ItemStarts, start_new_item
from ipyseg.dataset.store import ItemStore
from ipyseg.dataset.walks import REVIEWABLE, ItemWalk, checked_mode
from ipyseg.dataset.workers import Autosaver, Prefetcher
from ipyseg.ui import shortcuts
from ipyseg.widget.prepare import PreparedImage
from ipyseg.widget.widget import SegmentWidget

#: Seconds a display change must rest before the prefetched items are prepared again with it.
REPREPARE_DELAY = 0.5

#: Seconds navigation waits for the segmentation of the item it leaves, so that its saved
#: labels include the last edit.
LEAVE_WAIT = 5.0

#: How many unreadable items in a row an Annotator passes over to find one to open first
#: (if the first of them fails for another reason, e.g. display settings, the rest fail too).
MAX_UNREADABLE_AT_OPEN = 20

#: Seconds an opening annotator waits for an item to be free when others hold every one.
OPEN_WAIT = 10.0

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
        resumes it at the first item that is neither done nor skipped. Several annotators (other
        processes, other machines on a shared file system) may open the same folder: each item
        is claimed while one of them has it open, and the others pass over it.
    classes : list of str, optional
        Category names; ``None`` means one category, ``"object"``.
    method : str, optional
        Segmentation method for new items (saved items keep their own).
    carry_over : bool
        Start each new item from the previous item's labels (a z-stack or a video clip is then
        refined, not redrawn).
    labels : str or Path, optional
        A folder of label images (cellpose, StarDist, a threshold, an earlier ``export_labels``)
        named after the items (``img01.png`` / ``img01.tif`` / ``img01_masks.png`` /
        ``img01_cp_masks.png`` / ``img01_labels.tif`` / ``.npy`` for ``img01.jpg``; any integer
        dtype): a new item starts with its objects, each one to correct.
    propose : bool or dict, optional
        Start new items (without a label file) from object proposals (:func:`ipyseg.propose`);
        a dict gives its parameters, e.g. ``{"diameter": 30}``. Label files and proposals are
        prepared in the background with the next photos, and only ever used for an item with no
        saved work; ``carry_over`` applies to items neither gives objects.
    user : str, optional
        Who annotates (default: the OS user name), written into the claims the others see and
        into each item's provenance.
    mode : {"annotate", "review"}
        ``"annotate"``: walk the items that need work, this user's rejected ones first.
        ``"review"``: walk everyone's done items, to :meth:`accept` or :meth:`reject` (see
        :mod:`ipyseg.dataset.walks`).
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
        labels=None,
        propose=None,
        user: str | None = None,
        mode: str = "annotate",
        max_display_pixels: int | None = None,
        channel_axis: int | None = None,
        rgb: bool | None = None,
        channels=None,
        channel_colors=None,
        display_range=None,
        gamma: float = 1.0,
        **params,
    ):
        check_arguments(out=out, carry_over=carry_over, max_display_pixels=max_display_pixels)
        mode = checked_mode(mode)
        layout = {"channel_axis": channel_axis, "rgb": rgb}
        display = display_of(channels, channel_colors, display_range, gamma)
        out = Path(out).absolute()
        self._items, known = read_source(source, out, channel_axis)
        starts = ItemStarts(self._items, labels, propose)  # checked before anything is opened
        self.classes = checked_classes(classes)
        self.carry_over = bool(carry_over)
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        _enter_folder(_open_key(self.out), self)
        try:
            if self._items.plane_counts != known:
                write_plane_counts(self.out, self._items.plane_counts)
            self._open(method, max_display_pixels, params, layout, display, starts, user, mode)
        except BaseException:
            for part in ("_saver", "_prefetcher", "_claims"):  # the claims after the last save
                if getattr(self, part, None) is not None:
                    getattr(self, part).close()
            _leave_folder(_open_key(self.out), self)
            raise

    def _open(self, method, max_display_pixels, params, layout, display, starts, user, mode) -> None:
        session.remove_stray_temporaries(self.out)
        self._nav = threading.RLock()
        self._records = ItemRecords(self.out, self._items.keys, self.classes)
        self._claims = ItemClaims(self.out, user=user, saved=lambda key: self._saver.version(key)[1])
        self._store = ItemStore(
            self.out, self._items, self._records, lambda: self.classes, self._save_failed, self._claims
        )
        self._saver = self._store.saver
        setup = (layout, display, max_display_pixels, method, params)
        self._loader = ItemLoader(self._items, self._store, *setup, warm=self._warm_item, starts=starts)
        self._prefetcher = self._loader.prefetcher
        self._reprepare = Later(REPREPARE_DELAY, weakref.WeakMethod(self._prefetch_around))
        self._walk = ItemWalk(self._records, mode, self._claims.user)
        claim, unclaim = self._claims.by_index(self._items.keys)
        order = self._walk.order()
        start, first = self._loader.first(order, self._records, MAX_UNREADABLE_AT_OPEN, claim, unclaim, OPEN_WAIT)
        self._prefetcher.put(start, first)
        kw = {} if max_display_pixels is None else {"max_display_pixels": max_display_pixels}
        self.widget = SegmentWidget(first.prepared, method=method, **kw, **params)
        self.widget.classes = self.classes
        self._loader.default_method = self.widget.method
        self._loader.default_params = dict(self.widget.params)
        self._item = CurrentItem(self.widget, self._store, self._nav, self._update_header)
        self.widget.on_key(self._on_key)
        self.widget.observe(self._on_revision, "revision")
        self.widget.observe(self._on_display, ["display_range", "gamma", "channels", "channel_colors"])
        actions = {"previous": self.previous, "next": self.next, "done": self.mark_done, "skip": self.skip}
        actions.update(accept=self.accept, reject=self.reject)
        self._header = Header(len(self), actions, review=mode == "review")
        self.buttons = self._header.buttons
        super().__init__(children=[self._header, self.widget])
        self._closed = False
        self._item.picture = first.prepared.picture  # the widget shows it already
        self._show(start, prepared=first)
        self._finalizer = weakref.finalize(
            self, _close_quietly, self._saver, self._prefetcher, self._claims, self._reprepare
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
        """One of :data:`ipyseg.session.STATUSES` per item, as last read (others' saves are read
        again when this annotator moves on).
        """
        return self._records.statuses

    @property
    def mode(self) -> str:
        """``"annotate"`` or ``"review"`` (see the constructor)."""
        return self._walk.mode

    @property
    def user(self) -> str:
        """Who annotates (written into claims and provenance)."""
        return self._claims.user

    @property
    def progress(self) -> tuple[int, int]:
        """``(done, total)``."""
        return self._records.progress

    @property
    def item_keys(self) -> list[str]:
        """Item names, as used for their files in ``out`` (``stack.tif#0003`` for a plane of a stack)."""
        return list(self._items.keys)

    def record(self, i: int) -> ItemRecord:
        """Item ``i``'s :class:`~ipyseg.dataset.records.ItemRecord` (status, errors, note), live."""
        return self._records[self._check_index(i)]

    @property
    def prefetcher(self) -> Prefetcher:
        """The background worker that prepares the next items (read-only)."""
        return self._prefetcher

    @property
    def autosaver(self) -> Autosaver:
        """The background worker that writes every committed change (read-only)."""
        return self._saver

    @property
    def header(self) -> Header:
        """The header widget: buttons, progress bar, title and message line (read-only)."""
        return self._header

    @property
    def closed(self) -> bool:
        """Whether the annotator is closed (or did not finish opening)."""
        return self._closed

    @property
    def display_settings(self) -> dict:
        """``{"channel_axis", "rgb", "channels", "channel_colors", "display_range", "gamma"}`` every item
        is prepared with: the constructor's, then the user's changes on the current item; ``None``:
        the item's own default; a ``display_range`` dict ``{channel: (lo, hi)}`` pins some channels.
        """
        return {**self._loader.layout, **self._loader.display}

    def next(self) -> int:
        """Go to the next item, passing over unreadable ones, held ones (and unfinished ones when
        reviewing); the last one stays. Returns the new index.
        """
        return self._go(+1)

    def previous(self) -> int:
        """Go to the previous item (passing over the same as :meth:`next`); returns the new index."""
        return self._go(-1)

    def _go(self, step: int) -> int:
        """Show the first item in direction ``step`` that opens (else stay); the new index."""
        self._check_open()
        self._records.refresh(skip=self.index)  # what the others saved since
        if not any(self._opened(j) for j in self._walk.steps(self.index, step)):
            self._update_header()  # stayed: the counts and holders may still have changed
        return self.index

    def _opened(self, i: int) -> bool:
        """Go to item ``i``; ``False`` if its image does not open, or another annotator holds it."""
        if self._records[i].unreadable is not None:
            return False
        try:
            self.index = i
        except ItemHeld:
            return False
        except ValueError:
            if self._records[i].unreadable is None:
                raise  # not a file that cannot be read
            return False
        return True

    def _check_open(self) -> None:
        if self._closed:
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
        self._set_status("done", checked_advance(advance))

    def skip(self, *, advance: bool = True) -> None:
        """Mark the current item skipped (not to be annotated), then go to the next unfinished one."""
        self._check_open()
        self._set_status("skipped", checked_advance(advance))

    def accept(self, *, advance: bool = True) -> None:
        """Review: mark the current finished item ``reviewed``, then go to the next done one."""
        self._check_open()
        self._set_status("reviewed", checked_advance(advance))

    def reject(self, comment: str, *, advance: bool = True) -> None:
        """Review: mark the current finished item ``rejected`` with ``comment`` (why: its annotator
        gets it back first, and reads it), then go to the next done one.
        """
        self._check_open()
        if not isinstance(comment, str) or not comment.strip():
            raise ValueError(f"`comment` must say why the item is rejected (a non-empty str); got {comment!r}")
        self._set_status("rejected", checked_advance(advance), comment.strip())
        self._header.comment.value = ""

    def labels(self, i: int) -> np.ndarray:
        """(H, W) labels of item ``i`` (0 background, k object k), read from disk if not loaded.

        An item without saved work has all-zero labels.
        """
        return self._labels_and_classes(self._check_index(i))[0]

    def object_classes(self, i: int) -> dict:
        """``{object id: class name}`` of item ``i`` (objects without a class are left out)."""
        return self._labels_and_classes(self._check_index(i))[1]

    def export_coco(self, path, *, segmentation: str = "rle", statuses=("done", "reviewed")) -> Path:
        """Write a COCO instance-segmentation JSON of the items whose status is in ``statuses``.

        Parameters
        ----------
        path : path
            The JSON file (written atomically).
        segmentation : {"rle", "polygon"}
            See :func:`ipyseg.export.to_coco`.
        statuses : tuple of str
            Which items to include; default the done ones (reviewed or not).

        Returns
        -------
        Path
            Each annotation's ``attributes``: ``{"annotator": <who finished its item, else who
            edited it last>, "status": ...}``.
        """
        chosen = self._records.chosen(statuses)
        self.flush()
        kw = {"classes": self.classes, "segmentation": segmentation, "attributes": self._store.attributes}
        return write_coco_of(path, self._items, chosen, self._labels_and_classes, **kw)

    def import_coco(self, path) -> list[int]:
        """Start items from a COCO file (:func:`ipyseg.dataset.cocoimport.states_from_coco`): only
        those with no saved work that nobody else has open; returns their indices.
        """
        states, _ = states_from_coco(path, self._items.keys, self.classes)
        with self._nav:
            current = self._item.index if self.widget.session_state().is_empty else None
            written = self._store.import_states(states, current)
            if current in written:
                self._show(current)  # read again from its new files
        return written

    def save_labels(self, folder, *, statuses=("done", "reviewed"), suffix: str = ".png") -> list[Path]:
        """One label image per item (``statuses``: default the done ones, reviewed or not) in ``folder``.

        Files are named after the items (``IMG_0042.jpg`` -> ``IMG_0042.png``; a plane of a
        stack ``stack.tif#0003`` -> ``stack#0003.png``): 8-bit PNG, or 16-bit beyond 255 objects;
        ``suffix=".tif"`` writes TIFF.
        """
        chosen = self._records.chosen(statuses)
        self.flush()
        return save_label_files(folder, self._items, chosen, self.labels, check_label_suffix(suffix))

    def run(self, task: str, *, client=None, items=None, progress: bool = True, **params) -> BatchReport:
        """Run a slow per-item job on every item (or the indices ``items``) with ``dask.distributed``.

        ``task``: ``"segment"`` (again from the saved seeds: ``method=`` and its parameters),
        ``"embed"`` (``model=``, a SamModel with a ``cache_dir``), ``"propose"`` (``proposer=`` and
        its parameters), see :mod:`ipyseg.dataset.batch`. ``client``: any ``distributed.Client``
        (default: a LocalCluster of this machine's cores). Items someone has open (this annotator's
        current one too) are passed over and reported; run again, it does only what is left.
        """
        self._check_open()
        check_task(task, params)
        chosen = checked_items(items, len(self))
        self.flush()
        jobs = jobs_for(self._items, chosen, self.out, self.display_settings, self.user, self._loader.default_method)
        report = run_batch(task, jobs, params, client=client, progress=progress)
        with self._nav:
            self._records.refresh(skip=self._item.index)  # what the batch (and the others) wrote
            self._update_header()
        return report

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write every pending change now (autosave does it within about a second anyway)."""
        with self._nav:
            if self._item.unsaved:
                self._put_current()
        return self._saver.flush(timeout)

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Let background work finish: a pending re-prepare, the prefetch, the widget's segmentation.

        Returns whether all of it finished within ``timeout`` seconds (each).
        """
        self._reprepare.flush()
        return bool(self._prefetcher.idle(timeout)) and bool(self.widget.wait(timeout))

    def close(self) -> None:
        """Save what is pending, stop the threads, release ``out`` and close the widgets."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            _close_quietly(self._saver, self._prefetcher, self._claims, self._reprepare, timeout=30)
            _leave_folder(_open_key(self.out), self)
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
        current = self._item.index
        if current != change.new and not self._closed:
            try:
                self._show(change.new)
            except Exception:
                if self._item.index is not None and self.index != self._item.index:
                    self.set_trait("index", self._item.index)  # we stay where we were
                raise

    def _check_index(self, i) -> int:
        return checked_index(i, len(self._items))

    def _show(self, i: int, prepared=None) -> None:
        w = self.widget
        key = self._items.keys[i]
        with self._nav:
            previous = self._item.index
            holder = self._claims.take(key)
            if holder is not None:
                raise ItemHeld(i, self._items.name(i), holder)
            if previous is not None and previous != i:
                # a segmentation still running gives the labels to save (exports read them); one
                # slower than LEAVE_WAIT is saved as not current and redone when the item is opened
                w.wait(LEAVE_WAIT)
                if self._item.unsaved:
                    self._put_current()
            try:
                item = self._loader.fetch(i, self._records, prepared)
            except ValueError:
                if previous != i:
                    self._claims.leave(key)
                self._update_header()  # names the item passed over
                raise
            state = self._loader.newest_state(i, item)
            self._item.open(i, item.prepared, state, self._loader.default_method, self._loader.default_params)
            if state is None and self._records[i].error is None:
                self._start_new(i, item)
            self.set_trait("index", i)
            self._update_header()
            if previous is not None and previous != i:
                self._claims.leave(self._items.keys[previous])  # once its last save is written
        self._prefetch_around()

    def _start_new(self, i: int, item: Prefetched) -> None:
        """Item ``i`` has no saved work: its label file's objects or proposals, else ``carry_over``."""
        start = item.start
        if start is None and self._loader.starts.active:  # prefetched before the item's work was removed
            start = self._loader.starts.make(i, self.widget.data)
        previous = (lambda: self._labels_and_classes(i - 1)) if self.carry_over and i > 0 else None
        start_new_item(self.widget, self._records[i], start, previous)

    def _prefetch_around(self) -> None:
        """Prefetch the next item, the next unfinished one and the previous one (in that order)."""
        i = self._item.index
        if self._closed or i is None:
            return
        self._loader.want_around(i, self._walk.next(i))

    def _warm_item(self, i: int, item: Prefetched) -> bool:
        """Prefetch thread: run the item's method's ``prepare`` (e.g. SAM's encoder) ahead of time."""
        return not self._closed and self._loader.warm(i, item)

    # ------------------------------------------------------------------ display settings
    def _on_display(self, change) -> None:
        """The user changed how the current item is shown: the next items follow."""
        if self._item.restoring or self._closed or self._item.index is None:
            return
        w = self.widget
        # the Picture the widget shows: its defaults tell what is pinned
        if self._loader.follow(self._item.picture, w.display_range, w.gamma, w.channels, w.channel_colors):
            self._reprepare.schedule()  # prepare the neighbours again once the control rests

    def _set_status(self, status: str, advance: bool, comment: str | None = None) -> None:
        i = self._item.index
        rec = self._records[i]
        if rec.error is not None:
            raise RuntimeError(f"item {i} ({self._items.name(i)}) could not be loaded: {rec.error}")
        if status in ("reviewed", "rejected") and rec.status not in REVIEWABLE:
            raise ValueError(f"only a finished item can be reviewed: item {i} is {rec.status!r}, not 'done'")
        self.widget.wait(120)
        with self._nav:
            rec.status, rec.comment = status, comment
            self._put_current()
        if advance:
            self._records.refresh(skip=i)  # what the others saved since
            any(self._opened(j) for j in self._walk.order(i) if j != i)  # passes over unreadable and held ones

    # ------------------------------------------------------------------ keyboard
    def _on_key(self, key, shift, ctrl, meta) -> bool:
        table = shortcuts.REVIEW_TABLE if self._walk.mode == "review" else shortcuts.ANNOTATOR_TABLE
        run = table.get(shortcuts.combo_of(key, shift, ctrl, meta))
        return run is not None and (run(self) or True)

    # ------------------------------------------------------------------ saving
    def _labels_and_classes(self, i: int) -> tuple[np.ndarray, dict]:
        return self._store.labels_and_classes(i, self._item.live(i))

    def _put_current(self) -> None:
        self._item.put()
        self._update_header()

    def _on_revision(self, change) -> None:
        if not self._closed:
            self._item.changed()

    def _save_failed(self, key: str, err: Exception) -> None:
        self._header.show_message(f"⚠ could not save '{key}': {type(err).__name__}: {err}", error=True)

    def _update_header(self) -> None:
        finished = self._walk.finished()
        self._header.update(self._item.index, self._records, self._items.name, self._claims.elsewhere(), finished)


def prepare_for(annotator: Annotator, i: int, display: dict | None = None) -> PreparedImage:
    """Item ``i``'s photo made ready for the annotator's widget (any thread)."""
    return annotator._loader.photo(i, display)


def _open_key(out: Path) -> str:
    return str(out.resolve())  # x/../out and a symlink name the same folder


def _enter_folder(key: str, owner: Annotator) -> None:
    """Make ``owner`` this process's annotator of its folder (``key``: its resolved path), closing
    the one it had first (the same folder re-opened in this process: a re-run cell). Other
    processes share the folder item by item (claims.py).
    """
    old = _OPEN.get(key)
    if old is not None and old() is not None:
        old().close()
    _OPEN[key] = weakref.ref(owner)


def _leave_folder(key: str, owner: Annotator) -> None:
    if _OPEN.get(key) is not None and _OPEN[key]() is owner:
        del _OPEN[key]


def _close_quietly(saver, prefetcher, claims, later, timeout: float = 10) -> None:
    try:
        later.cancel()
        saver.close(timeout)
        prefetcher.close()
    finally:
        claims.close()  # after the last save: the next annotator reads it
