import numpy as np
import pytest
from conftest import disk_scene, iou

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND


def few_seeds(gt, fg_only=False):
    h, w = gt.shape
    seeds = np.zeros(gt.shape, np.uint8)
    ys, xs = np.nonzero(gt)
    cy, cx = int(ys.mean()), int(xs.mean())
    seeds[cy - 3 : cy + 4, cx - 20 : cx + 21] = FOREGROUND
    if not fg_only:
        seeds[5:10, 5 : w - 5] = BACKGROUND
        seeds[h - 10 : h - 5, 5 : w - 5] = BACKGROUND
    return seeds


@pytest.mark.parametrize("method", ipyseg.methods())
@pytest.mark.parametrize("fg_only", [False, True])
def test_each_method_segments_the_disk(method, fg_only):
    img, gt = disk_scene()
    labels = ipyseg.segment(img, few_seeds(gt, fg_only), method=method)
    assert labels.shape == gt.shape and labels.dtype.kind in "iu"
    assert iou(labels > 0, gt) >= 0.9


def test_default_method_and_input_kinds():
    img, gt = disk_scene()
    seeds = few_seeds(gt)
    ref = ipyseg.segment(img, seeds)
    assert iou(ref > 0, gt) >= 0.9
    as_float = ipyseg.segment(img / 255.0, seeds)
    assert iou(as_float > 0, gt) >= 0.9
    rgba = np.dstack([img, np.full(gt.shape, 255, np.uint8)])
    assert iou(ipyseg.segment(rgba, seeds) > 0, gt) >= 0.9
    gray = img.mean(axis=2).astype(np.uint8)
    assert iou(ipyseg.segment(gray, seeds, method="watershed") > 0, gt) >= 0.9


def test_no_seeds_is_all_background():
    img, _ = disk_scene()
    for method in ipyseg.methods():
        assert not ipyseg.segment(img, np.zeros(img.shape[:2], np.uint8), method=method).any()
        only_bg = np.zeros(img.shape[:2], np.uint8)
        only_bg[:5] = BACKGROUND
        assert not ipyseg.segment(img, only_bg, method=method).any()


def test_unknown_params_and_methods():
    img, gt = disk_scene()
    with pytest.raises(TypeError, match="iteratoins"):
        ipyseg.segment(img, few_seeds(gt), method="grabcut", iteratoins=2)
    with pytest.raises(ValueError, match="`method`.*'nope'"):
        ipyseg.segment(img, few_seeds(gt), method="nope")
    with pytest.raises(ValueError, match="`iterations`"):
        ipyseg.segment(img, few_seeds(gt), method="grabcut", iterations=0)


def test_two_objects_without_overlap():
    img, gt = disk_scene()
    seeds = few_seeds(gt)
    seeds[100:110, 20:40] = 3  # second object in the background stripes
    for method in ("click_graphcut", "grabcut", "watershed"):  # not methods other tests registered
        labels = ipyseg.segment(img, seeds, method=method)
        assert set(np.unique(labels)) >= {1, 2}
        assert iou(labels == 1, gt) >= 0.8


def test_register_method():
    calls = []

    def thresh(image, seeds, *, level=128):
        calls.append(image.shape)
        return image[:, :, 0] > level

    ipyseg.register_method("thresh-test", thresh)
    try:
        img, gt = disk_scene()
        out = ipyseg.segment(img, few_seeds(gt), method="thresh-test", level=200)
        assert "thresh-test" in ipyseg.methods() and calls == [img.shape]
        assert iou(out, gt) > 0.9
        with pytest.raises(TypeError, match="lvl"):
            ipyseg.segment(img, few_seeds(gt), method="thresh-test", lvl=1)
        with pytest.raises(ValueError, match="already registered"):
            ipyseg.register_method("thresh-test", lambda image, seeds: seeds > 1)
    finally:
        from ipyseg import segmenters

        segmenters.unregister("thresh-test")


def test_prior_guides_grabcut():
    img, gt = disk_scene()
    seeds = np.zeros(gt.shape, np.uint8)
    seeds[:4] = BACKGROUND
    labels = ipyseg.segment(img, seeds, method="grabcut", prior=gt)
    assert iou(labels > 0, gt) >= 0.9
