"""What a user sees and does (issue 9, items 10, 12, 13, 14), in JupyterLab with a real mouse,
keyboard and touch screen: the badge on the canvas, the wheel, keyboard focus, touch and pen,
the toolbar. One 12 MP widget whose canvas is taller than the page, so its status line is
off-screen whenever the canvas' top is in view.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from .conftest import HERE, open_notebook
from .scenes import disk_geometry

H, W = 3000, 4000
SCENE = (
    f"import sys, time\nsys.path.insert(0, {str(HERE)!r})\n"
    "import numpy as np\nimport ipyseg\nfrom scenes import disk_scene\n\n"
    "def failing(image, seeds, prior=None):\n"
    "    raise ValueError('deliberate failure for the badge test')\n\n"
    "def slow(image, seeds):\n"
    "    # slow only on big images: a fast preview, then a final stage of about 1.5 s\n"
    "    time.sleep(min(2.0, image.shape[0] * image.shape[1] / 200_000))\n"
    "    return seeds >= 2\n\n"
    "ipyseg.register_method('failing', failing, overwrite=True)\n"
    "ipyseg.register_method('slow', slow, overwrite=True)\n"
    f"img, gt = disk_scene({H}, {W})\n"
    "w = ipyseg.SegmentWidget(img, method='watershed')\nw"
)


@pytest.fixture(scope="module")
def nb(browser, lab_server, request):
    # A short page: the 12 MP canvas (about 640 CSS px tall here) and its status line do not
    # fit together. has_touch: the same page also takes touch input.
    ctx = browser.new_context(viewport={"width": 1280, "height": 700}, has_touch=True)
    ctx.set_default_timeout(60_000)
    request.addfinalizer(ctx.close)
    nbp = open_notebook(lab_server, ctx, request, "ui", [SCENE, "1 + 1"])
    nbp.wait_drawn()
    nbp.cdp = ctx.new_cdp_session(nbp.page)
    return nbp


@pytest.fixture
def fresh(nb):
    nb.kernel("w.method = 'watershed'; w.clear(); w.wait(60); w.reset_view(); w.tool = 'brush'; w.label = 2")
    nb.page.wait_for_function("() => !document.querySelector('.ipyseg-badge.ipyseg-badge-visible')")
    canvas_top_at_page_top(nb)
    nb.pointer_away()
    return nb


def scroller(nb):
    """The notebook's scrolling element (JavaScript expression on the canvas ``e``)."""
    return """(e => { let s = e.parentElement;
        while (s && !(s.scrollHeight > s.clientHeight && /(auto|scroll)/.test(getComputedStyle(s).overflowY))) s = s.parentElement;
        return s; })(e)"""


def scroll_top(nb) -> float:
    return nb.canvas().evaluate(f"e => {scroller(nb)}.scrollTop")


def canvas_top_at_page_top(nb):
    """Scroll so that the canvas' top edge is at the top of the notebook's visible area."""
    nb.canvas().evaluate(
        f"e => {{ const s = {scroller(nb)}; s.scrollTop += e.getBoundingClientRect().top - s.getBoundingClientRect().top - 4; }}"
    )


def badge(nb) -> dict:
    """The badge's state in the page: kind, text, visible, and its rectangle in the viewport."""
    return nb.widget().evaluate(
        """root => { const b = root.querySelector('.ipyseg-badge'); const r = b.getBoundingClientRect();
            const c = root.querySelector(':scope > canvas').getBoundingClientRect();
            const s = getComputedStyle(b);
            return {kind: b.dataset.kind || '', text: b.textContent,
                    visible: s.visibility === 'visible' && parseFloat(s.opacity) > 0.9 && r.width > 0,
                    left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                    canvas: {left: c.left, top: c.top, right: c.right, bottom: c.bottom},
                    vh: window.innerHeight, under: document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2)?.tagName}; }"""
    )


def wait_badge(nb, predicate, timeout=60.0, what="badge"):
    deadline = time.monotonic() + timeout
    while True:
        b = badge(nb)
        if predicate(b):
            return b
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; badge: {b}")
        time.sleep(0.05)


def status_line_on_screen(nb) -> bool:
    return nb.widget().evaluate(
        """root => { const r = root.lastElementChild.getBoundingClientRect();
            return r.top < window.innerHeight && r.bottom > 0; }"""
    )


# ----------------------------------------------------------------------------- item 10
def test_failing_box_shows_an_error_badge_on_the_canvas(fresh):
    nb = fresh
    nb.kernel("w.method = 'failing'; w.tool = 'box'")
    g = nb.geometry()
    print(f"\ncanvas {g}, viewport {nb.page.viewport_size}")
    assert not status_line_on_screen(nb)  # the situation of the field trial
    cy, cx, r = disk_geometry(H, W)
    a = nb.to_client(cx - 1.2 * r, cy - 1.2 * r, (H, W), g=g)
    b = nb.to_client(cx + 1.2 * r, min(H - 10, cy + 1.2 * r), (H, W), g=g)
    b = (b[0], min(b[1], nb.page.viewport_size["height"] - 5))
    nb.drag([a, b], steps=10)
    got = wait_badge(nb, lambda v: v["visible"] and v["kind"] == "error", what="the error badge")
    print(f"\nbadge: {got['text']!r}")
    assert "failing failed" in got["text"] and "deliberate failure" in got["text"]
    c = got["canvas"]
    # in the canvas' top-right corner, on screen
    assert c["left"] < got["left"] < got["right"] <= c["right"] and c["top"] <= got["top"] < c["top"] + 40
    assert 0 <= got["top"] and got["bottom"] <= got["vh"]
    # it stays: 1.5 s later, still there (errors stay until a success or an edit)
    time.sleep(1.5)
    assert badge(nb)["kind"] == "error" and badge(nb)["visible"]
    status = nb.kernel_json("result = w.status")
    assert "deliberate failure" in status
    # it does not block painting: a brush stroke that starts under the badge paints there
    assert got["under"] == "CANVAS"  # pointer-events: none, the canvas is hit under it
    nb.kernel("w.tool = 'brush'")
    start = ((got["left"] + got["right"]) / 2, (got["top"] + got["bottom"]) / 2)
    nb.drag([start, (start[0] - 60, start[1] + 10)])
    n = nb.wait_kernel("result = int((w.seeds == 2).sum())", lambda v: v > 0, what="a stroke under the badge")
    assert n > 0
    # the edit failed again (same method): still an error; a working method clears it
    wait_badge(nb, lambda v: v["kind"] == "error" and v["visible"], what="the error after the stroke")
    nb.kernel("w.method = 'watershed'")
    wait_badge(nb, lambda v: not v["visible"] and v["kind"] == "", what="the badge to clear")
    assert not nb.errors(), nb.errors()


def test_slow_final_stage_shows_preview_refining_and_elapsed_time(fresh):
    nb = fresh
    # teach the fast path that 'slow' is slow (one programmatic call), then stroke with the mouse
    nb.kernel("w.method = 'slow'; w.paint([(100, 100)]); w.clear()")
    g = nb.geometry()
    cy, cx, r = disk_geometry(H, W)
    nb.drag(
        [nb.to_client(cx - 0.5 * r, cy - 0.3 * r, (H, W), g=g), nb.to_client(cx + 0.5 * r, cy - 0.3 * r, (H, W), g=g)]
    )
    first = wait_badge(nb, lambda v: v["visible"] and v["kind"] == "refining", what="the refining badge")
    time.sleep(0.6)
    second = badge(nb)
    print(f"\nbadge: {first['text']!r} then {second['text']!r}")
    pattern = r"slow: preview · refining… (\d+\.\d) s"
    m1, m2 = re.search(pattern, first["text"]), re.search(pattern, second["text"])
    assert m1 and m2, (first, second)
    assert float(m2.group(1)) >= float(m1.group(1)) + 0.3  # the elapsed time counts up
    assert "refining" in nb.kernel_json("result = w.status")
    wait_badge(nb, lambda v: not v["visible"], what="the badge to go when the final stage lands")
    res = nb.kernel_json("assert w.wait(60)\nresult = dict(status=w.status, fg=int((w.labels == 1).sum()))")
    assert "refining" not in res["status"] and res["fg"] > 0


# ----------------------------------------------------------------------------- item 12
def test_wheel_scrolls_the_notebook_and_ctrl_wheel_zooms(fresh):
    nb = fresh
    page = nb.page
    g = nb.geometry()
    p = nb.to_client(W * 0.4, H * 0.4, (H, W), g=g)
    page.mouse.move(*p, steps=4)
    top0 = scroll_top(nb)
    page.mouse.wheel(0, 200)
    deadline = time.monotonic() + 10
    while scroll_top(nb) <= top0 + 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    top1 = scroll_top(nb)
    print(f"\nwheel over the canvas: the notebook scrolled {top1 - top0:.0f} px")
    assert top1 > top0 + 50
    page.mouse.wheel(0, -200)  # and back
    time.sleep(1.0)
    assert nb.kernel_json("result = w.zoom") == 1.0
    # ctrl + wheel zooms around the pointer and does not scroll
    canvas_top_at_page_top(nb)
    g = nb.geometry()
    p = nb.to_client(W * 0.4, H * 0.4, (H, W), g=g)
    page.mouse.move(*p, steps=4)
    top0 = scroll_top(nb)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    zoom = nb.wait_kernel("result = w.zoom", lambda z: z > 1.0, what="ctrl + wheel zoom")
    assert zoom == pytest.approx(1.25)
    assert abs(scroll_top(nb) - top0) < 1
    x, y = (p[0] - g["left"]) * g["w"] / g["cssw"], (p[1] - g["top"]) * g["h"] / g["cssh"]
    row, col = nb.kernel_json(f"result = [float(v) for v in w.viewport.canvas_to_image({x}, {y})]")
    foot = W / g["w"]
    assert abs(col - (W * 0.4)) <= 2 * foot and abs(row - (H * 0.4)) <= 2 * foot  # the point stayed under the pointer
    # Safari reports a touch-pad pinch as gesture events (Chromium cannot make real ones: the
    # events are synthetic here, with the fields Safari's GestureEvent has)
    nb.canvas().evaluate(
        """(e, p) => { for (const [type, scale] of [['gesturestart', 1], ['gesturechange', 1.5], ['gesturechange', 2]]) {
            const ev = new UIEvent(type, {bubbles: true, cancelable: true});
            Object.defineProperties(ev, {scale: {value: scale}, clientX: {value: p[0]}, clientY: {value: p[1]}});
            e.dispatchEvent(ev); } }""",
        list(p),
    )
    zoom = nb.wait_kernel("result = w.zoom", lambda z: z > 1.3, what="the Safari pinch")
    assert zoom == pytest.approx(1.25 * 2)
    assert not nb.errors(), nb.errors()


def test_focus_click_leaves_no_seed_and_a_drag_paints(fresh):
    nb = fresh
    page = nb.page
    editor = page.locator(".jp-Cell").nth(1).locator(".cm-content")
    editor.click()  # typing in the second cell: the pointer passing over the canvas must not take the keyboard
    canvas_top_at_page_top(nb)  # (clicking there scrolled the notebook)
    g = nb.geometry()
    p = nb.to_client(W * 0.3, H * 0.3, (H, W), g=g)
    page.mouse.move(*p, steps=6)
    assert page.evaluate("() => document.activeElement.closest('.cm-content') !== null")
    top0 = nb.geometry()["top"]
    page.mouse.click(*p)  # the focus click
    assert nb.canvas().evaluate("e => document.activeElement === e")
    assert abs(nb.geometry()["top"] - top0) < 1  # focusing did not scroll the page
    page.keyboard.press("c")  # the keyboard now reaches the widget: point tool
    nb.wait_kernel("result = w.tool", lambda v: v == "point", what="the 'c' key after the focus click")
    assert nb.kernel_json("result = int((w.seeds > 0).sum())") == 0  # the focus click left no seed
    assert nb.widget().locator(".ipyseg-overlay").get_attribute("data-focus-clicks") == "1"
    # a second click is an ordinary click: a point seed
    page.mouse.click(*p)
    nb.wait_kernel("result = int((w.seeds > 0).sum())", lambda v: v > 0, what="the point seed")
    # back in the editor: a drag that starts on the unfocused canvas paints (from where it started)
    nb.kernel("w.clear(); w.tool = 'brush'")
    editor.click()
    canvas_top_at_page_top(nb)
    g = nb.geometry()
    q = nb.to_client(W * 0.2, H * 0.6, (H, W), g=g)
    nb.drag([q, nb.to_client(W * 0.5, H * 0.6, (H, W), g=g)])
    res = nb.wait_kernel(
        "ys, xs = np.nonzero(w.seeds == 2)\nresult = [int(xs.size), float(xs.min()) if xs.size else -1.0]",
        lambda v: v[0] > 0,
        what="the drag's seeds",
    )
    assert abs(res[1] - W * 0.2) <= w_brush(nb) + 2 * W / g["w"], res
    # a right-button drag from the unfocused canvas paints background (ipyevents sees the press too)
    editor.click()
    canvas_top_at_page_top(nb)
    g = nb.geometry()
    a, b = nb.to_client(W * 0.2, H * 0.8, (H, W), g=g), nb.to_client(W * 0.5, H * 0.8, (H, W), g=g)
    page.mouse.move(*a, steps=4)
    page.mouse.down(button="right")
    page.mouse.move(*b, steps=10)
    page.mouse.up(button="right")
    res = nb.wait_kernel(
        f"s = w.seeds[{int(0.75 * H)}:]\nresult = dict(bg=int((s == 1).sum()), fg=int((s == 2).sum()))",
        lambda v: v["bg"] > 0,
        what="the right-drag's background seeds",
    )
    assert res["fg"] == 0, res
    assert nb.widget().locator(".ipyseg-overlay").get_attribute("data-focus-clicks") == "3"
    assert not nb.errors(), nb.errors()


def w_brush(nb) -> float:
    return nb.kernel_json("result = w.brush_size")


def test_hover_gives_the_keyboard_and_leaving_gives_it_back(fresh):
    nb = fresh
    page = nb.page
    page.locator(".jp-Cell").nth(1).locator(".jp-InputPrompt").click()  # command mode, second cell active
    active = "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')].findIndex(c => c.classList.contains('jp-mod-active'))"
    assert page.evaluate(active) == 1
    canvas_top_at_page_top(nb)
    g = nb.geometry()
    page.mouse.move(*nb.to_client(W * 0.5, H * 0.3, (H, W), g=g), steps=6)
    assert nb.canvas().evaluate("e => document.activeElement === e")
    page.keyboard.press("e")
    nb.wait_kernel("result = w.tool", lambda v: v == "eraser", what="the 'e' key while hovering")
    nb.pointer_away()
    assert not nb.canvas().evaluate("e => document.activeElement === e")
    assert page.evaluate(active) == 1  # hovering did not make the widget's cell the active one
    assert nb.kernel_json("result = int((w.seeds > 0).sum())") == 0
    # a dropdown that has the focus is not typing: after picking a method, the pointer over the
    # canvas takes the keyboard and the next click is an ordinary click
    select = nb.widget().locator(".widget-dropdown", has_text="Method").locator("select")
    select.focus()
    canvas_top_at_page_top(nb)
    g = nb.geometry()
    nb.kernel("w.tool = 'point'")
    p = nb.to_client(W * 0.4, H * 0.3, (H, W), g=g)
    page.mouse.move(*p, steps=6)
    assert nb.canvas().evaluate("e => document.activeElement === e")
    page.mouse.click(*p)
    nb.wait_kernel("result = int((w.seeds > 0).sum())", lambda v: v > 0, what="the click after the dropdown")


# ----------------------------------------------------------------------------- item 13
def touch(nb, kind, points):
    nb.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in points]})


def test_touch_drag_paints_and_tap_places_a_point(fresh):
    nb = fresh
    g = nb.geometry()
    cy, cx, r = disk_geometry(H, W)
    xs = np.linspace(cx - 0.6 * r, cx + 0.6 * r, 16)
    pts = [nb.to_client(x, cy, (H, W), g=g) for x in xs]
    touch(nb, "touchStart", [pts[0]])
    for p in pts[1:]:
        touch(nb, "touchMove", [p])
    touch(nb, "touchEnd", [])
    res = nb.wait_kernel(
        "ys, xs = np.nonzero(w.seeds == 2)\n"
        "result = dict(n=int(xs.size), x0=float(xs.min()) if xs.size else 0, x1=float(xs.max()) if xs.size else 0,"
        " cy=float(ys.mean()) if ys.size else 0)",
        lambda v: v["n"] > 0,
        what="the touch stroke",
    )
    print(f"\ntouch stroke: {res}")
    foot = W / g["w"]
    d = w_brush(nb)
    assert res["x0"] <= cx - 0.6 * r + 2 * foot and res["x1"] >= cx + 0.6 * r - 2 * foot - d, res
    assert abs(res["cy"] - cy) <= 2 * foot, res
    assert nb.kernel_json("assert w.wait(60)\nresult = float((w.mask & gt).sum() / max(1, w.mask.sum()))") > 0.9
    # a tap with the point tool: a point seed under the finger
    nb.kernel("w.clear(); w.tool = 'point'")
    p = nb.to_client(W * 0.25, H * 0.3, (H, W), g=g)
    nb.page.touchscreen.tap(*p)
    got = nb.wait_kernel(
        "ys, xs = np.nonzero(w.seeds)\nresult = [float(xs.mean()), float(ys.mean())] if xs.size else None",
        lambda v: v is not None,
        what="the tap's point",
    )
    assert abs(got[0] - W * 0.25) <= 2 * foot and abs(got[1] - H * 0.3) <= 2 * foot, got
    assert not nb.errors(), nb.errors()


def test_two_fingers_pinch_zoom_and_paint_nothing(fresh):
    nb = fresh
    g = nb.geometry()
    c = nb.to_client(W * 0.5, H * 0.4, (H, W), g=g)
    a, b = (c[0] - 40, c[1]), (c[0] + 40, c[1])
    touch(nb, "touchStart", [a])
    touch(nb, "touchStart", [a, b])  # the second finger lands: the one-finger stroke is dropped
    for s in np.linspace(40, 120, 8):
        touch(nb, "touchMove", [(c[0] - s, c[1]), (c[0] + s, c[1])])
    touch(nb, "touchEnd", [(c[0] + 120, c[1])])
    touch(nb, "touchEnd", [])
    zoom = nb.wait_kernel("result = w.zoom", lambda z: z > 2.9, what="the pinch zoom")
    print(f"\npinch 80 -> 240 px: zoom {zoom:.2f}")
    assert zoom == pytest.approx(3.0, rel=0.15)
    assert nb.kernel_json("result = int((w.seeds > 0).sum())") == 0


# ----------------------------------------------------------------------------- item 14
def test_toolbar_is_compact_with_a_clear_active_tool_and_shortcut_tooltips(fresh):
    nb = fresh
    page = nb.page
    tb = nb.widget().locator(".ipyseg-toolbar")
    rows = tb.evaluate("e => [...e.children].filter(r => r.getBoundingClientRect().height > 0).length")
    height = tb.bounding_box()["height"]
    print(f"\ntoolbar: {rows} rows, {height:.0f} CSS px tall")
    assert rows == 2 and height <= 80
    tools = nb.widget().locator(".ipyseg-icons button")
    assert tools.count() == 10
    titles = tools.evaluate_all("bs => bs.map(b => b.title)")
    names = {"Brush": "brush", "Point": "point", "Eraser": "eraser", "Box": "box", "Magic wand": "wand"}
    names.update({"Live-wire": "livewire", "Polygon": "polygon", "Pan": "pan", "Pick": "pick", "Split": "split"})
    # each tooltip names its key, and that key selects the tool (the pointer is over the canvas)
    g = nb.geometry()
    page.mouse.move(*nb.to_client(W * 0.5, H * 0.2, (H, W), g=g), steps=4)
    for title in reversed(titles):
        m = re.match(r"^([\w -]+) \((\w)\): \w", title)
        assert m and m.group(1) in names, title
        want = names[m.group(1)]
        page.keyboard.press(m.group(2))
        nb.wait_kernel("result = w.tool", lambda v, want=want: v == want, what=f"key {m.group(2)}")
    others = nb.widget().locator("button.ipyseg-icon").evaluate_all("bs => bs.map(b => b.title)")
    for key in ("(ctrl+z)", "(ctrl+shift+z", "(+", "(-", "(Home)", "(n)", "(Delete)", "(i)"):
        assert any(key in t for t in others), (key, others)
    # the active tool stands out: its background differs strongly from the others'
    nb.kernel("w.tool = 'polygon'")
    page.wait_for_function(
        "() => document.querySelector('.ipyseg-icons button.mod-active')?.title.startsWith('Polygon')"
    )
    colors = tools.evaluate_all(
        "bs => bs.map(b => [b.classList.contains('mod-active'), getComputedStyle(b).backgroundColor, getComputedStyle(b).color])"
    )

    def rgb(css):
        return np.array([float(v) for v in re.findall(r"[\d.]+", css)[:3]])

    active = [c for c in colors if c[0]]
    others = [c for c in colors if not c[0]]
    assert len(active) == 1
    contrast = min(np.abs(rgb(active[0][1]) - rgb(o[1])).sum() for o in others)
    print(f"active {active[0][1]} vs inactive {others[0][1]}: colour distance {contrast:.0f}")
    assert contrast >= 150
    # icon-only: no tool label text is painted (the label stays for screen readers)
    assert tools.evaluate_all("bs => bs.every(b => parseFloat(getComputedStyle(b).fontSize) === 0)")
    # buttons with a label (Foreground / Background) do not run the icon into it
    assert nb.button("Background").evaluate("e => e.scrollWidth <= e.clientWidth + 1")
