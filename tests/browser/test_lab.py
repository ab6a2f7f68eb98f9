"""SegmentWidget in JupyterLab, used with a real mouse (one notebook and kernel for the module)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from playwright.sync_api import expect

from .conftest import REPO, open_notebook, save_screenshot, scene_cell
from .scenario import GREEN, segment_with_mouse
from .scenes import disk_geometry

H, W = 2000, 3000  # larger than the display canvas (about 2 MP), which is larger than its CSS box


@pytest.fixture(scope="module")
def nb(browser, lab_server, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(60_000)
    request.addfinalizer(ctx.close)
    nbp = open_notebook(lab_server, ctx, request, "segment", [scene_cell(H, W, method="watershed")])
    nbp.wait_drawn()
    nbp.show()
    nbp.photo = nbp.pixels()  # the canvas before any overlay or seed: the photo alone
    return nbp


@pytest.fixture
def fresh(nb):
    """Reset the widget between tests (set-up through the kernel; the tests use the mouse)."""
    nb.kernel("w.clear(); w.wait(60); w.tool = 'brush'; w.label = 2; w.opacity = 0.5; w.method = 'watershed'")
    nb.show()
    nb.pointer_away()
    return nb


def seeds_window(nb, code="w.seeds"):
    """Kernel seeds summary: counts per code and the bounding box / centroid of non-zero seeds."""
    return nb.kernel_json(
        f"s = {code}\nys, xs = np.nonzero(s)\n"
        "result = dict(n=int(ys.size), fg=int((s == 2).sum()), bg=int((s == 1).sum()),"
        " cy=float(ys.mean()) if ys.size else None, cx=float(xs.mean()) if xs.size else None,"
        " h=int(np.ptp(ys)) + 1 if ys.size else 0, w=int(np.ptp(xs)) + 1 if xs.size else 0)"
    )


def test_drag_foreground_and_background_segments_large_image(fresh):
    nb = fresh
    g = nb.geometry()
    # image (3000 px) > display canvas (~1732 px) > its CSS box (the notebook's width)
    assert W > g["w"] > g["cssw"] and H > g["h"] > g["cssh"]
    segment_with_mouse(nb, H, W, nb.photo)
    save_screenshot(nb, REPO / "docs" / "screenshot.png")
    assert not nb.errors(), nb.errors()


def test_clicks_land_under_the_pointer_also_on_a_partly_visible_canvas(fresh):
    nb = fresh
    page = nb.page
    g = nb.geometry()
    foot = W / g["w"]  # one display pixel's footprint, in image pixels

    def expected(pt, g):
        # the image point under a client point (pixel-centre coordinates, as Viewport uses)
        return ((pt[0] - g["left"]) * W / g["cssw"] - 0.5, (pt[1] - g["top"]) * H / g["cssh"] - 0.5)

    # 1) Point tool, the whole canvas visible.
    nb.button("Point").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "point")
    pt = (round(g["left"] + 0.3 * g["cssw"]), round(g["top"] + 0.4 * g["cssh"]))
    page.mouse.move(*pt, steps=4)
    page.mouse.click(*pt)
    s = nb.wait_kernel("result = int((w.seeds > 0).sum())", lambda v: v > 0)
    got = seeds_window(nb)
    ex, ey = expected(pt, g)
    print(
        f"\npoint click: expected image (x, y) = ({ex:.1f}, {ey:.1f}), seeds centred at ({got['cx']:.1f}, {got['cy']:.1f})"
    )
    assert abs(got["cx"] - ex) <= foot and abs(got["cy"] - ey) <= foot, got
    assert s == got["n"]

    # 2) Brush, first click on a canvas that is only partly visible and did not have the focus:
    #    ipycanvas alone would focus it and scroll it into view between the press and the
    #    release; the overlay focuses it without scrolling (the pointer over it takes the
    #    keyboard, so this click is an ordinary click, not a focus click).
    nb.button("Brush").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "brush")
    page.locator(".jp-InputPrompt").first.click()  # focus leaves the canvas
    expect(nb.canvas()).not_to_be_focused()
    visible_top = nb.canvas().evaluate(
        """e => {
            let s = e.parentElement;
            while (s && !(s.scrollHeight > s.clientHeight && /(auto|scroll)/.test(getComputedStyle(s).overflowY))) s = s.parentElement;
            s.scrollTop += e.getBoundingClientRect().top - s.getBoundingClientRect().top + 0.45 * e.getBoundingClientRect().height;
            return s.getBoundingClientRect().top;
        }"""
    )
    g2 = nb.geometry()
    assert g2["top"] < visible_top - 0.3 * g2["cssh"]  # the canvas' upper part is scrolled out of view
    before = seeds_window(nb)
    nb.kernel("prev = w.seeds.copy()")
    pt = (round(g2["left"] + 0.6 * g2["cssw"]), round(g2["top"] + 0.8 * g2["cssh"]))
    page.mouse.move(*pt, steps=4)
    page.mouse.click(*pt)
    g3 = nb.geometry()
    print(f"the click moved the canvas by {g3['top'] - g2['top']:.0f} CSS px")
    assert abs(g3["top"] - g2["top"]) < 1  # no focus scroll
    nb.wait_kernel("result = int((w.seeds > 0).sum())", lambda v: v > before["n"], what="the click's seeds")
    assert nb.kernel_json("result = w.wait(60)")
    got = seeds_window(nb, "(w.seeds != prev).astype(np.uint8)")  # this click's seeds only
    ex, ey = expected(pt, g2)
    diameter = nb.kernel_json("result = w.brush_size")
    print(
        f"brush click: expected ({ex:.1f}, {ey:.1f}), stroke centred at ({got['cx']:.1f}, {got['cy']:.1f}), {got['w']} x {got['h']} px"
    )
    assert abs(got["cx"] - ex) <= foot and abs(got["cy"] - ey) <= foot, got
    # a click paints one disk of the brush size, not a streak to where the scroll left the pointer
    assert got["h"] <= diameter + 2 and got["w"] <= diameter + 2, got


def test_toolbar_buttons_by_mouse(fresh):
    nb = fresh
    page = nb.page
    g = nb.geometry()
    cy, cx, r = disk_geometry(H, W)

    def client(x, y):
        return nb.to_client(x, y, (H, W), g=g)

    counts = "s = w.seeds\nresult = dict(fg=int((s == 2).sum()), bg=int((s == 1).sum()))"
    # foreground stroke (default label), then "Background" and a stroke around the object
    nb.drag([client(cx - 0.5 * r, cy), client(cx + 0.5 * r, cy)])
    nb.wait_kernel(counts, lambda v: v["fg"] > 0)
    nb.button("Background").click()
    nb.wait_kernel("result = w.label", lambda v: v == 1, what="label == BACKGROUND")
    nb.drag([client(100, 100), client(W - 100, 100), client(W - 100, H - 100)], steps=15)
    c1 = nb.wait_kernel(counts, lambda v: v["bg"] > 0)
    assert nb.kernel_json("assert w.wait(120)\nresult = float((w.mask & gt).sum() / (w.mask | gt).sum())") >= 0.8

    # opacity: drag the slider's handle to its right end -> the overlay is the pure object colour
    slider = nb.widget().locator(".widget-slider", has_text="Opacity")
    handle = slider.locator(".noUi-handle")
    box = handle.bounding_box()
    track = slider.locator(".noUi-target").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] + 30, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()
    nb.wait_kernel("result = w.opacity", lambda v: v == 1.0, what="opacity 1.0")
    probe = (int((cx + 0.2 * r) * g["w"] / W), int((cy - 0.5 * r) * g["h"] / H))
    nb.page.wait_for_function(
        """([e, x, y, c]) => { const d = e.getContext('2d').getImageData(x, y, 1, 1).data;
            return Math.abs(d[0] - c[0]) + Math.abs(d[1] - c[1]) + Math.abs(d[2] - c[2]) <= 6; }""",
        arg=[nb.canvas().element_handle(), probe[0], probe[1], list(GREEN)],
    )

    # eraser across the middle of the foreground stroke, then undo and redo with the buttons
    nb.button("Eraser").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "eraser")
    nb.drag([client(cx, cy - 0.3 * r), client(cx, cy + 0.3 * r)])
    c2 = nb.wait_kernel(counts, lambda v: v["fg"] < c1["fg"], what="erased seeds")
    assert nb.kernel_json(f"result = int(w.seeds[{int(cy)}, {int(cx)}])") == 0
    assert nb.kernel_json(f"result = int(w.seeds[{int(cy)}, {int(cx - 0.45 * r)}])") == 2  # the rest stays
    nb.widget().locator("button[title^='Undo']").click()
    nb.wait_kernel(counts, lambda v: v == c1, what="undo restores the stroke")
    nb.widget().locator("button[title^='Redo']").click()
    nb.wait_kernel(counts, lambda v: v == c2, what="redo erases again")

    # clear, then pick another method in the dropdown with the mouse and keyboard
    nb.button("Clear").click()
    nb.wait_kernel(counts, lambda v: v == {"fg": 0, "bg": 0}, what="clear")
    select = nb.widget().locator(".widget-dropdown", has_text="Method").locator("select")
    options = select.locator("option").all_text_contents()
    assert "grabcut" in options and select.input_value() == "watershed"
    select.click()
    for _ in range(abs(options.index("grabcut") - options.index("watershed"))):
        page.keyboard.press("ArrowUp" if options.index("grabcut") < options.index("watershed") else "ArrowDown")
    page.keyboard.press("Enter")
    nb.wait_kernel("result = w.method", lambda v: v == "grabcut", what="method grabcut")
    assert nb.kernel_json("assert w.wait(60)\nresult = w.status").startswith("grabcut")


def test_long_drag_draws_a_smooth_stroke_without_gaps(fresh):
    nb = fresh
    page = nb.page
    g = nb.geometry()
    cy, cx, r = disk_geometry(H, W)
    nb.kernel("w.brush_size = 8")  # thin: 8 image px is under 5 display px, gaps would show
    nb.page.evaluate(
        "c => { window.__moves = 0; c.addEventListener('mousemove', () => window.__moves++); }",
        nb.canvas().element_handle(),
    )
    # a wavy stroke across the image: 12 waypoints, 20 pointer moves between each (240 moves)
    xs = np.linspace(0.1 * W, 0.9 * W, 13)
    ys = cy + 0.35 * H * np.sin(np.linspace(0, 3 * math.pi, 13))
    pts = [nb.to_client(x, y, (H, W), g=g) for x, y in zip(xs, ys, strict=True)]
    nb.drag(pts, steps=20)
    nb.pointer_away()
    moves = page.evaluate("window.__moves")
    assert moves >= 200
    # pointer path in image coordinates (pixel centres), densely sampled
    path = []
    for (x0, y0), (x1, y1) in zip(zip(xs[:-1], ys[:-1], strict=True), zip(xs[1:], ys[1:], strict=True), strict=True):
        for t in np.linspace(0, 1, 50, endpoint=False):
            path.append((x0 + t * (x1 - x0), y0 + t * (y1 - y0)))
    path.append((xs[-1], ys[-1]))
    res = nb.wait_kernel(
        "import cv2\ns = (w.seeds == 2).astype(np.uint8)\n"
        "n, _ = cv2.connectedComponents(s, connectivity=8)\n"
        f"path = np.array({[[round(y), round(x)] for x, y in path]})\n"
        "dist = cv2.distanceTransform(1 - s, cv2.DIST_L2, 5)\n"
        "ys, xs = np.nonzero(s)\n"
        "result = dict(px=int(s.sum()), components=n - 1, miss=int((s[path[:, 0], path[:, 1]] == 0).sum()),"
        " worst=float(dist[path[:, 0], path[:, 1]].max()), x0=int(xs.min()) if xs.size else -1,"
        " x1=int(xs.max()) if xs.size else -1)",
        lambda v: v["px"] > 0,
        what="the long stroke",
    )
    print(f"\n{moves} mouse moves -> {res}")
    assert res["components"] == 1, res  # one connected stroke: no gaps
    # it follows the pointer's path: every path point is on the stroke or within one CSS
    # pixel of it (the browser reports whole CSS pixels, each about 3.5 image pixels here)
    assert res["worst"] <= W / g["cssw"], res
    assert res["miss"] <= 0.02 * len(path), res
    assert res["x0"] <= 0.1 * W + 8 and res["x1"] >= 0.9 * W - 8, res  # from start to end
    # and it is not a blob: its area is about length x brush diameter
    length = sum(math.dist(a, b) for a, b in zip(path[:-1], path[1:], strict=True))
    assert res["px"] <= 1.3 * length * 8 + 200, (res, length)
