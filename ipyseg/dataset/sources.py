"""Turning a folder, a glob pattern, a list of paths or arrays, or a stack into items, lazily.

Nothing is decoded here: listing a folder of 10,000 photos takes one directory scan. An item
knows its key (the name its files get in the output folder) and how to read its photo.

TIFF stacks (multi-page, ``Z`` / ``T`` axes, several series) become one item per plane, keyed
``stack.tif#0003``: a TIFF's header is read to count its planes (about 0.2 ms), and
the counts can be remembered between openings (``plane_counts``, keyed by path, size and
modification time), so re-opening a folder of 10,000 TIFFs reads no header at all. A plane is
read only when its item is opened (:class:`ipyseg.io.TiffPlane`: only its pages).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ipyseg._validation import as_image
from ipyseg.io import TIFF_SUFFIXES, TiffPlane, tiff_planes

#: File types a folder source picks up (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: Separator between a stack file's name and its plane number in item keys.
PLANE_MARK = "#"


class Items(Sequence):
    """The items of a dataset, in order.

    Attributes
    ----------
    keys : list of str
        Unique names, used for the item's files in the output folder (``<key>.json``, ...);
        paths relative to ``root`` (with ``/``) for files, ``<file>#<plane>`` (zero-padded, at
        least 4 digits) for the planes of a TIFF stack, zero-padded numbers for arrays.
    root : str or None
        The folder the file keys are relative to (``None`` for arrays).
    plane_counts : dict
        ``{absolute path: [size, mtime_ns, image_ndim, planes]}`` of the TIFF files seen (to
        remember for the next opening).
    """

    def __init__(
        self,
        keys: list[str],
        root: str | None = None,
        arrays=None,
        description: str = "",
        *,
        files: list[str] | None = None,
        planes: list | None = None,
        image_ndim: int | None = None,
        plane_counts: dict | None = None,
    ):
        self.keys = keys
        self.root = root
        self._arrays = arrays
        self.description = description
        self._files = files  # per item: its file relative to root (None: the key is the file)
        self._planes = planes  # per item: plane number of a TIFF stack, or None
        self._image_ndim = image_ndim
        self.plane_counts = plane_counts if plane_counts is not None else {}

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise TypeError("`Items` does not support slicing; index one item at a time")
        return self.keys[i]

    def path(self, i: int) -> Path | None:
        """Item ``i``'s image file (absolute; a stack's file for a plane), or ``None`` for an array."""
        if self.root is None:
            return None
        return Path(self.root, self.keys[i] if self._files is None else self._files[i])

    def subset(self, keep: list[int]) -> Items:
        """The items ``keep`` (indices, in this order), e.g. without some files."""
        pick = lambda seq: None if seq is None else [seq[i] for i in keep]  # noqa: E731
        arrays = self._arrays if self.root is None else None
        if arrays is not None:
            arrays = [arrays[i] for i in keep]
        return Items(
            [self.keys[i] for i in keep],
            self.root,
            arrays,
            self.description,
            files=pick(self._files),
            planes=pick(self._planes),
            image_ndim=self._image_ndim,
            plane_counts=self.plane_counts,
        )

    def plane(self, i: int) -> int | None:
        """Item ``i``'s plane number in its TIFF stack, or ``None`` (a whole file or an array)."""
        return None if self._planes is None else self._planes[i]

    @property
    def paths(self) -> list:
        """Every item's file, in item order."""
        return [self.path(i) for i in range(len(self))]

    def source(self, i: int):
        """What ``SegmentWidget`` accepts for item ``i``: a path, a TiffPlane or an array (not decoded yet)."""
        if self.root is None:
            return self._arrays[i]
        plane = self.plane(i)
        return self.path(i) if plane is None else TiffPlane(self.path(i), plane, self._image_ndim)

    def read(self, i: int) -> np.ndarray:
        """Decode and validate item ``i``'s photo: (H, W, 3|4) uint8."""
        return as_image(self.source(i), f"item {i} ({self.keys[i]})")

    def size(self, i: int) -> tuple[int, int]:
        """``(H, W)`` of item ``i`` (only the file header is read)."""
        if self.root is None:
            shape = np.shape(self._arrays[i])
            return int(shape[0]), int(shape[1])
        path = self.path(i)
        if path.suffix.lower() in TIFF_SUFFIXES:  # 16-bit, float, many channels: Pillow may not open it
            return TiffPlane(path, self.plane(i) or 0, self._image_ndim).size(f"item {i} ({self.keys[i]})")
        from PIL import Image

        with Image.open(path) as im:
            return im.height, im.width

    def name(self, i: int) -> str:
        """Display name: the file name (``stack.tif#0003`` for a plane), or ``item <key>``."""
        return self.keys[i].rsplit("/", 1)[-1] if self.root is not None else f"item {self.keys[i]}"

    def planes_of(self, i: int) -> int:
        """How many planes item ``i``'s file holds (1 for a whole file or an array)."""
        if self._planes is None or self._planes[i] is None:
            return 1
        return self.plane_counts[str(self.path(i))][3]


def _count_planes(path: str, image_ndim: int | None, known: dict, seen: dict) -> int:
    """Planes of a TIFF file, from ``known`` when its size and mtime match, else from its header."""
    try:
        st = os.stat(path)
    except OSError:
        return 1
    entry = known.get(path)
    if entry is not None and list(entry[:3]) == [st.st_size, st.st_mtime_ns, image_ndim]:
        n = int(entry[3])
    else:
        try:
            n = tiff_planes(path, image_ndim=image_ndim)
        except (ValueError, OSError):
            n = 1  # a damaged file is one item: opening it shows the error
    seen[path] = [st.st_size, st.st_mtime_ns, image_ndim, n]
    return n


def _files_to_items(root: str, names: list[str], description: str, image_ndim, known) -> Items:
    """Items of the files ``names`` (relative to ``root``), TIFF stacks split into planes."""
    known = known or {}
    seen: dict = {}
    keys, files, planes, split = [], [], [], False
    for name in names:
        n = 1
        if name.lower().endswith(TIFF_SUFFIXES):
            n = _count_planes(os.path.join(root, name), image_ndim, known, seen)
        if n > 1:
            split = True
            width = max(4, len(str(n - 1)))
            keys += [f"{name}{PLANE_MARK}{p:0{width}d}" for p in range(n)]
            files += [name] * n
            planes += range(n)
        else:
            keys.append(name)
            files.append(name)
            planes.append(None)
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise ValueError(f"`source` lists the same file (or plane) more than once: {dup}")
    if not split:
        files = planes = None
    return Items(
        keys,
        root=root,
        description=description,
        files=files,
        planes=planes,
        image_ndim=image_ndim,
        plane_counts=seen,
    )


def _from_paths(paths: list, description: str, image_ndim=None, plane_counts=None) -> Items:
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
    return _files_to_items(root, keys, description, image_ndim, plane_counts)


def _number_keys(n: int) -> list[str]:
    width = max(5, len(str(max(0, n - 1))))
    return [f"{i:0{width}d}" for i in range(n)]


def items_from(source, *, image_ndim: int | None = None, plane_counts: dict | None = None) -> Items:
    """Items of a folder, glob pattern, list of paths, TIFF file, list of arrays, or (N, H, W[, C]) array.

    Parameters
    ----------
    source : str, Path, list, or ndarray
        * a folder: its image files (``.png .jpg .jpeg .tif .tiff .bmp .webp``), sorted by name;
        * a string with ``*``, ``?`` or ``[``: a glob pattern (``**`` recurses), sorted;
        * a list of image paths, in that order;
        * one TIFF file (``.tif``, ``.tiff``): its planes;
        * a list of arrays or PIL images (each one photo);
        * an (N, H, W) or (N, H, W, C) array: a stack or video, each plane one item.

        Wherever files are listed, a TIFF stack is one item per plane, in the file's order
        (``stack.tif#0000``, ``stack.tif#0001``, ...); other files are one item each.
    image_ndim : int, optional
        How a TIFF's axes split into planes (see :func:`ipyseg.io.tiff_planes`): ``None`` by
        their names, 3 when each plane is a 3-D image with a ``channel_axis``.
    plane_counts : dict, optional
        ``Items.plane_counts`` of an earlier call: TIFFs unchanged since are not opened again.

    Returns
    -------
    Items
    """
    if image_ndim is not None and image_ndim not in (2, 3):
        raise ValueError(f"`image_ndim` must be None, 2 or 3; got {image_ndim!r}")
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
            return _files_to_items(os.path.abspath(text), names, f"folder {text}", image_ndim, plane_counts)
        if any(ch in text for ch in "*?["):
            found = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            return _from_paths(found, f"files matching {text}", image_ndim, plane_counts)
        if Path(text).is_file() and text.lower().endswith(TIFF_SUFFIXES):
            return _from_paths([text], f"TIFF file {text}", image_ndim, plane_counts)
        if Path(text).exists():
            raise ValueError(
                f"`source` must be a folder, a glob pattern, a TIFF file (its planes), a list or an array; "
                f"'{text}' is a file"
            )
        raise FileNotFoundError(f"`source`: no such folder: '{text}'")
    if isinstance(source, (list, tuple)):
        if all(isinstance(s, (str, os.PathLike)) for s in source):
            missing = [os.fspath(s) for s in source if not os.path.isfile(s)]
            if missing:
                raise FileNotFoundError(f"`source`: {len(missing)} listed file(s) do not exist, e.g. '{missing[0]}'")
            return _from_paths(list(source), f"{len(source)} files", image_ndim, plane_counts)
        if any(isinstance(s, (str, os.PathLike)) for s in source):
            raise TypeError("`source` as a list must hold only paths or only arrays, not both")
        return Items(_number_keys(len(source)), arrays=list(source), description=f"{len(source)} arrays")
    raise TypeError(
        "`source` must be a folder, a glob pattern, a list of paths or arrays, or an (N, H, W[, C]) array; "
        f"got {type(source).__name__}"
    )
