"""The Annotator's folder lock: one annotator per output folder, a dead holder's lock taken over safely."""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from pathlib import Path

from ipyseg._util.files import TMP_MARK, temp_tag
from ipyseg.session import now_iso

_counter = itertools.count()


# ------------------------------------------------------------------------------- lock
def process_start(pid: int) -> str | None:
    """Start time of process ``pid`` (Linux ``/proc``), to tell a reused pid from the holder."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def process_alive(pid: int, start: str | None) -> bool:
    """Whether process ``pid`` of this host runs and is the one that started at ``start``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return start is None or process_start(pid) in (None, start)


#: Folders (resolved) whose lock this process holds -> the spelling they were locked under.
_HELD: dict[str, str] = {}


def _resolved(folder: Path) -> str:
    try:
        return str(Path(folder).resolve())
    except OSError:  # pragma: no cover - a loop of symlinks
        return str(Path(folder).absolute())


class _TakeoverGuard:
    """``flock`` on the folder itself while a stale lock is taken over (best effort).

    Serialises takeovers by processes of this host, so that between judging a lock stale and
    removing it nobody else can replace it. Where ``flock`` is unavailable (no ``fcntl``, some
    network file systems) the rename-and-verify of :meth:`FolderLock._take_over` still guards.
    """

    def __init__(self, folder: Path, timeout: float = 5.0):
        self.folder, self.timeout, self.fd = folder, timeout, None

    def __enter__(self):
        try:
            import fcntl

            self.fd = os.open(self.folder, os.O_RDONLY)
        except (ImportError, OSError):
            return self
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:  # a hung takeover elsewhere: go on, verified anyway
                    return self
                time.sleep(0.01)
            except OSError:
                return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)  # releases the flock
            self.fd = None


class FolderLock:
    """An exclusive claim on an output folder, held through a lock file.

    The lock file (``.ipyseg.lock``, JSON: pid, host, process start time, time) is created with
    ``O_EXCL``. A lock whose process no longer runs on this host is stale and taken over; a
    lock held by a live process, or by another host, is refused with a message naming it.
    Taking over is race-free: under an ``flock`` of the folder, the stale file is renamed away
    and checked to be the very file judged stale (else it is put back), and the new lock is
    again created with ``O_EXCL``, so of several openers exactly one wins.

    Parameters
    ----------
    folder : path
    """

    NAME = ".ipyseg.lock"

    def __init__(self, folder):
        self.path = Path(folder) / self.NAME
        self.held = False

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    @staticmethod
    def _parse(raw: bytes | None) -> dict | None:
        if raw is None:
            return None
        try:
            info = json.loads(raw)
        except ValueError:
            return {}  # unreadable: a writer died while creating it
        return info if isinstance(info, dict) else {}

    def holder(self) -> dict | None:
        """The lock file's content; ``None`` without one, ``{}`` when it cannot be read."""
        try:
            return self._parse(self._read())
        except OSError:
            return {}

    def is_stale(self, info: dict | None) -> bool:
        """Whether the lock described by ``info`` (a lock file's contents) is left by a dead holder."""
        if info is None:
            return True
        if not info:  # empty or corrupt lock file: its writer died before finishing it
            try:
                return time.time() - self.path.stat().st_mtime > 10
            except FileNotFoundError:
                return True
        if info.get("host") != socket.gethostname():
            return False
        try:
            pid = int(info.get("pid", -1))
        except (TypeError, ValueError):
            return False
        return not process_alive(pid, info.get("start"))

    def _take_over(self, judged: bytes) -> None:
        """Remove the lock file if it still is ``judged`` (the content found stale)."""
        aside = self.path.with_name(f"{self.NAME}{TMP_MARK}stale-{temp_tag()}-{next(_counter)}")
        with _TakeoverGuard(self.path.parent):
            try:
                os.rename(self.path, aside)
            except FileNotFoundError:
                return  # someone else removed it: try to create ours
            try:
                same = aside.read_bytes() == judged
            except OSError:
                same = False
            if not same:  # a fresh lock replaced the stale one meanwhile: put it back, never over another
                try:
                    os.link(aside, self.path)
                except OSError:
                    pass
            aside.unlink(missing_ok=True)

    def _refusal(self, info: dict) -> RuntimeError:
        folder = self.path.parent
        if not info:
            return RuntimeError(
                f"'{folder}' has a lock file that cannot be read ('{self.path}', empty or corrupt): another "
                f"annotator may be opening the folder right now. Retry in a few seconds; if none is, delete it."
            )
        if info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
            spelled = _HELD.get(_resolved(folder))
            also = f" (opened as '{spelled}')" if spelled is not None and spelled != str(folder) else ""
            return RuntimeError(
                f"'{folder}' is in use by another annotator in this process{also}. Close it first (`a.close()`)."
            )
        return RuntimeError(
            f"'{folder}' is in use by another annotator (process {info.get('pid')} on "
            f"{info.get('host')!r} since {info.get('since')}). Close it first (`a.close()`); if that "
            f"process is gone, delete '{self.path}'."
        )

    def acquire(self) -> FolderLock:
        """Take the folder (a stale lock is taken over); raises if another live holder has it."""
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "start": process_start(os.getpid()),
            "since": now_iso(),
        }
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    raw = self._read()
                except OSError:
                    raw = b""
                info = self._parse(raw)
                if raw is not None and not self.is_stale(info):
                    raise self._refusal(info) from None
                if raw is not None:
                    self._take_over(raw)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
                f.flush()
                os.fsync(f.fileno())
            self.held = True
            _HELD[_resolved(self.path.parent)] = str(self.path.parent)
            return self
        raise RuntimeError(f"could not take the lock '{self.path}'")  # pragma: no cover - a race lost 5 times

    def release(self) -> None:
        """Give the folder up (removes the lock file if it is still ours)."""
        if not self.held:
            return
        self.held = False
        _HELD.pop(_resolved(self.path.parent), None)
        info = self.holder()
        if info and info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
            self.path.unlink(missing_ok=True)
