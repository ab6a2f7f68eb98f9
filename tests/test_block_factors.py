"""Every method at every block factor on odd image sizes, with and without a prior or a box (issue 9.1).

The coarse stage's shapes depend only on ``H mod k`` and ``W mod k``, so small images with the
same residues stand in for most photo sizes; the reported sizes run at the factors that broke.
"""

import numpy as np
import pytest
from conftest import disk_scene, drag

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND, segmenters
from ipyseg.segmentation.multiscale import Multiscale, block_reduce_labels

METHODS = ["click_graphcut", "grabcut", "watershed"]


def _scene(h, w, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    seeds = np.zeros((h, w), np.uint8)
    seeds[h // 2, w // 2] = FOREGROUND
    seeds[0, 0] = BACKGROUND
    return image, seeds


def _box(h, w):
    """A box prior (object 1 inside) and seeds marking outside the box as background, like the widget."""
    prior = np.zeros((h, w), np.uint8)
    r0, r1, c0, c1 = h // 5, max(h // 5 + 1, 4 * h // 5), w // 5, max(w // 5 + 1, 4 * w // 5)
    prior[r0:r1, c0:c1] = 1
    seeds = np.where(prior > 0, 0, BACKGROUND).astype(np.uint8)
    return prior, seeds


def _check(result, seeds, shape):
    labels = result.labels
    assert labels.shape == shape and labels.dtype == np.uint16
    fg, bg = seeds >= FOREGROUND, seeds == BACKGROUND
    assert (labels[fg] == seeds[fg] - 1).all() and (labels[bg] == 0).all()


@pytest.mark.parametrize("shape", [(2, 2), (3, 7), (7, 3), (5, 9), (23, 37), (29, 31)])
@pytest.mark.parametrize("method", METHODS)
def test_small_odd_sizes_every_factor(method, shape):
    h, w = shape
    image, seeds = _scene(h, w)
    func = segmenters.get(method)
    prior_box, seeds_box = _box(h, w)
    loaded = np.zeros((h, w), np.uint8)
    loaded[: (h + 1) // 2] = 1  # a loaded mask: top half
    for k in range(1, 9):
        ms = Multiscale(image)  # fresh: each factor from scratch
        _check(ms.segment(func, seeds, None, {}, factor=k), seeds, shape)
        _check(ms.segment(func, seeds, loaded, {}, factor=k), seeds, shape)
        _check(ms.segment(func, seeds_box, prior_box, {}, factor=k), seeds_box, shape)
        box_and_stroke = seeds_box.copy()
        box_and_stroke[h // 2, w // 2] = FOREGROUND
        _check(ms.segment(func, box_and_stroke, prior_box, {}, factor=k), box_and_stroke, shape)


@pytest.mark.parametrize("shape", [(480, 854), (479, 853), (667, 1001)])
def test_reported_sizes_with_a_box_every_coarse_factor(shape):
    # (480, 854) with factors 4, 6 and 9 failed: "operands could not be broadcast together
    # with shapes (53,95) (54,95)".
    h, w = shape
    image, _ = _scene(h, w)
    prior, seeds = _box(h, w)
    seeds[h // 2, w // 2] = FOREGROUND
    ms = Multiscale(image)
    for method in METHODS:
        func = segmenters.get(method)
        params = {"iterations": 1} if method == "grabcut" else {}
        for k in (4, 5, 6, 7, 8, 9):
            _check(ms.segment(func, seeds, prior, params, factor=k), seeds, shape)


def test_block_reduce_labels_is_the_mode_of_each_block():
    rng = np.random.default_rng(4)
    for h, w in [(2, 2), (3, 7), (13, 11), (17, 30)]:
        dense = rng.integers(0, 4, (h, w)).astype(np.uint8)
        dense[rng.random((h, w)) < 0.4] = 0
        sparse = np.zeros((h, w), np.uint8)  # objects inside a bounding box away from the edges
        window = (slice(h // 3, h // 3 + 3), slice(w // 4, w // 4 + 4))
        sparse[window] = dense[window]
        for labels, k in [(x, k) for x in (dense, sparse) for k in range(1, 9)]:
            out = block_reduce_labels(labels, k)
            assert out.shape == (-(-h // k), -(-w // k))
            for i in range(out.shape[0]):
                for j in range(out.shape[1]):
                    block = labels[i * k : (i + 1) * k, j * k : (j + 1) * k].ravel()  # partial at the edges
                    counts = np.bincount(block, minlength=4)
                    top = np.flatnonzero(counts == counts.max())
                    assert out[i, j] == top.max()  # ties go to the larger label


def test_block_reduce_labels_single_label_and_uint8_codes():
    assert (block_reduce_labels(np.full((5, 7), 3, np.uint8), 3) == 3).all()
    big = np.zeros((9, 9), np.uint8)
    big[:5, :5] = 254
    out = block_reduce_labels(big, 3)
    assert out.tolist() == [[254, 254, 0], [254, 0, 0], [0, 0, 0]]  # block (1, 1): 4 of 9 pixels


def test_incremental_prior_matches_a_fresh_reduction():
    image, seeds = _scene(97, 131)
    func = segmenters.get("watershed")
    ms = Multiscale(image)
    prior = np.zeros(seeds.shape, np.uint8)
    for step in range(4):
        prior[10 * step : 10 * step + 23, 7 * step : 7 * step + 40] = step % 3
        for k in (3, 5):
            ms.segment(func, seeds, prior, {}, factor=k)
            assert np.array_equal(ms._priors[k][1], block_reduce_labels(prior, k))


def _odd_widget(shape, factor, method=None):
    h, w = shape
    image, _ = disk_scene(h=h, w=w, seed=1)
    wdg = ipyseg.SegmentWidget(image, method=method, max_display_pixels=20_000)
    wdg.document.multiscale.final_factor = factor  # force the block factor of every stage
    return wdg


@pytest.mark.parametrize("method", METHODS)
def test_widget_box_then_stroke_and_loaded_mask_then_stroke_at_forced_factors(method):
    h, w = 53, 95  # the shapes of the reported error
    for k in (1, 2, 4, 6, 8):
        wdg = _odd_widget((h, w), k, method)
        wdg.paint_box((9, 7, 80, 45))
        wdg.paint([(40, 26)], label=FOREGROUND, radius=3)
        assert wdg.last_error is None and wdg.labels.shape == (h, w)
        assert wdg.labels[26, 40] == 1 and not wdg.labels[:, :5].any()  # outside the box: background
        wdg.clear()
        mask = np.zeros((h, w), bool)
        mask[10:40, 20:70] = True
        wdg.load_mask(mask)
        assert wdg.last_error is None and np.array_equal(wdg.mask, mask)
        wdg.paint([(5, 5), (90, 5)], label=BACKGROUND, radius=2)
        assert wdg.last_error is None and wdg.labels.shape == (h, w) and not wdg.labels[5, 5]
        wdg.close()


@pytest.mark.parametrize("method", METHODS)
def test_mouse_box_with_a_preview_stage_at_forced_factors(method):
    h, w = 53, 95  # shown at scale 1: canvas (x, y) = image (x, y)
    for k in (1, 3, 4):
        wdg = _odd_widget((h, w), k, method)
        wdg.document.multiscale.preview_seconds = 1e-9  # every stroke: a preview at factor 2 k, then the final stage
        assert wdg.document.multiscale.plan(segmenters.get(method)) == [2 * k, k]
        wdg.tool = "box"
        drag(wdg, [(9, 7), (80, 45)])
        assert wdg.wait(60) and wdg.last_error is None
        wdg.tool = "brush"
        drag(wdg, [(30, 26), (50, 26)])
        assert wdg.wait(60) and wdg.last_error is None
        assert wdg.labels[26, 40] == 1 and not wdg.labels[:, :5].any()
        wdg.close()


def test_widget_box_on_a_twelve_megapixel_photo():
    # 4001 x 2999 at the widget's own final factor (7: 2999 and 4001 are not multiples of it).
    rng = np.random.default_rng(0)
    image = np.full((2999, 4001, 3), 40, np.uint8)
    image[900:2100, 1300:2700] = (220, 150, 40)
    image += rng.integers(0, 20, image.shape, dtype=np.uint8)
    wdg = ipyseg.SegmentWidget(image)
    assert wdg.document.multiscale.final_factor > 1 and 2999 % wdg.document.multiscale.final_factor
    wdg.paint_box((1200, 800, 2800, 2200))
    assert wdg.last_error is None
    assert wdg.labels[1500, 2000] == 1 and not wdg.labels[100, 100]
    inside = wdg.mask[800:2200, 1200:2800].mean()
    assert 0.6 < inside < 0.95  # the object fills about 75 % of the box
    wdg.paint([(2000, 1500)], label=FOREGROUND, radius=20)
    assert wdg.last_error is None and wdg.labels[1500, 2000] == 1
    wdg.close()
