import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import box_scene, disk_scene, tight_box

import ipyseg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import noc  # noqa: E402


def disk(shape, center, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2


def test_positive_click_at_centre_of_larger_false_negative():
    shape = (80, 100)
    gt = disk(shape, (30, 40), 15) | disk(shape, (65, 85), 4)
    pred = disk(shape, (65, 85), 4) | disk(shape, (10, 90), 3)  # small false positive
    valid = np.ones(shape, bool)
    row, col, positive = noc.next_click(pred, gt, valid, np.zeros(shape, bool))
    assert positive and (row, col) == (30, 40)


def test_negative_click_when_false_positive_is_larger():
    shape = (80, 100)
    gt = disk(shape, (20, 20), 4)
    pred = disk(shape, (50, 60), 12)
    row, col, positive = noc.next_click(pred, gt, np.ones(shape, bool), np.zeros(shape, bool))
    assert not positive and (row, col) == (50, 60)


def test_tie_goes_negative():
    shape = (60, 60)
    gt = np.zeros(shape, bool)
    gt[10:15, 10:15] = True
    pred = np.zeros(shape, bool)
    pred[40:45, 40:45] = True
    row, col, positive = noc.next_click(pred, gt, np.ones(shape, bool), np.zeros(shape, bool))
    assert not positive and (row, col) == (42, 42)


def test_image_border_counts_as_boundary_and_first_row_major_maximum_wins():
    shape = (40, 80)
    gt = np.zeros(shape, bool)
    gt[:10] = True  # a strip along the top border: distance min(r + 1, 10 - r), min(c + 1, 80 - c)
    row, col, positive = noc.next_click(np.zeros(shape, bool), gt, np.ones(shape, bool), np.zeros(shape, bool))
    assert positive and (row, col) == (4, 4)


def test_ignore_band_is_excluded_from_clicks_and_iou():
    shape = (60, 60)
    gt = np.zeros(shape, bool)
    gt[10:50, 10:50] = True
    valid = np.ones(shape, bool)
    valid[:, 10:40] = False  # only columns 40..49 of the object count
    row, col, positive = noc.next_click(np.zeros(shape, bool), gt, valid, np.zeros(shape, bool))
    assert positive and valid[row, col] and 40 <= col < 50
    pred = gt & ~valid  # right only where nothing counts
    assert noc.iou(pred, gt, valid) == 0.0
    assert noc.iou(gt & valid, gt, valid) == 1.0


def test_clicked_pixels_are_not_clicked_again():
    shape = (60, 60)
    gt = disk(shape, (30, 30), 10)
    clicked = np.zeros(shape, bool)
    first = noc.next_click(np.zeros(shape, bool), gt, np.ones(shape, bool), clicked)
    seeds = np.zeros(shape, np.uint8)
    noc.add_disk(seeds, first[0], first[1], 2)
    assert seeds[first[0], first[1]] == 2 and (seeds > 0).sum() == disk(shape, first[:2], 5).sum()
    second = noc.next_click(np.zeros(shape, bool), gt, np.ones(shape, bool), seeds > 0)
    assert second[:2] != first[:2] and not (seeds > 0)[second[0], second[1]]


def test_noc_and_curve_helpers():
    ious = [0.5, 0.86, 0.91]
    assert noc.noc(ious, 0.85) == 2 and noc.noc(ious, 0.90) == 3 and noc.noc([0.2, 0.3], 0.9) == 20
    curve = noc.iou_curve(ious)
    assert len(curve) == 20 and curve[-1] == 0.91 and curve[:3] == ious
    summary = noc.summarize(
        [
            {"ious": ious, "seconds": [1, 2, 3], "cpu_seconds": [1, 1, 1]},
            {"ious": [0.1] * 20, "seconds": [1] * 20, "cpu_seconds": [1] * 20},
        ]
    )
    assert summary["noc90"] == pytest.approx((3 + 20) / 2) and summary["fail90"] == 1


def test_robot_user_reaches_target_on_synthetic_scene():
    image, gt = disk_scene(h=180, w=240)
    out = noc.run_robot(image, gt, np.ones(gt.shape, bool), method=None)
    assert out["ious"][-1] >= 0.9
    assert len(out["ious"]) <= 4
    assert out["clicks"][0][2]  # the first click is positive (nothing predicted yet)


def test_list_instances_rejects_unknown_set(tmp_path):
    with pytest.raises(ValueError, match="dataset"):
        noc.list_instances("pascal", tmp_path)
    with pytest.raises(FileNotFoundError, match="data"):
        noc.list_instances("grabcut", tmp_path)


def test_gt_box_is_the_tight_window():
    gt = np.zeros((40, 60), bool)
    gt[5:12, 20:31] = True
    gt[30, 2] = True
    assert noc.gt_box(gt) == (5, 31, 2, 31)  # rows 5..30, columns 2..30, end exclusive
    with pytest.raises(ValueError, match="gt"):
        noc.gt_box(np.zeros((4, 4), bool))


def test_box_protocol_box_alone_then_clicks():
    # Two identical disks in one box: the box alone cannot tell which one is the object, so the
    # robot has to click; NoC counts the clicks after the box, the box stays in force.
    image, gt = disk_scene(h=160, w=260, center=(80, 70), radius=30, seed=2)
    twin, other = disk_scene(h=160, w=260, center=(80, 150), radius=30, seed=3)
    image[other] = twin[other]
    valid = np.ones(gt.shape, bool)
    box = (40, 121, 30, 190)  # both disks
    out = noc.run_robot(image, gt, valid, box=box)
    assert 0 < out["iou_box"] < 0.9 and out["ious"] and out["ious"][-1] >= 0.9
    assert len(out["seconds"]) == len(out["ious"]) + 1  # the box's own segmentation is timed too
    assert not out["clicks"][0][2]  # a negative click on the other disk
    assert noc.noc(out["ious"], 0.9, iou_box=out["iou_box"]) == len(out["ious"])


def test_box_protocol_stops_when_the_box_alone_is_enough():
    image, gt = box_scene("small")
    out = noc.run_robot(image, gt, np.ones(gt.shape, bool), box=noc.gt_box(gt))
    assert out["iou_box"] >= 0.9 and out["ious"] == [] and out["clicks"] == []
    summary = noc.summarize([{**out, "seconds": [1.0], "cpu_seconds": [1.0]}])
    assert summary["protocol"] == "box" and summary["noc90"] == 0 and summary["fail90"] == 0
    assert summary["iou@0"] == pytest.approx(out["iou_box"]) and len(summary["curve"]) == noc.MAX_CLICKS + 1
    assert summary["iou@1"] == pytest.approx(out["iou_box"])  # a stopped instance keeps its IoU


def test_box_protocol_gives_the_method_what_the_box_tool_gives():
    image, gt = box_scene("bird", h=180, w=240, seed=4)
    valid = np.ones(gt.shape, bool)
    out = noc.run_robot(image, gt, valid, box=noc.gt_box(gt), max_clicks=0)
    w = ipyseg.SegmentWidget(image)
    try:
        w.paint_box(tight_box(gt))
        assert noc.iou(w.mask, gt, valid) == pytest.approx(out["iou_box"])
    finally:
        w.close()
    fast = noc.run_robot(image, gt, valid, box=noc.gt_box(gt), max_clicks=0, fast=True)
    assert fast["iou_box"] == pytest.approx(out["iou_box"])  # <= 0.48 MP: the fast path is full resolution


@pytest.mark.parametrize("method", ["click_graphcut", "grabcut", "watershed"])
def test_box_protocol_on_upscaled_scene_through_the_fast_path(method):
    image, gt = box_scene("bird", h=180, w=240, seed=4)
    image, gt, valid = noc.scale_instance(image, gt, np.ones(gt.shape, bool), 4.0)  # 0.69 MP: block factor 2
    out = noc.run_robot(image, gt, valid, method, box=noc.gt_box(gt), max_clicks=2, fast=True, radius=20)
    assert 0 <= out["iou_box"] <= 1 and len(out["seconds"]) == len(out["ious"]) + 1
    if method != "watershed":  # watershed takes no prior: it sees only the background outside the box
        assert out["iou_box"] >= 0.5


def test_summary_and_table_of_both_protocols():
    click = {"ious": [0.5, 0.95], "seconds": [1, 1], "cpu_seconds": [1, 1]}
    boxed = {"iou_box": 0.7, "ious": [0.88, 0.92], "seconds": [1, 1, 1], "cpu_seconds": [1, 1, 1]}
    never = {"iou_box": 0.2, "ious": [0.3] * 20, "seconds": [1] * 21, "cpu_seconds": [1] * 21}
    s_click, s_box = noc.summarize([click]), noc.summarize([boxed, never])
    assert s_click["protocol"] == "click" and "iou@0" not in s_click and s_click["noc90"] == 2
    assert s_box["noc85"] == pytest.approx((1 + 20) / 2) and s_box["noc90"] == pytest.approx((2 + 20) / 2)
    assert s_box["fail90"] == 1 and s_box["iou@0"] == pytest.approx(0.45) and s_box["iou@1"] == pytest.approx(0.59)
    table = noc.format_table([("a", "grabcut", s_click), ("b", "grabcut", s_box)]).splitlines()
    assert "IoU box" in table[0] and all(line.count("|") == table[0].count("|") for line in table)
    assert "| – |" in table[2] and "| 0.450 |" in table[3]
    with pytest.raises(ValueError, match="protocol"):
        noc.run_benchmark(None, "grabcut", protocol="boxes")
