"""What a new item starts from: an existing label file, else object proposals.

An :class:`ItemStarts` is given the Annotator's ``labels`` folder and ``propose`` setting; the
prefetcher calls :meth:`ItemStarts.make` (any thread) for items with no saved work, so that the
label file is read, or the proposals computed, before the user gets there. The Annotator adds
the result as objects (``SegmentWidget.load_labels``) only when it opens an item that still has
no saved work: a start never replaces anything a person did.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ipyseg._validation import as_instance_labels
from ipyseg.dataset.exports import label_file_names
from ipyseg.segmentation.propose import check_propose_params, propose
from ipyseg.session import SessionError

#: Label files looked for, per item: the names ``Annotator.export_labels`` writes (item name,
#: its suffix replaced), then cellpose's and common tools' names.
LABEL_SUFFIXES = (".png", ".tif", ".tiff", ".npy")
LABEL_TAILS = ("", "_masks", "_cp_masks", "_labels", "_label", "_mask")


@dataclass(frozen=True)
class Start:
    """An item's starting objects (``labels``, (H, W) uint16), or why there are none (``note``)."""

    labels: np.ndarray | None
    note: str


class ItemStarts:
    """Starting objects for new items, from a ``labels`` folder and / or proposals.

    Parameters
    ----------
    items : Items
        The annotator's items.
    labels : str, Path or None
        A folder of label images named after the items (see :data:`LABEL_TAILS`); each is loaded
        as objects to correct.
    propose : bool, dict or None
        Propose objects (:func:`ipyseg.propose`) for items without a label file; a dict gives
        ``propose``'s ``method`` and parameters (``{"diameter": 30}``).
    """

    def __init__(self, items, labels=None, propose=None) -> None:
        self.items = items
        self.folder = _checked_folder(labels)
        self.propose = _checked_propose(propose)

    @property
    def active(self) -> bool:
        """Whether new items start from anything."""
        return self.folder is not None or self.propose is not None

    def label_file(self, i: int) -> Path | None:
        """Item ``i``'s label file in the ``labels`` folder (``None``: none there)."""
        if self.folder is None:
            return None
        own = self.items.path(i)
        for suffix in LABEL_SUFFIXES:
            (name,) = label_file_names(self.items, [i], suffix)
            stem, ext = name[: -len(suffix)], suffix
            for tail in LABEL_TAILS:
                path = self.folder / f"{stem}{tail}{ext}"
                if path.is_file() and (own is None or path.resolve() != Path(own).resolve()):
                    return path
        return None

    def make(self, i: int, data: np.ndarray) -> Start | None:
        """Item ``i``'s starting objects for its image ``data`` ((H, W[, C]), the item's own
        values); ``None`` when nothing is set up. Errors become a ``note``, never an exception.
        """
        if not self.active:
            return None
        shape = data.shape[:2]
        path = self.label_file(i)
        if path is not None:
            try:
                return Start(_read_labels(path, shape), f"started from {path.name}")
            except (ValueError, TypeError, OSError) as err:
                return Start(None, f"label file {path.name} not used: {err}")
        if self.propose is None:
            return None
        method, params = self.propose
        try:
            labels = propose(data, method, **params)
        except (ValueError, TypeError) as err:
            return Start(None, f"no proposals: {err}")
        return Start(labels, f"{int(labels.max())} objects proposed")


def start_new_item(widget, record, start: Start | None, previous=None) -> None:
    """Give a new item (no saved work) its starting objects in ``widget``.

    ``start``'s objects (a label file, proposals; its note goes to ``record``), else, with
    ``previous`` (``carry_over``: returns the previous item's labels and classes), those labels
    as a loaded mask that strokes refine.
    """
    if start is not None:
        record.note = "; ".join(n for n in (record.note, start.note) if n)
        if start.labels is not None and start.labels.shape == widget.labels.shape:
            widget.load_labels(start.labels)
            return
    if previous is None:
        return
    try:
        prior, classes = previous()
    except SessionError as err:  # the previous item's files are damaged: nothing to carry
        record.note = f"labels not carried over: {err}"
        return
    if prior.shape == widget.labels.shape and prior.any():
        widget.load_mask(prior)
        widget.object_classes = {k: c for k, c in classes.items() if (prior == k).any()}


def _read_labels(path: Path, shape: tuple) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False)  # never a pickle
        return as_instance_labels(arr, shape, f"labels file {path.name}")
    return as_instance_labels(path, shape, f"labels file {path.name}")


def _checked_folder(labels) -> Path | None:
    if labels is None:
        return None
    if not isinstance(labels, (str, os.PathLike)):
        raise TypeError(f"`labels` must be a folder (str or Path) or None; got {type(labels).__name__} {labels!r}")
    folder = Path(labels).absolute()
    if not folder.is_dir():
        raise ValueError(f"`labels` must be an existing folder of label images; got '{folder}'")
    return folder


def _checked_propose(value) -> tuple | None:
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise TypeError(f"`propose` must be True, False, None or a dict of propose's parameters; got {value!r}")
    params = dict(value)
    method = params.pop("method", None)
    return check_propose_params(method, **params)
