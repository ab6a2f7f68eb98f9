"""Per-item leases on a shared folder: several annotators, one dataset, never two on one item.

A lease is a small JSON file, ``<out>/.ipyseg-leases/<key>.lease`` (user, host, pid, process
start, a random token, a heartbeat counter, the holder's idea of when it expires). What the
shared file system must guarantee: ``link`` fails when the target exists (atomic create, also on
NFS) and ``rename`` of one file is atomic (of two renames of the same file, one fails). Nothing
else: no ``flock``, no clock agreement.

* **Claim**: the lease is written under a temporary name, then ``link``-ed to its place; the
  link fails if somebody holds the item, so of several claimants exactly one wins, and a lease
  is never seen half-written.
* **Heartbeat**: the lease file never changes while held; its holder rewrites a small beat file
  beside it (``<key>.beat``, replaced atomically) every ``ttl / 4`` seconds, from a background
  thread owned by :class:`ItemLeases` and stopped by :meth:`ItemLeases.close`. The lease itself
  is never absent while its holder lives, so a claim can never slip in between two beats.
* **Stale, judged without clocks**: an observer calls a lease stale when the bytes of the
  lease and its beat file have not changed for ``ttl`` seconds *of the observer's own
  monotonic clock*, counted from when it first saw them, or at once when its holder is a
  process of the observer's host that no longer runs. Times written in the files are for
  people; no decision compares two machines' clocks, so clock skew cannot make a live lease
  look expired.
* **Compare-and-swap by rename**: takeover and release first ``rename`` the lease to a name of
  their own (only one of several renames of the same file succeeds) and check that the bytes
  moved are the bytes they judged (the stale lease; their own). A takeover that finds other
  bytes puts them back with ``link`` and gives up; a holder that finds another token in its
  lease has lost the item and says so (:meth:`ItemLeases.lost`).

A holder paused for longer than ``ttl`` (a suspended laptop) can lose its item; it learns that
at its next heartbeat or save (:meth:`ItemLeases.check`), never silently.
"""

from __future__ import annotations

import getpass
import itertools
import json
import os
import socket
import threading
import time
import urllib.parse
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from ipyseg._util.files import TMP_MARK, pid_runs, temp_tag
from ipyseg.session import now_iso

#: Folder of the lease files inside the annotator's output folder.
LEASE_DIR = ".ipyseg-leases"
#: Seconds without a heartbeat after which an observer takes a lease over.
DEFAULT_TTL = 30.0

_counter = itertools.count()


def process_start(pid: int) -> str | None:
    """Start time of process ``pid`` (Linux ``/proc``), to tell a reused pid from the holder."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def process_alive(pid: int, start: str | None) -> bool:
    """Whether process ``pid`` of this host runs and is the one that started at ``start``."""
    return pid_runs(pid) and (start is None or process_start(pid) in (None, start))


def default_user() -> str:
    """The OS user name (``getpass.getuser()``), or ``"unknown"``."""
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError, ImportError):  # no user database entry (some containers)
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


@dataclass
class Lease:
    """One item held by this process."""

    key: str
    token: str
    beat: int = 0
    lost: str | None = None  # why the lease was lost (taken over after a pause), else None
    raw: bytes = b""  # the bytes of the lease file


@dataclass
class _Seen:
    raw: bytes
    since: float  # observer's monotonic clock when these bytes were first seen


@dataclass
class Holder:
    """Who holds an item, as its lease file says (``user``, ``host``, ``pid``, ``since``)."""

    user: str
    host: str
    pid: int | None
    since: str
    info: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.user} ({self.host}, since {self.since})"


class ItemLeases:
    """The leases of one annotator process on one output folder.

    Parameters
    ----------
    out : path
        The shared output folder (the leases live in ``out/.ipyseg-leases``).
    user : str, optional
        Who holds the leases (default :func:`default_user`).
    ttl : float
        Seconds without a heartbeat after which other annotators take a lease over (> 0.5).
    heartbeat : bool
        Renew the held leases in a background thread (``False`` for tests that drive
        :meth:`beat` by hand).
    clock : callable
        Monotonic seconds (tests pass a fake clock).
    """

    def __init__(self, out, *, user: str | None = None, ttl: float = DEFAULT_TTL, heartbeat: bool = True, clock=None):
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0.5 <= float(ttl) <= 86_400:
            raise ValueError(f"`ttl` must be a number of seconds in [0.5, 86400]; got {ttl!r}")
        if user is not None and (not isinstance(user, str) or not user.strip()):
            raise ValueError(f"`user` must be a non-empty name (str) or None; got {user!r}")
        self.folder = Path(out) / LEASE_DIR
        self.folder.mkdir(parents=True, exist_ok=True)
        self.user = user.strip() if user else default_user()
        self.ttl = float(ttl)
        self._clock = clock or time.monotonic
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._start = process_start(self._pid)
        self._held: dict[str, Lease] = {}
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None
        if heartbeat:
            self._thread = threading.Thread(
                target=_beat_loop, args=(weakref.ref(self), self._stop, self.ttl / 4), daemon=True, name="ipyseg-leases"
            )
            self._thread.start()

    # ------------------------------------------------------------------ public
    def path(self, key: str) -> Path:
        """The lease file of item ``key``."""
        return self.folder / (urllib.parse.quote(key, safe="") + ".lease")

    def beat_path(self, key: str) -> Path:
        """The beat file of item ``key``'s lease (rewritten by its holder while it holds it)."""
        return self.folder / (urllib.parse.quote(key, safe="") + ".beat")

    @property
    def held(self) -> list[str]:
        """Keys of the items this process holds."""
        with self._lock:
            return [k for k, lease in self._held.items() if lease.lost is None]

    def claim(self, key: str) -> bool:
        """Hold item ``key``: ``True`` if this process holds it now (also if it did already).

        A live lease of another holder is refused (``False``; :meth:`holder` names it); a stale
        one is taken over.
        """
        with self._lock:
            lease = self._held.get(key)
            if lease is not None and lease.lost is None:
                return True
            for _ in range(4):
                lease = Lease(key, uuid.uuid4().hex)
                raw = self._content(lease)
                if self._link_new(key, raw):
                    lease.raw = raw
                    self._held[key] = lease
                    self._write_beat(lease)
                    return True
                current = self._read(key)
                if current is None:
                    continue  # released meanwhile: try again
                if not self._stale(key, current):
                    return False
                self._take_over(key, current)
            return False

    def release(self, key: str) -> None:
        """Give item ``key`` up (its lease file is removed if it is still ours)."""
        with self._lock:
            lease = self._held.pop(key, None)
            if lease is None or lease.lost is not None or self._read(key) != lease.raw:
                return
            self.beat_path(key).unlink(missing_ok=True)  # while still ours: never another holder's
            aside = self._aside(key, "release")
            if not self._rename(self.path(key), aside):
                return
            if self._read_path(aside) != lease.raw:  # not ours any more: put it back
                self._link(aside, self.path(key))
            aside.unlink(missing_ok=True)

    def holder(self, key: str) -> Holder | None:
        """Who holds item ``key`` (``None``: nobody, or a stale lease), this process included."""
        raw = self._read(key)
        if raw is None or self._stale(key, raw):
            return None
        info = _parse(raw)
        pid = info.get("pid")
        return Holder(
            str(info.get("user", "?")),
            str(info.get("host", "?")),
            pid if isinstance(pid, int) else None,
            str(info.get("since", "?")),
            info,
        )

    def held_by_others(self, key: str) -> Holder | None:
        """:meth:`holder` unless it is this process."""
        with self._lock:
            lease = self._held.get(key)
            if lease is not None and lease.lost is None:
                return None
        return self.holder(key)

    def others(self) -> dict[str, Holder]:
        """``{key: Holder}`` of every item another annotator holds now (one listing of the lease
        folder: it holds the items open right now only, so this costs what the team has open).
        """
        try:
            names = os.listdir(self.folder)
        except OSError:
            return {}
        found = {}
        for name in names:
            if name.endswith(".lease") and TMP_MARK not in name:
                key = urllib.parse.unquote(name[: -len(".lease")])
                holder = self.held_by_others(key)
                if holder is not None:
                    found[key] = holder
        return found

    def check(self, key: str) -> bool:
        """Whether this process still holds ``key`` (its lease file still has our bytes)."""
        with self._lock:
            lease = self._held.get(key)
            if lease is None or lease.lost is not None:
                return False
            if self._read(key) != lease.raw:
                lease.lost = "its lease was taken over by another annotator"
                return False
            return True

    def beat(self) -> list[str]:
        """Renew every held lease now; returns the keys found lost (taken over during a pause)."""
        lost = []
        with self._lock:
            for key, lease in list(self._held.items()):
                if lease.lost is None and not self._renew(lease):
                    lost.append(key)
        return lost

    def lost(self, key: str) -> str | None:
        """Why this process lost ``key``'s lease, if it did."""
        lease = self._held.get(key)
        return None if lease is None else lease.lost

    def close(self) -> None:
        """Stop the heartbeat and release every held lease."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for key in list(self._held):
            self.release(key)

    # ------------------------------------------------------------------ private
    def _content(self, lease: Lease) -> bytes:
        info = {
            "format": "ipyseg-lease",
            "version": 1,
            "key": lease.key,
            "user": self.user,
            "host": self._host,
            "pid": self._pid,
            "start": self._start,
            "token": lease.token,
            "since": now_iso(),
            "ttl_seconds": self.ttl,
            "expires_note": "expiry is judged by each observer's own clock: no change for ttl_seconds",
        }
        return json.dumps(info, sort_keys=True).encode()

    def _aside(self, key: str, why: str) -> Path:
        name = urllib.parse.quote(key, safe="")
        return self.folder / f"{name}{TMP_MARK}{why}-{temp_tag()}-{next(_counter)}"

    def _link_new(self, key: str, raw: bytes) -> bool:
        """Create the lease of ``key`` with ``raw`` if none exists (write aside, then link)."""
        tmp = self._aside(key, "new")
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        try:
            return self._link(tmp, self.path(key))
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _link(src: Path, dst: Path) -> bool:
        try:
            os.link(src, dst)
            return True
        except FileExistsError:
            return False

    @staticmethod
    def _rename(src: Path, dst: Path) -> bool:
        try:
            os.rename(src, dst)
            return True
        except FileNotFoundError:
            return False

    @staticmethod
    def _read_path(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _read(self, key: str) -> bytes | None:
        return self._read_path(self.path(key))

    def _stale(self, key: str, raw: bytes) -> bool:
        """Whether the lease bytes ``raw`` of ``key`` are left by a dead or silent holder."""
        info = _parse(raw)
        state = raw + b"\0" + (self._read_path(self.beat_path(key)) or b"")
        if info.get("host") == self._host and isinstance(info.get("pid"), int) and info.get("pid") != self._pid:
            if not process_alive(info["pid"], info.get("start")):
                return True  # a process of this host that no longer runs
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None or seen.raw != state:
            self._seen[key] = _Seen(state, now)
            return False
        return now - seen.since > self.ttl

    def _take_over(self, key: str, judged: bytes) -> None:
        """Remove ``key``'s lease if it still holds the bytes ``judged`` stale."""
        aside = self._aside(key, "stale")
        if not self._rename(self.path(key), aside):
            return
        if self._read_path(aside) != judged:  # renewed meanwhile: put it back, never over another
            self._link(aside, self.path(key))
        self._seen.pop(key, None)
        aside.unlink(missing_ok=True)

    def _write_beat(self, lease: Lease) -> None:
        tmp = self._aside(lease.key, "beat")
        tmp.write_text(json.dumps({"token": lease.token, "beat": lease.beat, "at": now_iso()}))
        os.replace(tmp, self.beat_path(lease.key))

    def _renew(self, lease: Lease) -> bool:
        """The next heartbeat of ``lease``; ``False`` (and ``lease.lost``) if it was taken meanwhile."""
        if self._read(lease.key) != lease.raw:
            lease.lost = "its lease was taken over by another annotator (after a pause longer than ttl)"
            return False
        lease.beat += 1
        self._write_beat(lease)
        return True


def _parse(raw: bytes) -> dict:
    try:
        info = json.loads(raw)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _beat_loop(ref, stop: threading.Event, period: float) -> None:
    """The heartbeat thread: renews the leases of ``ref()`` every ``period`` s until stopped."""
    while not stop.wait(period):
        leases = ref()
        if leases is None:
            return
        try:
            leases.beat()
        except OSError:
            pass  # the share is gone for a moment: the next beat tries again
        del leases
