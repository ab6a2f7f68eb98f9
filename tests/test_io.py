"""Reading images: TIFF through tifffile (16-bit, float, pages, OME / ImageJ axes), arrays, bad input."""

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

import ipyseg
from ipyseg import SegmentWidget
from ipyseg.io import as_image_data, read_image


def _u16(shape, seed=0):
    return np.random.default_rng(seed).integers(100, 4000, shape, dtype=np.uint16)


def test_16_bit_tiff_keeps_its_values_and_gets_a_robust_range(tmp_path):
    arr = _u16((40, 50))
    p = tmp_path / "gray16.tif"
    tifffile.imwrite(p, arr)
    w = SegmentWidget(p)
    assert w.data.dtype == np.uint16 and np.array_equal(w.data, arr)
    lo, hi = w.display_range
    assert arr.min() <= lo < hi <= arr.max() and lo < np.percentile(arr, 1) and hi > np.percentile(arr, 99)
    assert w.image.dtype == np.uint8 and w.image.shape == (40, 50, 3)
    assert w.image.max() == 255 and w.image.min() == 0  # not divided by 257
    w.close()


def test_float_tiff_with_large_and_negative_values_loads(tmp_path):
    arr = np.random.default_rng(1).normal(0, 300, (30, 40)).astype(np.float32)
    p = tmp_path / "f.tiff"
    tifffile.imwrite(p, arr)
    d = as_image_data(p)
    assert d.data.dtype == np.float32 and np.array_equal(d.data[:, :, 0], arr) and not d.rgb


def test_multi_page_tiff_is_a_stack_unless_an_axis_is_named_channels(tmp_path):
    stack = _u16((5, 20, 30))
    p = tmp_path / "pages.tif"
    tifffile.imwrite(p, stack)
    assert read_image(p).axes == "QYX" and read_image(p).array.shape == (5, 20, 30)
    with pytest.raises(ValueError) as info:
        SegmentWidget(p)
    msg = str(info.value)
    for words in ("`image`", "pages.tif", "stack", "(5, 20, 30)", "QYX", "ipyseg.Annotator", "channel_axis"):
        assert words in msg
    w = SegmentWidget(p, channel_axis=0)  # the pages are channels
    assert w.data.shape == (20, 30, 5) and np.array_equal(w.data[:, :, 3], stack[3])
    assert w.channels == (0, 1, 2, 3, 4) and len(w.display_range) == 5
    w.close()


@pytest.mark.parametrize(
    "kwargs, shape, axes",
    [
        (dict(metadata={"axes": "CYX"}), (2, 20, 30), "CYX"),
        (dict(imagej=True, metadata={"axes": "CYX"}), (3, 20, 30), "CYX"),
        (dict(metadata={"axes": "TCZYX"}), (1, 2, 1, 20, 30), "TCZYX"),  # OME: singleton axes dropped
    ],
)
def test_channel_axis_from_tiff_metadata(tmp_path, kwargs, shape, axes):
    arr = _u16(shape)
    ome = axes == "TCZYX"
    p = tmp_path / ("x.ome.tif" if ome else "x.tif")
    tifffile.imwrite(p, arr, **kwargs)
    planes = arr.reshape(-1, 20, 30)
    w = SegmentWidget(p)
    assert w.data.shape == (20, 30, planes.shape[0]) and w.data.dtype == np.uint16
    for c in range(planes.shape[0]):
        assert np.array_equal(w.data[:, :, c], planes[c])
    assert w.channels == tuple(range(planes.shape[0])) and len(w.display_range) == planes.shape[0]
    assert w.channel_colors[:2] == ((255, 0, 0), (0, 255, 0))
    w.close()


def test_imagej_hyperstack_with_planes_is_refused_with_its_axes(tmp_path):
    p = tmp_path / "zc.tif"
    tifffile.imwrite(p, _u16((3, 2, 20, 30)), imagej=True, metadata={"axes": "ZCYX"})
    with pytest.raises(ValueError, match=r"(?s)`image`.*stack.*ZCYX.*Annotator"):
        SegmentWidget(p)


def test_rgb_tiff_is_a_photo(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    p = tmp_path / "rgb.tif"
    tifffile.imwrite(p, rgb, photometric="rgb")
    w = SegmentWidget(p)
    assert np.array_equal(w.image, rgb) and w.display_range == (0.0, 255.0)
    assert w.toolbar.contrast.box.layout.display == "none"  # 8-bit photos: no contrast control, as before
    w.close()


def test_tiff_with_images_of_different_shapes_is_refused(tmp_path):
    p = tmp_path / "mixed.tif"
    with tifffile.TiffWriter(p) as tw:
        tw.write(np.zeros((10, 10), np.uint8))
        tw.write(np.zeros((20, 10), np.uint8))
    with pytest.raises(ValueError, match=r"`image`.*2 images of different shapes"):
        SegmentWidget(p)


def test_unreadable_tiff(tmp_path):
    p = tmp_path / "broken.tif"
    p.write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(ValueError, match=r"`image`: cannot read .*broken.tif"):
        SegmentWidget(p)


def test_16_bit_png_through_pillow(tmp_path):
    arr = _u16((20, 30))
    p = tmp_path / "g16.png"
    Image.fromarray(arr).save(p)
    d = as_image_data(p)
    assert d.data.dtype == np.uint16 and np.array_equal(d.data[:, :, 0], arr)


def test_dask_and_array_like_objects(tmp_path):
    da = pytest.importorskip("dask.array")
    arr = _u16((60, 80))
    w = SegmentWidget(da.from_array(arr, chunks=(16, 16)))
    assert np.array_equal(w.data, arr)
    w.close()

    class Lazy:  # what zarr and friends offer: shape, dtype and __array__
        shape, dtype = arr.shape, arr.dtype

        def __array__(self, dtype=None, copy=None):
            return arr

    d = as_image_data(Lazy())
    assert np.array_equal(d.data[:, :, 0], arr) and not np.shares_memory(d.data, arr)

    def boom():
        raise AssertionError("the stack was read")

    import dask

    lazy = da.from_delayed(dask.delayed(boom)(), shape=(4, 3, 60, 80), dtype=np.uint16)
    with pytest.raises(ValueError, match=r"`image`.*stack.*\(4, 3, 60, 80\)"):
        SegmentWidget(lazy)  # refused from its shape, before anything is computed
    for shape, kwargs, match in (
        ((200, 60, 80), {}, r"last axis has 80 entries"),  # a 3-D z-stack
        ((1, 80, 3), {}, r"at least 2 x 2"),
        ((5, 60, 80), {"channel_axis": 3}, r"`channel_axis` must be an axis"),
    ):
        lazy = da.from_delayed(dask.delayed(boom)(), shape=shape, dtype=np.uint16)
        with pytest.raises(ValueError, match=match):
            SegmentWidget(lazy, **kwargs)
    ok = da.from_array(np.zeros((2, 60, 80), np.uint16), chunks=(1, 60, 80))
    assert SegmentWidget(ok, channel_axis=0).data.shape == (60, 80, 2)  # the check lets channels through


def test_data_is_never_a_view_of_the_input():
    arr = _u16((10, 12))
    d = as_image_data(arr)
    arr[:] = 0
    assert d.data.max() > 0 and not d.data.flags.writeable


@pytest.mark.parametrize(
    "arr, dtype",
    [
        (np.arange(120, dtype=np.int64).reshape(10, 12), np.uint8),  # integers in [0, 255]: 8-bit
        (np.full((10, 12), 300, np.int32), np.int32),
        (np.ones((10, 12), bool), np.uint8),
        (np.ones((10, 12), np.float16), np.float32),
        (np.full((10, 12), -5, np.int8), np.int16),
    ],
)
def test_dtypes(arr, dtype):
    assert as_image_data(arr).data.dtype == dtype


@pytest.mark.parametrize(
    "image, kwargs, exc, words",
    [
        (np.full((8, 8), np.nan, np.float32), {}, ValueError, ["`image`", "NaN"]),
        (np.array([[0, np.inf], [1, 2]]), {}, ValueError, ["`image`", "infinite"]),
        (np.zeros((5, 20, 30)), {}, ValueError, ["`image`", "(5, 20, 30)", "channel_axis", "ipyseg.Annotator"]),
        (np.zeros((2, 3, 20, 30)), {}, ValueError, ["`image`", "stack", "(2, 3, 20, 30)", "Annotator"]),
        (np.zeros((2, 3, 20, 30)), {"channel_axis": 1}, ValueError, ["`image`", "stack"]),
        (np.zeros((20, 30)), {"channel_axis": 0}, ValueError, ["`image`", "channel_axis", "3-D"]),
        (np.zeros((3, 20, 30)), {"channel_axis": 3}, ValueError, ["`channel_axis`", "3"]),
        (np.zeros((3, 20, 30)), {"channel_axis": 1.5}, TypeError, ["`channel_axis`", "1.5"]),
        (np.zeros((2, 20, 30)), {"channel_axis": 0, "rgb": True}, ValueError, ["`rgb=True`", "2"]),
        (np.zeros((20, 30, 3)), {"rgb": "yes"}, TypeError, ["`rgb`"]),
        (np.zeros((20, 30), np.complex64), {}, TypeError, ["`image`", "complex64"]),
        (np.zeros((1, 30)), {}, ValueError, ["`image`", "2 x 2"]),
        (np.zeros(10), {}, ValueError, ["`image`", "1-D"]),
        ([[1, 2], [3, 4]], {}, TypeError, ["`image`", "list"]),
    ],
)
def test_bad_images_name_the_argument(image, kwargs, exc, words):
    with pytest.raises(exc) as info:
        SegmentWidget(image, **kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"channels": [0, 3]}, ValueError, ["`channels`", "channel 3", "2 channels", "0 to 1"]),
        ({"channels": [-1]}, ValueError, ["`channels`", "-1"]),
        ({"channels": [0, 0]}, ValueError, ["`channels`", "repeat"]),
        ({"channels": []}, ValueError, ["`channels`", "at least one"]),
        ({"channels": ["a"]}, TypeError, ["`channels`", "'a'"]),
        ({"channel_colors": ["red"]}, ValueError, ["`channel_colors`", "one colour per shown channel"]),
        ({"channel_colors": ["red", "mauve"]}, ValueError, ["`channel_colors`", "mauve"]),
        ({"channel_colors": ["red", (0, 300, 0)]}, ValueError, ["`channel_colors`", "[0, 255]"]),
        ({"display_range": (10, 5)}, ValueError, ["`display_range`", "lo < hi"]),
        ({"display_range": (0, float("nan"))}, ValueError, ["`display_range`", "finite"]),
        ({"display_range": [(0, 1)] * 3}, ValueError, ["`display_range`", "2 pairs"]),
        ({"display_range": {5: (0, 1)}}, ValueError, ["`display_range key`", "channel 5"]),
        ({"display_range": (True, 5)}, TypeError, ["`display_range`"]),
        ({"gamma": 0}, ValueError, ["`gamma`", "[0.1, 10]"]),
        ({"gamma": float("inf")}, ValueError, ["`gamma`"]),
    ],
)
def test_bad_display_settings_name_the_argument(kwargs, exc, words):
    two = np.zeros((2, 20, 30), np.uint16)
    two[1, 5:10] = 1000
    with pytest.raises(exc) as info:
        SegmentWidget(two, channel_axis=0, **kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    with pytest.raises(exc):  # the pure function checks the same
        ipyseg.segment(two, np.zeros((20, 30), np.uint8), channel_axis=0, **kwargs)


def test_rgb_images_refuse_channel_choices():
    with pytest.raises(ValueError, match=r"`channels`.*RGB.*rgb=False"):
        SegmentWidget(np.zeros((10, 12, 3), np.uint16), channels=[0])
    w = SegmentWidget(np.zeros((10, 12, 3), np.uint16), rgb=False, channels=[2])
    assert w.channels == (2,) and w.channel_colors == ((255, 255, 255),)
    w.close()


# ------------------------------------------------------------------ TIFF stacks, plane by plane
def _planes_of(arr, axes):
    """Reference planes: every index of the axes outside YXCS, the rest channels-last."""
    order = [i for i, a in enumerate(axes) if a not in "YXCS"]
    rest = [i for i, a in enumerate(axes) if a in "YX"] + [i for i, a in enumerate(axes) if a in "CS"]
    moved = np.transpose(arr, order + rest)
    flat = moved.reshape((-1, *moved.shape[len(order) :])) if order else moved[None]
    return [p if p.ndim == 3 else p[:, :, None] for p in flat]


@pytest.mark.parametrize(
    "name, shape, kwargs, axes",
    [
        ("z.tif", (5, 24, 31), {}, "QYX"),  # plain multi-page: unnamed pages
        ("zc.tif", (4, 2, 24, 31), dict(imagej=True, metadata={"axes": "ZCYX"}), "ZCYX"),
        ("cz.ome.tif", (2, 3, 24, 31), dict(metadata={"axes": "CZYX"}), "CZYX"),  # channels outermost
        ("tzc.tif", (2, 3, 2, 24, 31), dict(imagej=True, metadata={"axes": "TZCYX"}), "TZCYX"),
        ("rgb.tif", (3, 24, 31, 3), dict(photometric="rgb"), "QYXS"),
        ("planar.tif", (3, 3, 24, 31), dict(photometric="rgb", planarconfig="separate"), "QSYX"),
        ("one.tif", (24, 31), {}, "YX"),
        ("cyx.tif", (2, 24, 31), dict(metadata={"axes": "CYX"}), "CYX"),
    ],
)
def test_tiff_planes_are_counted_from_the_header_and_read_one_at_a_time(
    tmp_path, monkeypatch, name, shape, kwargs, axes
):
    from ipyseg.io import TiffPlane, tiff_planes

    dtype = np.uint8 if "S" in axes else np.uint16
    arr = np.random.default_rng(3).integers(0, 250, shape).astype(dtype)
    p = tmp_path / name
    tifffile.imwrite(p, arr, **kwargs)
    ref = _planes_of(arr, axes)
    read_keys = []
    original = tifffile.TiffFile.asarray

    def spy(self, key=None, **kw):
        read_keys.append(key)
        return original(self, key=key, **kw)

    monkeypatch.setattr(tifffile.TiffFile, "asarray", spy)
    assert tiff_planes(p) == len(ref)
    assert not read_keys  # counting reads no pixels
    with tifffile.TiffFile(p) as tif:
        per_page = arr.size // len(tif.series[0].pages) if len(ref) > 1 else None
    for i, want in enumerate(ref):
        read_keys.clear()
        d = as_image_data(TiffPlane(p, i))
        assert d.data.shape == want.shape and np.array_equal(d.data, want), i
        assert d.rgb == ("S" in axes) and d.path == p
        assert TiffPlane(p, i).size() == shape_yx(arr.shape, axes)
        if per_page is not None:  # only the plane's own pages were decoded
            (key,) = read_keys
            assert key is not None and len(key) * per_page == want.size
    with pytest.raises(ValueError, match=rf"`image`: '.*{name}' has {len(ref)} plane\(s\); plane {len(ref)} does not"):
        as_image_data(TiffPlane(p, len(ref)))
    w = SegmentWidget(TiffPlane(p, len(ref) - 1))  # a plane is an image for the widget too
    assert np.array_equal(w.data.reshape(ref[-1].shape), ref[-1]) and w.image_path == p.resolve()
    w.close()


def shape_yx(shape, axes):
    return shape[axes.index("Y")], shape[axes.index("X")]


def test_tiff_planes_with_a_channel_axis_and_several_series(tmp_path):
    from ipyseg.io import TiffPlane, tiff_planes

    arr = _u16((3, 2, 20, 30))  # no metadata: axes QQYX
    p = tmp_path / "qq.tif"
    tifffile.imwrite(p, arr)
    assert tiff_planes(p, image_ndim=3) == 3  # (2, 20, 30) per plane, its axis 0 the channels
    d = as_image_data(TiffPlane(p, 1, image_ndim=3), channel_axis=0)
    assert d.data.shape == (20, 30, 2) and np.array_equal(d.data[:, :, 1], arr[1, 1])
    assert tiff_planes(p) == 6  # by names: both Q axes are planes
    ms = tmp_path / "series.tif"
    with tifffile.TiffWriter(ms) as tw:
        tw.write(_u16((20, 30)))
        tw.write(_u16((2, 10, 12), seed=4), photometric="minisblack")
    assert tiff_planes(ms) == 3
    shapes = [as_image_data(TiffPlane(ms, i)).data.shape for i in range(3)]
    assert shapes == [(20, 30, 1), (10, 12, 1), (10, 12, 1)]
    assert np.array_equal(as_image_data(TiffPlane(ms, 2)).data[:, :, 0], _u16((2, 10, 12), seed=4)[1])
    with pytest.raises(ValueError, match="`index` must be an integer >= 0"):
        TiffPlane(ms, -1)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00 nope")
    with pytest.raises(ValueError, match="cannot read .*broken.tif"):
        tiff_planes(broken)


def test_16_bit_rgb_png_and_pil_modes_keep_their_bits(tmp_path):
    rng = np.random.default_rng(5)
    for c in (3, 4):
        rgb = rng.integers(0, 65536, (30, 41, c), dtype=np.uint16)
        path = tmp_path / f"rgb{c}.png"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR if c == 3 else cv2.COLOR_RGBA2BGRA))
        w = SegmentWidget(path)
        assert w.data.dtype == np.uint16 and np.array_equal(w.data, rgb), c  # not cut to 8 bits, RGB order
        w.close()
    gray = rng.integers(0, 65536, (30, 41), dtype=np.uint16)
    for mode, order in (("I;16", "<u2"), ("I;16B", ">u2"), ("I;16L", "<u2")):
        im = Image.frombytes(mode, (41, 30), gray.astype(order).tobytes())
        assert im.mode == mode
        d = as_image_data(im)
        assert d.data.dtype == np.uint16 and d.data.dtype.isnative and np.array_equal(d.data[:, :, 0], gray), mode


def test_masked_array_with_hidden_nan_is_refused_and_cutout_of_wide_integers():
    data = np.linspace(0.0, 1.0, 20 * 30).reshape(20, 30)
    data[2:5, 2:5] = np.nan
    masked = np.ma.masked_invalid(data)
    with pytest.raises(ValueError, match="`image` contains NaN"):
        SegmentWidget(masked)
    seeds = np.zeros((20, 30), np.uint8)
    seeds[10, 10] = 2
    with pytest.raises(ValueError, match="`image` contains NaN"):
        ipyseg.segment(masked, seeds)
    for dtype in (np.uint32, np.uint64, np.int64):
        top = np.iinfo(dtype).max
        img = np.full((20, 30), top, dtype)
        img[:, :15] = 0
        w = SegmentWidget(img)
        w.load_mask(np.pad(np.ones((20, 15), bool), ((0, 0), (15, 0))))
        cut = w.cutout(alpha=True)
        assert cut.dtype == dtype and cut[0, 20, 3] == top and cut[0, 5, 3] == 0 and cut[0, 20, 0] == top
        w.close()
