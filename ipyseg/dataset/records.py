"""What an :class:`~ipyseg.Annotator` knows about each item, and the ``index.json`` file that keeps it.

One :class:`ItemRecord` per item (status, why its saved work or its image could not be opened,
when its work was created, a note for the header) and one :class:`ItemRecords` that owns them
all together with the index file. ``index.json`` remembers each item's status so that opening
a folder reads no sidecar whose modification time has not changed::

    {"format": "ipyseg-annotations", "version": 1, "classes": [...],
     "items": {"<key>": {"status": ..., "mtime_ns": ..., "objects": ...}}}

Every file is written atomically (:func:`ipyseg.session.write_json`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ipyseg import session
from ipyseg.session import SessionError

INDEX_NAME = "index.json"
INDEX_FORMAT = "ipyseg-annotations"
INDEX_VERSION = 1
#: Plane counts of the source's TIFF files, remembered between openings (hidden: not an item).
PLANES_NAME = ".ipyseg-planes.json"
#: Seconds after which :meth:`ItemRecords.refresh` scans the sidecars again even when no folder
#: time changed.
RESCAN_AFTER = 5.0
#: Statuses of an item that still needs work (a rejected one goes back to its annotator).
UNFINISHED = ("untouched", "in progress", "rejected")


@dataclass
class ItemRecord:
    """One item's bookkeeping: its status and what went wrong with it, if anything.

    Attributes
    ----------
    status : str
        One of ``"untouched"``, ``"in progress"``, ``"done"``, ``"skipped"``, ``"reviewed"``,
        ``"rejected"`` (:data:`ipyseg.session.STATUSES`).
    error : str or None
        Why the item's saved work could not be loaded (it is then not autosaved).
    unreadable : str or None
        Why the item's image could not be opened (navigation passes over it).
    created : str or None
        ``created`` of the saved work the item was opened with.
    note : str
        A remark for the header (e.g. why the display settings were not used).
    provenance : dict
        Who created, edited, finished and reviewed the item, when (the saved work's, see
        :class:`ipyseg.session.SessionState`; filled when the item is opened).
    finished_by : str or None
        Who marked the item done or skipped (kept in the index: a rejected item goes back to them).
    comment : str or None
        The reviewer's comment, for the next save of a rejected item.
    """

    status: str = "untouched"
    error: str | None = None
    unreadable: str | None = None
    created: str | None = None
    note: str = ""
    provenance: dict = field(default_factory=dict)
    finished_by: str | None = None
    comment: str | None = None


class ItemRecords:
    """Every item's :class:`ItemRecord`, and the index file ``out/index.json`` that remembers statuses.

    Parameters
    ----------
    out : Path
        The annotator's output folder.
    keys : list of str
        Item keys (an item's sidecar is ``out/<key>.json``).
    classes : list of str
        Category names written into the index.
    """

    def __init__(self, out: Path, keys, classes):
        self.out = Path(out)
        self.keys = list(keys)
        self._records = [ItemRecord() for _ in self.keys]
        #: The item whose image was found unreadable last (the header names it).
        self.last_unreadable: int | None = None
        self._folders: dict[str, int] = {}  # folder -> mtime_ns at the last scan (see refresh)
        self._scanned_at = float("-inf")
        self._doc = self._read_index(list(classes))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, i: int) -> ItemRecord:
        return self._records[i]

    @property
    def statuses(self) -> list[str]:
        """The status of every item, in order."""
        return [r.status for r in self._records]

    def count(self, status: str) -> int:
        """How many items have ``status``."""
        return sum(r.status == status for r in self._records)

    @property
    def progress(self) -> tuple[int, int]:
        """``(done, total)``; done counts the reviewed items too."""
        return self.count("done") + self.count("reviewed"), len(self)

    @property
    def unreadable(self) -> dict[int, str]:
        """``{item: reason}`` of the items whose image could not be opened."""
        return {i: r.unreadable for i, r in enumerate(self._records) if r.unreadable is not None}

    def finished(self) -> bool:
        """Whether every item is done or skipped."""
        return all(r.status not in UNFINISHED for r in self._records)

    def json_path(self, i: int) -> Path:
        """Item ``i``'s sidecar file."""
        return self.out / (self.keys[i] + ".json")

    def chosen(self, statuses) -> list[int]:
        """The items whose status is ``statuses`` (one status or a list of them)."""
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
        return [i for i, r in enumerate(self._records) if r.status in statuses]

    # ------------------------------------------------------------------ the index file
    @property
    def index_path(self) -> Path:
        """``out/index.json``."""
        return self.out / INDEX_NAME

    def saved(self, key: str, status: str, mtime_ns: int, objects: int, classes, finished_by=None) -> None:
        """Item ``key``'s sidecar was written: remember it (the index is rewritten when it tells more)."""
        entry = {"status": status, "mtime_ns": mtime_ns, "objects": objects, "finished_by": finished_by}
        items = self._doc["items"]
        old = items.get(key) or {}
        items[key] = entry
        if (old.get("status"), old.get("objects"), old.get("finished_by")) != (status, objects, finished_by):
            self.write_index(classes)  # otherwise the sidecar's newer mtime tells the next opening to re-read it

    def write_index(self, classes) -> None:
        """Write ``index.json`` (atomically)."""
        session.write_json(self.index_path, {**self._doc, "classes": list(classes)})

    def _read_index(self, classes) -> dict:
        """Statuses from ``index.json``, checked against the item files' modification times."""
        path = self.index_path
        doc = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "classes": classes, "items": {}}
        if path.exists():
            try:
                old = session.read_json(path, "annotation index")
                if old.get("format") == INDEX_FORMAT and isinstance(old.get("items"), dict):
                    doc["items"] = old["items"]
            except SessionError:
                pass  # rebuilt from the item files below
        self._scanned_at = time.monotonic()
        changed = self._sync(doc["items"], scan_jsons(self.out, self._folders))
        if changed or not path.exists():
            session.write_json(path, doc)
            # our own write changed the folder; a save by another in between shows within RESCAN_AFTER
            self._folders = {f: os.stat(f).st_mtime_ns for f in self._folders if os.path.isdir(f)}
        return doc

    def refresh(self, skip: int | None = None) -> bool:
        """Read again the statuses of the items whose sidecar changed since (other annotators
        saved them); ``skip``: the item open here (its record is this annotator's). Whether any changed.
        """
        if self._folders_unchanged():
            return False
        self._scanned_at = time.monotonic()
        folders: dict[str, int] = {}
        on_disk = scan_jsons(self.out, folders)
        self._folders = folders
        only = set(self.keys) - ({self.keys[skip]} if skip is not None else set())
        return self._sync(self._doc["items"], on_disk, only)

    def _folders_unchanged(self) -> bool:
        """No sidecar can have changed: every folder of ``out`` has the modification time it had
        at the last scan (a save renames a file into its folder), and that scan is at most
        :data:`RESCAN_AFTER` seconds old (a file system with coarse folder times, e.g. some NFS
        servers, shows a change late by at most that much). A scan of 10,000 items costs about
        160 ms; this check, one stat per folder.
        """
        if not self._folders or time.monotonic() - self._scanned_at > RESCAN_AFTER:
            return False
        try:
            return all(os.stat(f).st_mtime_ns == m for f, m in self._folders.items())
        except OSError:
            return False

    def _sync(self, items: dict, on_disk: dict, only=None) -> bool:
        """Update ``items`` (index entries) from the sidecars' ``on_disk`` mtimes, and the records:
        all of them (opening), or with ``only`` (the keys to look at) those whose sidecar changed
        (a record with a save on its way keeps its status); whether anything changed.
        """
        changed = False
        for i, key in enumerate(self.keys):
            if only is not None and key not in only:
                continue
            entry = items.get(key)
            mtime = on_disk.get(key)
            if mtime is None:
                if entry is not None and entry.get("status") != "untouched":
                    items.pop(key)  # its files were removed
                    self._records[i].status = "untouched"
                    changed = True
                continue  # untouched
            if entry is None or entry.get("mtime_ns") != mtime:
                entry = {**(entry or {}), "mtime_ns": mtime}
                try:
                    sidecar = session.read_json(self.json_path(i))
                    st = sidecar.get("status") if sidecar.get("status") in session.STATUSES else "in progress"
                    entry["finished_by"] = (sidecar.get("provenance") or {}).get("finished_by")
                except SessionError as err:
                    self._records[i].error = str(err)
                    st = entry.get("status", "in progress")
                items[key] = entry = {**entry, "status": st}
                changed = True
            elif only is not None:
                continue
            self._records[i].status = entry.get("status", "in progress")
            self._records[i].finished_by = entry.get("finished_by")
        return changed


def scan_jsons(out: Path, folders: dict | None = None) -> dict[str, int]:
    """``{item key: mtime_ns}`` of every item sidecar under ``out`` (one directory walk);
    ``folders``, if given, gets ``{folder: mtime_ns}`` of every folder walked (taken first).
    """
    found = {}
    for root, _dirs, files in os.walk(out):
        if folders is not None:
            try:
                folders[root] = os.stat(root).st_mtime_ns
            except OSError:
                pass
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


def read_plane_counts(out: Path) -> dict:
    """TIFF plane counts remembered in ``out`` (``{}`` when missing or unreadable)."""
    try:
        doc = session.read_json(Path(out) / PLANES_NAME, "plane counts")
    except SessionError:
        return {}
    files = doc.get("files")
    return files if isinstance(files, dict) else {}


def write_plane_counts(out: Path, counts: dict) -> None:
    """Remember the source's TIFF plane counts in ``out`` (atomically)."""
    session.write_json(Path(out) / PLANES_NAME, {"format": "ipyseg-planes", "files": counts})
