"""Turning a folder, a glob pattern, a list of paths or arrays, or a stack into items, lazily.

Nothing is decoded here: listing a folder of 10,000 photos takes one directory scan. An item
knows its key (the name its files get in the output folder) and how to read its photo.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._validation import as_image

#: File types a folder source picks up (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


class Items(Sequence):
    """The items of a dataset, in order.

    Attributes
    ----------
    keys : list of str
        Unique names, used for the item's files in the output folder (``<key>.json``, ...);
        paths relative to ``root`` (with ``/``) for files, zero-padded numbers for arrays.
    root : str or None
        The folder the file keys are relative to (``None`` for arrays).
    """

    def __init__(self, keys: list[str], root: str | None = None, arrays=None, description: str = ""):
        self.keys = keys
        self.root = root
        self._arrays = arrays
        self.description = description

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise TypeError("`Items` does not support slicing; index one item at a time")
        return self.keys[i]

    def path(self, i: int) -> Path | None:
        """Item ``i``'s image file (absolute), or ``None`` for an array."""
        return None if self.root is None else Path(self.root, self.keys[i])

    @property
    def paths(self) -> list:
        return [self.path(i) for i in range(len(self))]

    def source(self, i: int):
        """What ``SegmentWidget`` accepts for item ``i``: a path or an array (not decoded yet)."""
        return self._arrays[i] if self.root is None else self.path(i)

    def read(self, i: int) -> np.ndarray:
        """Decode and validate item ``i``'s photo: (H, W, 3|4) uint8."""
        return as_image(self.source(i), f"item {i} ({self.keys[i]})")

    def size(self, i: int) -> tuple[int, int]:
        """``(H, W)`` of item ``i`` (only the file header is read)."""
        if self.root is None:
            shape = np.shape(self._arrays[i])
            return int(shape[0]), int(shape[1])
        from PIL import Image

        with Image.open(self.path(i)) as im:
            return im.height, im.width

    def name(self, i: int) -> str:
        """Display name: the file name, or ``item <key>``."""
        return self.keys[i].rsplit("/", 1)[-1] if self.root is not None else f"item {self.keys[i]}"


def _from_paths(paths: list, description: str) -> Items:
    """Items of files given as strings; string operations only (fast for 10,000 files)."""
    paths = [os.path.abspath(os.fspath(p)) for p in paths]
    if not paths:
        return Items([], root="", description=description)
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    start = len(root.rstrip(os.sep)) + 1
    keys = [p[start:].replace(os.sep, "/") for p in paths]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise ValueError(f"`source` lists the same file more than once: {dup}")
    return Items(keys, root=root, description=description)


def _number_keys(n: int) -> list[str]:
    width = max(5, len(str(max(0, n - 1))))
    return [f"{i:0{width}d}" for i in range(n)]


def items_from(source) -> Items:
    """Items of a folder, glob pattern, list of paths, list of arrays, or (N, H, W[, C]) array.

    Parameters
    ----------
    source : str, Path, list, or ndarray
        * a folder: its image files (``.png .jpg .jpeg .tif .tiff .bmp .webp``), sorted by name;
        * a string with ``*``, ``?`` or ``[``: a glob pattern (``**`` recurses), sorted;
        * a list of image paths, in that order;
        * a list of arrays or PIL images (each one photo);
        * an (N, H, W) or (N, H, W, C) array: a stack or video, each plane one item.

    Returns
    -------
    Items
    """
    if isinstance(source, np.ndarray):
        if source.ndim not in (3, 4):
            raise ValueError(
                f"`source` as an array must be a stack (N, H, W) or (N, H, W, C); got shape {source.shape}"
            )
        return Items(_number_keys(len(source)), arrays=source, description=f"stack of {len(source)}")
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if Path(text).is_dir():
            with os.scandir(text) as it:
                names = sorted(e.name for e in it if e.name.lower().endswith(IMAGE_SUFFIXES) and e.is_file())
            return Items(names, root=os.path.abspath(text), description=f"folder {text}")
        if any(ch in text for ch in "*?["):
            found = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            return _from_paths(found, f"files matching {text}")
        if Path(text).exists():
            raise ValueError(f"`source` must be a folder, a glob pattern, a list or an array; '{text}' is a file")
        raise FileNotFoundError(f"`source`: no such folder: '{text}'")
    if isinstance(source, (list, tuple)):
        if all(isinstance(s, (str, os.PathLike)) for s in source):
            missing = [os.fspath(s) for s in source if not os.path.isfile(s)]
            if missing:
                raise FileNotFoundError(f"`source`: {len(missing)} listed file(s) do not exist, e.g. '{missing[0]}'")
            return _from_paths(list(source), f"{len(source)} files")
        if any(isinstance(s, (str, os.PathLike)) for s in source):
            raise TypeError("`source` as a list must hold only paths or only arrays, not both")
        return Items(_number_keys(len(source)), arrays=list(source), description=f"{len(source)} arrays")
    raise TypeError(
        "`source` must be a folder, a glob pattern, a list of paths or arrays, or an (N, H, W[, C]) array; "
        f"got {type(source).__name__}"
    )
