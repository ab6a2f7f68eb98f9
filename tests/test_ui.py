"""What a user sees and does (issue 9, items 10, 12, 13, 14), through the exact messages the
front ends send: ipycanvas' mouse and touch events, ipyevents' button reports, and the canvas
overlay's ``zoom`` / ``press`` messages."""

import math
import re
import time

import numpy as np
import pytest
from conftest import disk_scene, drag, overlay_send, send

import ipyseg
from ipyseg import FOREGROUND, SegmentWidget
from ipyseg.ui import shortcuts
from ipyseg.ui.overlay import Badge


def _widget(h=400, w=600, **kw):
    img, _ = disk_scene(h=h, w=w)
    kw.setdefault("method", "watershed")
    return SegmentWidget(img, max_display_pixels=150 * 100, **kw)  # canvas 150 x 100, scale 1/4


def touch(w, event, points):
    """A touch message exactly as ipycanvas' front end sends it (``touches``: points still down)."""
    w.view.canvas._handle_custom_msg({"event": event, "touches": [{"x": x, "y": y} for x, y in points]}, [])


def badges(w):
    """Record the badge states sent to the front end."""
    seen = []
    w.overlay.observe(lambda ch: seen.append(dict(ch.new)), "badge")
    return seen


# ------------------------------------------------------------------- wheel and zoom (item 12)
def test_plain_wheel_never_zooms_and_overlay_zoom_keeps_the_point_under_the_pointer():
    w = _widget()
    send(w, "mouse_move", 40, 30)
    for dy in (-100, 100, -3, -500):
        send(w, "mouse_wheel", 0, dy)  # ipycanvas' wheel: no modifier, may be a page scroll
    assert w.zoom == 1.0
    before = w.viewport.canvas_to_image(40, 30)
    overlay_send(w, event="zoom", x=40, y=30, factor=1.25**2)  # ctrl + wheel, two notches
    assert w.zoom == pytest.approx(1.5625)
    assert w.viewport.canvas_to_image(40, 30) == pytest.approx(before)
    overlay_send(w, event="zoom", x=40, y=30, factor=1 / 1.5625)
    assert w.zoom == pytest.approx(1.0)


@pytest.mark.parametrize(
    "content",
    [
        {"event": "zoom", "x": float("nan"), "y": 3, "factor": 2},
        {"event": "zoom", "x": None, "y": 3, "factor": 2},
        {"event": "zoom", "x": "1", "y": 3, "factor": 2},
        {"event": "zoom", "x": 1, "y": 3, "factor": 0},
        {"event": "zoom", "x": 1, "y": 3, "factor": -2},
        {"event": "zoom", "x": 1, "y": 3, "factor": float("inf")},
        {"event": "zoom", "x": True, "y": 3, "factor": 2},
        {"event": "zoom", "x": 1, "y": 3},
        {"event": "press"},
        {"event": "press", "focused": "no"},
        {"event": "press", "focused": None},
        {"event": 7},
        {},
    ],
)
def test_malformed_overlay_messages_are_dropped(content):
    w = _widget()
    overlay_send(w, **content)
    assert w.zoom == 1.0 and w.last_error is None


def test_zoom_factor_of_one_message_is_clamped():
    w = _widget()
    overlay_send(w, event="zoom", x=10, y=10, factor=1e9)
    assert w.zoom == pytest.approx(4.0)  # MAX_ZOOM_STEP
    overlay_send(w, event="zoom", x=10, y=10, factor=1e-9)
    assert w.zoom == 1.0


def test_ready_message_marks_the_overlay_rendered():
    w = _widget()
    assert not w.overlay.ready
    overlay_send(w, event="ready")
    assert w.overlay.ready


# Focus clicks (item 12) are decided in the browser (overlay.js holds a press on an unfocused
# canvas back from ipycanvas): tests/browser/test_ui_lab.py. In the kernel, every press acts.
def _click(w, x, y):
    send(w, "mouse_move", x, y)
    send(w, "mouse_down", x, y)
    send(w, "mouse_up", x, y)
    assert w.wait(30)


# ------------------------------------------------------------------------ touch (item 13)
def test_one_finger_paints_like_the_mouse():
    w = _widget()
    pts = [(30 + 6 * i, 50) for i in range(11)]
    touch(w, "touch_start", [pts[0]])
    for p in pts[1:]:
        touch(w, "touch_move", [p])
    touch(w, "touch_end", [])  # ipycanvas: the touches still down, none
    assert w.wait(30)
    ys, xs = np.nonzero(w.seeds == FOREGROUND)
    assert xs.min() <= 4 * 30 and xs.max() >= 4 * 90 - 8 and abs(ys.mean() - (4 * 50 - 0.5)) < 1
    assert w.input.touch.mode is None and w.input.last_move is None  # the finger left: no cursor
    undone = w.undo()
    assert undone and not w.seeds.any()  # one stroke = one undo step


def test_a_tap_is_a_click_for_click_tools():
    w = _widget()
    w.tool = "point"
    touch(w, "touch_start", [(70, 40)])
    touch(w, "touch_end", [])
    assert w.wait(30)
    ys, xs = np.nonzero(w.seeds == FOREGROUND)
    assert abs(xs.mean() - (4 * 70 - 0.5)) < 1 and abs(ys.mean() - (4 * 40 - 0.5)) < 1


def test_two_fingers_cancel_the_stroke_and_pinch_zoom_and_pan():
    w = _widget()
    touch(w, "touch_start", [(60, 50)])
    touch(w, "touch_move", [(62, 50)])
    touch(w, "touch_start", [(62, 50), (82, 50)])  # a second finger: the stroke is dropped
    anchor = w.viewport.canvas_to_image(72, 50)  # image point under the fingers' centre
    for s in np.linspace(10, 30, 6):  # spread 20 -> 60 px: zoom x3
        touch(w, "touch_move", [(72 - s, 50), (72 + s, 50)])
    assert w.zoom == pytest.approx(3.0)
    assert w.viewport.canvas_to_image(72, 50) == pytest.approx(anchor)
    for dy in range(1, 11):  # both fingers move up 10 px: a pan, same zoom
        touch(w, "touch_move", [(42, 50 - dy), (102, 50 - dy)])
    assert w.zoom == pytest.approx(3.0)
    assert w.viewport.canvas_to_image(72, 40) == pytest.approx(anchor)  # the point followed the fingers
    touch(w, "touch_end", [(102, 40)])
    touch(w, "touch_move", [(110, 60)])  # the last finger still down does not paint
    touch(w, "touch_end", [])
    assert w.wait(30) and not w.seeds.any() and w.input.touch.mode is None
    touch(w, "touch_start", [(20, 20)])  # after all fingers were lifted, painting works again
    touch(w, "touch_end", [])
    assert w.wait(30) and w.seeds.any()


def test_touch_cancel_commits_nothing():
    w = _widget()
    touch(w, "touch_start", [(30, 50)])
    touch(w, "touch_move", [(60, 50)])
    touch(w, "touch_cancel", [])
    assert w.wait(30) and not w.seeds.any() and w.input.touch.mode is None


@pytest.mark.parametrize(
    "touches",
    [None, "x", [None], [{"x": float("nan"), "y": 1}], [{"x": "1", "y": 2}], [{"x": 1}], [{"x": True, "y": 2}]],
)
def test_malformed_touches_are_dropped(touches):
    w = _widget()
    content = {"event": "touch_start", "touches": touches}
    try:
        w.view.canvas._handle_custom_msg(content, [])
    except (KeyError, TypeError):
        pass  # ipycanvas itself indexes touch["x"]: a malformed list may not reach us at all
    for event in ("touch_move", "touch_end", "touch_cancel"):
        try:
            w.view.canvas._handle_custom_msg({"event": event, "touches": touches}, [])
        except (KeyError, TypeError):
            pass
    assert w.wait(30) and not w.seeds.any() and w.last_error is None


def test_touch_points_validation():
    from ipyseg.widget.touch import _touch_points

    assert _touch_points([(1, 2), (3.5, 4)]) == [(1.0, 2.0), (3.5, 4.0)]
    for bad in (None, [(1, float("nan"))], [(1,)], [("1", 2)], [(True, 2)], 5):
        assert _touch_points(bad) is None


# ------------------------------------------------------------------------ badge (item 10)
def _fail(image, seeds, prior=None):
    raise ValueError("deliberate")


def test_failing_stroke_shows_an_error_badge_until_a_success():
    ipyseg.register_method("failing_ui", _fail, overwrite=True)
    w = _widget(method="failing_ui")
    seen = badges(w)
    drag(w, [(30, 50), (90, 50)])
    assert w.wait(30)
    assert w.overlay.badge["kind"] == "error"
    assert "failing_ui failed" in w.overlay.badge["text"] and "deliberate" in w.overlay.badge["text"]
    assert seen[0]["kind"] == "busy"
    w.controller.on_busy(False)  # a late "idle" from the engine does not hide the error
    assert w.overlay.badge["kind"] == "error"
    with pytest.warns(ipyseg.SegmentationWarning):
        w.paint([(20, 20)])  # an edit: busy again, then the same error
    assert w.overlay.badge["kind"] == "error"
    w.method = "watershed"  # a success clears it
    assert w.overlay.badge["kind"] == "" and w.last_error is None


def test_an_edit_replaces_the_error_by_busy():
    ipyseg.register_method("failing_ui", _fail, overwrite=True)
    w = _widget(method="failing_ui")
    drag(w, [(30, 50), (90, 50)])
    assert w.wait(30) and w.overlay.badge["kind"] == "error"
    w.method = "watershed"
    seen = badges(w)
    drag(w, [(30, 70), (90, 70)])
    assert w.wait(30)
    assert [b["kind"] for b in seen][0] == "busy" and seen[-1]["kind"] == ""
    assert [b["seq"] for b in seen] == sorted(b["seq"] for b in seen)


def test_a_failing_tool_shows_on_the_badge():
    w = _widget()
    w.tool = "wand"

    def broken(row, col):
        raise RuntimeError("wand broke")

    w.editor.wand = broken
    _click(w, 60, 50)
    assert w.overlay.badge["kind"] == "error" and "wand broke" in w.overlay.badge["text"]


def test_long_errors_are_shortened_on_the_badge_not_in_the_status():
    w = _widget()
    w.controller.show_status("⚠ " + "x" * 500, error=True)
    assert len(w.overlay.badge["text"]) == Badge.MAX_CHARS and w.overlay.badge["text"].endswith("…")
    assert len(w.status) == 502


def test_slow_final_stage_shows_preview_refining_then_clears():
    def slow(image, seeds):
        time.sleep(min(0.6, image.shape[0] * image.shape[1] / 400_000))
        return seeds >= 2

    ipyseg.register_method("slow_ui", slow, overwrite=True)
    img, _ = disk_scene(h=900, w=1200)  # above the full-resolution limit: a coarse-to-fine path
    w = SegmentWidget(img, method="slow_ui", max_display_pixels=300 * 225)
    w.paint([(600, 450)])  # teaches the fast path that the final stage is slow
    w.clear()
    plan = w.document.multiscale.plan(ipyseg.segmenters.get("slow_ui"), {})
    assert len(plan) == 2  # preview, then final
    seen = badges(w)
    statuses = []
    w.observe(lambda ch: statuses.append(ch.new), "status")
    drag(w, [(100, 100), (200, 100)])
    assert w.wait(30)
    kinds = [b["kind"] for b in seen]
    assert "refining" in kinds and kinds[-1] == ""
    refining = next(b for b in seen if b["kind"] == "refining")
    assert refining["text"] == "slow_ui: preview · refining…" and refining["elapsed"] > 0
    assert any("preview in" in s and "refining…" in s for s in statuses)
    assert "refining" not in w.status and w.status.startswith("slow_ui ·")


# ----------------------------------------------------------------------- toolbar (item 14)
def test_every_tooltip_names_a_shortcut_that_does_what_the_button_does():
    w = _widget()
    tool = w.controls["tool"]
    for (label, value), tip in zip(tool.options, tool.tooltips, strict=True):
        m = re.match(r"^[\w -]+ \((\w)\): ", tip)
        assert m, tip
        w.tool = "pan" if value != "pan" else "brush"
        assert shortcuts.handle_key(w, m.group(1), False, False, False)
        assert w.tool == value and tool.value == value, (label, tip)
    keys = {"undo": "ctrl+z", "redo": "ctrl+shift+z", "new_object": "n", "zoom_in": "+", "zoom_out": "-", "fit": "Home"}
    keys.update(delete_object="Delete", propose="i")
    for name, combo in keys.items():
        assert f"({combo}" in w.buttons[name].tooltip, (name, w.buttons[name].tooltip)
        assert combo in shortcuts._TABLE
    label = w.controls["label"]
    assert [t.split(" ")[1] for t in label.tooltips] == ["(f):", "(b,"]


def test_controls_and_buttons_keep_their_keys():
    w = _widget()
    assert set(w.controls) == {
        "label",
        "object",
        "tool",
        "brush_size",
        "method",
        "opacity",
        "overlay_mode",
        "show_seeds",
        "wand_tolerance",
        "class",
    }
    assert set(w.buttons) == {
        "undo",
        "redo",
        "clear",
        "new_object",
        "delete_object",
        "propose",
        "zoom_in",
        "zoom_out",
        "fit",
    }
    rows = w.toolbar.box.children
    assert len(rows) == 3 and rows[2] is w.toolbar.contrast.box  # two rows, the contrast row below
    assert rows[2].layout.display == "none"  # hidden for an 8-bit RGB photo


def test_the_tool_option_slot_shows_what_applies():
    w = _widget()
    c = w.controls
    for tool, brush, wand in [
        ("brush", True, False),
        ("eraser", True, False),
        ("wand", False, True),
        ("point", False, False),
        ("polygon", False, False),
    ]:
        w.tool = tool
        assert (c["brush_size"].layout.display != "none") == brush, tool
        assert (c["wand_tolerance"].layout.display != "none") == wand, tool


def test_the_overlay_sits_just_before_the_canvas_in_its_width():
    w = _widget()
    i = w.children.index(w.view.canvas)
    assert w.children[i - 1] is w.overlay
    assert w.overlay.layout.max_width == w.view.canvas.layout.max_width == "150px"
    assert "ipyseg" in w._dom_classes
    assert ".ipyseg-badge" in w.overlay._css and "preventDefault" in w.overlay._esm
    assert math.isclose(w.zoom, 1.0)


def test_a_method_registered_after_the_widget_can_be_picked():
    w = _widget()
    ipyseg.register_method("late_ui", lambda image, seeds: seeds >= 2, overwrite=True)
    w.method = "late_ui"
    assert w.controls["method"].value == "late_ui" and "late_ui" in w.controls["method"].options
