"""Annotator(labels=folder, propose=...): new items start from label files or proposals, prepared
in the background, never over saved work (issue 18)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import open_annotator
from test_many_objects import field

from ipyseg.dataset.sources import items_from
from ipyseg.dataset.starts import ItemStarts


@pytest.fixture
def cell_photos(tmp_path):
    """Three 8-bit gray fields of bright disks, and a folder with label files for two of them."""
    src, lab = tmp_path / "photos", tmp_path / "labels"
    src.mkdir()
    lab.mkdir()
    for i, (rows, cols) in enumerate([(3, 4), (4, 3), (3, 5)]):
        img, centres = field(rows=rows, cols=cols, spacing=24, radius=8)
        cv2.imwrite(str(src / f"f{i}.png"), img[:, :, 0])
        labels = np.zeros(img.shape[:2], np.int32)
        for k, (r, c) in enumerate(centres, start=1):
            cv2.circle(labels, (c, r), 8, 100000 + k, -1)  # ids beyond 65,535 (an int32 tool)
        if i == 0:
            cv2.imwrite(str(lab / "f0_cp_masks.png"), _small(labels))  # 16-bit PNG
        elif i == 1:
            np.save(lab / "f1.npy", labels)
    return src, lab


def _small(labels):
    out = np.zeros(labels.shape, np.uint16)
    for n, k in enumerate(np.unique(labels)[1:], start=1):
        out[labels == k] = n
    return out


def test_label_files_start_new_items_and_never_replace_saved_work(cell_photos, tmp_path, annotators):
    src, lab = cell_photos
    a = open_annotator(annotators, src, out=tmp_path / "out", labels=lab, method="watershed")
    w = a.widget
    assert w.wait(30) and int(w.labels.max()) == 12 and len(np.unique(w.labels)) == 13
    assert "started from f0_cp_masks.png" in a.record(0).note
    w.editor.delete(5)  # a correction
    assert w.wait(30)
    a.next()
    assert w.wait(30) and len(np.unique(w.labels)) == 13  # f1.npy, int32 ids renumbered
    assert a.prefetcher.idle(30)
    a.next()  # f2: no label file, no proposals: empty
    assert w.wait(30) and not w.labels.any()
    a.index = 0  # saved work wins over the label file
    assert w.wait(30) and 5 not in w.labels and len(np.unique(w.labels)) == 12
    a.close()
    again = open_annotator(annotators, src, out=tmp_path / "out", labels=lab, method="watershed")
    again.index = 0
    assert again.widget.wait(30) and 5 not in again.widget.labels


def test_proposals_for_items_without_a_label_file_are_prepared_in_the_background(cell_photos, tmp_path, annotators):
    src, lab = cell_photos
    a = open_annotator(annotators, src, out=tmp_path / "out", labels=lab, propose={"diameter": 16}, method="watershed")
    assert a.prefetcher.idle(60)
    assert 1 in a.prefetcher.cached()
    item = a.prefetcher.get(1)  # prepared before it is shown: its label file is read already
    assert item.start is not None and item.start.labels.max() == 12
    a.index = 2  # proposals: 15 disks
    w = a.widget
    assert w.wait(30) and int(w.labels.max()) == 15 and "15 objects proposed" in a.record(2).note
    assert w.undo() and w.wait(30) and not w.labels.any()  # one undo step


def test_bad_labels_and_propose_arguments_are_named(cell_photos, tmp_path, annotators):
    src, lab = cell_photos
    with pytest.raises(ValueError, match="`labels`"):
        open_annotator(annotators, src, out=tmp_path / "o1", labels=tmp_path / "missing")
    with pytest.raises(TypeError, match="`labels`"):
        open_annotator(annotators, src, out=tmp_path / "o2", labels=3)
    with pytest.raises(TypeError, match="`propose`"):
        open_annotator(annotators, src, out=tmp_path / "o3", propose="yes")
    with pytest.raises(ValueError, match="`diameter`"):
        open_annotator(annotators, src, out=tmp_path / "o4", propose={"diameter": 0.5})
    with pytest.raises(TypeError, match="unknown parameter"):
        open_annotator(annotators, src, out=tmp_path / "o5", propose={"size": 10})
    assert not (tmp_path / "o1").exists() or not any((tmp_path / "o1").iterdir())


def test_a_label_file_of_the_wrong_size_is_a_note_not_a_crash(cell_photos, tmp_path):
    src, lab = cell_photos
    cv2.imwrite(str(lab / "f2.tif"), np.ones((5, 5), np.uint16))
    starts = ItemStarts(items_from(src), lab)
    start = starts.make(2, cv2.imread(str(src / "f2.png"), cv2.IMREAD_UNCHANGED))
    assert start.labels is None and "f2.tif not used" in start.note and "shape" in start.note
    assert starts.label_file(0).name == "f0_cp_masks.png" and starts.label_file(1).name == "f1.npy"
    # the folder of the photos themselves: an item's own file is never its label file
    assert ItemStarts(items_from(src), src).label_file(0) is None
