"""Scientific images: display range, gamma, channels; what is segmented is what is seen."""

import logging

import cv2
import numpy as np
import pytest
import traitlets
from conftest import disk_scene, iou

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND, SegmentWidget, display, segmenters

H, W = 120, 160
CY, CX, R = 60, 85, 30


def cell_scene(kind, h=H, w=W, seed=0):
    """A bright round cell on a dark noisy background in the given bit depth; (image, gt)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    gt = (yy - CY) ** 2 + (xx - CX) ** 2 <= R * R
    base = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), 1.5)  # a soft edge, as a real cell
    noise = rng.standard_normal((h, w)).astype(np.float32)
    if kind == "8":
        img = np.clip(30 + 150 * base + 10 * noise, 0, 255).astype(np.uint8)
    elif kind == "12":  # a 12-bit camera, stored as uint16
        img = np.clip(300 + 2200 * base + 120 * noise, 0, 4095).astype(np.uint16)
    elif kind == "16":
        img = np.clip(5000 + 35000 * base + 2000 * noise, 0, 65535).astype(np.uint16)
    elif kind == "float":  # background-subtracted: negative values around 0
        img = (-40 + 900 * base + 40 * noise).astype(np.float32)
    else:
        raise ValueError(kind)
    return img, gt


def two_strokes(w):
    w.paint([(CX - 15, CY), (CX + 15, CY)], label=FOREGROUND, radius=3)
    m = 8
    w.paint([(m, m), (W - m, m), (W - m, H - m), (m, H - m), (m, m)], label=BACKGROUND, radius=3)


class Photos:
    """Records the photo layer's images as the canvas receives them (decoded)."""

    def __init__(self, w):
        self.sent = []  # (kind, rgb)
        orig = w.view.put_png

        def spy(layer, png, x=0, y=0, **kw):
            if layer is w.view.image_layer:
                arr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
                code = cv2.COLOR_BGRA2RGBA if arr.ndim == 3 and arr.shape[2] == 4 else cv2.COLOR_BGR2RGB
                kind = "png" if png[:4] == b"\x89PNG" else "jpeg"
                self.sent.append((kind, cv2.cvtColor(arr, code)))
            self.layers.append(layer)
            return orig(layer, png, x, y, **kw)

        self.layers = []
        w.view.put_png = spy

    @property
    def last(self):
        return self.sent[-1][1]


def shown(w):
    """The photo as the canvas shows it now (a full redraw, decoded)."""
    rec = Photos(w)
    w.presenter.redraw_all()
    kind, rgb = rec.sent[-1]
    assert kind == "png"
    return rgb


# ------------------------------------------------------------------ 8-bit stays
@pytest.mark.parametrize("kind", ["rgb", "rgba", "gray"])
def test_8_bit_photos_look_exactly_as_before(kind):
    img, _ = disk_scene(h=300, w=400)
    if kind == "rgba":
        img = np.dstack([img, np.full(img.shape[:2], 200, np.uint8)])
    if kind == "gray":
        img = img[:, :, 1].copy()
    w = SegmentWidget(img, max_display_pixels=150 * 100)
    old = img if img.ndim == 3 else np.repeat(img[:, :, None], 3, axis=2)  # what the widget held before
    assert np.array_equal(w.image, old)
    vp = w.viewport
    before = cv2.resize(old, (vp.canvas_width, vp.canvas_height), interpolation=cv2.INTER_AREA)
    assert np.array_equal(shown(w), before)  # the canvas gets the same pixels as before
    seg = w.document.multiscale.image
    assert seg.dtype == np.uint8 and np.array_equal(seg, old[:, :, :3])  # segmenters see the same
    assert w.display_range == (0.0, 255.0) and w.gamma == 1.0
    assert (w.toolbar.contrast.box.layout.display == "none") == (kind != "gray")  # shown for gray
    w.close()


# --------------------------------------------------- contrast of wider data
@pytest.mark.parametrize("kind", ["8", "12", "16", "float"])
def test_every_bit_depth_shows_with_full_contrast(kind):
    img, gt = cell_scene(kind)
    w = SegmentWidget(img)
    photo = shown(w)
    assert photo.dtype == np.uint8 and photo.shape == (H, W, 3)
    assert (photo[..., 0] == photo[..., 1]).all()  # gray stays gray
    if kind == "8":
        assert np.array_equal(photo[..., 0], img)  # as it is
        return
    interior = cv2.erode(gt.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    inside, outside = photo[..., 0][interior], photo[..., 0][~gt]
    # the cell is bright and the background dark: the whole range is used, not a corner of it
    assert np.median(inside) >= 190 and np.median(outside) <= 40, (np.median(inside), np.median(outside))
    # robust range: a few outliers saturate (0.1 % each side), the rest spreads over 0-255
    assert photo.max() == 255 and photo.min() == 0 and np.percentile(photo, 99) >= 230
    assert 0.0005 <= (photo[..., 0] == 255).mean() <= 0.01
    w.close()


def test_twelve_bit_is_no_longer_near_black():
    img, _ = cell_scene("12")
    old = ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)  # what uint16 used to become
    assert old.max() <= 16
    w = SegmentWidget(img)
    assert shown(w).max() == 255
    w.close()


@pytest.mark.parametrize(
    "value, dtype, expected",
    [
        (0, np.uint16, 0),
        (65535, np.uint16, 255),
        (1000, np.uint16, 4),
        (0.5, np.float32, 128),
        (7.5, np.float64, 255),
        (-3.0, np.float32, 0),
        (0.0, np.float32, 0),
        (123, np.uint8, 123),
    ],
)
def test_constant_images_show_a_sensible_uniform_value(value, dtype, expected):
    w = SegmentWidget(np.full((20, 30), value, dtype))
    photo = shown(w)
    assert (photo == expected).all()
    lo, hi = w.display_range
    assert lo < hi and np.isfinite([lo, hi]).all()
    w.close()


def test_negative_floats_map_through_their_range():
    img = np.linspace(-100.0, 100.0, 40 * 50, dtype=np.float32).reshape(40, 50)
    w = SegmentWidget(img, display_range=(-100, 100))
    photo = shown(w)[..., 0].astype(int)
    expected = np.rint(255 * (img.astype(np.float64) + 100) / 200)
    assert photo[0, 0] == 0 and photo[-1, -1] == 255 and np.abs(photo - expected).max() <= 1
    w.gamma = 2.0
    p2 = shown(w)[..., 0].astype(int)
    expected = np.rint(255 * ((img.astype(np.float64) + 100) / 200) ** 2)
    assert np.abs(p2 - expected).max() <= 1 and p2[-1, -1] == 255 and p2[0, 0] == 0
    w.close()


# ------------------------------------------------------- what is segmented is what is seen
@pytest.mark.parametrize("method", ["click_graphcut", "grabcut", "watershed"])
@pytest.mark.parametrize("kind", ["8", "12", "16", "float"])
def test_cell_is_segmented_at_every_bit_depth(kind, method):
    img, gt = cell_scene(kind)
    w = SegmentWidget(img, method=method)
    two_strokes(w)
    score = iou(w.mask, gt)
    assert score >= 0.9, (kind, method, score)
    w.close()


def test_segmenters_receive_the_display_mapping_at_full_precision():
    img, gt = cell_scene("16")
    got = {}

    def probe(dtype):
        def seg(image, seeds):
            got[dtype] = image.copy()
            return seeds >= 2

        return seg

    for dtype in ("float32", "uint8", "any"):
        ipyseg.register_method(f"probe-{dtype}", probe(dtype), overwrite=True, dtype=dtype)
    try:
        lo, hi = 6000.0, 30000.0
        seeds = np.zeros(gt.shape, np.uint8)
        seeds[CY, CX] = FOREGROUND
        for dtype in ("float32", "uint8", "any"):
            ipyseg.segment(img, seeds, method=f"probe-{dtype}", display_range=(lo, hi), gamma=0.5)
        exact = np.clip((img.astype(np.float64) - lo) / (hi - lo), 0, 1) ** 0.5
        f = got["float32"]
        assert f.dtype == np.float32 and f.shape == (H, W, 3)
        assert np.abs(f[..., 0] - exact).max() < 1e-5 and (f[..., 0] == f[..., 2]).all()
        # no 8-bit rounding: many more levels than 256 (8-bit would collapse them)
        assert np.unique(f[..., 0]).size > 1000
        u = got["uint8"]
        assert u.dtype == np.uint8 and np.abs(u[..., 0].astype(int) - np.rint(255 * exact)).max() <= 1
        assert got["any"].dtype == np.float32  # built-in methods get the float image
        # the widget gives segmenters the same image as the pure function
        w = SegmentWidget(img, method="probe-float32", display_range=(lo, hi), gamma=0.5)
        w.paint([(CX, CY)])
        assert np.array_equal(got["float32"], f)
        assert np.abs(w.image[..., 0].astype(int) - u[..., 0]).max() <= 1  # what is shown
        w.close()
    finally:
        for dtype in ("float32", "uint8", "any"):
            segmenters.unregister(f"probe-{dtype}")


def test_plugins_keep_the_uint8_contract_for_8_bit_photos():
    img, gt = disk_scene()
    got = []
    ipyseg.register_method("probe-default", lambda image, seeds: got.append(image) or seeds >= 2, overwrite=True)
    try:
        ipyseg.segment(img, (gt * 2).astype(np.uint8), method="probe-default")
        assert got[0].dtype == np.uint8 and np.array_equal(got[0], img)
    finally:
        segmenters.unregister("probe-default")
    with pytest.raises(ValueError, match="`dtype`"):
        ipyseg.register_method("x", lambda image, seeds: seeds, dtype="float64")


def test_contrast_change_resegments_and_redraws_only_the_photo():
    img, gt = cell_scene("16")
    w = SegmentWidget(img, method="watershed")
    rec = Photos(w)
    w.display_range = (20000, 40000)  # no seeds yet: only the photo layer
    assert rec.layers == [w.view.image_layer] and rec.sent[-1][0] == "png"
    two_strokes(w)
    labels = w.labels
    rec.layers.clear()
    w.display_range = (100, 60000)
    assert w.labels is not labels  # segmented again on what is now shown
    assert w.view.image_layer in rec.layers and w.view.seeds_layer not in rec.layers
    assert iou(w.mask, gt) >= 0.9
    w.close()


def test_pyramid_is_rebuilt_only_when_what_is_segmented_changes():
    two = np.stack([cell_scene("12")[0], cell_scene("16", seed=1)[0]], axis=0)
    w = SegmentWidget(two, channel_axis=0, channels=[0], method="watershed", max_display_pixels=60 * 40)
    two_strokes(w)
    fast, seg = w.document.multiscale, w.document.multiscale.image
    n = fast.rebuilds
    w.zoom_by(2.0)
    w.reset_view()
    w.display_range = {1: (0, 1000)}  # a hidden channel
    w.display_range = w.display_range  # the same values
    w.paint([(CX, CY + 5)], radius=2)
    assert fast.rebuilds == n and w.document.multiscale.image is seg
    w.display_range = {0: (200, 3000)}  # the shown channel
    assert fast.rebuilds == n + 1 and w.document.multiscale.image is not seg
    w.paint([(CX, CY - 5)], radius=2)
    assert fast.rebuilds == n + 1
    w.channels = [0, 1]
    assert fast.rebuilds == n + 2
    w.close()


def test_wand_and_livewire_use_what_is_shown():
    img, gt = cell_scene("16")
    w = SegmentWidget(img, method="watershed")
    w.wand_tolerance = 60
    w.magic_wand(CX, CY)
    region = w.seeds == FOREGROUND
    assert region[CY, CX] and iou(region, gt) >= 0.7
    contour = w.livewire([(CX - R, CY), (CX, CY - R), (CX + R, CY), (CX, CY + R)])
    assert contour.shape[1] == 2 and iou(w.mask, gt) >= 0.85
    w.close()


# --------------------------------------------------------------- channels
def test_channels_composite_and_colours():
    h, w_ = 40, 50
    a = np.zeros((4, h, w_), np.uint16)
    a[0, :10] = 1000  # top band: channel 0 only
    a[1, 10:20] = 1000
    a[2, 20:30] = 1000
    a[3, 30:] = 1000
    rng = (0, 1000)
    w = SegmentWidget(a, channel_axis=0, display_range=rng)
    assert w.channels == (0, 1, 2, 3) and w.channel_colors == (
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (255, 255, 255),
    )
    p = shown(w)
    assert tuple(p[5, 5]) == (255, 0, 0) and tuple(p[15, 5]) == (0, 255, 0)
    assert tuple(p[25, 5]) == (0, 0, 255) and tuple(p[35, 5]) == (255, 255, 255)
    w.channels = [1, 3]  # up to three: red, green
    assert w.channel_colors == ((255, 0, 0), (0, 255, 0))
    p = shown(w)
    assert tuple(p[5, 5]) == (0, 0, 0) and tuple(p[15, 5]) == (255, 0, 0) and tuple(p[35, 5]) == (0, 255, 0)
    w.channel_colors = ["magenta", "#ff8000"]
    p = shown(w)
    assert tuple(p[15, 5]) == (255, 0, 255) and tuple(p[35, 5]) == (255, 128, 0)
    w.display_range = {3: (0, 2000)}  # own range per channel
    assert tuple(shown(w)[35, 5]) == (128, 64, 0)
    w.channels = [2]
    p = shown(w)
    assert tuple(p[25, 5]) == (255, 255, 255) and tuple(p[15, 5]) == (0, 0, 0)  # one channel: gray
    w.close()


def test_overlapping_channels_add_up_and_clip():
    a = np.zeros((2, 10, 12), np.uint16)
    a[:, :, :6] = 600
    w = SegmentWidget(a, channel_axis=0, display_range=(0, 1000), channel_colors=["yellow", "red"])
    p = shown(w)
    assert tuple(p[5, 2]) == (255, 153, 0)  # 0.6 * yellow + 0.6 * red, red clipped
    assert w.document.multiscale.image.dtype == np.float32 and np.allclose(
        w.document.multiscale.image[5, 2], (1.0, 0.6, 0.0), atol=1e-6
    )
    w.close()


# -------------------------------------------------------------- the control
def _update(control, **state):
    control._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


@pytest.fixture
def logged(caplog):
    caplog.set_level(logging.WARNING)
    return lambda: [r for r in caplog.records if "Exception in" in r.getMessage()]


def test_contrast_control_round_trips_with_the_traits(logged):
    two = np.stack([cell_scene("12")[0], cell_scene("16", seed=1)[0]], axis=0)
    w = SegmentWidget(two, channel_axis=0)
    c = w.toolbar.contrast
    assert c.box in w.toolbar.box.children
    assert tuple(c.range.value) == w.display_range[0] and c.channel.value == 0
    # page -> trait
    rec = Photos(w)
    _update(c.range, value=[500.0, 2000.0])
    assert w.display_range[0] == (500.0, 2000.0) and w.display_range[1] != (500.0, 2000.0)
    assert rec.sent and rec.sent[-1][0] == "jpeg"  # quick while the slider moves ...
    assert (
        w.presenter.lossless_later.pending and w.presenter.lossless_later.flush() and rec.sent[-1][0] == "png"
    )  # ... then lossless
    # trait -> page
    w.display_range = {0: (800, 1200)}
    assert tuple(c.range.value) == (800.0, 1200.0)
    w.display_range = {0: (-5000, 90000)}  # beyond the data: the slider widens
    assert tuple(c.range.value) == (-5000.0, 90000.0) and c.range.min <= -5000 and c.range.max >= 90000
    # the channel picker chooses which range the slider edits
    _update(c.channel, index=1)
    assert c.channel.value == 1 and tuple(c.range.value) == w.display_range[1]
    _update(c.range, value=[6000.0, 30000.0])
    assert w.display_range[1] == (6000.0, 30000.0) and w.display_range[0] == (-5000.0, 90000.0)
    c.auto.click()
    assert w.display_range[1] == w.document.picture.default_ranges[1] and tuple(c.range.value) == w.display_range[1]
    # gamma both ways
    _update(c.gamma, value=2.0)
    assert w.gamma == 2.0
    w.gamma = 0.5
    assert c.gamma.value == 0.5
    assert not logged()


def test_the_pages_echo_of_a_value_changes_nothing(logged):
    img, _ = cell_scene("16")
    w = SegmentWidget(img)
    c = w.toolbar.contrast
    w.display_range = (500, 2000)
    w.gamma = 0.5
    rec = Photos(w)
    _update(c.range, value=[500.00000000000006, 2000.0000000000002])  # what noUiSlider sends back
    _update(c.gamma, value=0.5000000000000001)
    assert w.display_range == (500.0, 2000.0) and w.gamma == 0.5
    assert not rec.sent and not w.presenter.lossless_later.pending  # nothing redrawn, nothing sent back
    _update(c.range, value=[500.0, 1990.0])  # a real move still counts
    assert w.display_range == (500.0, 1990.0)
    assert not logged()
    w.close()


@pytest.mark.parametrize(
    "control, state",
    [
        ("range", {"value": [700.0, 700.0]}),  # lo == hi
        ("range", {"value": [900.0, 100.0]}),
        ("range", {"value": [float("nan"), 100.0]}),
        ("range", {"value": "wide"}),
        ("range", {"value": None}),
        ("gamma", {"value": float("nan")}),
        ("gamma", {"value": "x"}),
        ("gamma", {"value": None}),
        ("channel", {"index": 7}),
        ("channel", {"index": None}),
    ],
)
def test_bad_page_values_are_refused_and_the_control_shows_the_trait(control, state, logged):
    two = np.stack([cell_scene("12")[0], cell_scene("16", seed=1)[0]], axis=0)
    w = SegmentWidget(two, channel_axis=0)
    c = w.toolbar.contrast
    before = (w.display_range, w.gamma)
    _update(getattr(c, control), **state)
    assert (w.display_range, w.gamma) == before
    assert tuple(c.range.value) == w.display_range[int(c.channel.value or 0)] and c.gamma.value == w.gamma
    assert not logged()


def test_refused_trait_values_leave_everything_as_it_was():
    img, _ = cell_scene("16")
    w = SegmentWidget(img)
    c = w.toolbar.contrast
    before = w.display_range
    for bad in [(5, 5), (1, float("inf")), "wide", [(0, 1), (2, 3)], (None, 3)]:
        with pytest.raises((ValueError, TypeError, traitlets.TraitError), match="display_range"):
            w.display_range = bad
        assert w.display_range == before and tuple(c.range.value) == before
    for bad in (0.0, 11, -1, float("nan")):
        with pytest.raises((ValueError, traitlets.TraitError), match="gamma"):
            w.gamma = bad
        assert w.gamma == 1.0 and c.gamma.value == 1.0
    w.close()


# ----------------------------------------------------------------- export
@pytest.mark.parametrize("kind", ["12", "16", "float"])
def test_cutout_keeps_the_data_type(kind):
    img, gt = cell_scene(kind)
    w = SegmentWidget(img, method="watershed")
    two_strokes(w)
    out = w.cutout()
    assert out.dtype == img.dtype and out.shape == (H, W, 3)
    m = w.mask
    assert np.array_equal(out[m][:, 0], img[m]) and (out[~m] == 0).all()
    rgba = w.cutout(alpha=True)
    top = 1.0 if kind == "float" else 65535
    assert rgba.dtype == img.dtype and (rgba[m][:, 3] == top).all() and (rgba[~m][:, 3] == 0).all()
    w.close()


def test_cutout_of_channels_and_of_8_bit_photos():
    a = np.stack([cell_scene("16")[0]] * 5, axis=-1)
    w = SegmentWidget(a, channel_axis=-1, method="watershed")
    two_strokes(w)
    assert w.cutout().shape == (H, W, 5) and w.cutout(alpha=True).shape == (H, W, 6)
    w.close()
    img, gt = disk_scene()
    w = SegmentWidget(np.dstack([img, np.full(gt.shape, 100, np.uint8)]), method="watershed")
    w.fill(gt)
    rgba = w.cutout(alpha=True)
    assert (
        rgba.dtype == np.uint8
        and (rgba[..., 3][w.mask] == 100).all()
        and np.array_equal(w.cutout(), img * w.mask[..., None])
    )
    w.close()


# ------------------------------------------------------------- lifetimes
def test_a_closed_microscopy_widget_is_released():
    import gc
    import weakref

    img, _ = cell_scene("16")
    w = SegmentWidget(img)
    c = w.toolbar.contrast
    _update(c.range, value=[7000.0, 30000.0])  # a lossless photo is pending
    ref = weakref.ref(w)
    w.close()
    assert not w.presenter.lossless_later.pending and c.range.comm is None
    assert w.data.dtype == np.uint16 and w.image.shape == (H, W, 3)  # still readable
    del w, c
    gc.collect()
    assert ref() is None


# -------------------------------------------------------- display helpers
def test_resize_area_handles_any_channel_count_and_dtype():
    x = np.arange(40 * 60 * 6, dtype=np.int32).reshape(40, 60, 6)
    out = display.resize_area(x, (30, 20))
    assert out.shape == (20, 30, 6)
    assert np.allclose(out[..., 5], cv2.resize(x[..., 5].astype(np.float32), (30, 20), interpolation=cv2.INTER_AREA))
    one = display.resize_area(np.ones((40, 60, 1), np.uint16), (30, 20))
    assert one.shape == (20, 30, 1) and one.dtype == np.uint16


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64])
def test_levels_agree_between_lookup_tables_and_float_paths(dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    lo_v, hi_v = (int(info.min), int(info.max)) if info is not None and info.bits <= 16 else (-1000, 1000)
    x = np.linspace(lo_v, hi_v, 5000).astype(dtype).reshape(50, 100)
    lo, hi = lo_v + 0.3 * (hi_v - lo_v), lo_v + 0.7 * (hi_v - lo_v)
    exact = np.clip((x.astype(np.float64) - lo) / (hi - lo), 0, 1) ** 0.7
    f = display.levels(x, lo, hi, 0.7, "f32")
    u = display.levels(x, lo, hi, 0.7, "u8")
    assert f.dtype == np.float32 and np.abs(f - exact).max() < 1e-5
    assert u.dtype == np.uint8 and np.abs(u.astype(int) - np.rint(255 * exact)).max() <= 1


def test_switching_pictures_resets_the_display_and_the_control():
    """What ``set_image`` (the dataset annotator) needs: another picture of the same size."""
    img, _ = disk_scene(h=H, w=W)
    w = SegmentWidget(img, method="watershed")
    c = w.toolbar.contrast
    assert c.box.layout.display == "none"
    two = np.stack([cell_scene("12")[0], cell_scene("16", seed=1)[0]], axis=-1)
    w.set_image(w.prepare_image(two, channel_axis=-1))
    pic = w.document.picture
    assert w.channels == (0, 1) and w.display_range == pic.default_ranges and w.gamma == 1.0
    assert c.box.layout.display is None and c.channel.layout.display is None
    assert [v for _, v in c.channel.options] == [0, 1] and tuple(c.range.value) == w.display_range[0]
    assert w.document.multiscale.image is pic.segmentation_image() and w.document.multiscale.image.dtype == np.float32
    p = shown(w)
    assert np.array_equal(p, pic.render(display.sample_view(pic.data3, w.viewport)))
    two_strokes(w)
    assert iou(w.mask, cell_scene("12")[1]) >= 0.9
    w.set_image(img)  # back to the photo
    assert c.box.layout.display == "none" and w.display_range == (0.0, 255.0)
    assert np.array_equal(
        shown(w), cv2.resize(img, (w.viewport.canvas_width, w.viewport.canvas_height), interpolation=cv2.INTER_AREA)
    )
    w.close()


@pytest.mark.parametrize("scale", [1e300, 1e39, 1e-30, 1e-40, 1e-300])
def test_extreme_float_values_show_and_segment_like_ordinary_ones(scale):
    """Finite values beyond float32's range (or below its precision) are neither black nor NaN."""
    img, gt = disk_scene(60, 80)
    base = img[..., 1].astype(np.float64) / 255.0
    seeds = np.zeros(base.shape, np.uint8)
    seeds[30, 40] = FOREGROUND
    seeds[3, 3] = BACKGROUND
    ref = SegmentWidget(base)
    w = SegmentWidget(base * scale)
    assert np.abs(w.image.astype(int) - ref.image.astype(int)).max() <= 1
    lo, hi = w.display_range
    shown = display.levels(base * scale, lo, hi)
    assert np.isfinite(shown).all() and np.abs(shown - display.levels(base, *ref.display_range)).max() < 1e-3
    for method in ("click_graphcut", "watershed"):
        got = ipyseg.segment(base * scale, seeds, method=method)
        assert iou(got > 0, ipyseg.segment(base, seeds, method=method) > 0) > 0.99, method
    for x in (np.float32(3e38) * np.ones((4, 5), np.float32), np.full((4, 5), -3e38, np.float32)):
        y = display.levels(x, -1e38, 1e38)  # float32 data whose difference to lo overflows float32
        assert np.isfinite(y).all() and set(np.unique(y)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="`display_range`.*finite hi - lo"):
        SegmentWidget(base, display_range=(-1e308, 1e308))


def test_channel_arguments_of_the_wrong_type_are_named():
    rgb16 = np.zeros((20, 30, 3), np.uint16)
    with pytest.raises(ValueError, match="`channels`: the image is shown as RGB"):
        SegmentWidget(rgb16, channels=0)
    two = np.zeros((20, 30, 2), np.uint16)
    with pytest.raises(TypeError, match="`channel_colors` must be a list of colours"):
        SegmentWidget(two, channel_axis=-1, channel_colors=5)
    w = SegmentWidget(two, channel_axis=-1)
    with pytest.raises(TypeError, match="`channel_colors` must be a list of colours"):
        w.channel_colors = 5
    with pytest.raises(ValueError, match="`image` has no channels"):
        SegmentWidget(np.zeros((20, 30, 0), np.uint16), channel_axis=-1)
