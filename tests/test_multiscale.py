import threading

import cv2
import numpy as np
import pytest
from conftest import disk_scene, drag, iou

from ipyseg import BACKGROUND, FOREGROUND, SegmentWidget, segmenters
from ipyseg.segmentation.engine import Cancelled, Engine
from ipyseg.segmentation.multiscale import Multiscale, block_reduce_seeds, factor_for, segment_fast
from ipyseg.segmentation.run import run_segmenter


def scene_seeds(gt, thin=False):
    """Object strokes inside the disk, background strokes along two borders."""
    h, w = gt.shape
    seeds = np.zeros(gt.shape, np.uint8)
    ys, xs = np.nonzero(gt)
    cy, cx = int(ys.mean()), int(xs.mean())
    cv2.line(seeds, (cx - w // 10, cy), (cx + w // 10, cy), FOREGROUND, 1 if thin else 9)
    cv2.line(seeds, (5, 5), (w - 5, 5), BACKGROUND, 1 if thin else 9)
    cv2.line(seeds, (5, 5), (5, h - 5), BACKGROUND, 1 if thin else 9)
    return seeds


def test_factor_and_block_reduction():
    assert factor_for((300, 400), 300_000) == 1
    k = factor_for((3000, 4000), 300_000)
    assert k == 7 and -(-3000 // k) * -(-4000 // k) <= 300_000
    seeds = np.zeros((7, 5), np.uint8)
    seeds[0, 0] = FOREGROUND  # block (0, 0): one object pixel
    seeds[0, 3], seeds[1, 2] = FOREGROUND, BACKGROUND  # block (0, 1): two codes
    seeds[6, 4] = BACKGROUND  # a partial block at the corner
    code, mixed = block_reduce_seeds(seeds, 2)
    assert code.shape == (4, 3)
    assert code[0, 0] == FOREGROUND and not mixed[0, 0]
    assert code[0, 1] == 0 and mixed[0, 1]
    assert code[3, 2] == BACKGROUND and code.sum() == FOREGROUND + BACKGROUND


@pytest.mark.parametrize("method", ["watershed", "grabcut"])
def test_fast_path_agrees_with_full_resolution_and_keeps_seeds(method):
    img, gt = disk_scene(h=360, w=480)
    seeds = scene_seeds(gt)
    func = segmenters.get(method)
    full = run_segmenter(func, img, seeds, None, {})
    ms = Multiscale(img, final_pixels=12_000)
    res = ms.segment(func, seeds)
    assert res.factor == 4 and res.final and res.labels.shape == gt.shape
    assert iou(res.labels, full) >= 0.95 and iou(res.labels, gt) >= 0.95
    assert (res.labels[seeds == FOREGROUND] == 1).all() and (res.labels[seeds == BACKGROUND] == 0).all()


def test_thin_and_conflicting_seeds_hold_at_full_resolution():
    img, gt = disk_scene(h=300, w=400)
    seeds = scene_seeds(gt, thin=True)
    # A background line through the object and an object dot in the background: one pixel wide,
    # sharing blocks with the other label.
    seeds[150, 180:260] = BACKGROUND
    seeds[40, 40] = FOREGROUND
    labels = segment_fast(segmenters.get("watershed"), img, seeds, final_pixels=3_000)
    assert labels.flags.writeable
    assert (labels[seeds == FOREGROUND] == 1).all() and (labels[seeds == BACKGROUND] == 0).all()


def test_incremental_calls_match_fresh_ones_and_report_the_changed_window():
    img, gt = disk_scene(h=300, w=400)
    func = segmenters.get("watershed")
    ms = Multiscale(img, final_pixels=8_000)
    seeds = np.zeros(gt.shape, np.uint8)
    prev = None
    for (x, y), code in [
        ((220, 150), FOREGROUND),
        ((20, 20), BACKGROUND),
        ((300, 150), FOREGROUND),
        ((380, 280), BACKGROUND),
    ]:
        cv2.circle(seeds, (x, y), 6, code, -1)  # edited in place, as a caller might
        res = ms.segment(func, seeds)
        fresh = Multiscale(img, final_pixels=8_000).segment(func, seeds).labels
        assert (res.labels == fresh).all()
        if prev is not None:
            assert res.window is not None
            r0, r1, c0, c1 = res.window
            outside = np.ones(gt.shape, bool)
            outside[r0:r1, c0:c1] = False
            assert (res.labels[outside] == prev[outside]).all()
        prev = res.labels
    assert not prev.flags.writeable


def test_plan_previews_slow_methods_only():
    img, _ = disk_scene(h=600, w=800)
    ms = Multiscale(img, final_pixels=60_000)
    kf = ms.final_factor
    slow, quick = segmenters.get("grabcut"), segmenters.get("watershed")
    ms._learn(slow, {}, 5.0, kf)
    ms._learn(quick, {}, 0.005, kf)
    plan = ms.plan(slow)
    assert len(plan) == 2 and plan[1] == kf and plan[0] % kf == 0 and plan[0] > kf
    assert ms.plan(quick) == [kf]
    # Previews are built from the final level, and their seeds from the final level's blocks.
    seeds = scene_seeds(disk_scene(h=600, w=800)[1])
    res = ms.segment_staged(slow, seeds, preview=True)
    assert not res.final and res.factor == plan[0]
    assert ms.level(plan[0]).shape[:2] == (-(-600 // plan[0]), -(-800 // plan[0]))


def test_engine_drops_cancelled_work():
    applied, started, go = [], threading.Event(), threading.Event()

    def compute(req):
        if req == "first":
            started.set()
            go.wait(10)
            if engine.stale():
                raise Cancelled
        return req

    engine = Engine(compute, applied.append)
    engine.submit("first")
    assert started.wait(10)
    engine.submit("second")
    go.set()
    assert engine.wait(10)
    assert [r.labels for r in applied] == ["second"] and engine.dropped == 1


def test_widget_preview_then_final_and_seeds_hold():
    img, gt = disk_scene(h=480, w=640)
    w = SegmentWidget(img, method="watershed", max_display_pixels=160 * 120)
    w.document.multiscale._learn(
        segmenters.get("watershed"), {}, 10.0, w.document.multiscale.final_factor
    )  # pretend it is slow
    finals = []
    w.engine.on_result(lambda r: finals.append(r.labels.final))
    drag(w, [(70, 60), (90, 60)])
    w.label = BACKGROUND
    drag(w, [(3, 3), (157, 3), (157, 117)])
    assert w.wait(60)
    assert finals[-1] is True and False in finals  # a preview was shown first, then the final
    assert (w.labels[w.seeds == FOREGROUND] == 1).all() and (w.labels[w.seeds == BACKGROUND] == 0).all()
    assert iou(w.mask, gt) >= 0.9


def test_twelve_megapixel_widget_handles_a_stroke_and_sends_little():
    h, w_ = 3000, 4000
    img = np.full((h, w_, 3), (70, 90, 140), np.uint8)
    cv2.circle(img, (2000, 1500), 900, (230, 140, 40), -1)
    w = SegmentWidget(img, method="watershed")
    assert w.viewport.canvas_width * w.viewport.canvas_height <= 2_000_000
    s = w.viewport.scale
    drag(w, [(1800 * s, 1500 * s), (2200 * s, 1500 * s)])
    assert w.wait(60)
    assert w.mask[1500, 2000] and not w.mask[100, 100]
    sent = []
    orig = w.view.put_png

    def spy(layer, png, x=0, y=0, **kw):
        sent.append((layer, x, y, len(png), kw.get("clear")))
        return orig(layer, png, x, y, **kw)

    w.view.put_png = spy
    w.label = BACKGROUND
    drag(w, [(100 * s, 100 * s), (600 * s, 100 * s)])
    assert w.wait(60)
    assert (w.labels[w.seeds == BACKGROUND] == 0).all() and (w.labels[w.seeds == FOREGROUND] == 1).all()
    frame = w.viewport.canvas_width * w.viewport.canvas_height * 4
    assert sent and all(n < 0.02 * frame for *_, n, _ in sent)
    # the object did not change: no overlay rectangle covers the whole canvas
    assert all(c is None or c[0] * c[1] < w.viewport.canvas_width * w.viewport.canvas_height / 2 for *_, c in sent)
    assert iou(w.mask, cv2.circle(np.zeros((h, w_), np.uint8), (2000, 1500), 900, 1, -1)) >= 0.98


def test_overlay_stays_right_when_a_result_was_never_shown():
    img, gt = disk_scene(h=800, w=1000)
    w = SegmentWidget(img, method="watershed", max_display_pixels=250 * 200)
    w.paint([(500, 400), (600, 400)], radius=8)
    assert w.document.multiscale.final_factor > 1 and w.mask[400, 550]
    # A result computed but dropped as stale (here: never applied) becomes the fast path's base.
    hidden = w.seeds.copy()
    hidden[300:500, 400:700] = BACKGROUND
    w.document.multiscale.segment(segmenters.get("watershed"), hidden)
    w.seeds = hidden  # same labels as the hidden result: its window would be empty
    shown = w.presenter.display_index(w.labels)
    assert not w.mask[400, 550] and (w.presenter.overlay_index == shown).all()


def test_empty_requests_do_not_make_a_slow_method_look_fast():
    """Clearing the seeds answers at once; that must not talk the plan out of a preview."""
    import time as _time

    def slow(image, seeds):
        _time.sleep(0.08)
        return seeds >= 2

    img, _ = disk_scene(h=900, w=1200)
    ms = Multiscale(img)
    seeds = np.zeros(img.shape[:2], np.uint8)
    seeds[400:420, 500:700] = FOREGROUND
    ms.segment(slow, seeds)
    assert len(ms.plan(slow)) == 2  # 80 ms > twice the 30 ms preview budget
    empty = np.zeros_like(seeds)
    for _ in range(6):
        ms.segment(slow, empty)
    assert len(ms.plan(slow)) == 2


def test_the_final_stage_cost_counts_the_band_too():
    """A method whose coarse call is quick but whose final stage is slow still gets a preview."""
    img, _ = disk_scene(h=900, w=1200)
    ms = Multiscale(img)
    func = segmenters.get("watershed")
    seeds = np.zeros(img.shape[:2], np.uint8)
    seeds[400:420, 500:700] = FOREGROUND
    ms.segment(func, seeds)
    key = next(iter(ms._final_cost))
    ms._cost[key] = {ms.final_factor: 0.01}  # coarse alone looks quick...
    ms._final_cost[key] = 0.2  # ...but the whole final stage was slow
    assert len(ms.plan(func)) == 2
