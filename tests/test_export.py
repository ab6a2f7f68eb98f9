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


def _decode_coco(ann, h, w):
    from pycocotools import mask as mask_utils

    seg = ann["segmentation"]
    if isinstance(seg, list):
        return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(seg, h, w))).astype(bool)
    return mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()}).astype(bool)


@pytest.mark.parametrize("tolerance", [0.0, 1.5])
def test_coco_polygon_never_drops_thin_parts(tolerance):
    from ipyseg.export import to_coco

    h, w = 41, 57
    lab = np.zeros((h, w), np.uint8)
    lab[5:15, 5:15] = 1  # object 1: a blob, a separate 1-px line and a single pixel
    lab[30, 10:25] = 1
    lab[36, 40] = 1
    lab[5:17, 25:37] = 2  # object 2: a square with a single-pixel hole
    lab[10, 30] = 0
    lab[20:31, 40:52] = 3  # object 3: a plain blob stays a polygon
    lab[22:25, 52] = 4  # object 4: only a 1-px line
    coco = to_coco([("x.png", lab)], segmentation="polygon", tolerance=tolerance)
    anns = {a["id"]: a for a in coco["annotations"]}
    assert len(anns) == 4
    for k in (1, 2, 4):  # a part or a hole a polygon would lose: exact RLE
        assert isinstance(anns[k]["segmentation"], dict), k
        assert np.array_equal(_decode_coco(anns[k], h, w), lab == k), k
    assert isinstance(anns[3]["segmentation"], list)
    decoded = _decode_coco(anns[3], h, w)
    assert not (decoded & (lab != 3)).any()  # through pixel centres: inside the object ...
    assert decoded[21:30, 41:51].all()  # ... and covering all but its outer half-pixel border
    # the same object with the pixel and line removed becomes a polygon again
    lab[30, 10:25] = lab[36, 40] = 0
    coco = to_coco([("x.png", lab)], segmentation="polygon", tolerance=tolerance)
    assert isinstance(coco["annotations"][0]["segmentation"], list)


@pytest.mark.parametrize("suffix", [".tif", ".tiff"])
@pytest.mark.parametrize("n", [3, 300])
def test_label_tiff_reads_back(tmp_path, suffix, n):
    import tifffile

    from ipyseg import SegmentWidget
    from ipyseg.export import save_label_image
    from ipyseg.io import read_image

    h, w = 37, 61
    rng = np.random.default_rng(n)
    lab = rng.integers(0, n + 1, (h, w)).astype(np.uint16 if n > 255 else np.uint8)
    lab.flat[:n] = np.arange(1, n + 1)  # every id present
    path = save_label_image(lab, tmp_path / f"lab{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [f"lab{suffix}"]  # no temporary left
    back = tifffile.imread(path)
    assert back.dtype == (np.uint16 if n > 255 else np.uint8) and np.array_equal(back, lab)
    assert np.array_equal(read_image(path).array, lab)
    with tifffile.TiffFile(path) as tif:  # not LZW: tifffile without imagecodecs decodes it
        assert tif.pages[0].compression in (tifffile.COMPRESSION.NONE, tifffile.COMPRESSION.ADOBE_DEFLATE)
    if n <= 254:
        widget = SegmentWidget(np.zeros((h, w, 3), np.uint8))
        try:
            widget.load_mask(path)
            assert np.array_equal(widget.labels, lab)
        finally:
            widget.close()
