"""SamModel with a tiny ONNX encoder/decoder pair whose outputs are known (tests/tiny_sam.py)."""

import threading

import cv2
import numpy as np
import pytest
import tiny_sam as T

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND, SegmentWidget, segmenters
from ipyseg.sam import onnx as _onnx
from ipyseg.sam.masks import labels_from_logits, refine_with_seeds, upsample_labels
from ipyseg.sam.model import SamModel
from ipyseg.sam.prompts import Frame, seed_points, work_seeds
from ipyseg.segmentation.multiscale import Multiscale, segment_fast

pytest.importorskip("onnx")

BACKENDS = ["opencv"] + (["onnxruntime"] if _onnx.onnxruntime_available() else [])
SIZES = [(480, 640), (853, 479), (37, 23), (3000, 4000)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_sam")
    return {
        "enc": T.build_encoder(d / "encoder.onnx"),
        "dec": T.build_decoder(d / "decoder.onnx"),
        "dec_multi": T.build_decoder(d / "decoder_multi.onnx", radii=(6.0, 12.0, 18.0), ious=(0.5, 0.9, 0.7)),
        "enc2": T.build_encoder(d / "encoder_sam2.onnx", variant="sam2"),
        "dec2": T.build_decoder(d / "decoder_sam2.onnx", variant="sam2", radii=(6.0, 12.0), ious=(0.2, 0.8)),
        "dir": d,
    }


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def sam(files, backend):
    return SamModel(files["enc"], files["dec"], backend=backend)


def photo(h, w, seed=0):
    """A smooth random photo (so that bilinear and area resizing differ from a flat image)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3)).astype(np.uint8)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(big.astype(np.int16) + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def click_seeds(shape, clicks, radius=5):
    """Seeds with a disk per click ``(x, y, code)``."""
    seeds = np.zeros(shape, np.uint8)
    for x, y, code in clicks:
        cv2.circle(seeds, (x, y), radius, code, -1)
    return seeds


def expected(img, seeds, objects, *, resize="longest", radii=(12.0,), variant="sam", masks=None, normalize="imagenet"):
    """The whole pipeline written out with the numpy references and cv2.resize.

    ``objects``: ``{code: (coords, labels)}`` in image pixels (labels 1/0/2/3), as SAM gets them.
    Returns (labels, sure) where ``sure`` marks pixels whose winning logit is not within 1e-3 of a tie.
    """
    h, w = img.shape[:2]
    blob, (nh, nw) = T.preprocess_reference(img, resize=resize, normalize=normalize)
    feats = (
        {"image_embeddings": T.pool(blob, 16)}
        if variant == "sam"
        else {"image_embed": T.pool(blob, 16), "high_res_feats_0": T.pool(blob, 4), "high_res_feats_1": T.pool(blob, 8)}
    )
    fulls, codes = [], sorted(objects)
    for code in codes:
        xy, lab = objects[code]
        xy = np.asarray(xy, float).reshape(-1, 2) * (nw / w, nh / h)
        lab = np.asarray(lab, float)
        if variant == "sam" and not (lab == 2).any():
            xy, lab = np.vstack([xy, [0, 0]]), np.append(lab, -1)
        low = T.reference_low_res(
            feats, xy, lab, None if masks is None else masks.get(code), radii=radii, variant=variant
        )
        c = int(np.argmax(_ious(radii)))
        fulls.append(T.reference_mask(low[c], (h, w), (nh, nw)))
    stack = np.stack(fulls)
    best = stack.argmax(axis=0)
    top = stack.max(axis=0)
    labels = np.where(top > 0, np.array(codes)[best] - 1, 0).astype(np.uint8)
    srt = np.sort(stack, axis=0)
    sure = np.abs(top) > 1e-3
    if len(codes) > 1:
        sure &= (srt[-1] - srt[-2]) > 1e-3
    labels[seeds == BACKGROUND] = 0
    obj = seeds >= 2
    labels[obj] = seeds[obj] - 1
    sure |= seeds > 0
    return labels, sure


def _ious(radii):
    if len(radii) == 1:
        return [1.0]
    return {3: [0.5, 0.9, 0.7], 2: [0.2, 0.8]}[len(radii)]


def assert_matches(labels, ref, sure, allowed=0):
    bad = (labels != ref) & sure
    assert int(bad.sum()) <= allowed, f"{int(bad.sum())} pixels differ, e.g. at {np.argwhere(bad)[:5].tolist()}"


# --------------------------------------------------------------------------- the ONNX reader


def test_signature_reader_lists_inputs_outputs_and_skips_weights(files):
    enc = _onnx.read_signature(files["enc"])
    assert list(enc.inputs) == ["image"] and enc.inputs["image"].shape == (1, 3, 128, 128)
    assert list(enc.outputs) == ["image_embeddings"] and enc.outputs["image_embeddings"].shape == (1, 3, 8, 8)
    dec = _onnx.read_signature(files["dec"])
    assert set(dec.inputs) == {
        "image_embeddings",
        "point_coords",
        "point_labels",
        "mask_input",
        "has_mask_input",
        "orig_im_size",
    }  # the dozens of initializers are not inputs
    assert dec.inputs["point_coords"].shape == (1, "N", 2) and dec.inputs["point_coords"].dtype == "float32"
    assert list(dec.outputs) == ["masks", "iou_predictions", "low_res_masks"]
    assert dec.opset == 17 and {"Resize", "ReduceMax", "Sqrt"} <= dec.ops


def test_signature_reader_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="`encoder_path`: no such file"):
        _onnx.read_signature(tmp_path / "missing.onnx", "encoder_path")
    jpg = tmp_path / "photo.onnx"
    cv2.imwrite(str(jpg.with_suffix(".jpg")), np.zeros((8, 8, 3), np.uint8))
    jpg.write_bytes(jpg.with_suffix(".jpg").read_bytes())
    with pytest.raises(_onnx.OnnxFormatError, match="`decoder_path` .*photo.onnx' is not an ONNX model"):
        _onnx.read_signature(jpg, "decoder_path")
    for content in (b"", b"hello world, not a model", bytes(range(256)) * 4):
        bad = tmp_path / "bad.onnx"
        bad.write_bytes(content)
        with pytest.raises(_onnx.OnnxFormatError, match="is not an ONNX model"):
            _onnx.read_signature(bad)


# ---------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("shape", SIZES)
def test_embedding_is_resized_normalised_and_padded(files, backend, shape):
    sam = SamModel(files["enc"], files["dec"], backend=backend)
    img = photo(*shape)
    emb = sam.embed(img)
    blob, (nh, nw) = T.preprocess_reference(img)
    assert (emb.frame.new_h, emb.frame.new_w) == (nh, nw) and max(nh, nw) == 128
    assert (emb.frame.height, emb.frame.width) == shape
    np.testing.assert_allclose(emb.features["image_embeddings"], T.pool(blob, 16), atol=1e-4)
    assert emb.source == "encoder" and emb.small.shape == (nh, nw, 3)


def test_minmax_and_custom_normalisation_and_stretch(files):
    img = photo(300, 500)
    for normalize in ("minmax", ((10, 20, 30), (2, 4, 8))):
        sam = SamModel(files["enc"], files["dec"], backend="opencv", normalize=normalize)
        blob, _ = T.preprocess_reference(img, normalize=normalize)
        np.testing.assert_allclose(sam.embed(img).features["image_embeddings"], T.pool(blob, 16), atol=1e-4)
    sam = SamModel(files["enc"], files["dec"], backend="opencv", resize="stretch")
    blob, size = T.preprocess_reference(img, resize="stretch")
    assert size == (128, 128)
    np.testing.assert_allclose(sam.embed(img).features["image_embeddings"], T.pool(blob, 16), atol=1e-4)


def test_encoder_with_its_own_preprocessing(files, backend, tmp_path):
    """samexporter's --use-preprocess encoders take the resized (H, W, 3) photo."""
    enc = T.build_hwc_encoder(tmp_path / "hwc.onnx")
    sam = SamModel(enc, files["dec"], backend=backend, input_size=128)
    for shape in [(300, 500), (853, 479)]:
        img = photo(*shape, seed=3)
        blob, _ = T.preprocess_reference(img)
        np.testing.assert_allclose(sam.embed(img).features["image_embeddings"], T.pool(blob, 16), atol=1e-4)


def test_frame_matches_sam_resize_longest_side():
    f = Frame.make(3000, 4000, 1024, "longest")
    assert (f.new_h, f.new_w) == (768, 1024)
    f = Frame.make(853, 479, 1024, "longest")
    assert (f.new_h, f.new_w) == (1024, int(479 * 1024 / 853 + 0.5))
    np.testing.assert_allclose(f.to_input([(479, 853)]), [[f.new_w, f.new_h]])
    f = Frame.make(37, 23, 1024, "stretch")
    assert (f.new_h, f.new_w) == (1024, 1024)


# ------------------------------------------------------------------------ prompts and masks


@pytest.mark.parametrize("shape", SIZES)
def test_clicks_become_points_and_masks_match_sam_postprocessing(files, backend, shape):
    sam = SamModel(files["enc"], files["dec"], backend=backend)
    h, w = shape
    img = photo(h, w, seed=1)
    r = 1 if min(shape) < 100 else 5
    fg, bg = (int(w * 0.4), int(h * 0.45)), (int(w * 0.62), int(h * 0.55))
    seeds = click_seeds(shape, [(*fg, FOREGROUND), (*bg, BACKGROUND)], radius=r)
    labels = ipyseg.segment(img, seeds, method="sam", model=sam)
    ref, sure = expected(img, seeds, {FOREGROUND: ([fg, bg], [1, 0])})
    assert labels.dtype == np.uint16 and labels.shape == shape
    assert_matches(labels, ref, sure)
    assert labels.sum() > 20 * (seeds == FOREGROUND).sum() or min(shape) < 100  # the click gave a region


@pytest.mark.parametrize("shape", [(480, 640), (853, 479), (3000, 4000)])
def test_box_prompts_are_transformed_like_sam(files, backend, shape):
    sam = SamModel(files["enc"], files["dec"], backend=backend)
    h, w = shape
    img = photo(h, w, seed=2)
    x0, y0, x1, y1 = int(w * 0.2), int(h * 0.3), int(w * 0.7), int(h * 0.8)
    seeds = np.zeros(shape, np.uint8)
    labels = ipyseg.segment(img, seeds, method="sam", model=sam, boxes={FOREGROUND: (x0, y0, x1, y1)})
    ref, sure = expected(img, seeds, {FOREGROUND: ([(x0, y0), (x1, y1)], [2, 3])})
    assert_matches(labels, ref, sure)
    ys, xs = np.nonzero(labels)
    assert abs(xs.min() - x0) <= w / 128 + 1 and abs(ys.max() - y1) <= h / 96 + 1  # the box, in image pixels


def test_many_objects_one_decoder_run_each_no_overlap(files, backend):
    sam = SamModel(files["enc"], files["dec"], backend=backend)
    img = photo(600, 800, seed=3)
    a, b, bg = (300, 300), (420, 330), (600, 100)
    seeds = click_seeds(img.shape[:2], [(*a, 2), (*b, 3), (*bg, BACKGROUND)])
    runs = []
    orig = sam._decoder.run
    sam._decoder.run = lambda feeds, names: runs.append(feeds["point_labels"].copy()) or orig(feeds, names)
    labels = ipyseg.segment(img, seeds, method="sam", model=sam)
    assert len(runs) == 2  # one decoder run per object; background clicks are negatives of both
    assert all(sorted(r.ravel().tolist()) == [-1.0, 0.0, 1.0] for r in runs)
    ref, sure = expected(img, seeds, {2: ([a, bg], [1, 0]), 3: ([b, bg], [1, 0])})
    assert_matches(labels, ref, sure)
    assert set(np.unique(labels)) == {0, 1, 2}  # the disks overlap: resolved by the larger logit


def test_sam2_variant_stretches_and_wires_all_features(files, backend):
    sam = SamModel(files["enc2"], files["dec2"], backend=backend)
    assert sam.variant == "sam2" and sam.input_size == 128
    img = photo(300, 520, seed=4)
    fg = (250, 140)
    seeds = click_seeds(img.shape[:2], [(*fg, FOREGROUND)])
    labels = ipyseg.segment(img, seeds, method="sam", model=sam)
    ref, sure = expected(img, seeds, {FOREGROUND: ([fg], [1])}, resize="stretch", radii=(6.0, 12.0), variant="sam2")
    assert_matches(labels, ref, sure)


def test_multimask_decoder_takes_the_best_predicted_iou(files):
    sam = SamModel(files["enc"], files["dec_multi"], backend="opencv")
    img = photo(400, 400, seed=5)
    fg = (200, 210)
    seeds = click_seeds(img.shape[:2], [(*fg, FOREGROUND)])
    labels = ipyseg.segment(img, seeds, method="sam", model=sam)
    ref, sure = expected(img, seeds, {FOREGROUND: ([fg], [1])}, radii=(6.0, 12.0, 18.0))
    assert_matches(labels, ref, sure)
    assert abs(labels.sum() - np.pi * (12 * 400 / 128) ** 2) < 0.15 * labels.sum()  # radius 12 won (iou 0.9)


def test_predict_points_box_and_mask_input(files):
    sam = SamModel(files["enc"], files["dec"], backend="opencv")
    img = photo(250, 330, seed=6)
    p = sam.predict(img, points=[(100, 120)], labels=[1])
    ref, sure = expected(img, np.zeros(img.shape[:2], np.uint8), {FOREGROUND: ([(100, 120)], [1])})
    assert_matches(p.mask.astype(np.uint8), ref, sure)
    q = sam.predict(img, points=[(100, 120)], mask_input=p.low_res)
    blob, (nh, nw) = T.preprocess_reference(img)
    low = T.reference_low_res(
        {"image_embeddings": T.pool(blob, 16)}, [(100 * nw / 330, 120 * nh / 250), (0, 0)], [1, -1], p.low_res
    )[0]
    np.testing.assert_allclose(q.low_res, low, atol=1e-3)
    with pytest.raises(ValueError, match="`points` or `box` is needed"):
        sam.predict(img)
    with pytest.raises(ValueError, match="`mask_input` must have shape \\(32, 32\\)"):
        sam.predict(img, points=[(1, 1)], mask_input=np.zeros((8, 8)))
    with pytest.raises(ValueError, match="`box`"):
        sam.predict(img, box=(10, 10, 5, 5))


def test_upsampling_is_exactly_bilinear_then_argmax():
    rng = np.random.default_rng(7)
    for n, (h, w), (big_h, big_w) in [
        (1, (96, 128), (3000, 4000)),
        (3, (96, 128), (1001, 667)),
        (2, (128, 71), (853, 479)),
        (2, (128, 80), (37, 23)),  # down-sampling works too
        (1, (17, 9), (17, 9)),
    ]:
        smooth = [cv2.resize(rng.normal(0, 3, (6, 7)).astype(np.float32), (w, h)) for _ in range(n)]
        logits = np.stack(smooth)
        values = np.arange(1, n + 1) * 2
        got = upsample_labels(logits, values, (big_h, big_w))
        full = np.stack([cv2.resize(g, (big_w, big_h), interpolation=cv2.INTER_LINEAR) for g in logits])
        top = full.max(axis=0)
        want = np.where(top > 0, values[full.argmax(axis=0)], 0)
        srt = np.sort(full, axis=0)
        sure = np.abs(top) > 1e-4
        if n > 1:
            sure &= srt[-1] - srt[-2] > 1e-4
        assert ((got != want) & sure).sum() == 0
        assert np.array_equal(labels_from_logits(logits, values), upsample_labels(logits, values, (h, w)))


# ------------------------------------------------------------------------------- strokes


def _leaky_logits(m=32):
    """A disk with a leak through a neck: logits on an (m, m) grid."""
    yy, xx = np.mgrid[:m, :m]
    disk = 8.0 - np.hypot(yy - 12, xx - 12)
    leak = 3.0 - np.maximum(np.abs(yy - 12) - 2, np.abs(xx - 26) - 5)  # a block to the right
    neck = 2.0 - np.maximum(np.abs(yy - 12) - 1, np.abs(xx - 19.5) - 2)
    return np.maximum.reduce([disk, leak, neck]).astype(np.float32) * 2


def test_graph_cut_drops_the_part_a_background_stroke_cuts_off():
    logits = _leaky_logits()[None].copy()
    ws = np.zeros((32, 32), np.uint8)
    ws[12, 12] = FOREGROUND
    ws[6:19, 19] = BACKGROUND  # across the neck
    lab = np.full((32, 32, 3), 128, np.uint8)
    before = labels_from_logits(logits, np.array([1]))
    assert before[12, 26] == 1 and before[12, 19] == 1
    logits, refined = refine_with_seeds(logits, np.array([1]), ws, lab, smoothness=1.0)
    after = labels_from_logits(logits, np.array([1]))
    assert refined == [1]
    assert after[12, 12] == 1 and after[12, 8] == 1  # the clicked disk stays
    assert not after[:, 19].any() and not after[:, 21:].any()  # stroke and the cut-off leak are background


def test_graph_cut_adds_what_a_foreground_stroke_marks():
    logits = _leaky_logits()[None].copy()
    ws = np.zeros((32, 32), np.uint8)
    ws[12, 12] = FOREGROUND
    ws[26:29, 5:15] = FOREGROUND  # a part the model missed
    lab = np.full((32, 32, 3), 128, np.uint8)
    logits, _ = refine_with_seeds(logits, np.array([1]), ws, lab, smoothness=1.0)
    after = labels_from_logits(logits, np.array([1]))
    assert after[26:29, 5:15].all() and after[12, 12]


def test_strokes_override_the_model_at_full_resolution(files, monkeypatch):
    """The model leaks; a background stroke across the neck removes the leak, at any size."""
    for shape in [(240, 320), (3000, 4000)]:
        sam = SamModel(files["enc"], files["dec"], backend="opencv")
        leaky = _leaky_logits()
        monkeypatch.setattr(sam, "_decode", lambda *a, leaky=leaky, **k: (leaky, 1.0))
        h, w = shape
        img = photo(h, w, seed=8)
        frame = sam.embed(img).frame
        sx, sy = 4 * w / frame.new_w, 4 * h / frame.new_h  # image pixels per low-res cell (x, y)
        seeds = click_seeds(shape, [(int(12.5 * sx), int(12.5 * sy), FOREGROUND)], radius=max(2, int(sx)))
        no_stroke = ipyseg.segment(img, seeds, method="sam", model=sam)
        assert no_stroke[int(12.5 * sy), int(26.5 * sx)] == 1  # the leak
        x = int(19.5 * sx)
        cv2.line(seeds, (x, int(4 * sy)), (x, int(21 * sy)), BACKGROUND, max(1, int(sx)))
        labels = ipyseg.segment(img, seeds, method="sam", model=sam)
        assert not labels[:, int(21 * sx) :].any()  # the cut-off leak
        assert not labels[seeds == BACKGROUND].any() and labels[seeds == FOREGROUND].all()
        assert labels[int(12.5 * sy), int(8 * sx)] == 1  # the disk
        # undo the stroke: the leak is back
        seeds[seeds == BACKGROUND] = 0
        assert np.array_equal(ipyseg.segment(img, seeds, method="sam", model=sam), no_stroke)


def test_stroke_points_follow_the_stroke():
    frame = Frame.make(480, 640, 128, "longest")
    seeds = np.zeros((480, 640), np.uint8)
    cv2.line(seeds, (100, 100), (500, 100), FOREGROUND, 9)  # long stroke: several points
    cv2.circle(seeds, (320, 400), 5, BACKGROUND, -1)  # click: one exact point
    pts = seed_points(seeds, work_seeds(seeds, frame), frame, 4)
    assert pts[BACKGROUND].tolist() == [[320 * 0.2, 400 * 0.2]]
    fg = pts[FOREGROUND]
    assert len(fg) == 4 and np.ptp(fg[:, 0]) > 70 and np.allclose(fg[:, 1], 20, atol=1)
    assert len(seed_points(seeds, work_seeds(seeds, frame), frame, 1)[FOREGROUND]) == 1


def test_work_seeds_keep_thin_strokes_and_clicks():
    frame = Frame.make(3000, 4000, 1024, "longest")
    seeds = np.zeros((3000, 4000), np.uint8)
    cv2.line(seeds, (10, 2000), (3990, 2003), BACKGROUND, 1)  # one pixel wide
    seeds[1500, 1234] = FOREGROUND
    ws = work_seeds(seeds, frame)
    assert ws.shape == (768, 1024)
    rows = np.nonzero((ws == BACKGROUND).any(axis=1))[0]
    assert (ws == BACKGROUND).any(axis=0).sum() >= 1015 and rows.max() - rows.min() <= 2
    assert (ws == FOREGROUND).sum() >= 1
    ref = cv2.resize(
        cv2.dilate(seeds, np.ones((5, 5), np.uint8), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE),
        (1024, 768),
        interpolation=cv2.INTER_NEAREST,
    )
    assert np.array_equal(ws, ref)


# ------------------------------------------------------------------------------ refinement


def test_previous_logits_feed_back_and_undo_resets(files, backend):
    sam = SamModel(files["enc"], files["dec"], backend=backend)
    img = photo(320, 480, seed=9)
    a, b, c = (200, 150), (260, 170), (180, 200)
    runs = []
    orig = sam._decoder.run
    sam._decoder.run = lambda feeds, names: runs.append(float(feeds["has_mask_input"][0])) or orig(feeds, names)
    s_a = click_seeds(img.shape[:2], [(*a, FOREGROUND)])
    first = ipyseg.segment(img, s_a, method="sam", model=sam)
    s_ab = click_seeds(img.shape[:2], [(*a, FOREGROUND), (*b, FOREGROUND)])
    second = ipyseg.segment(img, s_ab, method="sam", model=sam)
    assert runs == [0.0, 1.0]  # the second click refines the first mask
    blob, (nh, nw) = T.preprocess_reference(img)
    feats = {"image_embeddings": T.pool(blob, 16)}
    to_in = np.array([nw / 480, nh / 320])
    low_a = T.reference_low_res(feats, [np.multiply(a, to_in), (0, 0)], [1, -1])[0]
    ref, sure = expected(img, s_ab, {FOREGROUND: ([a, b], [1, 1])}, masks={FOREGROUND: low_a})
    assert_matches(second, ref, sure)
    plain, _ = expected(img, s_ab, {FOREGROUND: ([a, b], [1, 1])})
    assert (plain != second).sum() > 100  # the feedback made a difference
    # undo: same seeds as the first call -> same labels, no decoder run; redo likewise
    assert np.array_equal(ipyseg.segment(img, s_a, method="sam", model=sam), first)
    assert np.array_equal(ipyseg.segment(img, s_ab, method="sam", model=sam), second)
    assert runs == [0.0, 1.0]
    # a prompt removed (b erased, c added): not a superset of {a, b} -> a fresh decode
    s_ac = click_seeds(img.shape[:2], [(*a, FOREGROUND), (*c, FOREGROUND)])
    ipyseg.segment(img, s_ac, method="sam", model=sam)
    assert runs[-1] == 0.0
    # refine=False never feeds back
    sam.clear_cache()
    runs.clear()
    ipyseg.segment(img, s_a, method="sam", model=sam, refine=False)
    ipyseg.segment(img, s_ab, method="sam", model=sam, refine=False)
    assert runs == [0.0, 0.0]


# ------------------------------------------------------------------------------- caching


def test_encoder_runs_once_per_photo_and_memory_cache_is_bounded(files):
    sam = SamModel(files["enc"], files["dec"], backend="opencv", memory_cache=2)
    calls = []
    orig = sam._encoder.run
    sam._encoder.run = lambda feeds, names: calls.append(1) or orig(feeds, names)
    imgs = [photo(100, 140, seed=s) for s in range(3)]
    seeds = click_seeds((100, 140), [(70, 50, FOREGROUND)])
    for img in imgs[:2]:
        ipyseg.segment(img, seeds, method="sam", model=sam)
        ipyseg.segment(img.copy(), seeds, method="sam", model=sam)  # same content, another array
    assert len(calls) == 2
    assert sam.embed(imgs[0]).source == "memory"
    sam.embed(imgs[2])  # evicts the least recently used (imgs[1])
    assert sam.embed(imgs[1]).source == "encoder" and len(calls) == 4


def test_read_only_photo_is_hashed_once(files, monkeypatch):
    sam = SamModel(files["enc"], files["dec"], backend="opencv")
    img = photo(200, 300)
    img.flags.writeable = False
    sam.embed(img)
    import ipyseg.sam.cache as cache_module

    monkeypatch.setattr(cache_module.hashlib, "sha1", lambda *a: pytest.fail("hashed again"))
    assert sam.embed(img).source == "memory"
    writable = img.copy()
    with pytest.raises(pytest.fail.Exception):
        sam.embed(writable)  # a writable array may have changed: hashed every time


def test_disk_cache_is_atomic_pickle_free_and_survives_damage(files, tmp_path):
    cache = tmp_path / "embeddings"
    img = photo(150, 200, seed=11)
    sam = SamModel(files["enc"], files["dec"], backend="opencv", cache_dir=cache)
    emb = sam.embed(img)
    written = list(cache.iterdir())
    assert len(written) == 1 and written[0].name.startswith("sam-") and written[0].suffix == ".npz"
    with np.load(written[0], allow_pickle=False) as data:  # readable without ipyseg
        np.testing.assert_array_equal(data["image_embeddings"], emb.features["image_embeddings"])
    fresh = SamModel(files["enc"], files["dec"], backend="opencv", cache_dir=cache)
    fresh._encoder.run = lambda *a: pytest.fail("the encoder ran despite the disk cache")
    again = fresh.embed(img)
    assert again.source == "disk"
    np.testing.assert_array_equal(again.features["image_embeddings"], emb.features["image_embeddings"])
    # a damaged file is recomputed and replaced
    written[0].write_bytes(b"garbage")
    third = SamModel(files["enc"], files["dec"], backend="opencv", cache_dir=cache)
    assert third.embed(img).source == "encoder"
    with np.load(written[0], allow_pickle=False) as data:
        assert data["image_embeddings"].shape == (1, 3, 8, 8)
    assert [p.name for p in cache.iterdir()] == [written[0].name]  # no temporary files left
    # another model (other preprocessing) does not reuse the file
    other = SamModel(files["enc"], files["dec"], backend="opencv", cache_dir=cache, normalize="minmax")
    assert other.embed(img).source == "encoder" and len(list(cache.iterdir())) == 2


# ---------------------------------------------------------------------------- error paths


def test_wrong_files_are_named_with_what_is_missing(files, tmp_path):
    d = tmp_path
    with pytest.raises(FileNotFoundError, match="`decoder_path`: no such file"):
        SamModel(files["enc"], d / "nope.onnx")
    txt = d / "notes.onnx"
    txt.write_text("not a model")
    with pytest.raises(ValueError, match="`encoder_path` .* is not an ONNX model"):
        SamModel(txt, files["dec"])
    with pytest.raises(ValueError, match="looks like a prompt decoder.*pass the image encoder first"):
        SamModel(files["dec"], files["enc"])
    no_labels = T.build_decoder(d / "no_labels.onnx", drop_inputs=("point_labels",))
    with pytest.raises(ValueError, match=r"lacks the SAM decoder input\(s\) \['point_labels'\].*official SAM"):
        SamModel(files["enc"], no_labels)
    no_low = T.build_decoder(d / "no_low.onnx", drop_outputs=("low_res_masks",))
    with pytest.raises(ValueError, match="lacks the output `low_res_masks`"):
        SamModel(files["enc"], no_low)
    no_iou = T.build_decoder(d / "no_iou.onnx", drop_outputs=("iou_predictions",))
    with pytest.raises(ValueError, match="lacks the output `iou_predictions`"):
        SamModel(files["enc"], no_iou)
    renamed = T.build_decoder(d / "renamed.onnx", embed_name="features", embed_shape=[1, 3, 8, 8])
    SamModel(files["enc"], renamed, backend="opencv")  # one feature input, one output: wired by position
    wrong_shape = T.build_decoder(d / "wrong_shape.onnx", size=256)  # expects (1, 3, 16, 16)
    with pytest.raises(
        ValueError, match=r"output `image_embeddings` has shape \(1, 3, 8, 8\).*expects \(1, 3, 16, 16\)"
    ):
        SamModel(files["enc"], wrong_shape)
    with pytest.raises(ValueError, match="do not provide the decoder's image-feature input"):
        SamModel(files["enc"], files["dec2"])  # SAM 2 decoder, SAM encoder


def test_encoder_shape_errors(files, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    def encoder(path, dims, n_inputs=1):
        inputs = [helper.make_tensor_value_info(f"image{i}", TensorProto.FLOAT, dims) for i in range(n_inputs)]
        node = helper.make_node(
            "AveragePool", ["image0"], ["image_embeddings"], kernel_shape=[16, 16], strides=[16, 16]
        )
        out = helper.make_tensor_value_info("image_embeddings", TensorProto.FLOAT, [1, 3, 8, 8])
        model = helper.make_model(
            helper.make_graph([node], "e", inputs, [out]), opset_imports=[helper.make_opsetid("", 17)]
        )
        onnx.save(model, str(path))
        return path

    with pytest.raises(ValueError, match="must take one image input"):
        SamModel(encoder(tmp_path / "a.onnx", [1, 3, 128, 128], 2), files["dec"])
    with pytest.raises(ValueError, match=r"must be a float32 \(1, 3, S, S\) image"):
        SamModel(encoder(tmp_path / "b.onnx", [1, 1, 128, 128]), files["dec"])
    with pytest.raises(ValueError, match="must be square"):
        SamModel(encoder(tmp_path / "c.onnx", [1, 3, 128, 96]), files["dec"])
    with pytest.raises(ValueError, match="`input_size` must be the encoder's input side \\(128\\)"):
        SamModel(files["enc"], files["dec"], input_size=1024)
    dyn = T.build_encoder(tmp_path / "dyn.onnx", dynamic=True)
    sam = SamModel(dyn, files["dec"], backend="onnxruntime" if "onnxruntime" in BACKENDS else "opencv", input_size=128)
    assert sam.input_size == 128
    img = photo(90, 120)
    assert sam.embed(img).frame.new_w == 128


def test_bad_options(files):
    with pytest.raises(ValueError, match="`backend` must be 'auto', 'opencv' or 'onnxruntime'; got 'cuda'"):
        SamModel(files["enc"], files["dec"], backend="cuda")
    with pytest.raises(ValueError, match="`resize` must be 'auto', 'longest' or 'stretch'"):
        SamModel(files["enc"], files["dec"], resize="crop")
    with pytest.raises(ValueError, match="`normalize` must be one of"):
        SamModel(files["enc"], files["dec"], normalize="zscore")
    with pytest.raises(ValueError, match="std > 0"):
        SamModel(files["enc"], files["dec"], normalize=((0, 0, 0), (1, 0, 1)))
    with pytest.raises(ValueError, match="`memory_cache` must be an integer >= 1"):
        SamModel(files["enc"], files["dec"], memory_cache=0)
    with pytest.raises(ValueError, match="`threads`"):
        SamModel(files["enc"], files["dec"], threads=0)
    with pytest.raises(ValueError, match="`cache_dir` .* is not a folder"):
        SamModel(files["enc"], files["dec"], cache_dir=files["enc"])


def test_runtime_errors_are_clear(files, tmp_path, monkeypatch):
    exotic = T.build_decoder(tmp_path / "exotic.onnx", extra_op="NoSuchOpAnywhere")
    # OpenCV versions reject it on reading or on the first run: either way an error at construction,
    # in ipyseg's words (only the ops list is ours; OpenCV's own wording is not checked)
    with pytest.raises(RuntimeError) as info:
        SamModel(files["enc"], exotic, backend="opencv")
    assert_opencv_load_error(str(info.value), "exotic.onnx")
    assert "'NoSuchOpAnywhere'" in str(info.value).split("(ops used: ", 1)[1].split("]", 1)[0]
    if "onnxruntime" in BACKENDS:
        with pytest.raises(RuntimeError, match="onnxruntime could not load the decoder 'exotic.onnx'"):
            SamModel(files["enc"], exotic, backend="onnxruntime")
    monkeypatch.setattr(_onnx, "opencv_version", lambda: (4, 8, 0))
    with pytest.raises(RuntimeError, match=r"OpenCV >= 5\.0 \(this is OpenCV 4\.8\.0\).*pip install 'ipyseg\[sam\]'"):
        SamModel(files["enc"], files["dec"], backend="opencv")
    monkeypatch.setattr(_onnx, "onnxruntime_available", lambda: False)
    with pytest.raises(ImportError, match="needs the onnxruntime package"):
        SamModel(files["enc"], files["dec"], backend="onnxruntime")
    monkeypatch.undo()
    monkeypatch.setattr(_onnx, "onnxruntime_available", lambda: False)
    assert SamModel(files["enc"], files["dec"]).backend == "opencv"  # auto without onnxruntime
    if "onnxruntime" in BACKENDS:
        monkeypatch.undo()
        assert SamModel(files["enc"], files["dec"]).backend == "onnxruntime"


def assert_opencv_load_error(message, file_name):
    assert message.startswith(f"OpenCV could not load the decoder '{file_name}'"), message
    assert "onnxruntime (pip install 'ipyseg[sam]')" in message, message


class _FakeCvError(cv2.error):
    pass


@pytest.mark.parametrize("step", ["readNetFromONNX", "setInput", "forward"])
def test_opencv_failures_are_one_error_at_construction(files, monkeypatch, step):
    """Whichever step OpenCV fails in (this differs between versions), SamModel fails on load, in our words."""
    real_read = cv2.dnn.readNetFromONNX
    decoder = str(files["dec"])

    class Net:
        def __init__(self, net):
            self._net = net

        def setInput(self, *args):
            if step == "setInput":
                raise _FakeCvError("opaque runtime text")
            return self._net.setInput(*args)

        def forward(self, *args):
            if step == "forward":
                raise _FakeCvError("opaque runtime text")
            return self._net.forward(*args)

    def read(path):
        if path != decoder:
            return real_read(path)
        if step == "readNetFromONNX":
            raise _FakeCvError("opaque runtime text")
        return Net(real_read(path))

    monkeypatch.setattr(cv2.dnn, "readNetFromONNX", read)
    with pytest.raises(RuntimeError) as info:
        SamModel(files["enc"], files["dec"], backend="opencv")
    assert_opencv_load_error(str(info.value), files["dec"].name)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    monkeypatch.undo()
    SamModel(files["enc"], files["dec"], backend="opencv")  # the same files load without the fault


def test_calling_the_model_checks_the_declared_bounds(sam):
    img = photo(60, 80)
    seeds = click_seeds((60, 80), [(40, 30, FOREGROUND)])
    sam(img, seeds, stroke_points=64)
    with pytest.raises(
        ValueError, match=r"`stroke_points` \(parameter of method 'sam'\) must be .* in \[1, 64\]; got 65"
    ):
        sam(img, seeds, stroke_points=65)
    with pytest.raises(ValueError, match="`stroke_points`"):
        sam(img, seeds, stroke_points=0)
    with pytest.raises(TypeError, match="`refine`"):
        sam(img, seeds, refine="yes")
    with pytest.raises(ValueError, match="`smoothness`"):
        sam(img, seeds, smoothness=float("inf"))


def test_parameters_are_validated(sam):
    img = photo(60, 80)
    seeds = click_seeds((60, 80), [(40, 30, FOREGROUND)])
    # declared with ipyseg.Param: checked where they are set, like the built-ins' parameters
    with pytest.raises(TypeError, match=r"`refine` \(parameter of method 'sam'\) must be True or False; got str 'yes'"):
        ipyseg.segment(img, seeds, method="sam", model=sam, refine="yes")
    with pytest.raises(
        ValueError, match=r"`stroke_points` \(parameter of method 'sam'\) must be .* in \[1, 64\]; got 0"
    ):
        ipyseg.segment(img, seeds, method="sam", model=sam, stroke_points=0)
    with pytest.raises(
        ValueError, match=r"`smoothness` \(parameter of method 'sam'\) must be a finite number .*; got nan"
    ):
        ipyseg.segment(img, seeds, method="sam", model=sam, smoothness=float("nan"))
    with pytest.raises(TypeError, match=r"method 'sam' needs the parameter\(s\) \['model'\]"):
        ipyseg.segment(img, seeds, method="sam")
    with pytest.raises(TypeError, match="`model` must be a SamModel"):
        ipyseg.segment(img, seeds, method="sam", model="weights.onnx")
    with pytest.raises(ValueError, match="`boxes` keys must be object seed codes"):
        ipyseg.segment(img, seeds, method="sam", model=sam, boxes={1: (0, 0, 5, 5)})
    with pytest.raises(ValueError, match=r"`boxes\[2\]` .* does not overlap the image"):
        ipyseg.segment(img, seeds, method="sam", model=sam, boxes={2: (100, 100, 200, 200)})


# ----------------------------------------------------------------------- in the package


def test_sam_is_a_method_that_needs_a_model():
    assert "sam" not in ipyseg.methods() and "sam" in segmenters.available(include_all=True)
    assert segmenters.required_params(segmenters.get("sam")) == ["model"]
    assert segmenters.accepts(segmenters.get("sam"), "boxes") and not segmenters.accepts_prior(segmenters.get("sam"))


def test_boxes_for_methods_without_box_prompts_are_grabcuts_rectangle():
    from conftest import disk_scene

    img, gt = disk_scene()
    ys, xs = np.nonzero(gt)
    box = (xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5)
    seeds = np.zeros(gt.shape, np.uint8)
    labels = ipyseg.segment(img, seeds, method="grabcut", boxes={FOREGROUND: box})
    assert (labels > 0).sum() > 0.8 * gt.sum() and not labels[: box[1] - 1].any()


def test_fast_path_leaves_sam_at_full_resolution(files):
    sam = SamModel(files["enc"], files["dec"], backend="opencv")
    img = photo(1500, 2000, seed=12)
    ms = Multiscale(img)
    assert ms.final_factor > 1 and ms.plan(sam) == [1] and ms.plan(segmenters.get("sam"), {"model": sam}) == [1]
    seeds = click_seeds(img.shape[:2], [(900, 700, FOREGROUND)])
    fast = segment_fast(segmenters.get("sam"), img, seeds, None, {"model": sam})
    assert np.array_equal(fast, ipyseg.segment(img, seeds, method="sam", model=sam))


def test_widget_prepares_in_background_and_clicks_match_headless(files):
    sam = SamModel(files["enc"], files["dec"], backend="opencv")
    gate, started = threading.Event(), threading.Event()
    orig = sam._encoder.run

    def slow(feeds, names):
        started.set()
        assert gate.wait(10)
        return orig(feeds, names)

    sam._encoder.run = slow
    img = photo(400, 600, seed=13)
    w = SegmentWidget(img, method="sam", model=sam)  # returns while the encoder runs
    assert started.wait(10)
    assert "preparing" in w.status and w.engine.busy
    gate.set()
    assert w.wait(30)
    assert sam.embed(w.image).source == "memory"
    assert w.controls["method"].value == "sam" and "sam" in w.controls["method"].options
    w.click(300, 200)
    assert w.mask[200, 300] and w.mask.sum() > 1000
    headless = ipyseg.segment(img, w.seeds, method="sam", model=sam)
    assert np.array_equal(w.labels, headless)
    w.click(400, 220, label=BACKGROUND)
    assert np.array_equal(w.labels, ipyseg.segment(img, w.seeds, method="sam", model=sam))
    w.undo()
    assert np.array_equal(w.labels, headless)
    # box tool: a box prompt as it is (no background seeds outside it)
    w.clear()
    w.paint_box((100, 80, 350, 300))
    assert not w.seeds.any()
    ref = ipyseg.segment(
        img, np.zeros(img.shape[:2], np.uint8), method="sam", model=sam, boxes={2: (100, 80, 350, 300)}
    )
    assert np.array_equal(w.labels, ref) and w.mask.sum() > 1000
    # switching methods keeps the model for sam
    w.method = "click_graphcut"
    assert "sam" in w.controls["method"].options
    w.method = "sam"
    assert w.params["model"] is sam and np.array_equal(w.labels, ref)
    w.engine.close()


def test_widget_needs_a_model_and_registered_models_work(files):
    img = photo(120, 160)
    with pytest.raises(TypeError, match=r"needs the parameter\(s\) \['model'\]"):
        SegmentWidget(img, method="sam")
    sam = SamModel(files["enc"], files["dec"], backend="opencv")
    ipyseg.register_method("sam-test-model", sam, overwrite=True)
    try:
        assert "sam-test-model" in ipyseg.methods()
        w = SegmentWidget(img, method="sam-test-model")
        assert w.wait(30)
        w.click(80, 60)
        assert np.array_equal(w.labels, ipyseg.segment(img, w.seeds, method="sam", model=sam))
        w.engine.close()
    finally:
        segmenters.unregister("sam-test-model")


def test_widget_at_12_megapixels_clicks_at_full_resolution(files):
    sam = SamModel(files["enc"], files["dec"], backend="opencv")
    img = photo(3000, 4000, seed=14)
    w = SegmentWidget(img, method="sam", model=sam)
    assert w.wait(60)
    w.click(1601, 1203)
    ref, sure = expected(img, w.seeds, {FOREGROUND: ([(1601, 1203)], [1])})
    assert_matches(w.labels, ref, sure)
    w.engine.close()


def test_noc_benchmark_runs_sam_with_model_files(files, tmp_path, capsys):
    import sys
    from pathlib import Path

    from conftest import disk_scene

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import noc

    (tmp_path / "GrabCut" / "data_GT").mkdir(parents=True)
    (tmp_path / "GrabCut" / "boundary_GT").mkdir()
    img, gt = disk_scene(h=120, w=160)
    cv2.imwrite(str(tmp_path / "GrabCut" / "data_GT" / "disk.png"), img[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "GrabCut" / "boundary_GT" / "disk.png"), gt.astype(np.uint8) * 255)
    args = ["--method", "sam", "--datasets", "grabcut", "--data", str(tmp_path), "--workers", "1"]
    with pytest.raises(SystemExit):
        noc.main(args)  # no --encoder / --decoder
    capsys.readouterr()
    noc.main([*args, "--encoder", str(files["enc"]), "--decoder", str(files["dec"]), "--backend", "opencv"])
    out = capsys.readouterr().out
    assert "| `sam` | grabcut | 1 |" in out


def test_graph_cut_hands_pixels_to_the_object_whose_stroke_marks_them():
    logits = np.stack([_leaky_logits(), np.full((32, 32), -5.0, np.float32)])  # object 2: nothing yet
    ws = np.zeros((32, 32), np.uint8)
    ws[12, 12] = 2  # object 1 (label 1) clicked in the disk
    ws[10:15, 25:29] = 3  # object 2 (label 2) painted over the leak
    lab = np.full((32, 32, 3), 128, np.uint8)
    values = np.array([1, 2])
    logits, refined = refine_with_seeds(logits, values, ws, lab, smoothness=1.0)
    after = labels_from_logits(logits, values)
    assert refined == [1, 2]
    assert (after[10:15, 25:29] == 2).all() and after[12, 12] == 1
    assert set(np.unique(after)) == {0, 1, 2}


def test_switching_to_sam_needs_a_model_and_keeps_the_widget_consistent(files):
    """``w.method = "sam"`` without a model is refused before anything changes; under
    ``hold_trait_notifications`` method and params set together are both kept."""
    sam = SamModel(files["enc"], files["dec"], backend=BACKENDS[0])
    img = photo(48, 64)
    w = SegmentWidget(img, method="watershed", blur=2.0)
    with pytest.raises(TypeError, match="'sam' needs the parameter.*model"):
        w.method = "sam"
    assert w.method == "watershed" and w.params == {"blur": 2.0}
    with w.hold_trait_notifications():
        w.method = "sam"
        w.params = {"model": sam}
    assert w.method == "sam" and w.params["model"] is sam
    w.paint([(32, 24)], radius=3)
    assert w.last_error is None and w.labels.any()
    with w.hold_trait_notifications():
        w.method = "watershed"
        w.params = {"blur": 3.0}
    assert w.method == "watershed" and w.params == {"blur": 3.0}
    w.method = "sam"  # its model is remembered now
    assert w.params["model"] is sam
    w.method = None  # the default, as in the constructor
    assert w.method == ipyseg.segmenters.DEFAULT_METHOD
    with pytest.raises(TypeError, match="`method` must be a method name"):
        w.method = 3
    w.close()


def test_close_while_the_encoder_runs_does_not_block_and_the_thread_ends(files, monkeypatch):
    import threading
    import time

    from ipyseg.widget import widget as widget_module

    sam = SamModel(files["enc"], files["dec"], backend=BACKENDS[0])
    real_run = sam._encoder.run
    started = threading.Event()

    def slow_run(*args, **kwargs):  # a real encoder (ViT-H) takes many seconds in C on a CPU
        started.set()
        time.sleep(4.0)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(sam._encoder, "run", slow_run)
    w = SegmentWidget(photo(40, 52), method="sam", model=sam)
    assert started.wait(10)
    thread = w.engine.thread
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < widget_module.CLOSE_WAIT + 0.5
    thread.join(15)
    assert not thread.is_alive()  # it ended with the encoder call
    assert len(sam._cache._memory) == 1  # and its embedding was kept for the next widget


def test_a_cache_dir_that_cannot_be_written_warns_once_and_segmentation_works(files, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    sam = SamModel(files["enc"], files["dec"], backend=BACKENDS[0], cache_dir=blocker / "cache")
    img = photo(40, 52)
    seeds = click_seeds(img.shape[:2], [(26, 20, FOREGROUND)])
    with pytest.warns(RuntimeWarning, match="SamModel `cache_dir`: cannot write embeddings"):
        first = ipyseg.segment(img, seeds, method="sam", model=sam)
    runs = sam.timings.get("encoder")
    second = ipyseg.segment(img, seeds, method="sam", model=sam)  # no warning again (errors here)
    assert np.array_equal(first, second) and first.any()
    assert sam.timings.get("encoder") == runs  # the embedding came from memory
    assert sam._cache.cache_dir is None


def test_inside_distance_is_exact_so_prompts_do_not_depend_on_float_noise():
    """Squared distances are exact integers (OpenCV's float distances vary in the last bit between
    identical calls, which moved a click's point between near-equal maxima)."""
    from ipyseg.sam.prompts import _inside_distance

    rng = np.random.default_rng(3)
    for trial in range(20):
        h, w = rng.integers(3, 24, 2)
        mask = cv2.dilate((rng.random((h, w)) < 0.15).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        got = _inside_distance(mask)
        padded = np.pad(mask, 1)
        outside = np.argwhere(~padded) - 1
        inside = np.argwhere(mask)
        d2 = ((inside[:, None, :] - outside[None, :, :]) ** 2).sum(axis=2).min(axis=1)
        assert got.dtype == np.int64 and np.array_equal(got[mask], d2) and (got[~mask] == 0).all(), trial


def test_photos_are_hashed_once_and_a_read_only_view_of_changing_memory_is_not_trusted(files):
    from ipyseg.sam import cache as _sam_cache

    sam = SamModel(files["enc"], files["dec"], backend=BACKENDS[0])
    calls = []
    real = _sam_cache.hashlib.sha1

    def counting_sha1(*args):
        calls.append(1)
        return real(*args)

    _sam_cache.hashlib.sha1 = counting_sha1
    try:
        g16 = (photo(40, 52)[..., 0].astype(np.uint16) * 250).astype(np.uint16)  # shown through a display range
        w = SegmentWidget(g16, method="sam", model=sam)
        assert w.wait(30)
        before = len(calls)
        for x in (10, 20, 30):
            w.click(x, 20)
        assert len(calls) == before  # the widget's photo (converted once to uint8) is not hashed again
        w.close()
        buffer = photo(40, 52)
        view = buffer.view()
        view.flags.writeable = False  # read-only, but its memory can change
        k1 = sam._cache.image_key(view)
        buffer[:] = 255 - buffer
        assert sam._cache.image_key(view) != k1
    finally:
        _sam_cache.hashlib.sha1 = real
