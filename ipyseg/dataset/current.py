"""The item an :class:`~ipyseg.Annotator`'s widget holds, and how its changes reach the autosaver.

:class:`CurrentItem` owns which item is open (``index``), the widget revision saved last, and
whether a restore is under way (the widget's changes then are not the user's). It opens an
item's saved state in the widget and hands the autosaver snapshots of the open item; the
annotator decides which item to open (claims, walking, the header).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ipyseg import session
from ipyseg.session import SessionState


class CurrentItem:
    """The open item of one annotator's ``widget``.

    Parameters
    ----------
    widget : SegmentWidget
        The annotator's widget (used through its public methods only).
    store : ItemStore
        Every item's saved work (its autosaver, records and keys).
    lock : threading.RLock
        The annotator's navigation lock: held while a snapshot is taken.
    on_status : callable
        Called with no arguments when a save changed the open item's status (the header shows it).

    Attributes
    ----------
    index : int or None
        The open item (``None`` until the first one is open).
    picture : Picture or None
        The picture the widget shows.
    restoring : bool
        A saved state is being put into the widget (its changes are not the user's).
    """

    def __init__(self, widget, store, lock: threading.RLock, on_status: Callable[[], None]):
        self.widget = widget
        self.store = store
        self._lock = lock
        self._on_status = on_status
        self.index: int | None = None
        self.picture = None
        self.restoring = False
        self._saved_revision = -1

    @property
    def unsaved(self) -> bool:
        """Whether the widget has changes not handed to the autosaver yet."""
        return self.index is not None and self.widget.revision != self._saved_revision

    def live(self, i: int) -> Callable[[], SessionState] | None:
        """``widget.session_state`` when the widget holds item ``i``'s newest work, else ``None``."""
        loaded = i == self.index and self.store.records[i].error is None
        return self.widget.session_state if loaded else None

    def open(self, i: int, prepared, state, method: str, params: dict) -> None:
        """Show item ``i`` (``prepared``) with ``state`` (a SessionState, an Exception: it could not
        be read, or ``None``: nothing saved; then ``method`` and ``params``); its record's error is set.
        """
        w = self.widget
        records = self.store.records
        rec = records[i]
        self.restoring = True
        try:
            self.index = i
            if self.picture is not prepared.picture:
                w.set_image(prepared)
            self.picture = prepared.picture
            rec.error = _restore(w, state, rec, records.json_path(i))
            if state is None or rec.error is not None:
                w.method = method
                w.params = dict(params)
        finally:
            self.restoring = False
        self._saved_revision = w.revision

    def snapshot(self, i: int) -> SessionState | None:
        """The widget's state for item ``i`` with status, timestamps and provenance, or ``None``."""
        rec = self.store.records[i]
        if rec.error is not None:
            return None  # keep the files as they are (they could not be loaded)
        was = rec.status
        state = self.store.stamped(i, self.widget.session_state())
        if rec.status != was and i == self.index:
            self._on_status()
        return state

    def put(self) -> None:
        """Hand the open item's state to the autosaver now (navigation, done, flush)."""
        i = self.index
        state = self.snapshot(i)
        self._saved_revision = self.widget.revision
        if state is not None:
            self.store.saver.put(self.store.items.keys[i], state)

    def changed(self) -> None:
        """The widget's revision changed (the user edited): mark the item for the autosaver, which
        takes its snapshot when it writes (at most about a second later).
        """
        if self.restoring or self.index is None:
            return
        i = self.index
        key = self.store.items.keys[i]

        def make():
            with self._lock:
                if self.index != i:
                    return None  # we moved on: navigation put the final snapshot
                rev = self.widget.revision
                state = self.snapshot(i)
                self._saved_revision = rev
                if state is not None:
                    self.store.saver.note(key, state)  # visible to a return to this item from now on
                return state

        self.store.saver.mark(key, make)


def _restore(widget, state, rec, path) -> str | None:
    """Open ``state`` (or an Exception, or ``None``: nothing saved) in ``widget``; the error, if any."""
    if isinstance(state, Exception):
        return str(state)
    if state is not None:
        if state.status in session.STATUSES:
            rec.status = state.status  # another annotator may have saved it since the folder was opened
        if state.created:
            rec.created = state.created
        rec.provenance = dict(state.provenance)
        rec.finished_by = rec.provenance.get("finished_by")
        try:
            widget.restore_session(state)
        except (ValueError, TypeError) as err:
            return f"'{path}': {err}"
    return None
