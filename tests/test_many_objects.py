"""Hundreds of objects: ids beyond 255 end to end, the object table, and the proofreading edits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import ipyseg
from ipyseg import BACKGROUND, MAX_OBJECTS, SegmentWidget
from ipyseg.objects import regions, table
from ipyseg.seeds import SeedState
from ipyseg.ui import render


def field(rows=15, cols=20, spacing=20, radius=6, h=None, w=None):
    """Bright disks on a dark background, one per grid cell; (image, centres (row, col))."""
    h = h or rows * spacing + 7  # odd sizes on purpose
    w = w or cols * spacing + 3
    img = np.full((h, w, 3), 20, np.uint8)
    centres = []
    for i in range(rows):
        for j in range(cols):
            r, c = i * spacing + spacing // 2, j * spacing + spacing // 2
            cv2.circle(img, (c, r), radius, (230, 230, 230), -1)
            centres.append((r, c))
    return img, centres


def seeded(img, centres, spacing=20):
    """A click on every disk, and background lines between the grid cells."""
    seeds = np.zeros(img.shape[:2], np.uint16)
    seeds[::spacing, :] = BACKGROUND
    seeds[:, ::spacing] = BACKGROUND
    for k, (r, c) in enumerate(centres, start=1):
        seeds[r - 1 : r + 2, c - 1 : c + 2] = k + 1
    return seeds


@pytest.fixture(scope="module")
def many():
    img, centres = field()
    return img, centres, seeded(img, centres)


def test_300_objects_segment_save_and_load_with_16_bit_ids(many, tmp_path):
    img, centres, seeds = many
    w = SegmentWidget(img, method="watershed")
    w.seeds = seeds
    assert w.labels.dtype == np.uint16 and w.seeds.dtype == np.uint16
    assert len(w.objects()) == 300 and int(w.labels.max()) == 300
    r, c = centres[299]
    assert w.labels[r, c] == 300 and w.labels[r + 4, c] == 300 and w.labels[r + 9, c + 9] == 0
    # the overlay shows object 300 (in its palette entry), not as background
    assert (w.presenter.overlay_index == render.label_index(np.array([300], np.uint16))[0]).any()
    w.save_session(tmp_path / "s.json")
    w2 = SegmentWidget.load_session(tmp_path / "s.json", image=img)
    assert np.array_equal(w2.seeds, w.seeds) and np.array_equal(w2.labels, w.labels)
    path = w.save_labels(tmp_path / "l.png")
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back, w.labels)
    w.close()
    w2.close()


def test_the_largest_object_id_round_trips():
    img, _ = field(rows=2, cols=2)
    seeds = np.zeros(img.shape[:2], np.uint16)
    seeds[10, 10] = MAX_OBJECTS + 1
    labels = ipyseg.segment(img, seeds, "watershed")
    assert labels.dtype == np.uint16 and labels[10, 10] == MAX_OBJECTS
    with pytest.raises(ValueError, match="`seeds`.*65536"):
        ipyseg.segment(img, np.full(img.shape[:2], 65536, np.int64), "watershed")


def test_label_index_keeps_neighbouring_ids_apart_and_repeats_every_254():
    ids = np.arange(0, 1200, dtype=np.uint16)
    idx = render.label_index(ids)
    assert idx.dtype == np.uint8 and idx[0] == 0 and (idx[1:] >= 1).all() and (idx[1:] <= render.PERIOD).all()
    assert idx[1] == idx[1 + render.PERIOD] and idx[1] != idx[2]
    seeds = render.seed_index(np.array([0, 1, 2, 300], np.uint16))
    lut_l, lut_s = render.label_lut(1.0), render.seed_lut()
    assert tuple(lut_s[seeds[3], :3]) == tuple(lut_l[idx[299], :3]) == render.object_color(299)
    assert seeds[1] == 1 and tuple(lut_s[1, :3]) == render.BACKGROUND_COLOR


def test_regions_and_table_match_a_direct_measurement():
    rng = np.random.default_rng(7)
    labels = np.zeros((61, 83), np.uint16)
    for k in rng.choice(np.arange(1, 3000), 40, replace=False):
        r, c = rng.integers(0, 55), rng.integers(0, 77)
        labels[r : r + rng.integers(1, 7), c : c + rng.integers(1, 7)] = k
    found = regions(labels)
    assert list(found.ids) == [int(k) for k in np.unique(labels) if k]
    for k, area, (r0, r1, c0, c1), (cr, cc) in zip(found.ids, found.area, found.bbox, found.centroid, strict=True):
        rr, cc_ = np.nonzero(labels == k)
        assert area == rr.size and (r0, r1, c0, c1) == (rr.min(), rr.max() + 1, cc_.min(), cc_.max() + 1)
        assert np.isclose(cr, rr.mean()) and np.isclose(cc, cc_.mean())
    k0 = int(found.ids[0])
    t = table(labels, {k0: "nucleus"}, {k0: "first"})
    first = {key: t[key][0] for key in ("id", "class", "name", "area")} if isinstance(t, dict) else t.iloc[0]
    assert int(first["id"]) == k0 and first["class"] == "nucleus" and first["name"] == "first"
    assert len(regions(np.zeros((4, 4), np.uint16))) == 0


def test_objects_table_of_the_widget(many):
    img, centres, seeds = many
    w = SegmentWidget(img, method="watershed")
    w.seeds = seeds
    w.object_classes = {3: "cell"}
    t = w.objects_table()
    ids = list(t["id"])
    assert len(ids) == 300 and ids[:3] == [1, 2, 3]
    row = list(t["class"])
    assert row[2] == "cell" and row[0] is None
    area = list(t["area"])
    assert all(80 <= a <= 200 for a in area)  # a disk of radius 6 is about 113 pixels
    w.close()


def test_protecting_thousands_of_codes_is_one_lookup():
    state = SeedState((20, 30))
    state.array[5, :] = np.arange(30, dtype=np.uint16) * 1000 + 2
    fp = np.ones((20, 30), bool)
    changed = state.apply((0, 20, 0, 30), fp, BACKGROUND, protect=range(2, MAX_OBJECTS + 2))
    assert changed is not None and (state.array[5] == np.arange(30) * 1000 + 2).all()
    assert (np.delete(state.array, 5, axis=0) == BACKGROUND).all()


# ------------------------------------------------------------------------- proofreading
@pytest.fixture
def small():
    img, centres = field(rows=3, cols=4)
    w = SegmentWidget(img, method="watershed")
    w.seeds = seeded(img, centres)
    yield w, centres
    w.close()


def _others_same(before, after, changed):
    keep = ~np.isin(before, changed) & ~np.isin(after, changed)
    return np.array_equal(before[keep], after[keep])


def test_delete_is_one_undo_step_and_leaves_the_others(small):
    w, centres = small
    before = w.labels.copy()
    w.editor.delete(5)
    assert 5 not in w.labels and _others_same(before, w.labels, [5])
    r, c = centres[4]
    assert w.labels[r, c] == 0 and w.seeds[r, c] == BACKGROUND
    w.undo()
    assert np.array_equal(w.labels, before)


def test_merge_split_fill_holes(small):
    w, centres = small
    before = w.labels.copy()
    area1, area2 = (before == 1).sum(), (before == 2).sum()
    w.editor.merge(1, 2)
    assert 2 not in w.labels and (w.labels == 1).sum() == area1 + area2 and _others_same(before, w.labels, [1, 2])
    w.undo()
    assert np.array_equal(w.labels, before)
    # split object 6 with a vertical stroke through its centre
    r, c = centres[5]
    new = w.editor.split(6, np.array([[r - 10, c], [r + 10, c]], float), radius=1.0)
    assert len(new) == 1 and new[0] == 13
    left, right = w.labels[r, c - 3], w.labels[r, c + 3]
    assert {int(left), int(right)} == {6, 13} and w.labels[r, c] == 0
    assert _others_same(before, w.labels, [6, 13])
    w.undo()
    assert np.array_equal(w.labels, before)
    # a ring-shaped object (its inside flooded from a background seed) gets its hole filled
    ring = np.full((41, 45, 3), 20, np.uint8)
    cv2.circle(ring, (22, 20), 12, (230, 230, 230), 4)
    wr = SegmentWidget(ring, method="watershed")
    sd = np.zeros((41, 45), np.uint16)
    yy, xx = np.mgrid[:41, :45]
    sd[np.hypot(yy - 20, xx - 22) > 16] = BACKGROUND
    sd[20, 22], sd[20, 10] = BACKGROUND, 2
    wr.seeds = sd
    assert wr.labels[20, 22] == 0 and wr.labels[20, 10] == 1
    wr.editor.fill_holes(1)
    assert wr.labels[20, 22] == 1 and wr.labels[20, 15] == 1 and wr.labels[2, 2] == 0
    wr.undo()
    assert wr.labels[20, 22] == 0
    wr.close()
    with pytest.raises(ValueError, match="`b`"):
        w.editor.merge(3, 3)


def test_remove_small_and_renumber(small):
    w, centres = small
    r, c = 2, 70  # a tiny extra object in the background
    seeds = w.seeds.copy()
    seeds[r + 5, c] = 40 + 1
    w.seeds = seeds
    w.object_names = {40: "speck", 12: "last"}
    assert 40 in w.labels
    before = w.labels.copy()
    assert w.editor.remove_small(60) == [40]
    assert 40 not in w.labels and _others_same(before, w.labels, [40])
    w.undo()
    assert 40 in w.labels
    mapping = w.editor.renumber()
    assert mapping == {40: 13} and int(w.labels.max()) == 13 and w.object_names == {13: "speck", 12: "last"}
    w.undo()
    assert 40 in w.labels
    with pytest.raises(ValueError, match="`min_pixels`"):
        w.editor.remove_small(0)


def test_pick_makes_the_object_under_the_pointer_current(small):
    w, centres = small
    r, c = centres[8]
    assert w.editor.pick(r, c) == 9 and w.label == 10
    assert w.editor.pick(0, 0) == 0 and w.label == 10
    with pytest.raises(ValueError, match=r"\(row, col\)"):
        w.editor.pick(-1, 0)
