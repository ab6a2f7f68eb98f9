"""The Annotator's arguments, checked before anything is read or created, and its items.

Pure functions of the arguments (no Annotator state): :func:`check_arguments`,
:func:`checked_classes`, :func:`display_of`, :func:`read_source` (the items of ``source``
without the annotator's own files), :func:`checked_index`, :func:`checked_items`, :func:`checked_advance`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ipyseg._validation import check_max_display_pixels
from ipyseg.dataset.records import read_plane_counts
from ipyseg.dataset.sources import items_from


def display_of(channels, channel_colors, display_range, gamma) -> dict:
    """The display-settings arguments as the annotator keeps them (lists made tuples)."""
    return {
        "channels": tuple(channels) if isinstance(channels, list) else channels,
        "channel_colors": tuple(channel_colors) if isinstance(channel_colors, list) else channel_colors,
        "display_range": display_range,
        "gamma": gamma,
    }


def read_source(source, out: Path, channel_axis):
    """The items of ``source`` (the annotator's own files in ``out`` left out) and the plane counts known before."""
    known = read_plane_counts(out)
    items = without_our_files(
        items_from(source, image_ndim=None if channel_axis is None else 3, plane_counts=known), out
    )
    if not len(items):
        raise ValueError(f"`source` holds no images ({items.description})")
    return items, known


def checked_classes(classes) -> list[str]:
    """The ``classes`` argument, checked (``None``: one category, ``"object"``)."""
    if classes is None:
        classes = ["object"]
    if isinstance(classes, str) or not all(isinstance(c, str) and c for c in classes):
        raise TypeError(f"`classes` must be a list of non-empty names (str); got {classes!r}")
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"`classes` must be a non-empty list of distinct names; got {classes!r}")
    return list(classes)


def checked_index(i, n: int) -> int:
    """``i`` as an item index in [0, n) (negative: from the end)."""
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"`index` must be an integer; got {type(i).__name__} {i!r}")
    if not -n <= int(i) < n:
        raise IndexError(f"`index` must be in [0, {n - 1}] (or negative from the end); got {i}")
    return int(i) % n


def checked_items(items, n: int) -> list[int]:
    """The ``items`` argument of ``Annotator.run``: ``None`` (every item) or item indices in [0, n)."""
    if items is None:
        return list(range(n))
    try:
        chosen = list(items)
    except TypeError:
        raise TypeError(f"`items` must be None or a list of item indices; got {items!r}") from None
    bad = [i for i in chosen if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= int(i) < n]
    if bad:
        raise ValueError(f"`items` must be indices in [0, {n - 1}] (or negative from the end); got {bad[:5]}")
    return list(dict.fromkeys(int(i) % n for i in chosen))


def checked_advance(advance) -> bool:
    """The ``advance`` argument of mark_done / skip, checked."""
    if not isinstance(advance, (bool, np.bool_)):
        raise TypeError(f"`advance` must be True or False; got {advance!r}")
    return bool(advance)


#: Files an annotator writes next to an item's sidecar (``<key>.<kind>.png``).
_COMPANION_SUFFIXES = (".labels.png", ".seeds.png", ".prior.png")


def without_our_files(items, out: Path):
    """``items`` without the annotator's own PNGs, when ``out`` lies in the source folder (or a
    recursive glob reaches it): they are not photos to annotate.
    """
    if items.root is None:
        return items
    out = out.resolve()

    def ours(f) -> bool:
        p = Path(f)
        if not p.name.endswith(_COMPANION_SUFFIXES):
            return False
        try:
            return p.resolve().is_relative_to(out)
        except OSError:
            return False

    keep = [i for i in range(len(items)) if not ours(items.path(i))]
    return items if len(keep) == len(items) else items.subset(keep)


def check_arguments(*, out, carry_over, max_display_pixels) -> None:
    """The Annotator's own arguments, checked before anything is read or created."""
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"`out` must be a folder path; got {type(out).__name__} {out!r}")
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"`out` must be a folder (created if missing); got '{out}', which is a file")
    if not isinstance(carry_over, (bool, np.bool_)):
        raise TypeError(f"`carry_over` must be True or False; got {carry_over!r}")
    check_max_display_pixels(max_display_pixels, allow_none=True)
