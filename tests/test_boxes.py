"""A box belongs to one object: it constrains that object and leaves the others alone."""

import numpy as np
import pytest
from conftest import disk_scene

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND, SegmentWidget, segmenters
from ipyseg.segmentation.run import apply_boxes, box_inputs

H, W = 241, 321  # odd sizes


def _scene():
    img, gt = disk_scene(H, W)
    rr, cc = np.nonzero(gt)
    seeds = np.zeros((H, W), np.uint8)
    seeds[int(rr.mean()) - 3 : int(rr.mean()) + 4, int(cc.mean()) - 3 : int(cc.mean()) + 4] = FOREGROUND
    return img, gt, seeds


CORNER = (5, 5, 45, 45)  # (x0, y0, x1, y1): top-left corner, away from the disk


@pytest.mark.parametrize("method", ["click_graphcut", "grabcut", "watershed"])
def test_a_box_for_object_2_leaves_object_1(method):
    img, gt, seeds = _scene()
    alone = ipyseg.segment(img, seeds, method=method)
    with_box = ipyseg.segment(img, seeds, method=method, boxes={FOREGROUND + 1: CORNER})
    a1, b1 = int((alone == 1).sum()), int((with_box == 1).sum())
    assert a1 > 0.5 * gt.sum()
    assert abs(b1 - a1) <= 0.03 * a1, (method, a1, b1)
    outside = np.ones((H, W), bool)
    outside[5:46, 5:46] = False
    assert not ((with_box == 2) & outside).any(), "object 2 must stay inside its box"


def test_the_widget_keeps_object_1_when_object_2_gets_a_box():
    img, gt, seeds = _scene()
    w = SegmentWidget(img)
    try:
        rr, cc = np.nonzero(seeds)
        w.paint([(float(cc.mean()), float(rr.mean()))], radius=4)
        assert w.wait(60)
        before = int((w.labels == 1).sum())
        assert before > 0.5 * gt.sum()
        assert w.new_object() == 2
        w.paint_box(CORNER)
        assert w.wait(60)
        after = int((w.labels == 1).sum())
        assert abs(after - before) <= 0.03 * before, (before, after)
    finally:
        w.close()


@pytest.mark.parametrize("method", ["click_graphcut", "grabcut", "watershed"])
def test_one_object_with_its_box_is_exactly_grabcuts_rectangle(method):
    """Every object boxed (the robot benchmark's protocol): the same inputs as before the fix."""
    img, gt, seeds = _scene()
    rr, cc = np.nonzero(gt)
    window = (int(rr.min()), int(rr.max()) + 1, int(cc.min()), int(cc.max()) + 1)
    func = segmenters.get(method)
    s, p, b = box_inputs(func, seeds, None, {FOREGROUND: window})
    s0, p0 = apply_boxes(seeds, None, {FOREGROUND: window})
    assert b is None and np.array_equal(s, s0) and np.array_equal(p, p0)
    corners = {FOREGROUND: (window[2], window[0], window[3] - 1, window[1] - 1)}
    got = ipyseg.segment(img, seeds, method=method, boxes=corners)
    assert np.array_equal(got, ipyseg.segment(img, s0, method=method, prior=p0))


def test_box_inputs_by_kind_of_method():
    seeds = np.zeros((31, 43), np.uint8)
    seeds[10, 10] = FOREGROUND  # object 1, no box
    boxes = {FOREGROUND + 1: (20, 30, 30, 40)}
    # one-vs-rest methods get the boxes and apply them per object
    s, p, b = box_inputs(segmenters.get("grabcut"), seeds, None, boxes)
    assert b == boxes and np.array_equal(s, seeds)
    # other methods: a prior inside the box, no background outside (object 1 has no box)
    s, p, b = box_inputs(segmenters.get("watershed"), seeds, None, boxes)
    assert b is None and not (s == BACKGROUND).any() and (p[20:30, 30:40] == 2).all() and p.sum() == 2 * 100
    # every object boxed: GrabCut's rectangle
    s, p, b = box_inputs(segmenters.get("watershed"), seeds, None, {**boxes, FOREGROUND: (5, 15, 5, 15)})
    assert b is None and (s[0, 0] == BACKGROUND) and s[25, 35] == 0


def test_one_vs_rest_declares_boxes():
    for name in ("grabcut", "click_graphcut"):
        func = segmenters.get(name)
        assert segmenters.accepts(func, "boxes") and func.per_object_boxes
    assert not segmenters.accepts(segmenters.get("watershed"), "boxes")


@pytest.mark.parametrize("factor", [1, 2, 3, 5])
@pytest.mark.parametrize("method", ["click_graphcut", "grabcut", "watershed"])
def test_fast_path_keeps_object_1(method, factor):
    from ipyseg.segmentation.multiscale import Multiscale

    img, gt, seeds = _scene()
    big = np.kron(img, np.ones((3, 3, 1), np.uint8))[: 3 * H - 2, : 3 * W - 1]
    s = np.kron(seeds, np.ones((3, 3), np.uint8))[: big.shape[0], : big.shape[1]]
    func = segmenters.get(method)
    ms = Multiscale(big)
    alone = ms.segment(func, s, None, {}, factor=factor).labels
    window = (15, 135, 15, 135)
    s2, p2, b2 = box_inputs(func, s, None, {FOREGROUND + 1: window})
    with_box = Multiscale(big).segment(func, s2, p2, {}, factor=factor, boxes=b2).labels
    a1, b1 = int((alone == 1).sum()), int((with_box == 1).sum())
    assert a1 > 0 and abs(b1 - a1) <= 0.03 * a1, (method, a1, b1)
