"""A focus scroll between press and release must not turn a click into a streak."""

import numpy as np
from conftest import disk_scene, send

from ipyseg import FOREGROUND, SegmentWidget


def _widget():
    img, _ = disk_scene(h=400, w=600)
    return SegmentWidget(img, method="watershed", max_display_pixels=150 * 100)  # scale 1/4


def test_click_after_focus_scroll_is_one_disk():
    w = _widget()
    # press at canvas (50, 25); ipycanvas focuses the canvas, the page scrolls by 30 canvas px,
    # so the mouse-down and the mouse-up (pointer not moved) are measured 30 px lower
    send(w, "mouse_move", 50, 25)
    send(w, "mouse_down", 50, 55)
    send(w, "mouse_up", 50, 55)
    assert w.wait(30)
    ys, xs = np.nonzero(w.seeds == FOREGROUND)
    assert abs(ys.mean() - (4 * 25 - 0.5)) < 1 and abs(xs.mean() - (4 * 50 - 0.5)) < 1
    assert np.ptp(ys) <= w.brush_size + 1  # a disk, not a line to where the scroll left the pointer


def test_drag_after_focus_scroll_keeps_its_shape_and_later_presses_are_unshifted():
    w = _widget()
    send(w, "mouse_move", 20, 20)
    send(w, "mouse_down", 20, 50)  # scrolled by 30
    send(w, "mouse_move", 60, 50)  # the hand moved 40 px to the right, nothing vertical
    send(w, "mouse_up", 60, 50)
    assert w.wait(30)
    ys, xs = np.nonzero(w.seeds == FOREGROUND)
    assert abs(ys.mean() - (4 * 20 - 0.5)) < 1  # a horizontal stroke at the pressed row
    assert xs.min() < 4 * 20 and xs.max() > 4 * 60 - 8
    before = w.seeds.copy()
    send(w, "mouse_move", 100, 80)  # no scroll this time
    send(w, "mouse_down", 100, 80)
    send(w, "mouse_up", 100, 80)
    assert w.wait(30)
    ys, xs = np.nonzero(w.seeds != before)
    assert abs(ys.mean() - (4 * 80 - 0.5)) < 1 and abs(xs.mean() - (4 * 100 - 0.5)) < 1
