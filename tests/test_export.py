import numpy as np
import pytest

from ipyseg.export import from_coco_rle, save_png, to_coco_rle, to_polygons


def test_coco_rle_round_trip_and_format():
    m = np.zeros((4, 5), bool)
    m[1:3, 1:3] = True
    rle = to_coco_rle(m)
    assert rle["size"] == [4, 5]
    # column-major: 5 zeros (col 0 + row 0 of col 1), 2 ones, 2 zeros, 2 ones, then the rest
    assert rle["counts"] == [5, 2, 2, 2, 9]
    assert (from_coco_rle(rle) == m).all()
    starts_on = np.ones((3, 3), bool)
    assert to_coco_rle(starts_on)["counts"] == [0, 9]
    rng = np.random.default_rng(1)
    r = rng.random((37, 53)) > 0.5
    assert (from_coco_rle(to_coco_rle(r)) == r).all()
    with pytest.raises(ValueError, match="`rle`"):
        from_coco_rle({"size": [2, 2], "counts": [1, 1]})
    with pytest.raises(ValueError, match="`mask`"):
        to_coco_rle(np.zeros(5, bool))


def test_polygons():
    m = np.zeros((50, 60), bool)
    m[10:20, 10:30] = True
    m[30:45, 40:55] = True
    m[2, 2] = True  # below min_area
    polys = to_polygons(m, min_area=4)
    assert len(polys) == 2
    boxes = sorted((p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()) for p in polys)
    assert boxes == [(10, 10, 29, 19), (40, 30, 54, 44)]  # (x, y) vertices
    assert all(len(p) == 4 for p in to_polygons(m, tolerance=1.0, min_area=4))


def test_save_png(tmp_path):
    from PIL import Image

    a = (np.arange(12, dtype=np.uint8).reshape(3, 4)) * 20
    p = save_png(a, tmp_path / "a.png")
    assert (np.asarray(Image.open(p)) == a).all()
    with pytest.raises(ValueError, match="lossless"):
        save_png(a, tmp_path / "a.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_png(a, tmp_path / "nope" / "a.png")
    with pytest.raises(TypeError, match="`path`"):
        save_png(a, 42)
