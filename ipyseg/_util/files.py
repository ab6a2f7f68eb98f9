"""Files written atomically (temporary name, fsync, rename) and hashes of files and pixels."""

from __future__ import annotations

import hashlib
import itertools
import os
import socket
import time
from pathlib import Path

import numpy as np

#: Environment variable for tests: seconds to sleep between writing a file and renaming it.
PAUSE_ENV = "IPYSEG_TEST_PAUSE_BEFORE_RENAME"
#: A short tag of this host, in temporary file names (a host name may hold dashes).
_HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
TMP_MARK = ".ipyseg-tmp-"

_counter = itertools.count()


def atomic_write(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: temporary file, flush + fsync, ``os.replace``.

    A crash (even ``SIGKILL``) at any moment leaves either the old complete file or the new one,
    plus possibly a stray temporary file (its name contains ``.ipyseg-tmp-``).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{temp_tag()}-{next(_counter)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    pause = os.environ.get(PAUSE_ENV)
    if pause:  # tests kill a writer here, between write and rename
        time.sleep(float(pause))
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_tag() -> str:
    """``<host tag>-<pid>``: who writes a temporary file (part of its name, see :func:`remove_stray_temporaries`)."""
    return f"{_HOST_TAG}-{os.getpid()}"


#: Temporaries of another host (or of an unknown writer) are removed only when this old (s): on a
#: shared folder their writer may still be running, and no clocks are compared closer than this.
STRAY_AGE = 3600.0


def remove_stray_temporaries(folder) -> int:
    """Delete temporary files left by writers killed mid-write; returns how many.

    Several annotators may share ``folder`` (other processes, other hosts): a temporary is
    removed only when its writer (host tag and pid in its name, :func:`temp_tag`) is a process
    of this host that no longer runs, or when it is older than :data:`STRAY_AGE`.
    """
    n = 0
    now = time.time()
    for p in Path(folder).rglob(f"*{TMP_MARK}*"):
        parts = p.name.rsplit(TMP_MARK, 1)[-1].split("-")
        try:
            ours = len(parts) >= 3 and parts[-3] == _HOST_TAG
            dead = ours and not pid_runs(int(parts[-2]))
            if not dead and now - p.stat().st_mtime < STRAY_AGE:
                continue
            p.unlink()
            n += 1
        except (OSError, ValueError):
            pass
    return n


def pid_runs(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (``True`` when that cannot be told: the safe side)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pixels_sha256(image: np.ndarray) -> str:
    """SHA-256 of a validated image's shape and pixel bytes."""
    h = hashlib.sha256(repr(tuple(image.shape)).encode())
    h.update(np.ascontiguousarray(image).data)
    return h.hexdigest()
