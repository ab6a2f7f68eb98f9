"""What every built-in method promises (issue 9.3, 9.4, 9.5).

* labels for every valid seed / box / prior combination: (H, W) uint8, only ids that are seeded
  or in the prior, seeds kept (seeded pixels carry their seed's label);
* the same seeds give the same labels, whatever ran before and on any thread;
* a segmenter's labels outside 0..65534 are an error, never wrapped to uint16.
"""

import threading

import cv2
import numpy as np
import pytest
from conftest import disk_scene

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND, segmenters
from ipyseg.segmentation.multiscale import Multiscale

METHODS = ["click_graphcut", "grabcut", "watershed"]


# ------------------------------------------------------------------ combinations
def _rect(h, w, rng, min_side=1):
    r0, c0 = int(rng.integers(0, h)), int(rng.integers(0, w))
    r1 = int(rng.integers(min(h, r0 + min_side), h + 1))
    c1 = int(rng.integers(min(w, c0 + min_side), w + 1))
    return max(r0, 0), max(r1, r0 + 1), max(c0, 0), max(c1, c0 + 1)


def _boxed(h, w, boxes):
    """Seeds and prior as the widget builds them from boxes: inside = object, outside = background."""
    prior = np.zeros((h, w), np.uint8)
    inside = np.zeros((h, w), bool)
    for obj, (r0, r1, c0, c1) in boxes:
        sub = prior[r0:r1, c0:c1]
        sub[sub == 0] = obj
        inside[r0:r1, c0:c1] = True
    return np.where(inside, 0, BACKGROUND).astype(np.uint8), prior


def combinations(h, w, rng):
    """``(name, seeds, prior)`` covering the cases that broke and random mixtures."""
    z = np.zeros((h, w), np.uint8)
    one_fg = z.copy()
    one_fg[rng.integers(0, h), rng.integers(0, w)] = FOREGROUND
    yield "no seeds", z.copy(), None
    yield "only background", np.where(rng.random((h, w)) < 0.3, BACKGROUND, 0).astype(np.uint8), None
    yield "only one foreground pixel", one_fg, None
    yield "foreground everywhere", z + FOREGROUND, None
    yield "background everywhere", z + BACKGROUND, None
    yield "prior all ones", one_fg, z + 1
    yield "prior all ones, no seeds", z.copy(), z + 1
    yield "prior all zeros", one_fg, z.copy()
    r0, r1, c0, c1 = _rect(h, w, rng)
    prior = z.copy()
    prior[r0:r1, c0:c1] = 1
    covered = z.copy()
    covered[max(0, r0 - 2) : r1 + 2, max(0, c0 - 2) : c1 + 2] = BACKGROUND
    yield "prior covered by background seeds", covered, prior
    seeds, box = _boxed(h, w, [(1, (r0, r1, c0, c1))])
    yield "box", seeds, box
    yield "box covered by background seeds", np.maximum(seeds, covered), box
    seeds, box = _boxed(h, w, [(1, (0, h, 0, w))])
    yield "box covering the image", seeds, box
    seeds, box = _boxed(h, w, [(1, (r0, r0 + 1, c0, c0 + 1))])
    yield "box of one pixel", seeds, box
    seeds, box = _boxed(h, w, [(k, _rect(h, w, rng)) for k in (1, 2, 3)])
    yield "three boxes", seeds, box
    seeds[rng.integers(0, h), rng.integers(0, w)] = 3  # object 2 seeded in its box or outside
    yield "three boxes and a stroke", seeds, box
    many = rng.integers(0, 8, (h, w)).astype(np.uint8)
    many[rng.random((h, w)) < 0.7] = 0
    yield "many objects", many, None
    labels = rng.integers(0, 4, (h, w)).astype(np.uint8)
    yield "objects in the prior, none seeded", z.copy(), labels
    only2 = z.copy()
    only2[rng.integers(0, h), rng.integers(0, w)] = 3
    yield "object 2 seeded, objects 1-3 in the prior", only2, labels
    yield (
        "loaded mask, background stroke",
        np.where(rng.random((h, w)) < 0.1, BACKGROUND, 0).astype(np.uint8),
        (rng.random((h, w)) < 0.5).astype(np.uint8),
    )
    yield "random codes", np.where(rng.random((h, w)) < 0.2, rng.integers(1, 5, (h, w)), 0).astype(np.uint8), None


def _check_contract(labels, seeds, prior, where):
    h, w = seeds.shape
    assert labels.shape == (h, w) and labels.dtype == np.uint16, where
    allowed = {0} | {int(c) - 1 for c in np.unique(seeds) if c >= FOREGROUND}
    if prior is not None:
        allowed |= {int(k) for k in np.unique(prior)}
    assert set(np.unique(labels).tolist()) <= allowed, where
    fg, bg = seeds >= FOREGROUND, seeds == BACKGROUND
    assert (labels[fg] == seeds[fg] - 1).all(), f"{where}: object seeds not kept"
    assert (labels[bg] == 0).all(), f"{where}: background seeds not kept"


@pytest.mark.parametrize("method", METHODS)
def test_every_combination_gives_labels_that_keep_the_seeds(method):
    rng = np.random.default_rng(20240609)  # seeded: a failure names its case and reproduces
    func = segmenters.get(method)
    for h, w in [(2, 2), (3, 7), (9, 5), (24, 31), (41, 60)]:
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if h * w > 100:  # some structure: a bright disk
            yy, xx = np.mgrid[:h, :w]
            image[(yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 4) ** 2] = (230, 140, 40)
        for name, seeds, prior in combinations(h, w, rng):
            where = f"{method} {h}x{w} {name}"
            _check_contract(ipyseg.segment(image, seeds, method, prior=prior), seeds, prior, where)
            for k in (2, 3):
                out = Multiscale(image).segment(func, seeds, prior, {}, factor=k)
                _check_contract(out.labels, seeds, prior, f"{where} factor {k}")


def test_issue_reproducer_box_covered_by_a_background_stroke():
    image, _ = disk_scene(h=40, w=50)
    w = ipyseg.SegmentWidget(image)
    w.paint_box((5, 5, 15, 15))
    w.paint([(10, 10)], label=BACKGROUND, radius=12)  # was: "`samples` must hold at least one colour"
    assert w.last_error is None and not w.mask.any()
    w.clear()
    mask = np.zeros((40, 50), bool)
    mask[10:20, 10:20] = True
    w.load_mask(mask)
    w.paint([(15, 15)], label=BACKGROUND, radius=12)
    assert w.last_error is None and not w.mask.any()
    w.close()


@pytest.mark.parametrize("method", ["grabcut", "click_graphcut"])
def test_box_or_prior_covering_the_image(method):
    # GrabCut asserted "!bgdSamples.empty()": nothing could be background.
    image, _ = disk_scene(h=40, w=50)
    ones = np.ones((40, 50), np.uint8)
    assert (ipyseg.segment(image, np.zeros_like(ones), method, prior=ones) == 1).all()
    w = ipyseg.SegmentWidget(image, method=method)
    w.paint_box((0, 0, 49, 39))
    assert w.last_error is None and w.mask.all()
    w.paint([(2, 2)], label=BACKGROUND, radius=2)
    assert w.last_error is None and not w.mask[2, 2]
    w.close()


# ------------------------------------------------------------------ determinism
def _sample_scene():
    image = cv2.resize(ipyseg.sample_image(), (200, 150), interpolation=cv2.INTER_AREA)
    seeds = np.zeros((150, 200), np.uint8)
    seeds[60:80, 90:110] = FOREGROUND
    seeds[:3] = BACKGROUND
    return image, seeds


@pytest.mark.parametrize("method", METHODS)
def test_same_seeds_same_labels_whatever_ran_before_and_on_any_thread(method):
    image, seeds = _sample_scene()
    first = ipyseg.segment(image, seeds, method)
    for state in (1, 3):  # what ran before: OpenCV's RNG of this thread in another state
        cv2.setRNGSeed(state)
        assert np.array_equal(ipyseg.segment(image, seeds, method), first)
    other, _ = disk_scene(h=120, w=160)
    ipyseg.segment(other, np.pad(np.full((2, 2), 2, np.uint8), ((59, 59), (79, 79))), "grabcut")
    assert np.array_equal(ipyseg.segment(image, seeds, method), first)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("labels", ipyseg.segment(image, seeds, method)))
    t.start()
    t.join()
    assert np.array_equal(out["labels"], first)


def test_grabcut_was_not_deterministic_before_resetting_the_rng():
    # Guards the test above: cv2.grabCut itself does depend on the thread's RNG state.
    image, seeds = _sample_scene()
    mask = np.where(seeds == FOREGROUND, cv2.GC_FGD, np.where(seeds == BACKGROUND, cv2.GC_BGD, cv2.GC_PR_BGD))
    outs = []
    for state in (1, 3, 4):
        m = mask.astype(np.uint8)
        cv2.setRNGSeed(state)
        cv2.grabCut(image[:, :, ::-1].copy(), m, None, np.zeros((1, 65)), np.zeros((1, 65)), 1, cv2.GC_INIT_WITH_MASK)
        outs.append(m % 2)
    assert any(not np.array_equal(o, outs[0]) for o in outs[1:])


@pytest.mark.parametrize("method", METHODS)
def test_incremental_multiscale_equals_a_fresh_one_at_the_final_stage(method):
    image, _ = _sample_scene()
    func = segmenters.get(method)
    rng = np.random.default_rng(7)
    seeds = np.zeros(image.shape[:2], np.uint8)
    prior = np.zeros(image.shape[:2], np.uint8)
    prior[40:110, 60:140] = 1
    ms = Multiscale(image)
    for step in range(6):
        r, c = int(rng.integers(10, 140)), int(rng.integers(10, 190))
        seeds[r - 4 : r + 4, c - 4 : c + 4] = FOREGROUND if step % 3 else BACKGROUND
        use_prior = prior if step >= 3 else None
        ms.segment(func, seeds, use_prior, {}, factor=6, refine=False)  # a preview in between
        incremental = ms.segment(func, seeds, use_prior, {}, factor=3).labels
        fresh = Multiscale(image).segment(func, seeds, use_prior, {}, factor=3).labels
        assert np.array_equal(incremental, fresh), f"step {step}"


@pytest.mark.parametrize("method", METHODS)
def test_widget_undo_redo_and_edit_sequences_give_the_same_labels(method):
    image, _ = _sample_scene()
    w = ipyseg.SegmentWidget(image, method=method)
    w.document.multiscale.final_factor = 3  # the coarse-to-fine path, as on a large photo
    w.paint([(95, 68), (105, 72)], label=FOREGROUND, radius=3)
    w.paint([(5, 5), (190, 8)], label=BACKGROUND, radius=3)
    w.paint_box((55, 30, 150, 120))
    w.paint([(100, 35)], label=BACKGROUND, radius=4)
    before = w.labels.copy()
    w.undo()
    w.redo()
    assert np.array_equal(w.labels, before)
    seeds, prior = w.controller.request(ui=False).seeds, w.controller.request(ui=False).prior
    fresh = Multiscale(image).segment(segmenters.get(method), seeds, prior, {}, factor=3).labels
    assert np.array_equal(w.labels, fresh)
    w.close()


# ------------------------------------------------------------------ label range
@pytest.mark.parametrize(
    "bad, shown",
    [(np.int16(-1), "[-1, 0]"), (np.int32(65536), "[0, 65536]"), (np.uint16(65535), "[0, 65535]")],
)
def test_labels_outside_0_65534_are_rejected(bad, shown):
    def plugin(image, seeds):
        out = np.zeros(seeds.shape, type(bad))
        out[0, 0] = bad
        return out

    ipyseg.register_method("bad_labels", plugin, overwrite=True)
    try:
        image, _ = disk_scene(h=20, w=30)
        seeds = np.zeros((20, 30), np.uint8)
        seeds[10, 10] = FOREGROUND
        with pytest.raises(ValueError, match=r"segmenter 'plugin' returned labels in " + shown.replace("[", r"\[")):
            ipyseg.segment(image, seeds, "bad_labels")
    finally:
        segmenters.unregister("bad_labels")
