"""Items made ready to show: the photo prepared with the annotator's display settings, and its saved work.

:class:`ItemLoader` is what the prefetcher runs (any thread). It owns the display settings every
item is prepared with (the constructor's, followed when the user changes them on the current
item) and the method and parameters new items get.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ipyseg import segmenters
from ipyseg.dataset.records import ItemRecords
from ipyseg.dataset.starts import ItemStarts, Start
from ipyseg.dataset.store import ItemStore
from ipyseg.dataset.workers import Prefetcher
from ipyseg.display import default_colors
from ipyseg.geometry import MAX_DISPLAY_PIXELS
from ipyseg.session import SessionState
from ipyseg.widget.prepare import PreparedImage, prepare, prepare_segmenter


@dataclass
class Prefetched:
    """One item made ready by the prefetcher."""

    prepared: PreparedImage
    state: object  # SessionState, None (no saved work) or SessionError
    display_version: int
    note: str = ""  # why the annotator's display settings could not be used for this item
    saver_version: tuple = (0, True)  # the autosaver's version of the item when its file was read
    start: Start | None = None  # objects a new item starts from (a label file, proposals), see starts.py
    file_version: int | None = None  # mtime_ns of the item's sidecar when it was read


class ItemLoader:
    """Prepares items (any thread) with the display settings, and prefetches the next ones.

    Parameters
    ----------
    items : Items
        The annotator's items (:func:`ipyseg.dataset.sources.items_from`).
    store : ItemStore
        The items' saved work (read with each photo; its autosaver's version tells whether a
        prefetched read is still the newest).
    layout : dict
        ``{"channel_axis", "rgb"}``: how each item's axes are read.
    display : dict
        ``{"channels", "channel_colors", "display_range", "gamma"}``: the starting display settings.
    max_display_pixels : int or None
        As for ``SegmentWidget`` (``None``: its default).
    method : str or None
        The method new items get (``None``: the default method).
    params : dict
        Its parameters (checked here).
    warm : callable, optional
        ``warm(i, item)`` for the prefetcher (default :meth:`warm`).
    starts : ItemStarts, optional
        What new items start from (read or computed here, in the prefetcher's thread).

    Attributes
    ----------
    prefetcher : Prefetcher
        The background worker that prepares items ahead of time.
    """

    def __init__(
        self, items, store: ItemStore, layout, display, max_display_pixels, method, params, *, warm=None, starts=None
    ):

        self.items = items
        self.store = store
        self.layout = dict(layout)
        self.display = dict(display)
        #: Incremented whenever :attr:`display` changes (items prepared before are stale).
        self.display_version = 0
        self.max_display_pixels = MAX_DISPLAY_PIXELS if max_display_pixels is None else max_display_pixels
        # The method and params new items get (checked before anything is decoded).
        self.default_method = method or segmenters.DEFAULT_METHOD
        self.default_params = segmenters.check_params(self.default_method, params)
        self.starts = starts if starts is not None else ItemStarts(items)
        self.prefetcher = Prefetcher(self.prepare, size=3, warm=warm or self.warm)

    def photo(self, i: int, display: dict | None = None) -> PreparedImage:
        """Item ``i``'s photo made ready for the annotator's widget (``display``: all six settings)."""
        return prepare(
            self.items.source(i), self.max_display_pixels, f"item {i} ({self.items.keys[i]})", display=display
        )

    def prepare(self, i: int, strict: bool = False) -> Prefetched:
        """Item ``i``'s photo, prepared with the display settings, and its saved state.

        ``strict``: display settings that do not fit the item raise instead of falling back to
        the item's defaults (with a note).
        """
        version, display = self.display_version, dict(self.display)
        saver_version = self.store.saver.version(self.items.keys[i])  # before the file is read
        file_version = self.store.file_version(i)
        note = ""
        try:
            prepared = self.photo(i, {**self.layout, **display})
        except (ValueError, TypeError) as err:
            if strict or all(v is None for k, v in display.items() if k != "gamma"):
                raise
            try:
                prepared = self.photo(i, dict(self.layout))
            except (ValueError, TypeError):
                raise err from None
            note = f"shown with its own display settings: {err}"
        state = self.store.saved_state(i, prepared)
        start = self.starts.make(i, prepared.picture.data) if state is None else None
        return Prefetched(prepared, state, version, note, saver_version, start, file_version)

    def first(
        self, order: list[int], records: ItemRecords, tries: int, claim=None, unclaim=None, wait: float = 0.0
    ) -> tuple[int, Prefetched]:
        """The item to open first, prepared: the first of ``order`` (the items wanted, soonest
        first), passing over up to ``tries`` unreadable ones (marked in ``records``); else the
        first one's error is raised. With nothing wanted, the first item.

        With several annotators on one folder, ``claim(i)`` claims item ``i`` (``False``: another
        annotator holds it, it is passed over) and ``unclaim(i)`` gives back one that cannot be
        opened. If every item is held by others, claiming is tried again for up to ``wait``
        seconds; then the first one is opened anyway (read-only is not a mode of the Annotator),
        and claiming it again raises when it is shown, naming who holds it.
        """
        n = len(self.items)
        start = order[0] if order else 0
        if claim is not None:
            deadline = time.monotonic() + wait
            while True:  # items are held for moments too (a batch task, a left item's last save)
                got = next((i for i in dict.fromkeys([*order, *range(n)]) if claim(i)), None)
                if got is not None or time.monotonic() >= deadline:
                    break
                time.sleep(0.25)
            start = start if got is None else got
        for attempt in range(min(n, tries)):
            try:
                return start, self.prepare(start, strict=True)  # bad display settings raise here
            except (ValueError, TypeError, OSError) as err:
                if attempt == 0:
                    first_error = err
                records[start].unreadable = str(err)
                if unclaim is not None:
                    unclaim(start)
                for _ in range(n):  # the next one this annotator can claim
                    start = (start + 1) % n
                    if claim is None or claim(start):
                        break
        raise first_error

    def want_around(self, i: int, unfinished: int | None) -> None:
        """Prefetch the item after ``i``, the next ``unfinished`` one and the one before (in that order)."""
        wanted = [j for j in (i + 1, unfinished, i - 1) if j is not None and 0 <= j < len(self.items) and j != i]
        self.prefetcher.want(list(dict.fromkeys(wanted)))

    def fetch(self, i: int, records: ItemRecords, prepared: Prefetched | None = None) -> Prefetched:
        """Item ``i`` to open (``prepared``, prefetched, or made now) with the current display settings.

        Its record's ``unreadable`` and ``note`` are updated; an image that cannot be opened
        raises ``ValueError`` naming the item.
        """
        rec = records[i]
        try:
            item = prepared if prepared is not None else self.prefetcher.get(i)
        except (ValueError, TypeError, OSError) as err:
            rec.unreadable = str(err)
            records.last_unreadable = i
            raise ValueError(
                f"item {i} ({self.items.name(i)}) cannot be opened: {err}; next() and previous() pass over "
                f"it from now on (its files are kept)"
            ) from err
        rec.unreadable = None
        if item.display_version != self.display_version:  # display settings changed since
            self.prefetcher.drop(i)
            item = self.prefetcher.get(i)
        rec.note = item.note
        return item

    def newest_state(self, i: int, item: Prefetched):
        """The state to open item ``i`` with: a pending save's, the prefetch's, or the files' now."""
        return self.store.newest_state(i, item.prepared, item.state, item.saver_version, item.file_version)

    def method_of(self, item: Prefetched) -> tuple[str, dict] | None:
        """The method and params the item will be segmented with (its saved ones, or the defaults)."""
        state = item.state
        if isinstance(state, SessionState) and state.method:
            method = state.method
            params = dict(state.params)
            if method == self.default_method:  # objects a session cannot save (sam's model)
                for k, v in self.default_params.items():
                    params.setdefault(k, v)
            try:
                return method, segmenters.check_params(method, params)
            except (TypeError, ValueError):
                return None  # the widget reports it when the item is opened
        return self.default_method, dict(self.default_params)

    def warm(self, i: int, item: Prefetched) -> bool:
        """Run the item's method's ``prepare`` (e.g. SAM's encoder) ahead of time; whether it did."""
        if item.display_version != self.display_version:
            return False
        chosen = self.method_of(item)
        if chosen is None or item.prepared.prepared_for == chosen:
            return False  # nothing to do (or done already for this method and params)
        return prepare_segmenter(item.prepared, *chosen)

    def follow(self, pic, display_range, gamma, channels, channel_colors) -> bool:
        """Take a widget's display settings (showing ``pic``) for the next items; whether they changed.

        Items prefetched with the old settings are dropped.
        """
        settings = settings_of(pic, display_range, gamma, channels, channel_colors)
        if settings == self.display:
            return False
        self.display = settings
        self.display_version += 1
        version = self.display_version
        self.prefetcher.drop_if(lambda i, item: item.display_version != version)
        return True


def _same_pair(a, b) -> bool:
    return all(math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b, strict=True))


def settings_of(pic, display_range, gamma, channels, channel_colors) -> dict:
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
