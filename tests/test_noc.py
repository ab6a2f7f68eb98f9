import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import disk_scene

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
