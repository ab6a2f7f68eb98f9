"""Each item's saved work: its files in ``out``, and the snapshots on their way there.

:class:`ItemStore` owns the :class:`~ipyseg.dataset.workers.Autosaver` and answers "what is item
``i``'s newest work": the widget's (when the caller passes it), a snapshot not yet written, or
the files. Writing an item tells :class:`~ipyseg.dataset.records.ItemRecords` (the index).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ipyseg import session
from ipyseg.dataset.leases import default_user
from ipyseg.dataset.records import ItemRecords
from ipyseg.dataset.workers import Autosaver
from ipyseg.seeds import codes_present
from ipyseg.session import SessionError, SessionState
from ipyseg.widget.prepare import PreparedImage


class ItemStore:
    """Saved work of every item: read from ``out``, written by a background autosaver.

    Parameters
    ----------
    out : Path
        The annotator's output folder (item ``key``'s sidecar is ``out/<key>.json``).
    items : Items
        The annotator's items.
    records : ItemRecords
        Told of each write (statuses, index file); gives each item's status and ``created``.
    classes : callable
        Returns the category names written into the index.
    on_error : callable
        ``on_error(key, exception)`` when a write fails (autosave thread).
    claims : ItemClaims, optional
        The annotator's claims: a write goes to the item's files only while the item is still
        claimed (else to a conflict file beside them, and ``on_error`` says so), and a left
        item is released once its last save is written.
    """

    def __init__(
        self, out: Path, items, records: ItemRecords, classes: Callable[[], list], on_error: Callable, claims=None
    ):
        self.out = Path(out)
        self.items = items
        self.records = records
        self._classes = classes
        self._on_error = on_error
        self.claims = claims
        self._written_at: dict = {}  # key -> mtime_ns of its sidecar as this annotator last wrote it
        written = None if claims is None else claims.written
        self.saver = Autosaver(self._write, on_error=on_error, on_written=written)

    def saved_state(self, i: int, prepared: PreparedImage):
        """Item ``i``'s state from its files (checked against the photo), ``None`` or the SessionError."""
        path = self.records.json_path(i)
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

    def file_version(self, i: int) -> int | None:
        """``mtime_ns`` of item ``i``'s sidecar (``None``: no file): another annotator's save changes it."""
        try:
            return self.records.json_path(i).stat().st_mtime_ns
        except OSError:
            return None

    def newest_state(self, i: int, prepared: PreparedImage, state, saver_version: tuple, file_version=None):
        """The state to open item ``i`` with: this annotator's newest snapshot while it is not yet
        written (or written and nobody wrote the files since), else ``state`` (read by the prefetch
        when the autosaver's version was ``saver_version`` and the sidecar's ``file_version``) if
        nothing was saved since, else the files as they are now (saved by this annotator or another).
        """
        key = self.items.keys[i]
        latest = self.saver.latest(key)
        version = self.saver.version(key)
        now = self.file_version(i)
        if latest is not None and (not version[1] or now == self._written_at.get(key)):
            return latest
        if saver_version[1] and saver_version == version and file_version == now:
            return state
        return self.saved_state(i, prepared)

    def state_of(self, i: int, live: Callable[[], SessionState] | None = None) -> SessionState | None:
        """Item ``i``'s newest state: ``live()`` (the widget's, when it holds the item), a pending save's, or the files'."""
        if live is not None:
            return live()
        latest = self.saver.latest(self.items.keys[i])
        if latest is not None:
            return latest
        path = self.records.json_path(i)
        return session.load(path) if path.exists() else None

    def labels_and_classes(self, i: int, live: Callable[[], SessionState] | None = None) -> tuple[np.ndarray, dict]:
        """Item ``i``'s newest labels and object classes, reading only what is needed from disk."""
        if live is not None or self.saver.latest(self.items.keys[i]) is not None:
            state = self.state_of(i, live)
            return state.labels, dict(state.object_classes)
        path = self.records.json_path(i)
        if path.exists():
            labels, classes = session.load_labels(path)
            return labels, classes
        return np.zeros(self.items.size(i), np.uint16), {}

    def stamped(self, i: int, state: SessionState) -> SessionState | None:
        """``state`` of item ``i`` with its status, timestamps and provenance, or ``None`` if there
        is nothing to save.

        An untouched item with work becomes ``"in progress"`` (in its record).
        """
        rec = self.records[i]
        if rec.status == "untouched":
            if state.is_empty:
                return None
            rec.status = "in progress"
        state.status = rec.status
        state.modified = session.now_iso()
        prev = self.saver.latest(self.items.keys[i])
        state.created = (prev.created if prev is not None else None) or rec.created or state.modified
        state.provenance = rec.provenance = _provenance(rec.provenance, self.user, state, rec.comment)
        rec.comment = None
        rec.finished_by = state.provenance.get("finished_by")
        return state

    def import_states(self, states: dict, current: int | None) -> list[int]:
        """Write ``{item: SessionState}`` for the items with no saved work that no other annotator
        holds (``current``: the item open here, claimed already, or ``None``); the items written.
        """
        written = []
        for i, state in sorted(states.items()):
            key = self.items.keys[i]
            if self.records.json_path(i).exists() or self.saver.latest(key) is not None:
                continue  # saved work is never replaced
            if i != current and self.claims is not None and self.claims.take(key) is not None:
                continue  # another annotator has it open
            try:
                rec = self.records[i]
                rec.status, rec.provenance, rec.created = state.status, dict(state.provenance), state.created
                self._write(key, state)
                written.append(i)
            finally:
                if i != current and self.claims is not None:
                    self.claims.leave(key)
        return written

    def attributes(self, i: int) -> dict:
        """COCO attributes of item ``i``'s annotations: who made them (who finished the item, else
        who edited it last) and its status, from its newest saved work.
        """
        latest = self.saver.latest(self.items.keys[i])
        if latest is not None:
            prov, status = latest.provenance, latest.status
        else:
            try:
                doc = session.read_json(self.records.json_path(i))
            except (SessionError, OSError):
                doc = {}
            prov, status = doc.get("provenance") or {}, doc.get("status")
        who = prov.get("finished_by") or prov.get("modified_by") or prov.get("created_by")
        return {"annotator": who, "status": status or self.records[i].status}

    @property
    def user(self) -> str:
        """Who saves (the claims' user, else the OS user name)."""
        return self.claims.user if self.claims is not None else default_user()

    def _write(self, key: str, state: SessionState) -> None:
        """Autosave thread: write an item's files, then tell the index."""
        path = self.out / (key + ".json")
        if self.claims is not None and not self.claims.owns(key):
            # another annotator took the item over (this one was silent for longer than the
            # claims' ttl): never over their work; this work is kept beside it
            stamp = session.now_iso().replace(":", "").replace("-", "")[:15]
            who = re.sub(r"[^\w.@+-]", "_", self.claims.user)  # a user name is no path
            aside = self.out / f"{key}.conflict-{who}-{stamp}.json"
            session.save(state, aside)
            self._on_error(
                key, RuntimeError(f"the item was taken over by another annotator; this work is in '{aside}'")
            )
            return
        session.save(state, path)
        mtime = path.stat().st_mtime_ns
        self._written_at[key] = mtime
        finished_by = state.provenance.get("finished_by")
        self.records.saved(key, state.status, mtime, len(_ids(state.labels)), self._classes(), finished_by)


def _provenance(prov: dict, user: str, state: SessionState, comment: str | None = None) -> dict:
    """``prov`` (an item's provenance) after ``user`` saved ``state``: who created, edited,
    finished and reviewed it; ``comment``: the reviewer's, with a new status.
    """
    prov = dict(prov)
    events = list(prov.get("events") or [])
    now = state.modified
    prov.setdefault("created_by", user)
    verdict = state.status in ("reviewed", "rejected") and state.status != prov.get("status")
    if not verdict:  # a review's own save is no edit (the reviewer's edits before it were saved as edits)
        if prov.get("modified_by") != user or not events:
            events.append({"at": now, "by": user, "what": "edit"})
        prov["modified_by"] = user
    if state.status != prov.get("status"):
        if prov.get("status") is not None or state.status != "in progress":
            event = {"at": now, "by": user, "what": state.status}
            events.append(event if comment is None else {**event, "comment": comment})
        if state.status in ("done", "skipped"):
            prov["finished_by"], prov["finished"] = user, now
        if state.status in ("reviewed", "rejected"):
            prov["reviewed_by"], prov["reviewed"] = user, now
            prov["comment"] = comment or ""
    prov["status"] = state.status
    prov["events"] = events[-session.MAX_EVENTS :]
    return prov


def _ids(labels: np.ndarray) -> list[int]:
    return [int(k) for k in codes_present(labels) if k]
