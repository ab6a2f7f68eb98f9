"""Many objects, each in its own window: an edit re-solves only what it touches, and the
incremental result equals a fresh computation with the same semantics (ipyseg.segmenters.local)."""

import numpy as np
import pytest

from ipyseg import BACKGROUND, FOREGROUND, segmenters
from ipyseg.segmentation.multiscale import Multiscale
from ipyseg.segmenters.common import keep_seeded_components, one_vs_rest
from ipyseg.segmenters.local import ObjectScores

H, W = 97, 131  # odd sizes


@one_vs_rest
def toy(image, seeds, *, prior=None, tol: float = 40.0):
    """Pixels within ``tol`` of the foreground seeds' mean colour, connected to them (fast, local)."""
    fg = seeds == FOREGROUND
    if not fg.any():
        return fg
    mean = image[fg].astype(np.float32).mean(axis=0)
    near = np.linalg.norm(image.astype(np.float32) - mean, axis=2) < tol
    near &= seeds != BACKGROUND
    if prior is not None:
        near |= prior & (seeds == 0)
    return keep_seeded_components(near | fg, fg)


def _cells(h=H, w=W, n=12, seed=0):
    """Bright disks (distinct colours) on a dark noisy background, and their centres."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 30, (h, w, 3)).astype(np.uint8)
    rr, cc = np.mgrid[:h, :w]
    centres = []
    while len(centres) < n:
        r, c = int(rng.integers(8, h - 8)), int(rng.integers(8, w - 8))
        if all((r - a) ** 2 + (c - b) ** 2 > 18**2 for a, b in centres):
            centres.append((r, c))
            disk = (rr - r) ** 2 + (cc - c) ** 2 <= int(rng.integers(4, 8)) ** 2
            img[disk] = rng.integers(120, 255, 3)
    return img, centres


def _random_edit(rng, seeds, boxes, centres):
    kind = rng.choice(["click", "click", "background", "erase", "box"])
    r, c = centres[int(rng.integers(len(centres)))]
    r, c = int(r + rng.integers(-3, 4)), int(c + rng.integers(-3, 4))
    if kind == "click":
        code = int(rng.integers(2, 2 + len(centres)))
        seeds[max(0, r - 1) : r + 2, max(0, c - 1) : c + 2] = code
    elif kind == "background":
        seeds[max(0, r - 1) : r + 1, max(0, c - 6) : c + 6] = BACKGROUND
    elif kind == "erase":
        codes = [int(v) for v in np.unique(seeds) if v >= FOREGROUND]
        if codes:
            seeds[seeds == codes[int(rng.integers(len(codes)))]] = 0
    else:
        code = int(rng.integers(2, 2 + len(centres)))
        boxes[code] = (max(0, r - 9), min(seeds.shape[0], r + 10), max(0, c - 9), min(seeds.shape[1], c + 10))


def _check_incremental_equals_fresh(func, img, centres, rng, steps, tag):
    """Random edits; after each, ``func`` with a kept cache equals ``func`` computed fresh."""
    seeds = np.zeros(img.shape[:2], np.uint16)
    boxes: dict = {}
    cache = ObjectScores()
    for step in range(steps):
        _random_edit(rng, seeds, boxes, centres)
        inc = func(img, seeds, boxes=dict(boxes), cache=cache)
        fresh = func(img, seeds, boxes=dict(boxes))
        assert np.array_equal(inc, fresh), (tag, step)


@pytest.mark.parametrize("trial", range(6))
def test_incremental_equals_fresh_over_random_edits(trial):
    img, centres = _cells(seed=trial)
    _check_incremental_equals_fresh(toy, img, centres, np.random.default_rng(100 + trial), 25, trial)


@pytest.mark.parametrize("method", ["click_graphcut", "grabcut"])
def test_incremental_equals_fresh_for_the_built_in_one_vs_rest_methods(method):
    img, centres = _cells(seed=3, n=6)
    _check_incremental_equals_fresh(segmenters.get(method), img, centres, np.random.default_rng(7), 6, method)


@pytest.mark.parametrize("method", ["toy", "click_graphcut", "grabcut", "watershed"])
@pytest.mark.parametrize("final_pixels", [1_500, 4_000, 100_000])  # block factors 4, 2, 1
def test_multiscale_incremental_equals_a_fresh_multiscale(method, final_pixels):
    func = toy if method == "toy" else segmenters.get(method)
    rng = np.random.default_rng(11)
    img, centres = _cells(seed=5, n=8)
    ms = Multiscale(img, final_pixels=final_pixels, preview_seconds=0)
    seeds = np.zeros((H, W), np.uint16)
    boxes: dict = {}
    for step in range(8 if method == "toy" else 4):
        _random_edit(rng, seeds, boxes, centres)
        inc = ms.segment(func, seeds, boxes=dict(boxes) or None).labels
        fresh = Multiscale(img, final_pixels=final_pixels, preview_seconds=0).segment(
            func, seeds, boxes=dict(boxes) or None
        )
        assert np.array_equal(inc, fresh.labels), (method, final_pixels, step)


def test_a_click_far_from_the_others_solves_only_its_own_object():
    img, centres = _cells(h=201, w=301, n=30, seed=9)
    seeds = np.zeros(img.shape[:2], np.uint16)
    for k, (r, c) in enumerate(centres[:-1]):
        seeds[r - 1 : r + 2, c - 1 : c + 2] = k + 2
    cache = ObjectScores()
    before = toy(img, seeds, cache=cache)
    solved = cache.solved
    assert solved >= len(centres) - 1
    r, c = centres[-1]
    seeds[r - 1 : r + 2, c - 1 : c + 2] = len(centres) + 1
    after = toy(img, seeds, cache=cache)
    redone = cache.solved - solved
    assert 1 <= redone <= 8, redone  # the new object and the few whose windows hold the click
    assert (after == len(centres)).any()
    far = np.ones(seeds.shape, bool)
    far[max(0, r - 60) : r + 60, max(0, c - 60) : c + 60] = False
    assert np.array_equal(before[far], after[far]), "objects away from the edit keep their labels bit for bit"


def test_a_background_stroke_inside_one_object_leaves_distant_objects_exactly():
    img, centres = _cells(h=201, w=301, n=30, seed=2)
    seeds = np.zeros(img.shape[:2], np.uint16)
    for k, (r, c) in enumerate(centres):
        seeds[r - 1 : r + 2, c - 1 : c + 2] = k + 2
    func = segmenters.get("click_graphcut")
    cache = ObjectScores()
    before = func(img, seeds, cache=cache)
    r, c = centres[0]
    seeds[r + 3, c - 2 : c + 3] = BACKGROUND
    after = func(img, seeds, cache=cache)
    changed = [int(k) for k in np.unique(np.r_[before[before != after], after[before != after]]) if k]
    assert len(changed) <= 4, changed  # the edited object and at most its close neighbours


def test_the_built_ins_declare_whether_they_solve_objects_locally():
    assert segmenters.get("click_graphcut").local is True
    assert segmenters.get("grabcut").local is False  # its colour models need the whole image
    assert not getattr(segmenters.get("watershed"), "local", False)  # floods the whole image
    assert "cache" not in segmenters.defaults("click_graphcut")  # an input, not a parameter


def test_a_new_image_version_redecides_the_whole_band():
    """After set_image (a display-range change) no band pixel keeps a decision made with the old colours."""
    img, centres = _cells(seed=4, n=8)
    func = segmenters.get("click_graphcut")
    ms = Multiscale(img, final_pixels=4_000, preview_seconds=0)
    seeds = np.zeros((H, W), np.uint16)
    for k, (r, c) in enumerate(centres):
        seeds[r - 1 : r + 2, c - 1 : c + 2] = k + 2
    ms.segment(func, seeds)
    # pixels swapped inside each 2 x 2 block: the block means (the coarse image) stay, the
    # full-resolution colours the band is decided with do not
    brighter = img.copy()
    a, b = brighter[0:96:2, 0:130:2].copy(), brighter[1:96:2, 1:130:2].copy()
    brighter[0:96:2, 0:130:2], brighter[1:96:2, 1:130:2] = b, a
    ms.set_image(brighter)
    inc = ms.segment(func, seeds).labels
    fresh = Multiscale(brighter, final_pixels=4_000, preview_seconds=0).segment(func, seeds).labels
    assert ms.final_factor == 2
    assert np.array_equal(inc, fresh)


def test_objects_enclosed_by_marks_are_their_seeds_without_solving():
    img, centres = _cells(seed=6, n=6)
    seeds = np.zeros((H, W), np.uint16)
    for k, (r, c) in enumerate(centres):
        seeds[r - 6 : r + 7, c - 6 : c + 7] = BACKGROUND  # a ring two pixels wide at least
        seeds[r - 3 : r + 4, c - 3 : c + 4] = k + 2
    cache = ObjectScores()
    labels = segmenters.get("click_graphcut")(img, seeds, cache=cache)
    assert cache.solved == 0
    assert np.array_equal(labels, np.where(seeds >= 2, seeds - 1, 0))
    r, c = centres[0]
    seeds[r - 5, c] = 0  # a gap in the first ring's outer pixels: object 1 must be solved
    seeds[r - 6, c] = 0
    seeds[r - 4, c] = 0
    segmenters.get("click_graphcut")(img, seeds, cache=cache)
    assert cache.solved >= 1
