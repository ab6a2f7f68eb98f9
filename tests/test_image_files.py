"""Image paths that are not one readable image say what they are and what to do (issue 9.8)."""

import warnings

import numpy as np
import pytest
from PIL import Image

import ipyseg
from ipyseg._validation import as_image, as_labels


@pytest.fixture
def files(tmp_path):
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "big.png")
    pages = [Image.fromarray(np.full((30, 40), v, np.uint8)) for v in (0, 255)]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    pages[1].save(tmp_path / "one.tif")
    (tmp_path / "folder").mkdir()
    return tmp_path


def test_a_folder(files):
    with pytest.raises(
        IsADirectoryError, match=r"`image`: '.*folder' is a directory; pass one image file \(ipyseg.Annotator"
    ):
        as_image(files / "folder")
    with pytest.raises(IsADirectoryError, match="`mask_or_path`"):
        as_labels(str(files / "folder"), (30, 40), "mask_or_path")


@pytest.mark.parametrize("url", ["https://example.com/cat.jpg", "http://x/y.png", "s3://bucket/key.tif"])
def test_a_url(url):
    with pytest.raises(ValueError, match=r"`image` looks like a URL .*does not download.*download the file first"):
        ipyseg.SegmentWidget(url)


def test_decompression_bomb_error_and_warning_name_the_argument(files, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # 10,000 pixels: Pillow's error
    with pytest.raises(
        ValueError, match=r"`image`: '.*big.png' has 10,000 pixels, above Pillow's decompression-bomb limit"
    ):
        as_image(files / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # Pillow's warning, an error here (filterwarnings)
    with pytest.raises(ValueError, match=r"MAX_IMAGE_PIXELS = None"):
        as_image(files / "big.png")
    with warnings.catch_warnings():  # as a plain warning the image is read, as Pillow does
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        assert as_image(files / "big.png").shape == (100, 100, 3)


def test_multi_page_tiff_is_refused_single_page_is_read(files):
    # read properly by tifffile (ipyseg/io.py): a stack of planes, refused with a pointer to the Annotator
    with pytest.raises(ValueError, match=r"`image` \('stack.tif'\) is a stack of planes .*ipyseg.Annotator"):
        as_image(files / "stack.tif")
    assert (as_image(files / "one.tif") == 255).all()


def test_missing_file_still_says_so(files):
    with pytest.raises(FileNotFoundError, match="no such image file"):
        as_image(files / "nope.png")
