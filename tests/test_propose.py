"""Proposals: ipyseg.propose finds blob-like objects; w.editor.propose / add_objects make them
ordinary exact objects in one undo step, never over existing work."""

import sys
from pathlib import Path

import numpy as np
import pytest

import ipyseg
from ipyseg import BACKGROUND, SegmentWidget

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.many_cells import fluorescence  # noqa: E402


def f1_at_half(gt, lab):
    m = (gt > 0) & (lab > 0)
    pairs, cnt = np.unique(np.stack([gt[m].astype(np.int64), lab[m].astype(np.int64)]), axis=1, return_counts=True)
    ga, la = np.bincount(gt.ravel()), np.bincount(lab.ravel())
    tp = int((cnt / (ga[pairs[0]] + la[pairs[1]] - cnt) > 0.5).sum())
    n_gt, n_pred = int((ga[1:] > 0).sum()), int((la[1:] > 0).sum())
    return 2 * tp / max(1, n_gt + n_pred)


@pytest.mark.parametrize("size", [301, 512])  # odd and even
def test_propose_finds_touching_synthetic_nuclei(size):
    img, _, radii, gt = fluorescence(size, 49, seed=3, truth=True, radius=(0.25, 0.4))
    lab = ipyseg.propose(img, diameter=2 * float(np.median(radii)))
    assert lab.dtype == np.uint16 and lab.shape == gt.shape
    assert f1_at_half(gt, lab) >= 0.9
    assert set(np.unique(lab)) == set(range(int(lab.max()) + 1))  # 1..n, no gaps


def test_propose_on_dark_objects_and_colour_images():
    img, _, radii, gt = fluorescence(256, 16, seed=1, truth=True)
    inverted = (65535 - img).astype(np.uint16)
    lab = ipyseg.propose(inverted, diameter=2 * float(np.median(radii)), dark=True)
    assert f1_at_half(gt, lab) >= 0.9
    rgb = np.dstack([(img >> 8).astype(np.uint8)] * 3)
    assert f1_at_half(gt, ipyseg.propose(rgb, diameter=2 * float(np.median(radii)))) >= 0.9


def test_propose_validates_its_parameters():
    img = np.zeros((20, 30), np.uint8)
    with pytest.raises(ValueError, match="`method`.*'cellpose'"):
        ipyseg.propose(img, "cellpose")
    for bad in (0.5, float("nan"), -3, 31.0, 1e12):  # the image is 20 x 30
        with pytest.raises(ValueError, match="`diameter`"):
            ipyseg.propose(img, diameter=bad)
    with pytest.raises(TypeError, match="`diameter`.*'big'"):
        ipyseg.propose(img, diameter="big")
    with pytest.raises(TypeError, match="`dark`"):
        ipyseg.propose(img, dark="yes")
    assert not ipyseg.propose(img).any()  # a flat image proposes nothing


def test_proposals_become_exact_objects_in_one_undo_step_and_never_overwrite_work():
    img, centres, radii, gt = fluorescence(257, 25, seed=2, truth=True)
    w = SegmentWidget(img)
    try:
        r, c = centres[0]
        w.click(float(c), float(r), label=2)  # object 1, drawn by hand on cell 1
        assert w.wait(60)
        mine, my_seeds = w.labels == 1, w.seeds.copy()
        new = w.editor.propose(diameter=2 * float(np.median(radii)))
        assert w.wait(120)
        assert len(new) == 24 and new[0] == 2  # cell 1 is taken: proposed 25, added 24
        # the object drawn by hand keeps its seeds and its shape (solved in its window now that
        # it has neighbours, so not bit for bit)
        assert (w.seeds[my_seeds >= 2] == my_seeds[my_seeds >= 2]).all()
        assert ((w.labels == 1) & mine).sum() / ((w.labels == 1) | mine).sum() >= 0.85
        # every added object is exact: shown as proposed, seeded with its code, ringed with background
        prop = ipyseg.propose(img, diameter=2 * float(np.median(radii)))
        for k in new[:5]:
            region = w.labels == k
            assert (w.seeds[region] == k + 1).all()
            assert (prop[region] > 0).all() and len(np.unique(prop[region])) == 1
        assert (w.seeds == BACKGROUND).any()
        assert w.undo() and w.wait(60)
        assert set(w.objects()) == {1}
    finally:
        w.close()


def test_add_objects_takes_a_label_image_of_any_integer_dtype():
    img, _, _, gt = fluorescence(129, 9, seed=4, truth=True)
    w = SegmentWidget(img)
    try:
        ids = w.editor.add_objects(gt.astype(np.int32) * 1000)  # ids 1000..9000, int32
        assert w.wait(60)
        assert ids == list(range(1, 10))
        lut = {1000 * k: k for k in range(10)}
        assert np.array_equal(w.labels, np.vectorize(lut.get)(gt.astype(np.int64) * 1000))
        with pytest.raises(ValueError, match="`labels`"):
            w.editor.add_objects(np.zeros((5, 5), np.uint8))
    finally:
        w.close()
