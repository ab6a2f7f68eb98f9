"""An annotator's items written out: one COCO JSON, or one label image per item.

Items whose image changed size since they were annotated (or can no longer be read) are left
out with a warning: their labels no longer fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ipyseg.dataset.sources import PLANE_MARK
from ipyseg.export import save_label_image, to_coco, write_coco

#: Suffixes of lossless label images ``save_labels`` writes.
LABEL_SUFFIXES = (".png", ".tif", ".tiff")

#: How far the warning about left-out items is from the user's call (Annotator method -> here).
_STACKLEVEL = 4


def write_coco_of(
    path,
    items,
    chosen: list[int],
    read: Callable[[int], tuple[np.ndarray, dict]],
    *,
    classes,
    segmentation,
    attributes: Callable[[int], dict] | None = None,
) -> Path:
    """Write a COCO JSON of items ``chosen``; ``read(i)`` gives item ``i``'s labels and object
    classes, ``attributes(i)`` the attributes of its annotations (who, status).
    """
    stale = []

    def rows():
        for i in chosen:
            labels, object_classes = read(i)
            if image_changed(items, i, labels):
                stale.append(i)
                continue
            yield (items.keys[i], labels, object_classes, None if attributes is None else attributes(i))

    coco = to_coco(rows(), classes=classes, segmentation=segmentation, info={"description": "ipyseg"})
    warn_changed(items, stale)
    return write_coco(coco, path)


def check_label_suffix(suffix) -> str:
    """``suffix`` of a label image, checked: ``.png``, ``.tif`` or ``.tiff``."""
    if not isinstance(suffix, str) or suffix.lower() not in LABEL_SUFFIXES:
        raise ValueError(f'`suffix` must be ".png", ".tif" or ".tiff" (lossless label images); got {suffix!r}')
    return suffix


def label_file_names(items, chosen: list[int], suffix: str) -> list[str]:
    """The label image name of each chosen item (``IMG_0042.png``, ``stack#0003.png``), distinct."""
    names = [_label_file_name(items, i, suffix) for i in chosen]
    if len(set(names)) != len(names):
        names = [items.keys[i] + suffix for i in chosen]
    return names


def save_label_files(folder: Path, items, chosen: list[int], labels_of: Callable[[int], np.ndarray], suffix: str):
    """Write item ``i``'s labels ``labels_of(i)`` to ``folder`` for each chosen item; the files written."""
    out, stale = [], []
    Path(folder).mkdir(parents=True, exist_ok=True)
    for i, name in zip(chosen, label_file_names(items, chosen, suffix), strict=True):
        labels = labels_of(i)
        if image_changed(items, i, labels):
            stale.append(i)
            continue
        target = Path(folder) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        out.append(save_label_image(labels, target))
    warn_changed(items, stale)
    return out


def image_changed(items, i: int, labels: np.ndarray) -> bool:
    """Whether item ``i``'s image no longer has its labels' size (the file changed since)."""
    try:
        return tuple(labels.shape) != tuple(items.size(i))
    except (OSError, ValueError):
        return True  # cannot be read any more


def warn_changed(items, stale: list[int]) -> None:
    """Warn that the ``stale`` items were left out of an export."""
    if stale:
        names = ", ".join(items.name(i) for i in stale[:5]) + (" ..." if len(stale) > 5 else "")
        warnings.warn(
            f"{len(stale)} item(s) left out of the export: their image file changed size (or cannot be read) "
            f"since it was annotated, so their labels no longer fit: {names}",
            UserWarning,
            stacklevel=_STACKLEVEL,
        )


def _label_file_name(items, i: int, suffix: str) -> str:
    key = items.keys[i]
    if items.plane(i) is None:
        return Path(key).with_suffix(suffix).as_posix()
    file, plane = key.rsplit(PLANE_MARK, 1)
    return Path(file).with_suffix("").as_posix() + PLANE_MARK + plane + suffix
