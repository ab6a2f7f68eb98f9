"""The Annotator with TIFF stacks, scientific images' display settings and Segment-Anything prefetch."""

import json
import threading
import time

import cv2
import numpy as np
import pytest
import tifffile
from conftest import open_annotator
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from test_display import Photos

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND, SegmentWidget, session
from ipyseg.dataset import sources
from ipyseg.dataset.workers import Prefetcher
from ipyseg.display import levels
from ipyseg.io import TiffPlane
from ipyseg.session import pixels_sha256

H, W = 61, 83  # odd sizes


def cell_planes(n, h=H, w=W, seed=0, scale=3000, offset=200):
    """(n, h, w) uint16 planes: a bright disk whose radius changes from plane to plane, noise."""
    rng = np.random.default_rng(seed)
    planes = []
    for z in range(n):
        disk = np.zeros((h, w), np.float32)
        cv2.circle(disk, (w // 2, h // 2), 12 + 2 * z, 1.0, -1)
        planes.append(offset + scale * disk + rng.normal(0, 20, (h, w)))
    return np.clip(planes, 0, 65535).astype(np.uint16)


def segment_disk(w, z):
    """Two strokes: inside the plane's disk, and a ring outside it."""
    cy, cx, r = H // 2, W // 2, 12 + 2 * z
    w.paint([(cx - 4, cy), (cx + 4, cy)], label=FOREGROUND, radius=2)
    m = 2
    w.paint([(m, m), (W - 1 - m, m), (W - 1 - m, H - 1 - m), (m, H - 1 - m), (m, m)], label=BACKGROUND, radius=2)
    yy, xx = np.mgrid[:H, :W]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def settle(a, timeout=30):
    """Let the annotator's background work finish: a pending re-prepare, the prefetch thread, the widget."""
    assert a.wait(timeout)


# ------------------------------------------------------------------------ TIFF stacks
def test_a_tiff_stack_is_one_item_per_plane_read_lazily(tmp_path, annotators, monkeypatch):
    stack = cell_planes(5)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, metadata={"axes": "ZYX"})
    reads = []
    original = TiffPlane.read

    def spy(self, name="image"):
        reads.append(self.index)
        return original(self, name)

    monkeypatch.setattr(TiffPlane, "read", spy)
    a = open_annotator(annotators, path, out=tmp_path / "out", carry_over=True)
    assert len(a) == 5 and a.item_keys == [f"stack.tif#{z:04d}" for z in range(5)]
    assert a.widget.data.dtype == np.uint16 and np.array_equal(a.widget.data, stack[0])
    assert a.prefetcher.idle(30)
    assert set(reads) == {0, 1}  # the current plane and the next one, nothing else
    truth = segment_disk(a.widget, 0)
    assert iou(a.widget.mask, truth) > 0.9
    a.mark_done()
    # carry_over: plane 1 starts from plane 0's labels, then is refined
    assert a.index == 1 and np.array_equal(a.widget.data, stack[1])
    assert np.array_equal(a.widget.labels, a.labels(0)) and a.widget.labels.any()
    truth1 = segment_disk(a.widget, 1)
    assert iou(a.widget.mask, truth1) > 0.9
    a.widget.object_classes = {1: "object"}
    a.mark_done()
    assert a.status == ["done", "done", "untouched", "untouched", "untouched"]
    assert max(reads) <= 3  # planes are read as they are needed
    # the session of a plane names the stack's file and the plane, and hashes the plane's data
    assert a.flush()
    doc = json.loads((a.out / "stack.tif#0001.json").read_text())
    assert doc["image"]["path"] == str(path.resolve()) and doc["image"]["plane"] == 1
    assert doc["image"]["file_sha256"] is None and doc["image"]["pixels_sha256"] == pixels_sha256(stack[1])
    w = SegmentWidget.load_session(a.out / "stack.tif#0001.json")  # the plane is read from the file again
    assert np.array_equal(w.data, stack[1]) and np.array_equal(w.labels, a.labels(1))
    w.close()
    with pytest.raises(session.SessionError, match=r"plane 1 of '.*stack.tif' is not the one"):
        SegmentWidget.load_session(a.out / "stack.tif#0001.json", image=TiffPlane(path, 2))
    # COCO: one image per done plane, file names that say which plane
    coco_path = a.export_coco(tmp_path / "coco.json")
    coco = COCO(str(coco_path))
    names = {img["file_name"]: img for img in coco.dataset["images"]}
    assert sorted(names) == ["stack.tif#0000", "stack.tif#0001"]
    for z in (0, 1):
        img = names[f"stack.tif#{z:04d}"]
        assert (img["height"], img["width"]) == (H, W)
        (ann,) = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        assert np.array_equal(mask_utils.decode(ann["segmentation"]).astype(bool), a.labels(z) == 1)
    files = a.save_labels(tmp_path / "labels")
    assert [f.name for f in files] == ["stack#0000.png", "stack#0001.png"]
    labels1 = a.labels(1)
    assert np.array_equal(cv2.imread(str(files[1]), cv2.IMREAD_UNCHANGED), labels1)
    a.close()
    # re-opening: resumes at plane 2, without reading a header again (plane counts remembered)
    monkeypatch.setattr(sources, "tiff_planes", lambda *a, **k: pytest.fail("header read again"))
    b = open_annotator(annotators, path, out=tmp_path / "out")
    assert b.index == 2 and b.status[:2] == ["done", "done"] and np.array_equal(b.labels(1), labels1)
    assert np.array_equal(b.widget.data, stack[2])


def test_a_folder_with_stacks_single_images_and_a_damaged_tiff(tmp_path, annotators):
    src = tmp_path / "src"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), np.full((20, 30, 3), 90, np.uint8))
    tifffile.imwrite(src / "b.tif", cell_planes(1, 40, 50)[0])  # one 16-bit image
    zc = np.stack([cell_planes(3, 30, 40), cell_planes(3, 30, 40, seed=1, scale=900)], axis=1)  # (Z, C, H, W)
    tifffile.imwrite(src / "c.tif", zc, imagej=True, metadata={"axes": "ZCYX"})
    (src / "d.tif").write_bytes(b"II*\x00 not a tiff")
    items = sources.items_from(src)
    assert list(items) == ["a.png", "b.tif", "c.tif#0000", "c.tif#0001", "c.tif#0002", "d.tif"]
    assert items.path(3) == src / "c.tif" and items.plane(3) == 1 and items.plane(1) is None
    assert items.size(1) == (40, 50) and items.size(4) == (30, 40)  # 16-bit TIFFs sized by tifffile
    assert items.planes_of(2) == 3 and items.planes_of(0) == 1
    a = open_annotator(annotators, src, out=tmp_path / "out")
    a.goto(3)
    assert a.widget.data.shape == (30, 40, 2) and np.array_equal(a.widget.data[:, :, 1], zc[1, 1])
    assert a.widget.channels == (0, 1) and len(a.widget.display_range) == 2  # the ImageJ C axis: channels
    assert a.labels(2).shape == (30, 40) and not a.labels(2).any()
    with pytest.raises(ValueError, match="d.tif"):  # a damaged file is one item whose error names it
        a.goto(5)
    a.close()
    # a stack that changed on disk is counted again
    tifffile.imwrite(src / "c.tif", np.concatenate([zc, zc]), imagej=True, metadata={"axes": "ZCYX"})
    b = open_annotator(annotators, src, out=tmp_path / "out")
    assert len(b) == 3 + 6 and b.item_keys[-2] == "c.tif#0005"
    # with a channel axis given, a TIFF's planes are the axes before the last three
    qq = tmp_path / "qq"
    qq.mkdir()
    tifffile.imwrite(qq / "s.tif", np.stack([cell_planes(2, 30, 40), cell_planes(2, 30, 40, seed=5)], 1))  # QQYX
    c = open_annotator(annotators, qq, out=tmp_path / "out-qq", channel_axis=0)
    assert c.item_keys == ["s.tif#0000", "s.tif#0001"] and c.widget.data.shape == (30, 40, 2)


# ----------------------------------------------------------------- display settings
def two_channel_folder(tmp_path, n=3, scales=(3000, 1500, 6000)):
    src = tmp_path / "cells"
    src.mkdir()
    data = []
    for i in range(n):
        arr = np.stack([cell_planes(1, seed=i, scale=scales[i])[0], cell_planes(1, seed=10 + i, scale=700)[0]])
        tifffile.imwrite(src / f"cell{i}.ome.tif", arr, metadata={"axes": "CYX"})
        data.append(np.moveaxis(arr, 0, -1))
    return src, data


def expected_gray(channel, lo, hi, gamma=1.0):
    return levels(channel, lo, hi, gamma, "u8")


def test_display_settings_apply_to_every_item_and_follow_the_user(tmp_path, annotators):
    src, data = two_channel_folder(tmp_path)
    a = open_annotator(annotators, src, out=tmp_path / "out", channels=[1], display_range={1: (100, 2000)})
    w = a.widget
    rec = Photos(w)
    assert w.channels == (1,) and w.display_range[1] == (100.0, 2000.0)
    assert np.array_equal(w.image[:, :, 0], expected_gray(data[0][:, :, 1], 100, 2000))
    assert a.display_settings == {
        "channel_axis": None,
        "rgb": None,
        "channels": (1,),
        "channel_colors": None,
        "display_range": {1: (100, 2000)},
        "gamma": 1.0,
    }
    settle(a)
    a.next()  # item 1: the same channel and range; its photo was prepared with them
    assert w.channels == (1,) and w.display_range[1] == (100.0, 2000.0)
    png = [rgb for kind, rgb in rec.sent if kind == "png"][-1]  # the pixels sent to the canvas
    assert np.array_equal(png[:, :, 0], expected_gray(data[1][:, :, 1], 100, 2000))
    assert w.display_range[0] != (100.0, 2000.0)  # channel 0 keeps its own robust range
    # the user changes the contrast on item 1: the next items follow
    w.display_range = {1: (50, 900)}
    w.gamma = 0.8
    assert a.display_settings["display_range"] == {1: (50.0, 900.0)} and a.display_settings["gamma"] == 0.8
    segment_disk(w, 0)
    settle(a)
    rec.sent.clear()
    a.next()
    assert w.display_range[1] == (50.0, 900.0) and w.gamma == 0.8 and w.channels == (1,)
    png = [rgb for kind, rgb in rec.sent if kind == "png"][-1]
    assert np.array_equal(png[:, :, 0], expected_gray(data[2][:, :, 1], 50, 900, 0.8))
    # Auto on the pinned channel: every item gets its own range again
    w.display_range = {1: None}
    assert a.display_settings["display_range"] is None
    a.goto(0)
    assert w.display_range[1] != (50.0, 900.0) and w.gamma == 0.8
    # a contrast change does not invalidate saved work: sessions hash the data
    a.close()
    b = open_annotator(annotators, src, out=tmp_path / "out", display_range=(0, 65535), gamma=2.0)
    b.goto(1)
    assert (
        all(b.record(i).error is None for i in range(len(b))) and b.status[1] == "in progress" and b.widget.labels.any()
    )
    assert b.widget.display_range == ((0.0, 65535.0), (0.0, 65535.0))


def test_display_settings_that_do_not_fit_an_item_leave_it_its_defaults(tmp_path, annotators):
    src, _ = two_channel_folder(tmp_path, n=2)
    tifffile.imwrite(src / "cell9.tif", cell_planes(1, seed=3)[0])  # one channel only
    with pytest.raises(ValueError, match=r"`channels`: channel 3 is out of range"):
        ipyseg.Annotator(src, out=tmp_path / "bad", channels=[3])  # the first item: a clear error
    a = open_annotator(annotators, src, out=tmp_path / "out", channels=[1], channel_colors=["magenta"])
    assert a.widget.channel_colors == ((255, 0, 255),)
    a.goto(2)
    assert a.widget.channels == (0,) and a.widget.channel_colors == ((255, 255, 255),)
    assert "shown with its own display settings" in a.header.message.value and "channel 1" in a.header.message.value
    a.goto(1)
    assert a.widget.channels == (1,) and a.header.message.value == ""


def test_16_bit_array_stack_resumes(tmp_path, annotators):
    """The sessions of a gray 16-bit stack hash its data: resuming finds them (not the shown RGB image)."""
    stack = cell_planes(3)
    a = open_annotator(annotators, stack, out=tmp_path / "out")
    truth = segment_disk(a.widget, 0)
    a.mark_done()
    a.close()
    b = open_annotator(annotators, stack, out=tmp_path / "out")
    b.goto(0)
    assert all(b.record(i).error is None for i in range(len(b))) and iou(b.widget.mask, truth) > 0.9
    # sessions written before the data was hashed recorded the shown image's hash: they still open
    state = session.load(tmp_path / "out" / "00000.json")
    state.image_pixels_sha256 = pixels_sha256(b.widget.image)
    session.check_image(state, b.widget.data, None, "old.json", shown=b.widget.image)
    with pytest.raises(session.SessionError, match="pixel hash differs"):
        session.check_image(state, b.widget.data, None, "old.json")


def test_set_image_redraws_a_prepared_photo_whose_display_changed_since():
    planes = cell_planes(2)
    w = SegmentWidget(planes[0])
    first = w.prepare_image(planes[0], display_range=(0, 1000))
    second = w.prepare_image(planes[1])
    w.set_image(first)
    w.display_range = (0, 3000)  # changes first.picture's mapping: its prepared photo is stale now
    assert not first.photo_current and second.photo_current
    w.set_image(second)
    rec = Photos(w)
    w.set_image(first)
    kinds = [kind for kind, _ in rec.sent]
    assert kinds == ["png"], kinds  # drawn as it is now (no stale JPEG preview)
    assert w.display_range == (0.0, 3000.0)
    assert np.array_equal(rec.last[:, :, 0], expected_gray(planes[0], 0, 3000))
    w.close()


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_prefetch_prepares_the_image_the_segmenter_receives(tmp_path, annotators, dtype):
    """The ``prepare`` seam, generic: any method's prepare sees exactly the image its segmentation gets."""
    prepared, segmented = [], []

    def seg(image, seeds):
        segmented.append(np.array(image))
        return (seeds >= FOREGROUND).astype(np.uint8)

    def prep(image, **params):
        prepared.append((threading.current_thread().name, np.array(image)))

    seg.prepare = prep
    ipyseg.register_method("probe-prepare", seg, dtype=dtype, overwrite=True)
    try:
        stack = cell_planes(3)
        a = open_annotator(annotators, stack, out=tmp_path / "out", method="probe-prepare", display_range=(0, 2500))
        settle(a)
        threads = [t for t, _ in prepared]
        assert "ipyseg-prefetch" in threads
        from_prefetch = [img for t, img in prepared if t == "ipyseg-prefetch"]
        a.next()
        a.widget.click(W // 2, H // 2)
        assert a.widget.wait(30)
        got = segmented[-1]
        assert got.dtype == np.dtype(dtype)
        assert any(img.dtype == got.dtype and np.array_equal(img, got) for img in from_prefetch)
        want = levels(stack[1], 0, 2500, 1.0, "u8" if dtype == "uint8" else "f32")
        assert np.allclose(got[:, :, 0], want, atol=1e-6)  # the display mapping the annotator set

        # a failing prepare does not stop prepare_image; the widget runs (and reports) it itself
        def broken(image, **params):
            raise RuntimeError("encoder exploded")

        seg.prepare = broken
        p = a.widget.prepare_image(stack[2])
        assert p.prepared_for is None and p.picture.data.shape == (H, W)
    finally:
        ipyseg.segmenters.unregister("probe-prepare")


# ---------------------------------------------------------------- Segment Anything
onnx = pytest.importorskip("onnx")
import tiny_sam as T  # noqa: E402

from ipyseg.sam.model import SamModel  # noqa: E402


@pytest.fixture(scope="module")
def sam_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_sam_annotator")
    return T.build_encoder(d / "encoder.onnx"), T.build_decoder(d / "decoder.onnx")


class Counted:
    """A SamModel whose encoder runs are counted, with the thread each ran in."""

    def __init__(self, files):
        self.sam = SamModel(*files, backend="opencv")
        self.threads = []
        orig = self.sam._encoder.run

        def run(feeds, names):
            self.threads.append(threading.current_thread().name)
            return orig(feeds, names)

        self.sam._encoder.run = run

    @property
    def runs(self):
        return len(self.threads)

    @property
    def outside_prefetch(self):
        """Encoder runs the widget (or the caller) waited for: not in the prefetch thread."""
        return sum(t != "ipyseg-prefetch" for t in self.threads)


def test_next_finds_the_sam_embedding_prefetched(tmp_path, annotators, sam_files):
    enc = Counted(sam_files)
    stack = cell_planes(3)  # 16-bit: SAM gets the display mapping of the data, as the widget passes it
    a = open_annotator(annotators, stack, out=tmp_path / "out", method="sam", model=enc.sam)
    settle(a)
    assert sorted(enc.threads) == ["ipyseg-engine", "ipyseg-prefetch"]  # item 0 (the widget), item 1 (prefetched)
    a.widget.click(W // 2, H // 2)
    assert a.widget.mask[H // 2, W // 2] and enc.runs == 2
    t0 = time.perf_counter()
    a.next()
    assert a.widget.wait(30)
    seconds = time.perf_counter() - t0
    assert enc.outside_prefetch == 1, "the encoder ran again for a prefetched item"
    assert seconds < 5
    a.widget.click(W // 2, H // 2)
    assert enc.outside_prefetch == 1  # the click used the prefetched embedding
    settle(a)
    assert enc.runs == 3  # item 2, prefetched meanwhile
    headless = ipyseg.segment(stack[1], a.widget.seeds, method="sam", model=enc.sam)
    assert np.array_equal(a.widget.labels, headless) and a.widget.labels.any()
    assert enc.runs == 3  # the same image as the widget's, found in the cache
    a.flush()
    assert a.autosaver.errors == 0  # sam's model is not saved (a Python object), the rest is
    doc = json.loads((a.out / "00001.json").read_text())
    assert doc["method"] == "sam" and doc["params_not_saved"] == ["model"] and "model" not in doc["params"]
    # a contrast change: the neighbours are prepared (and encoded) again with it, ahead of "next"
    a.widget.display_range = (0, 4000)
    settle(a)
    before = enc.outside_prefetch
    assert before == 2  # the current item, re-segmented as it is now shown
    a.next()
    assert a.widget.wait(30) and a.widget.display_range == (0.0, 4000.0)
    a.widget.click(W // 2, H // 2)
    assert a.widget.labels.any() and enc.outside_prefetch == before
    left = a.labels(1)  # as re-segmented with the new contrast
    assert left.any()
    # resume: the saved item gets its method back, and the model from the annotator
    a.close()
    b = open_annotator(annotators, stack, out=tmp_path / "out", method="sam", model=enc.sam)
    b.goto(1)
    assert (
        b.widget.wait(30)
        and all(b.record(i).error is None for i in range(len(b)))
        and b.widget.params["model"] is enc.sam
    )
    assert np.array_equal(b.widget.labels, left)


def test_prepare_image_runs_the_encoder_so_set_image_does_not(sam_files):
    enc = Counted(sam_files)
    imgs = [cv2.cvtColor(np.uint8(cell_planes(1, seed=s)[0] // 16), cv2.COLOR_GRAY2RGB) for s in range(2)]
    w = SegmentWidget(imgs[0], method="sam", model=enc.sam)
    assert w.wait(30) and enc.runs == 1
    prepared = w.prepare_image(imgs[1])  # e.g. in a background thread
    assert enc.runs == 2 and prepared.prepared_for[0] == "sam"
    w.set_image(prepared)
    assert w.wait(30) and enc.runs == 2
    w.click(W // 2, H // 2)
    assert np.array_equal(w.labels, ipyseg.segment(imgs[1], w.seeds, method="sam", model=enc.sam))
    assert enc.runs == 2
    # display settings for the prepared photo
    p16 = w.prepare_image(cell_planes(1)[0], display_range=(0, 1000), gamma=0.5)
    assert p16.picture.mapping.ranges == ((0.0, 1000.0),) and p16.picture.mapping.gamma == 0.5
    with pytest.raises(TypeError, match="unknown display setting"):
        w.prepare_image(imgs[0], contrast=3)
    w.close()


def test_sam_sessions_leave_the_model_out_and_take_it_back(tmp_path, sam_files):
    enc = Counted(sam_files)
    img = cv2.cvtColor(np.uint8(cell_planes(1)[0] // 16), cv2.COLOR_GRAY2RGB)
    cv2.imwrite(str(tmp_path / "cell.png"), img)
    w = SegmentWidget(tmp_path / "cell.png", method="sam", model=enc.sam, stroke_points=6)
    w.click(W // 2, H // 2)
    path = w.save_session(tmp_path / "cell.json")
    doc = json.loads(path.read_text())
    assert doc["params"] == {"stroke_points": 6} and doc["params_not_saved"] == ["model"]
    with pytest.raises(TypeError, match=r"\['model'\].*load_session\(path, model=\.\.\.\)"):
        SegmentWidget.load_session(path)
    w2 = SegmentWidget.load_session(path, model=enc.sam)
    assert w2.params == {"model": enc.sam, "stroke_points": 6} and np.array_equal(w2.labels, w.labels)
    # restoring into a widget that has the model already (the annotator's case)
    w3 = SegmentWidget(tmp_path / "cell.png", method="sam", model=enc.sam)
    w3.restore_session(session.load(path))
    assert w3.params["model"] is enc.sam and w3.params["stroke_points"] == 6
    for x in (w, w2, w3):
        x.close()


def test_prefetcher_warms_in_the_background_without_holding_get_back():
    gate = threading.Event()
    warmed = []

    def warm(i, value):
        if i == 1:
            assert gate.wait(10)
        warmed.append(i)
        if i == 3:
            raise RuntimeError("ignored")
        return True

    pre = Prefetcher(lambda i: i * 10, size=3, warm=warm)
    pre.want([1])
    deadline = time.monotonic() + 5
    while 1 not in pre.cached() and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.perf_counter()
    assert pre.get(1) == 10 and pre.hits == 1  # the value, while its warming still waits
    assert time.perf_counter() - t0 < 1 and not warmed and not pre.idle(0.05)
    gate.set()
    assert pre.idle(10) and warmed == [1] and pre.warmed == 1
    pre.want([1, 3])  # cached items are warmed again (warm decides whether there is work)
    assert pre.idle(10) and warmed == [1, 1, 3] and pre.warmed == 2 and pre.get(3) == 30
    pre.close()
    assert not pre.alive
