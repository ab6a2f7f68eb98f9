"""Malformed front-end messages are dropped at the edge; toolbar and traits never disagree."""

import logging

import numpy as np
import pytest
import traitlets
from conftest import disk_scene, send

from ipyseg import BACKGROUND, FOREGROUND, SegmentWidget
from ipyseg.ui.events import clean_canvas_message, clean_dom_event


@pytest.fixture
def w():
    img, _ = disk_scene(h=120, w=160)
    widget = SegmentWidget(img, method="watershed")
    yield widget
    widget.close()


@pytest.fixture
def logged(caplog):
    """Tracebacks that ipywidgets catches and logs in a comm handler."""
    caplog.set_level(logging.WARNING)
    return lambda: [r for r in caplog.records if "Exception in" in r.getMessage()]


def _update(control, **state):
    control._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def test_a_null_coordinate_is_dropped_and_the_next_press_paints(w, logged):
    send(w, "mouse_move", None, None)  # ipycanvas would store None and break the next press
    send(w, "mouse_move", 80, 60)
    send(w, "mouse_down", 80, 60)
    send(w, "mouse_up", 80, 60)
    assert w.wait(30)
    assert (w.seeds == FOREGROUND).any() and not logged() and w.dropped_events == 1


@pytest.mark.parametrize(
    "content",
    [
        {"event": "mouse_down", "x": float("nan"), "y": 3.0},
        {"event": "mouse_up", "x": float("inf"), "y": 3.0},
        {"event": "mouse_move", "x": "12", "y": 3.0},
        {"event": "mouse_move", "x": True, "y": 3.0},
        {"event": "mouse_down"},
        {"event": "mouse_wheel", "x": 0, "y": None},
        {"event": "key_down", "key": 7, "shift_key": False, "ctrl_key": False, "meta_key": False},
        {"event": "key_down", "key": None},
        {"event": "key_down", "key": "z", "shift_key": "yes", "ctrl_key": True, "meta_key": False},
        {"event": "key_down", "key": "x" * 100, "shift_key": False, "ctrl_key": False, "meta_key": False},
        {"event": "touch_start", "touches": [{"x": None, "y": 1}]},
        {"event": "touch_move", "touches": "all of them"},
        {"event": "touch_end", "touches": [{"x": 1, "y": 1}] * 11},
        {"event": "no_such_event"},
        {"event": None},
        [],
        None,
    ],
)
def test_malformed_canvas_messages_are_dropped_without_a_traceback(w, logged, content):
    assert clean_canvas_message(content, bound=1000) is None
    w.view.canvas._handle_custom_msg(content, [])
    assert w.dropped_events == 1 and not logged() and w.last_error is None
    assert not w.seeds.any()


def test_huge_coordinates_are_clamped_so_a_drag_still_ends(w, logged):
    send(w, "mouse_move", 80, 60)
    send(w, "mouse_down", 80, 60)
    send(w, "mouse_up", 1e300, -1e300)  # the pointer "left the planet": clamped, the stroke ends
    assert w.wait(30)
    assert not w.input.handlers["brush"].active and (w.seeds == FOREGROUND).any()
    assert not logged() and w.last_error is None
    clean = clean_canvas_message({"event": "mouse_up", "x": 1e300, "y": -1e300}, bound=500)
    assert clean == {"event": "mouse_up", "x": 500.0, "y": -500.0}


def test_well_formed_messages_pass_unchanged():
    for content in (
        {"event": "mouse_move", "x": 1.5, "y": 2},
        {"event": "key_down", "key": "Z", "shift_key": True, "ctrl_key": True, "meta_key": False},
        {"event": "touch_start", "touches": [{"x": 1.0, "y": 2.0}]},
        {"event": "client_ready"},
        {"event": "mouse_wheel", "x": 0.0, "y": -120.0},
    ):
        assert clean_canvas_message(content, bound=1000) == content


def test_dom_events_keep_known_fields_only():
    assert clean_dom_event({"type": "mousedown", "button": 2, "shiftKey": True, "junk": object()}) == {
        "type": "mousedown",
        "button": 2,
        "shiftKey": True,
        "ctrlKey": False,
        "altKey": False,
        "metaKey": False,
    }
    for bad in (None, [], {"button": 2}, {"type": 5}):
        assert clean_dom_event(bad) is None
    assert "button" not in clean_dom_event({"type": "mousedown", "button": "right"})


def test_garbage_ipyevents_reports_are_dropped(w, logged):
    for bad in (None, "x", {"type": None}, {"type": "mousedown", "button": float("nan"), "shiftKey": "no"}):
        w.input.dom_events._handle_custom_msg(bad, [])
    assert not logged()


@pytest.mark.parametrize(
    "name, state",
    [
        ("opacity", {"value": float("nan")}),
        ("brush_size", {"value": float("nan")}),
        ("wand_tolerance", {"value": float("nan")}),
        ("wand_tolerance", {"value": "high"}),
        ("tool", {"index": None}),
        ("tool", {"index": 99}),
        ("method", {"index": None}),
        ("method", {"index": -5}),
        ("overlay_mode", {"index": None}),
        ("label", {"index": None}),
        ("object", {"value": None}),
        ("object", {"value": "0"}),
        ("object", {"value": "99999"}),
        ("object", {"value": 3}),
        ("show_seeds", {"value": None}),
    ],
)
def test_bad_toolbar_updates_leave_toolbar_and_traits_equal(w, logged, name, state):
    before = {n: getattr(w, n) for n in ("tool", "brush_size", "opacity", "overlay_mode", "wand_tolerance", "method")}
    _update(w.controls[name], **state)
    assert not logged() and w.last_error is None and not w.status.startswith("⚠")
    for n, v in before.items():
        assert getattr(w, n) == v and w.controls[n].value == v
    assert w.controls["label"].value == FOREGROUND and w.controls["object"].value == str(w.label - 1)


@pytest.mark.parametrize("value", [0.1, 0.0, -3, 1e6, float("nan"), float("inf")])
def test_brush_size_out_of_range_is_refused_and_the_slider_agrees(w, value):
    lo, hi = w.brush_size_range
    assert w.controls["brush_size"].min == lo and w.controls["brush_size"].max == hi
    before = w.brush_size
    with pytest.raises((ValueError, traitlets.TraitError), match="brush_size"):
        w.brush_size = value
    assert w.brush_size == before == w.controls["brush_size"].value


def test_every_legal_trait_value_shows_in_the_toolbar(w):
    lo, hi = w.brush_size_range
    for v in (lo, hi, (lo + hi) / 2):
        w.brush_size = v
        assert w.controls["brush_size"].value == v
    for v in (0.0, 255.0, 200.0):
        w.wand_tolerance = v
        assert w.controls["wand_tolerance"].value == v
    w.label = BACKGROUND
    assert w.controls["label"].value == BACKGROUND
    w.label = 4  # object 3
    assert w.controls["label"].value == FOREGROUND and w.controls["object"].value == "3"
    for _ in range(30):  # "]" never pushes the brush past what the slider can show
        send(w, "key_down", key="]", shift_key=False, ctrl_key=False, meta_key=False)
    assert w.brush_size == hi == w.controls["brush_size"].value


def test_a_method_registered_later_shows_in_the_dropdown(w):
    import ipyseg

    ipyseg.register_method("late_method", lambda image, seeds: seeds >= 2, overwrite=True)
    w.method = "late_method"
    assert w.controls["method"].value == "late_method"


def test_valid_toolbar_updates_reach_the_traits(w):
    _update(w.controls["tool"], index=[t for _, t in w.controls["tool"]._options_full].index("box"))
    assert w.tool == "box"
    _update(w.controls["opacity"], value=0.25)
    assert w.opacity == 0.25
    assert np.isclose(w.controls["opacity"].value, 0.25)
