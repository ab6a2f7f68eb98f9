"""The annotation tools in JupyterLab with a real mouse and keyboard: box, wand, zoom, right-drag, keys."""

from __future__ import annotations

import pytest

from .conftest import HERE, open_notebook
from .scenes import disk_geometry

H, W = 800, 1200  # flat colours: a wand click selects exactly the disk

SCENE = (
    f"import sys\nsys.path.insert(0, {str(HERE)!r})\n"
    "import numpy as np\nimport ipyseg\nfrom scenes import disk_gt\n\n"
    f"gt = disk_gt({H}, {W})\n"
    "img = np.where(gt[..., None], np.uint8([230, 140, 40]), np.uint8([60, 90, 140])).astype(np.uint8)\n"
    "w = ipyseg.SegmentWidget(img, method='grabcut', max_display_pixels=600 * 400)\nw"
)


@pytest.fixture(scope="module")
def nb(browser, lab_server, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(60_000)
    request.addfinalizer(ctx.close)
    nbp = open_notebook(lab_server, ctx, request, "tools", [SCENE])
    nbp.wait_drawn()
    nbp.show()
    return nbp


@pytest.fixture
def fresh(nb):
    nb.kernel("w.clear(); w.wait(60); w.reset_view(); w.tool = 'brush'; w.label = 2")
    nb.show()
    nb.pointer_away()
    return nb


def iou(nb):
    return nb.kernel_json("assert w.wait(120)\nm = w.mask\nresult = float((m & gt).sum() / max(1, (m | gt).sum()))")


def test_box_tool_by_mouse(fresh):
    nb = fresh
    nb.button("Box").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "box")
    cy, cx, r = disk_geometry(H, W)
    g = nb.geometry()
    m = 25
    nb.drag(
        [nb.to_client(cx - r - m, cy - r - m, (H, W), g=g), nb.to_client(cx + r + m, cy + r + m, (H, W), g=g)], steps=20
    )
    nb.wait_kernel("result = len(w.document.seed_state.boxes)", lambda v: v == 1, what="the box to reach the kernel")
    score = iou(nb)
    print(f"\nbox by mouse: IoU {score:.3f}")
    state = "result = [w.status, repr(w.last_error), w.engine.busy, {k: list(v) for k, v in w.document.seed_state.boxes.items()}]"
    assert score >= 0.85, f"IoU {score:.3f}; status, error, busy, boxes: {nb.kernel_json(state)}"
    assert nb.kernel_json("result = int(w.seeds.sum())") == 0  # a box is a constraint, not painted seeds


def test_wand_click_seeds_exactly_the_flat_region(fresh):
    nb = fresh
    nb.button("Wand").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "wand")
    cy, cx, _ = disk_geometry(H, W)
    nb.page.mouse.move(*nb.to_client(cx, cy, (H, W)), steps=4)
    nb.page.mouse.click(*nb.to_client(cx, cy, (H, W)))
    nb.wait_kernel("result = int((w.seeds == 2).sum())", lambda v: v > 0, what="the wand's seeds")
    assert nb.kernel_json("result = bool(((w.seeds == 2) == gt).all())")


def test_ctrl_wheel_zooms_around_the_pointer_and_clicks_stay_exact(fresh):
    nb = fresh
    page = nb.page
    nb.button("Point").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "point")
    g = nb.geometry()
    x0, y0 = 300.0, 250.0  # image point under the pointer while zooming
    p = nb.to_client(x0, y0, (H, W), g=g)
    page.mouse.move(*p, steps=4)
    page.keyboard.down("Control")  # a plain wheel scrolls the notebook; ctrl + wheel zooms
    page.mouse.wheel(0, -100)
    nb.wait_kernel("result = w.zoom", lambda z: z > 1.2, what="the first wheel step")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    zoom = nb.wait_kernel("result = w.zoom", lambda z: z > 1.5, what="the second wheel step")
    assert zoom == pytest.approx(1.25**2)
    # a click under the pointer still lands on the same image point ...
    page.mouse.click(*p)
    nb.wait_kernel("result = int((w.seeds > 0).sum())", lambda v: v > 0)
    got = nb.kernel_json("ys, xs = np.nonzero(w.seeds)\nresult = [float(xs.mean()), float(ys.mean())]")
    foot = W / g["w"] / zoom  # one display pixel's footprint at this zoom
    assert abs(got[0] - x0) <= foot + 0.5 and abs(got[1] - y0) <= foot + 0.5, got
    # ... and one 100 CSS px to the right lands 100 CSS px / (CSS px per image px at this zoom) away
    nb.kernel("prev = w.seeds.copy()")
    q = (p[0] + 100, p[1])
    page.mouse.move(*q, steps=4)
    page.mouse.click(*q)
    nb.wait_kernel("result = int((w.seeds != prev).sum())", lambda v: v > 0)
    got = nb.kernel_json("ys, xs = np.nonzero(w.seeds != prev)\nresult = [float(xs.mean()), float(ys.mean())]")
    expected_x = x0 + 100 * W / (g["cssw"] * zoom)
    assert abs(got[0] - expected_x) <= foot + 0.5 and abs(got[1] - y0) <= foot + 0.5, (got, expected_x)


def test_right_drag_paints_background(fresh):
    nb = fresh
    page = nb.page
    g = nb.geometry()
    a, b = nb.to_client(60, 60, (H, W), g=g), nb.to_client(400, 60, (H, W), g=g)
    page.mouse.move(*a, steps=4)
    page.mouse.down(button="right")
    page.mouse.move(*b, steps=15)
    page.mouse.up(button="right")
    res = nb.wait_kernel(
        "s = w.seeds\nresult = dict(fg=int((s == 2).sum()), bg=int((s == 1).sum()), label=w.label)",
        lambda v: v["bg"] > 0,
        what="the right-drag's seeds",
    )
    assert res["fg"] == 0 and res["label"] == 2  # background painted; the brush label is unchanged
    assert page.locator(".lm-Menu, .p-Menu").count() == 0  # no browser or JupyterLab context menu


def test_keyboard_shortcuts_reach_the_widget(fresh):
    nb = fresh
    page = nb.page
    nb.kernel("w.tool = 'pan'")  # a click that changes nothing, to give the canvas focus
    page.mouse.click(*nb.to_client(W / 2, H / 2, (H, W)))
    page.keyboard.press("e")
    nb.wait_kernel("result = w.tool", lambda v: v == "eraser", what="the 'e' shortcut")
    page.keyboard.press("w")
    nb.wait_kernel("result = w.tool", lambda v: v == "wand", what="the 'w' shortcut")
    page.keyboard.press("b")
    nb.wait_kernel("result = w.label", lambda v: v == 1, what="the 'b' shortcut")
    page.keyboard.press("n")
    nb.wait_kernel("result = w.label", lambda v: v == 3, what="the 'n' shortcut")
