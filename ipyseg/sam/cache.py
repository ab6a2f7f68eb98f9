"""Embeddings kept for Segment-Anything models: in memory (least recently used dropped first) and,
optionally, on disk (``.npz`` named by the photo's and the model's hashes, written atomically,
loaded without pickle).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ipyseg._util.arrays import ArrayMemo
from ipyseg.sam.prompts import Frame


@dataclass
class Embedding:
    """One photo's encoder output and what goes with it.

    Attributes
    ----------
    key : str
        SHA-1 of the photo's pixels (the memory cache's key; disk files add the model's hash).
    frame : Frame
        The photo's sizes in SAM's frames.
    features : dict
        Decoder input name -> encoder output array.
    small : (new_h, new_w, 3) ndarray of uint8
        The resized photo (the work grid) in OpenCV's 8-bit Lab, for the stroke graph cut.
    seconds : float
        Encoder time (0 when it came from a cache).
    source : str
        ``"encoder"``, ``"memory"`` or ``"disk"``.
    """

    key: str
    frame: Frame
    features: dict
    small: np.ndarray
    seconds: float = 0.0
    source: str = "encoder"


def _photo_hash(rgb: np.ndarray) -> str:
    digest = hashlib.sha1(f"{rgb.shape}".encode())
    digest.update(memoryview(rgb).cast("B"))
    return digest.hexdigest()


class EmbeddingCache:
    """Where :class:`Embedding` s are kept.

    Parameters
    ----------
    memory_size : int
        Embeddings kept in memory.
    cache_dir : Path or None
        Folder for the disk cache (None: memory only).
    model_key : callable
        ``model_key() -> str``: hash of the model (encoder file and preprocessing), asked for
        only when the disk is used.
    names : list of str
        The feature arrays an embedding holds (stored under these names).
    check : callable
        ``check(features)`` raises if loaded arrays do not fit the model.
    """

    def __init__(self, memory_size: int, cache_dir, model_key: Callable[[], str], names, check: Callable):
        self.memory_size = int(memory_size)
        self.cache_dir = cache_dir
        self._model_key = model_key
        self._names = list(names)
        self._check = check
        self._memory: OrderedDict[str, Embedding] = OrderedDict()
        self._keys = ArrayMemo()  # image hashes of immutable photos
        self._lock = threading.RLock()

    def get(self, key: str) -> Embedding | None:
        """The embedding kept in memory for ``key`` (marked as recently used), else None."""
        with self._lock:
            emb = self._memory.get(key)
            if emb is not None:
                self._memory.move_to_end(key)
                return Embedding(emb.key, emb.frame, emb.features, emb.small, 0.0, "memory")
        return None

    def put(self, emb: Embedding) -> None:
        """Keep ``emb`` in memory (the oldest beyond ``memory_size`` are dropped)."""
        with self._lock:
            self._memory[emb.key] = emb
            while len(self._memory) > self.memory_size:
                self._memory.popitem(last=False)

    def clear(self) -> None:
        """Forget what is in memory (the disk cache stays)."""
        with self._lock:
            self._memory.clear()
            self._keys.clear()

    def image_key(self, rgb: np.ndarray) -> str:
        """SHA-1 of the photo; remembered per immutable array object (the widget's photo is hashed once)."""
        return self._keys.get(rgb, _photo_hash)

    def _disk_path(self, key: str) -> Path:
        return self.cache_dir / f"sam-{self._model_key()[:20]}-{key}.npz"

    def load(self, key: str):
        """Features from the disk cache, or None (no cache, no file, or a damaged or foreign file)."""
        if self.cache_dir is None:
            return None
        path = self._disk_path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                features = {name: np.ascontiguousarray(data[name], np.float32) for name in self._names}
            self._check(features)
        except Exception:  # a damaged or foreign file: recompute (and overwrite it)
            return None
        return features

    def save(self, key: str, features: dict) -> bool:
        """Write ``features`` to the disk cache (atomically: a temporary file, then a rename).

        A folder that cannot be written (permissions, a full disk, a file in the way) does not
        fail the segmentation: a warning says so once, and the disk cache is off from then on
        (the memory cache still works). Returns whether the file was written.
        """
        if self.cache_dir is None:
            return False
        tmp = None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            path = self._disk_path(key)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.cache_dir)
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **features)
            os.replace(tmp, path)
            return True
        except OSError as err:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    Path(tmp).unlink(missing_ok=True)
            warnings.warn(
                f"SamModel `cache_dir`: cannot write embeddings to '{self.cache_dir}' ({err}); "
                f"the disk cache is off for this model, embeddings stay in memory",
                RuntimeWarning,
                stacklevel=2,
            )
            self.cache_dir = None
            return False
        except BaseException:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise
