"""Items started from an existing COCO file (``Annotator.import_coco``).

:func:`states_from_coco` reads a COCO instance-segmentation JSON (RLE, compressed or not, and
polygons, decoded with ``pycocotools``) and makes one :class:`~ipyseg.session.SessionState` per
image that matches an item (by ``file_name``, the item key, as ``export_coco`` writes it): the
annotations as objects 1..n in the order of their ids (a later one painted over an earlier
one where they overlap), their categories as classes, and, from the annotations'
``attributes`` as ``export_coco`` writes them, the item's status and who made it. Each object
is seeded exactly (its pixels, and a background ring of one pixel around it on unmarked
pixels), so every method keeps it until it is edited. So export, import, export gives the
same file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ipyseg import session
from ipyseg._constants import MAX_OBJECTS
from ipyseg.seeds import exact_seeds
from ipyseg.session import STATUSES, SessionState


def states_from_coco(path, keys: list[str], classes: list[str]) -> tuple[dict, list[str]]:
    """``({item index: SessionState}, notes)`` for the images of the COCO file at ``path``.

    Parameters
    ----------
    path : path
        A COCO JSON file.
    keys : list of str
        The annotator's item keys (matched against ``file_name``).
    classes : list of str
        The annotator's classes; an annotation of another category raises ``ValueError``.

    Returns
    -------
    states : dict
    notes : list of str
        Images of the file that match no item, left out.
    """
    from pycocotools import mask as mask_utils

    try:
        coco = json.loads(Path(path).read_text())
        images = {int(im["id"]): im for im in coco["images"]}
        categories = {int(c["id"]): str(c["name"]) for c in coco["categories"]}
        annotations = sorted(coco.get("annotations") or [], key=lambda a: int(a["id"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"`path` must be a COCO instance-segmentation JSON file; '{path}': {err}") from err
    unknown = sorted(set(categories.values()) - set(classes))
    if unknown:
        raise ValueError(f"`path` has categories {unknown} that are not among the annotator's classes {classes}")
    index = {k: i for i, k in enumerate(keys)}
    by_image: dict[int, list] = {}
    for a in annotations:
        by_image.setdefault(int(a["image_id"]), []).append(a)
    states, notes = {}, []
    for image_id, im in images.items():
        i = index.get(str(im["file_name"]))
        if i is None:
            notes.append(f"'{im['file_name']}' matches no item")
            continue
        h, w = int(im["height"]), int(im["width"])
        labels = np.zeros((h, w), np.uint16)
        object_classes, who, status = {}, set(), set()
        anns = by_image.get(image_id, [])
        if len(anns) > MAX_OBJECTS:
            raise ValueError(f"`path`: image '{im['file_name']}' has {len(anns)} annotations; at most {MAX_OBJECTS}")
        for k, a in enumerate(anns, start=1):
            mask = _decode(mask_utils, a["segmentation"], h, w)
            labels[mask] = k
            object_classes[k] = categories[int(a["category_id"])]
            attrs = a.get("attributes") or {}
            if attrs.get("annotator"):
                who.add(str(attrs["annotator"]))
            if attrs.get("status") in STATUSES:
                status.add(attrs["status"])
        present = set(np.unique(labels).tolist()) - {0}
        object_classes = {k: c for k, c in object_classes.items() if k in present}
        state = SessionState(shape=(h, w), seeds=exact_seeds(labels), labels=labels, object_classes=object_classes)
        state.status = status.pop() if len(status) == 1 else "in progress"
        state.created = state.modified = session.now_iso()
        if len(who) == 1:
            by = who.pop()
            state.provenance = {"created_by": by, "modified_by": by, "status": state.status, "imported_from": str(path)}
            if state.status not in ("untouched", "in progress"):  # finished by them (reviewed or not)
                state.provenance.update(finished_by=by, finished=state.modified)
        states[i] = state
    return states, notes


def _decode(mask_utils, seg, h: int, w: int) -> np.ndarray:
    if isinstance(seg, list):  # polygons
        rles = mask_utils.frPyObjects(seg, h, w)
        rle = mask_utils.merge(rles)
    elif isinstance(seg.get("counts"), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
    return mask_utils.decode(rle).astype(bool)
