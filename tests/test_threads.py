"""Edits from the kernel's comm thread and from a cell at once (ipykernel 7 runs them on two threads)."""

import threading
import time

import numpy as np
from conftest import disk_scene, drag, iou

from ipyseg import SegmentWidget


def _slow_publish(w, seconds, inside=None):
    """Make every seed publication slow, as a busy page makes the comm round trip."""

    def slow(change):
        if inside is not None:
            inside.set()
        time.sleep(seconds)

    w.observe(slow, names="seeds")


def test_wait_covers_a_mouse_edit_in_flight_on_the_comm_thread():
    img, gt = disk_scene(h=160, w=200, seed=3)
    w = SegmentWidget(img, method="grabcut")
    w.tool = "box"
    _slow_publish(w, 0.4)  # between the box being set and its segmentation being asked for
    ys, xs = np.nonzero(gt)
    comm = threading.Thread(target=drag, args=(w, [(xs.min() - 8, ys.min() - 8), (xs.max() + 8, ys.max() + 8)]))
    comm.start()
    deadline = time.monotonic() + 10
    while not w.session_state().boxes and time.monotonic() < deadline:  # the cell sees the box ...
        time.sleep(0.002)
    assert w.session_state().boxes
    assert w.wait(60)  # ... and wait() covers the segmentation the box asks for
    assert iou(w.mask, gt) >= 0.85
    comm.join(10)
    assert not comm.is_alive()
    w.close()


def test_a_cell_edit_during_a_mouse_edit_stays_synchronous():
    img, gt = disk_scene(h=160, w=200, seed=3)
    w = SegmentWidget(img, method="watershed")
    w.tool = "box"
    inside = threading.Event()
    _slow_publish(w, 0.3, inside)
    ys, xs = np.nonzero(gt)
    comm = threading.Thread(target=drag, args=(w, [(xs.min() - 8, ys.min() - 8), (xs.max() + 8, ys.max() + 8)]))
    comm.start()
    assert inside.wait(10)  # the comm thread is inside its edit
    cy, cx = int(ys.mean()), int(xs.mean())
    w.paint([(cx, cy), (cx + 3, cy)])  # code in a cell: its labels are there when it returns
    assert w.labels[cy, cx] == 1
    comm.join(10)
    assert w.wait(60)
    w.close()
