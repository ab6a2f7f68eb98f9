import numpy as np
import pytest

import ipyseg
from ipyseg._validation import as_image, as_labels, as_points, as_seeds


def test_accepts_and_converts():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = as_image(gray)
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8 and (out[..., 1] == gray).all()
    u16 = np.full((4, 4, 3), 65535, np.uint16)
    assert (as_image(u16) == 255).all()
    f = np.full((4, 4), 0.5)
    assert (as_image(f) == 128).all()
    rgba = np.zeros((4, 5, 4), np.uint8)
    assert as_image(rgba).shape == (4, 5, 4)
    big = np.zeros((6, 8, 3), np.uint8)
    nc = big[:, ::2]
    assert as_image(nc).flags.c_contiguous
    ro = big.copy()
    ro.flags.writeable = False
    out = as_image(ro)
    out[0, 0, 0] = 1  # a fresh writable copy
    assert as_image(np.zeros((4, 4, 1), np.uint8)).shape == (4, 4, 3)


def test_pil_and_path(tmp_path):
    from PIL import Image

    arr = np.random.default_rng(0).integers(0, 255, (10, 12, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    assert (as_image(im) == arr).all()
    p = tmp_path / "x.png"
    im.save(p)
    assert (as_image(str(p)) == arr).all()
    assert (as_image(p) == arr).all()


@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((0, 5)), ValueError, ["`image`", "at least 2 x 2", "(0, 5)"]),
        (np.zeros(10), ValueError, ["`image`", "1-D", "(10,)"]),
        (np.zeros((2, 3, 4, 5)), ValueError, ["`image`", "stack", "(2, 3, 4, 5)"]),
        (np.zeros((4, 4, 2)), ValueError, ["`image`", "(4, 4, 2)", "channel_axis"]),
        (np.full((4, 4), np.nan), ValueError, ["`image`", "NaN"]),
        (np.full((4, 4), np.inf), ValueError, ["`image`", "infinite"]),
        (np.zeros((4, 4), np.complex64), TypeError, ["`image`", "complex64"]),
        ("/no/such/file.png", FileNotFoundError, ["`image`", "/no/such/file.png"]),
        (42, TypeError, ["`image`", "int"]),
    ],
)
def test_bad_image(bad, exc, words):
    with pytest.raises(exc) as info:
        as_image(bad)
    for w in words:
        assert w in str(info.value)


def test_wide_integers_and_floats_of_any_range_are_shown_through_a_display_range():
    # formerly refused: floats outside [0, 1] and integers above 255 (issue 11)
    ramp = np.linspace(-50.0, 950.0, 200).reshape(10, 20)
    out = as_image(ramp)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert (np.diff(out[..., 0].ravel().astype(int)) >= 0).all()  # monotonic
    out = as_image(np.arange(200, dtype=np.int32).reshape(10, 20) * 10)
    assert out.min() == 0 and out.max() == 255


def test_unreadable_file(tmp_path):
    p = tmp_path / "broken.png"
    p.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read"):
        as_image(p)


@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.zeros((10, 12), np.uint8), ValueError, ["`seeds`", "(10, 12)", "(4, 5, 3)"]),
        (np.zeros((4, 5, 1), np.uint8), ValueError, ["`seeds`", "2-D"]),
        (np.full((4, 5), 65536, np.int32), ValueError, ["`seeds`", "[0, 65535]", "65536"]),
        (np.full((4, 5), -1, np.int32), ValueError, ["`seeds`", "-1"]),
        (np.full((4, 5), 0.5), ValueError, ["`seeds`", "integer"]),
        (np.zeros((4, 5), "U1"), TypeError, ["`seeds`", "dtype"]),
        ("seeds", TypeError, ["`seeds`", "str"]),
    ],
)
def test_bad_seeds(bad, exc, words):
    with pytest.raises(exc) as info:
        as_seeds(bad, (4, 5, 3))
    for w in words:
        assert w in str(info.value)


def test_seeds_conversion():
    s = as_seeds(np.ones((4, 5), np.int64) * 2, (4, 5, 3))
    assert s.dtype == np.uint16 and (s == 2).all()
    b = as_seeds(np.ones((4, 5), bool), (4, 5))
    assert (b == ipyseg.FOREGROUND).all()


def test_labels_and_points():
    m = np.zeros((4, 5), np.uint8)
    m[1:3, 1:3] = 255
    out = as_labels(m, (4, 5))
    assert set(np.unique(out)) == {0, 1}
    with pytest.raises(ValueError, match="`mask`"):
        as_labels(np.zeros((3, 3)), (4, 5))
    pts = as_points([(10, 20), (30, 40)])
    assert pts.tolist() == [[20, 10], [40, 30]]  # (x, y) -> (row, col)
    with pytest.raises(ValueError, match="`points`"):
        as_points([(1, 2, 3)])
    with pytest.raises(ValueError, match="NaN"):
        as_points([(np.nan, 1)])
