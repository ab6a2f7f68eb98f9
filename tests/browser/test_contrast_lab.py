"""The contrast control in JupyterLab, dragged with a real mouse (12-bit image, issue 11)."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from .conftest import open_notebook

H, W = 600, 800

SCENE = (
    "import numpy as np\nimport ipyseg\n"
    "rng = np.random.default_rng(0)\n"
    f"yy, xx = np.mgrid[:{H}, :{W}]\n"
    f"cell = np.exp(-((yy - {H // 2}) ** 2 + (xx - {W // 2}) ** 2) / (2 * 120.0 ** 2))\n"
    "img = np.clip(300 + 2500 * cell + rng.normal(0, 60, cell.shape), 0, 4095).astype(np.uint16)  # 12-bit\n"
    "w = ipyseg.SegmentWidget(img)\nw"
)


@pytest.fixture(scope="module")
def nb(browser, lab_server, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(60_000)
    request.addfinalizer(ctx.close)
    nbp = open_notebook(lab_server, ctx, request, "contrast", [SCENE])
    nbp.wait_drawn()
    nbp.show()
    return nbp


def _slider(nb, text):
    return nb.widget().locator(".widget-hslider", has_text=text).first


def _photo_matches_kernel(nb) -> float:
    """Mean absolute difference between the page's canvas and the photo the kernel sent."""
    want = nb.kernel_json(
        "p = w.presenter.photo_for_view()\nresult = dict(shape=list(p.shape), data=p[..., :3].astype(int).ravel().tolist())"
    )
    page = nb.pixels()[..., :3].astype(int)
    kernel = np.asarray(want["data"]).reshape(want["shape"][0], want["shape"][1], 3)
    assert page.shape == kernel.shape
    return float(np.abs(page - kernel).mean())


def test_dragging_the_contrast_slider_changes_the_range_and_the_photo(nb):
    page = nb.page
    before = nb.pixels()[..., :3].astype(float)
    lo0, hi0 = nb.kernel_json("result = list(w.display_range)")
    assert abs(before.mean() - nb.kernel_json("result = float(w.presenter.photo_for_view()[..., :3].mean())")) < 2
    slider = _slider(nb, "Contrast")
    slider.scroll_into_view_if_needed()
    track = slider.locator(".noUi-target").bounding_box()
    upper = slider.locator(".noUi-handle-upper").bounding_box()
    start = (upper["x"] + upper["width"] / 2, upper["y"] + upper["height"] / 2)
    end = (start[0] - 0.45 * track["width"], start[1])
    page.mouse.move(*start, steps=3)
    page.mouse.down()
    page.mouse.move(*end, steps=12)
    page.mouse.up()
    nb.wait_kernel(
        "result = list(w.display_range)", lambda v: v[1] < hi0 - 0.3 * (hi0 - lo0), what="the new range in the kernel"
    )

    def readout():
        text = slider.locator(".widget-readout").inner_text()
        return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]

    # every update of the drag has reached the kernel (the slider's readout shows the trait), and
    # the slider is still: the lossless photo has followed the quick ones
    lo, hi = nb.wait_kernel(
        "result = list(w.display_range) + [w.presenter.lossless_later.pending]",
        lambda v: v[2] is False and readout() == [round(v[0]), round(v[1])],
        what="the page and the kernel to agree",
    )[:2]
    assert lo == lo0  # the lower handle did not move
    after = nb.pixels()[..., :3].astype(float)
    print(
        f"\ncontrast drag: range {lo0:.0f}-{hi0:.0f} -> {lo:.0f}-{hi:.0f}; mean {before.mean():.1f} -> {after.mean():.1f}"
    )
    assert after.mean() > before.mean() + 15  # brighter: a narrower range
    assert _photo_matches_kernel(nb) < 1.0  # exactly the photo the kernel rendered for the new range
    status = nb.kernel_json("result = [w.status, repr(w.last_error)]")
    assert status[1] == "None", status
    assert not nb.errors(), nb.errors()


def test_gamma_slider_and_auto_button(nb):
    page = nb.page
    nb.kernel("w.display_range = (500, 2000)")
    time.sleep(1.5)  # the page's slider echoes the new value (through float arithmetic) ...
    assert nb.kernel_json("result = list(w.display_range)") == [500, 2000]  # ... which changes nothing
    slider = _slider(nb, "Gamma")
    slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle").bounding_box()
    track = slider.locator(".noUi-target").bounding_box()
    start = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.move(*start, steps=3)
    page.mouse.down()
    page.mouse.move(start[0] + 0.25 * track["width"], start[1], steps=8)
    page.mouse.up()
    gamma = nb.wait_kernel("result = w.gamma", lambda v: v > 1.5, what="gamma from the slider")
    print(f"\ngamma from the slider: {gamma:.2f}")
    nb.widget().locator("button", has_text="Auto").click()
    nb.wait_kernel(
        "result = list(w.display_range) == list(w.document.picture.default_ranges[0])", lambda v: v is True, what="Auto"
    )
    nb.wait_kernel("result = w.presenter.lossless_later.pending", lambda v: v is False, what="the lossless photo")
    assert _photo_matches_kernel(nb) < 1.0
    assert not nb.errors(), nb.errors()
