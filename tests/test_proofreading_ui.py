"""Proofreading from the page (issue 18): pick / merge / split with the mouse, keys, toolbar
buttons, the object box with thousands of objects, load_labels and w.propose."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import drag, send
from test_many_objects import field, seeded
from test_tools import click, key

from ipyseg import BACKGROUND, SegmentWidget
from ipyseg.ui.toolbar import MAX_SUGGESTIONS, find_object, object_suggestions


@pytest.fixture
def cells():
    img, centres = field(rows=3, cols=4)
    w = SegmentWidget(img, method="watershed")
    w.seeds = seeded(img, centres)
    assert w.wait(30)
    yield w, centres
    w.close()


def at(w, rc):
    """Canvas (x, y) of image (row, col)."""
    x, y = w.viewport.image_to_canvas(np.array([rc[0]], float), np.array([rc[1]], float))
    return float(x[0]), float(y[0])


def test_pick_tool_click_selects_and_shift_click_merges(cells):
    w, centres = cells
    w.tool = "pick"
    click(w, *at(w, centres[6]))
    assert w.wait(30) and w.label == 8  # object 7 is current
    before = w.labels.copy()
    area = (before == 7).sum() + (before == 8).sum()
    click(w, *at(w, centres[7]), shift=True)  # shift-click: object 8 joins object 7
    assert w.wait(30)
    assert 8 not in w.labels and (w.labels == 7).sum() == area and w.label == 8
    keep = ~np.isin(before, (7, 8))
    assert np.array_equal(before[keep], w.labels[keep])
    assert w.viewport.zoom == 1.0  # shift did not start a pan
    w.undo()
    assert w.wait(30) and np.array_equal(w.labels, before)
    # ipyevents' report may come before ipycanvas' mouse-down: still a merge
    x, y = at(w, centres[7])
    send(w, "mouse_move", x, y)
    w.input.dom_events._handle_mouse_msg(None, {"type": "mousedown", "button": 0, "shiftKey": True}, [])
    send(w, "mouse_down", x, y)
    send(w, "mouse_up", x, y)
    assert w.wait(30) and 8 not in w.labels
    w.undo()
    assert w.wait(30) and 8 in w.labels
    # ... or after the release (two channels): the plain pick it made becomes the merge
    send(w, "mouse_move", x, y)
    send(w, "mouse_down", x, y)
    send(w, "mouse_up", x, y)
    assert w.label == 9  # picked object 8 for now
    w.input.dom_events._handle_mouse_msg(None, {"type": "mousedown", "button": 0, "shiftKey": True}, [])
    assert w.wait(30) and 8 not in w.labels and w.label == 8 and (w.labels == 7).sum() == area
    # a click on background picks nothing; a plain click after a shift-click only picks
    click(w, *at(w, (1, 1)))
    assert w.label == 8
    click(w, *at(w, centres[0]))
    assert w.wait(30) and w.label == 2 and 1 in w.labels


def test_split_tool_cuts_the_object_the_stroke_crosses(cells):
    w, centres = cells
    w.tool = "split"
    before = w.labels.copy()
    r, c = centres[5]
    drag(w, [at(w, (r - 9, c)), at(w, (r + 9, c))])
    assert w.wait(30)
    left, right = int(w.labels[r, c - 3]), int(w.labels[r, c + 3])
    assert {left, right} == {6, 13}
    keep = ~np.isin(before, (6,)) & ~np.isin(w.labels, (6, 13))
    assert np.array_equal(before[keep], w.labels[keep])
    w.undo()
    assert w.wait(30) and np.array_equal(w.labels, before)
    # a stroke over background only: nothing changes
    seeds = w.seeds.copy()
    drag(w, [at(w, (0, 0)), at(w, (0, 15))])
    assert w.wait(30) and np.array_equal(w.labels, before) and np.array_equal(w.seeds, seeds)


def test_keys_delete_class_fill_holes_and_propose(cells):
    w, centres = cells
    w.classes = ["nucleus", "debris"]
    send(w, "mouse_move", 5, 5)
    key(w, "3")  # object 3
    key(w, "t")
    assert w.object_classes == {3: "nucleus"}
    key(w, "t")
    assert w.object_classes == {3: "debris"}
    key(w, "Delete")
    assert w.wait(30) and 3 not in w.labels
    key(w, "z", ctrl=True)
    assert w.wait(30) and 3 in w.labels
    key(w, "g")  # no holes: nothing changes
    assert w.wait(30) and 3 in w.labels
    with pytest.raises(ValueError, match="`name`"):
        w.editor.set_class(3, "cell")


def test_propose_key_and_button_add_objects_once(cells):
    img, centres = field(rows=4, cols=5, spacing=24, radius=8)
    w = SegmentWidget(img, method="watershed")
    send(w, "mouse_move", 5, 5)
    key(w, "i")
    assert w.wait(30)
    assert int(w.labels.max()) == 20 and len(np.unique(w.labels)) == 21
    assert w.label == 22  # the next stroke starts a new object, not proposal 1
    w.buttons["propose"].click()  # everything is taken now: nothing is added twice
    assert w.wait(30) and int(w.labels.max()) == 20
    assert w.undo() and w.wait(30) and not w.labels.any()
    w.close()


def test_delete_button_and_a_new_id_never_inherits_a_name_or_box(cells):
    w, centres = cells
    w.label = 5  # object 4
    w.buttons["delete_object"].click()
    assert w.wait(30) and 4 not in w.labels
    w.undo()
    w.object_names = {40: "kept for later"}
    w.paint_box((0, 0, 6, 6), obj=30)
    r, c = centres[5]
    new = w.editor.split(6, np.array([[r - 10, c], [r + 10, c]], float), radius=1.0)
    assert new == [41]  # after the named (40) and boxed (30) ids
    assert w.new_object() == 42


def test_load_labels_from_a_16_bit_file_keeps_work_and_each_object_exactly(cells, tmp_path):
    w, centres = cells
    h, wd = w.labels.shape
    lab = np.zeros((h, wd), np.int32)
    lab[62:66, 2:30] = 1000  # in the background (below the last row of cells): added
    r, c = centres[0]
    lab[r - 2 : r + 3, c - 2 : c + 3] = 60000  # on object 1: left out
    path = tmp_path / "cp_masks.tif"
    cv2.imwrite(str(path), lab.astype(np.uint16))
    new = w.load_labels(path)
    assert w.wait(30)
    assert new == [13] and (w.labels[62:66, 2:30] == 13).all() and w.labels[r, c] == 1
    w.undo()
    assert w.wait(30) and 13 not in w.labels
    assert w.load_labels(lab) == [13]
    with pytest.raises(ValueError, match="labels"):
        w.load_labels(np.zeros((3, 3), np.uint8))
    w.undo()
    big = np.zeros((h, wd), np.int64)
    big[62:66, 2:10], big[62:66, 20:30], big[62:66, 40:50] = 2**40, 70000, 5  # any ids: kept apart
    assert w.load_labels(big) == [13, 14, 15]
    assert w.wait(30) and w.labels[63, 45] == 13 and w.labels[63, 25] == 14 and w.labels[63, 5] == 15
    w.undo()
    import tifffile

    ids = np.where(big > 0, big // 1024 + 1, 0).astype(np.int32)  # 2**30 + 1, 69, 1: beyond 65,535 in a file
    tifffile.imwrite(tmp_path / "int32.tif", ids)
    assert w.load_labels(tmp_path / "int32.tif") == [13, 14, 15]
    with pytest.raises(ValueError, match="negative"):
        w.load_labels(-big)


def test_the_object_box_stays_short_with_thousands_of_objects():
    ids = list(range(1, 5001))
    names = {k: f"cell {k}" for k in range(1, 5001, 7)}
    sug = object_suggestions(ids, names, 2500)
    assert len(sug) <= MAX_SUGGESTIONS and "2500: cell 2500" in sug and "2501" in sug and "1: cell 1" in sug
    assert find_object("2500", names) == 2500 and find_object("8: cell 8", names) == 8
    assert find_object("CELL 15", names) == 15 and find_object("cell 99", names) == 99
    assert find_object("cell 9", names) == 92  # no exact name: the first containing it
    assert find_object("65535", names) is None and find_object("0", names) is None
    assert find_object("", names) is None and find_object(None, names) is None
    assert find_object("nothing", names) is None


def test_pick_and_split_leave_seeds_untouched_off_objects(cells):
    w, centres = cells
    seeds = w.seeds.copy()
    w.tool = "pick"
    click(w, *at(w, (0, 0)))
    assert np.array_equal(w.seeds, seeds) and w.seeds[0, 0] == BACKGROUND
