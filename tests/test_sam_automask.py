"""SAM's automatic mask generator (issue 18), on the tiny ONNX pair whose masks are known: the
decoder's masks are disks of radius 6 / 12 / 18 input pixels around each prompt point, with
predicted IoUs 0.5 / 0.9 / 0.7 (tests/tiny_sam.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_sam as T

import ipyseg
from ipyseg import SegmentWidget
from ipyseg.sam import SamModel, auto_masks

pytest.importorskip("onnx")

KW = {"min_score": 0.6, "min_stability": 0.5}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("amg")
    enc = T.build_encoder(d / "encoder.onnx")
    dec = T.build_decoder(d / "decoder.onnx", radii=(6.0, 12.0, 18.0), ious=(0.5, 0.9, 0.7))
    return SamModel(enc, dec, backend="opencv")


@pytest.mark.parametrize("shape", [(128, 128), (300, 451), (451, 300), (97, 61)])
def test_one_object_per_grid_point_after_score_filter_and_nms(model, shape):
    h, w = shape
    img = np.full((h, w, 3), 120, np.uint8)
    lab = auto_masks(img, model=model, points_per_side=4, nms_iou=0.3, **KW)
    assert lab.shape == shape and lab.dtype == np.uint16
    ids, area = np.unique(lab, return_counts=True)
    assert list(ids) == list(range(17))  # 16 points, the radius-12 mask of each (0.9 beats 0.7; 0.5 is filtered)
    scale = max(h, w) / 128  # image pixels per input pixel
    expected = np.pi * (12 * scale) ** 2
    assert np.allclose(area[1:], expected, rtol=0.12), (area[1:], expected)
    # each object holds its own grid point (numbered by decreasing score, then grid order)
    t = (np.arange(4) + 0.5) / 4
    at = lab[np.ix_(np.minimum((t * h).astype(int), h - 1), np.minimum((t * w).astype(int), w - 1))]
    assert sorted(at.ravel()) == list(range(1, 17))


def test_nms_threshold_and_the_small_on_top_painting(model):
    img = np.full((128, 128, 3), 120, np.uint8)
    both = auto_masks(img, model=model, points_per_side=4, nms_iou=0.7, **KW)
    assert len(np.unique(both)) == 33  # radius 12 and 18 per point: box IoU 0.44 < 0.7, both kept
    one = auto_masks(img, model=model, points_per_side=4, nms_iou=0.3, **KW)
    # the small disk is painted over the large one: every point still shows its radius-12 object
    assert (np.unique(both[one > 0]) > 0).all()
    assert auto_masks(img, model=model, points_per_side=4, min_score=0.95, min_stability=0.5).max() == 0
    # the decoder's largest mask is dropped by max_area when it covers most of the photo
    few = auto_masks(img, model=model, points_per_side=1, nms_iou=1.0, max_area=0.05, **KW)
    assert len(np.unique(few)) == 2  # radius 12 (0.028 of the photo) only: radius 18 covers 0.062


def test_propose_sam_and_its_parameters(model):
    img = np.full((200, 260, 3), 120, np.uint8)
    lab = ipyseg.propose(img, "sam", model=model, points_per_side=3, nms_iou=0.3, **KW)
    assert int(lab.max()) == 9
    with pytest.raises(ValueError, match="`points_per_side`"):
        ipyseg.propose(img, "sam", model=model, points_per_side=0)
    with pytest.raises(ValueError, match="`nms_iou`"):
        ipyseg.propose(img, "sam", model=model, nms_iou=1.5)
    with pytest.raises(TypeError, match="`model`"):
        ipyseg.propose(img, "sam")
    with pytest.raises(TypeError, match="unknown parameter"):
        ipyseg.propose(img, "sam", model=model, diameter=3)
    with pytest.raises(ValueError, match="`method`"):
        ipyseg.propose(img, "cellpose")


def test_widget_propose_with_sam_is_one_undo_step(model):
    img = np.full((200, 260, 3), 120, np.uint8)
    w = SegmentWidget(img, method="watershed")
    new = w.propose("sam", model=model, points_per_side=3, nms_iou=0.3, **KW)
    assert w.wait(30) and new == list(range(1, 10)) and int(w.labels.max()) == 9
    assert w.undo() and w.wait(30) and not w.labels.any()
    w.close()
