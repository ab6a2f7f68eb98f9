"""The annotation toolset (issue 6), driven through the real ipycanvas event messages."""

import numpy as np
import pytest
from conftest import disk_scene, drag, iou, overlay_send, send

from ipyseg import BACKGROUND, FOREGROUND, SegmentWidget
from ipyseg.geometry import polygon_footprint
from ipyseg.ui.render import BACKGROUND_COLOR, PALETTE, object_color


def click(w, x, y, button=None, shift=False):
    """A click as the browser reports it: move, press (+ ipyevents' button report), release."""
    send(w, "mouse_move", x, y)
    send(w, "mouse_down", x, y)
    if button is not None or shift:
        w.input.dom_events._handle_mouse_msg(None, {"type": "mousedown", "button": button or 0, "shiftKey": shift}, [])
    send(w, "mouse_up", x, y)


def key(w, k, shift=False, ctrl=False, meta=False):
    send(w, "key_down", key=k, shift_key=shift, ctrl_key=ctrl, meta_key=meta)


def flat_scene():
    """Three flat rectangles on a flat background (no noise): exact wand regions."""
    img = np.zeros((120, 160, 3), np.uint8)
    img[:] = (40, 40, 40)
    img[10:50, 10:70] = (200, 30, 30)
    img[60:110, 20:60] = (30, 200, 30)
    img[30:100, 90:150] = (30, 30, 200)
    return img


@pytest.fixture
def small():
    img, gt = disk_scene(h=160, w=200, seed=3)
    return SegmentWidget(img), gt


def test_box_tool_segments_the_object(small):
    w, gt = small
    w.tool = "box"
    ys, xs = np.nonzero(gt)
    drag(w, [(xs.min() - 8, ys.min() - 8), (xs.max() + 8, ys.max() + 8)])
    assert w.wait(60)
    assert iou(w.mask, gt) >= 0.85
    assert w.document.seed_state.boxes and not w.seeds.any()  # a box is a constraint, not painted seeds
    w.undo()  # the box is one undo step
    assert not w.document.seed_state.boxes and not w.mask.any()


def test_box_then_strokes_refine(small):
    w, gt = small
    ys, xs = np.nonzero(gt)
    w.paint_box((xs.min() - 8, ys.min() - 8, xs.max() + 8, ys.max() + 8))
    before = iou(w.mask, gt)
    cy, cx = int(ys.mean()), int(xs.mean())
    w.paint([(cx - 15, cy), (cx + 15, cy)], radius=3)
    assert iou(w.mask, gt) >= max(0.85, before - 0.02)
    with pytest.raises(ValueError, match="`box`"):
        w.paint_box((-50, -50, -10, -10))


def test_wand_seeds_exactly_the_flat_region():
    w = SegmentWidget(flat_scene(), method="watershed")
    w.tool = "wand"
    click(w, 30, 20)  # inside the red rectangle
    expected = np.zeros((120, 160), bool)
    expected[10:50, 10:70] = True
    assert ((w.seeds == FOREGROUND) == expected).all()
    w.label = BACKGROUND
    click(w, 5, 5)  # the background: everything grey, around the rectangles
    grey = (flat_scene() == 40).all(axis=2)
    assert ((w.seeds == BACKGROUND) == grey).all()
    assert w.undo() and not (w.seeds == BACKGROUND).any()


def test_wand_tolerance_and_connectivity():
    img = np.zeros((20, 20, 3), np.uint8)
    img[:, :10] = 100
    img[:, 10:] = 110
    img[0, 0] = 100
    w = SegmentWidget(img, method="watershed")
    w.wand_tolerance = 5
    w.tool = "wand"
    click(w, 2, 2)
    assert (w.seeds[:, :10] == FOREGROUND).all() and not w.seeds[:, 10:].any()
    w.clear()
    w.wand_tolerance = 20
    click(w, 2, 2)
    assert (w.seeds == FOREGROUND).all()
    diag = np.full((10, 10, 3), 200, np.uint8)
    diag[np.arange(10), np.arange(10)] = 0
    w4 = SegmentWidget(diag, method="watershed")
    w4.wand_connectivity = 4
    w4.tool = "wand"
    click(w4, 0, 0)
    assert (w4.seeds == FOREGROUND).sum() == 1
    w4.wand_connectivity = 8
    click(w4, 0, 0)
    assert (w4.seeds == FOREGROUND).sum() == 10
    with pytest.raises(ValueError, match="`wand_connectivity`"):
        w4.wand_connectivity = 6
    with pytest.raises(ValueError, match="`wand_tolerance`"):
        w4.wand_tolerance = -1


def test_livewire_around_a_disk():
    h, w_ = 200, 240
    yy, xx = np.mgrid[:h, :w_]
    cy, cx, r = 100, 120, 60
    gt = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    img = np.where(gt[..., None], 220, 30).astype(np.uint8).repeat(3, axis=2)
    w = SegmentWidget(img, method="watershed")
    w.tool = "livewire"
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    for a in angles:  # anchors a little off the edge: the path snaps to it
        click(w, cx + (r + 3) * np.cos(a), cy + (r + 3) * np.sin(a))
        send(w, "mouse_move", cx + r * np.cos(a + 0.5), cy + r * np.sin(a + 0.5))
    key(w, "Enter")
    assert w.wait(30)
    assert iou(w.seeds == FOREGROUND, gt) >= 0.9  # the inside becomes the object...
    assert iou(w.mask, gt) >= 0.9  # ...whatever the method (a background halo bounds it)
    assert not w.input.handlers["livewire"].active
    w.undo()  # one undo step
    assert not w.seeds.any()


def test_polygon_seeds_equal_the_rasterised_polygon():
    img, _ = disk_scene(h=120, w=160)
    w = SegmentWidget(img, method="watershed")
    w.tool = "polygon"
    w.label = BACKGROUND
    verts = [(20.5, 10.5), (100.5, 20.5), (80.5, 90.5), (30.5, 70.5)]
    for x, y in verts:
        click(w, x, y)
    assert not w.seeds.any()  # nothing before it is closed
    click(w, 20.5, 10.5)  # on the first vertex: closes
    rc = np.array([w.viewport.canvas_to_image(x, y) for x, y in verts])
    window, fp = polygon_footprint(rc, img.shape)
    expected = np.zeros(img.shape[:2], bool)
    expected[window[0] : window[1], window[2] : window[3]] = fp
    assert ((w.seeds == BACKGROUND) == expected).all()
    # Escape cancels; Enter closes
    for x, y in verts[:3]:
        click(w, x + 2, y + 2)
    key(w, "Escape")
    assert not w.input.handlers["polygon"].active and ((w.seeds == BACKGROUND) == expected).all()


def test_zoomed_strokes_land_at_full_resolution():
    img, gt = disk_scene(h=400, w=600)
    w = SegmentWidget(img, method="watershed", max_display_pixels=150 * 100)  # scale 1/4
    send(w, "mouse_move", 75, 50)
    w.zoom_by(4.0, 75, 50)  # one image pixel = one canvas pixel, centred on (75, 50)
    assert w.zoom == 4.0 and w.viewport.scale == pytest.approx(1.0)
    r, c = w.viewport.canvas_to_image(75, 50)
    assert (r, c) == pytest.approx((199.5, 299.5))  # the point under the pointer stayed put
    w.brush_size = 1  # radius 0.5: a one-pixel line
    drag(w, [(70.5, 40.5), (80.5, 40.5)])
    w.wait(30)
    ys, xs = np.nonzero(w.seeds)
    assert set(ys) == {190} and (xs.min(), xs.max()) == (295, 305)  # (row, col) = (199.5 - 9.5, 299.5 -4.5 .. +5.5)


def test_wheel_zoom_pan_and_reset():
    img, _ = disk_scene(h=400, w=600)
    w = SegmentWidget(img, method="watershed", max_display_pixels=150 * 100)
    send(w, "mouse_move", 30, 20)
    before = w.viewport.canvas_to_image(30, 20)
    send(w, "mouse_wheel", 0, -100)  # a plain wheel scrolls the notebook: never a zoom
    assert w.zoom == 1.0
    overlay_send(w, event="zoom", x=30, y=20, factor=1.25)  # ctrl + wheel, from the overlay
    assert w.zoom == pytest.approx(1.25)
    assert w.viewport.canvas_to_image(30, 20) == pytest.approx(before)
    w.tool = "pan"
    top = w.viewport.top
    drag(w, [(60, 60), (60, 40)])  # drag up: the view moves down the image
    assert w.viewport.top > top
    w.tool = "brush"
    # shift-drag pans too, without painting
    left = w.viewport.left
    send(w, "mouse_move", 60, 60)
    send(w, "mouse_down", 60, 60)
    w.input.dom_events._handle_mouse_msg(None, {"type": "mousedown", "button": 0, "shiftKey": True}, [])
    send(w, "mouse_move", 40, 60)
    send(w, "mouse_up", 40, 60)
    assert w.viewport.left > left and not w.seeds.any()
    w.reset_view()
    assert w.zoom == 1.0 and w.viewport.top == 0


def test_right_button_paints_background(small):
    w, _ = small
    send(w, "mouse_move", 10, 10)
    send(w, "mouse_down", 10, 10)
    w.input.dom_events._handle_mouse_msg(None, {"type": "mousedown", "button": 2}, [])
    send(w, "mouse_move", 50, 10)
    send(w, "mouse_up", 50, 10)
    w.wait(30)
    assert (w.seeds == BACKGROUND).any() and not (w.seeds == FOREGROUND).any()
    assert w.label == FOREGROUND  # the tool's label is unchanged
    w.tool = "point"
    click(w, 100, 100, button=2)
    assert w.seeds[100, 100] == BACKGROUND


def test_three_objects_without_overlap():
    img, _ = disk_scene(h=160, w=200)
    for method in ("watershed", None):
        w = SegmentWidget(img, method=method)
        w.paint([(100, 80), (120, 80)], radius=4)  # object 1 (the disk)
        w.label = BACKGROUND
        w.paint([(5, 5), (195, 5)], radius=2)
        assert w.new_object() == 2 and w.label == 3
        w.paint([(20, 140), (40, 140)], label=w.label, radius=3)
        assert w.new_object() == 3 and w.label == 4
        w.paint([(180, 140), (190, 150)], label=w.label, radius=3)
        w.wait(60)
        assert set(np.unique(w.labels)) == {0, 1, 2, 3}
        for k in (1, 2, 3):
            assert (w.labels[w.seeds == k + 1] == k).all()
        assert w.objects() == [1, 2, 3]


def test_preserve_other_objects(small):
    w, _ = small
    w.paint([(20, 20), (60, 20)], radius=4)
    w.paint([(40, 10), (40, 30)], label=3, radius=4)  # crosses object 1's stroke
    assert w.seeds[20, 40] == FOREGROUND and w.seeds[12, 40] == 3
    w.preserve_objects = False
    w.paint([(40, 10), (40, 30)], label=3, radius=4)
    assert w.seeds[20, 40] == 3
    # background overwrites: it is how mistakes are corrected
    w.paint([(40, 10), (40, 30)], label=BACKGROUND, radius=4)
    assert w.seeds[20, 40] == BACKGROUND


def test_object_names_and_dropdown(small):
    w, _ = small
    w.object_names = {1: "cat", 2: "dog"}
    opts = w.controls["object"].options
    assert "1: cat" in opts and "2: dog" in opts
    w.controls["object"].value = "2: dog"
    assert w.label == 3 and w.controls["object"].value == "2: dog"
    w.controls["object"].value = "CAT"  # a name, any case
    assert w.label == 2
    w.controls["object"].value = "do"  # part of a name
    assert w.label == 3
    w.controls["object"].value = "7"  # an id: a new object
    assert w.label == 8
    w.controls["object"].value = "3"
    w.controls["object"].value = "no such object"
    assert w.label == 4 and w.controls["object"].value == "3" and "no object 'no such object'" in w.status
    w.controls["label"].value = BACKGROUND
    assert w.label == BACKGROUND
    w.controls["label"].value = FOREGROUND
    assert w.label == 4  # back to the current object
    with pytest.raises(ValueError, match="`object_names`"):
        w.object_names = {0: "bad"}


def test_overlay_modes_and_seed_visibility(small):
    w, gt = small
    w.paint([(100, 80), (120, 80)], radius=4)
    filled = w.presenter.overlay_index.copy()
    w.overlay_mode = "contour"
    contour = w.presenter.overlay_index
    assert 0 < (contour > 0).sum() < (filled > 0).sum() / 3
    w.overlay_mode = "hidden"
    assert not w.presenter.overlay_index.any()
    with pytest.raises(ValueError, match="`overlay_mode`"):
        w.overlay_mode = "sparkly"
    sent = []
    orig = w.view.put_png
    w.view.put_png = lambda layer, png, x=0, y=0, **kw: (sent.append(layer), orig(layer, png, x, y, **kw))
    w.show_seeds = False
    assert sent == [w.view.seeds_layer]


def test_palette_has_20_distinguishable_colours_and_neighbouring_ids_stay_apart():
    import cv2

    cols = np.vstack([PALETTE[:24], [BACKGROUND_COLOR]]).astype(np.uint8)
    lab = cv2.cvtColor(cols[None], cv2.COLOR_RGB2Lab)[0].astype(float)
    d = np.sqrt(((lab[:, None] - lab[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 20  # the first 24 objects: all distinct from each other and the background seeds
    # thousands of objects: colours repeat every 254 ids, and any 4 consecutive ids differ clearly
    every = cv2.cvtColor(PALETTE[None].astype(np.uint8), cv2.COLOR_RGB2Lab)[0].astype(float)
    assert len(PALETTE) == 254 and object_color(1) == object_color(255) != object_color(2)
    for i in range(len(every) - 3):
        run = np.vstack([every[i : i + 4]])
        dd = np.sqrt(((run[:, None] - run[None]) ** 2).sum(-1))
        np.fill_diagonal(dd, np.inf)
        assert dd.min() >= 25, i


@pytest.mark.parametrize(
    "combo, check",
    [
        (("f",), lambda w: w.label == 3 and w.tool == "brush"),
        (("b",), lambda w: w.label == BACKGROUND),
        (("0",), lambda w: w.label == BACKGROUND),
        (("4",), lambda w: w.label == 5),
        (("n",), lambda w: w.label == 4),
        (("d",), lambda w: w.tool == "brush"),
        (("c",), lambda w: w.tool == "point"),
        (("e",), lambda w: w.tool == "eraser"),
        (("r",), lambda w: w.tool == "box"),
        (("w",), lambda w: w.tool == "wand"),
        (("l",), lambda w: w.tool == "livewire"),
        (("p",), lambda w: w.tool == "polygon"),
        (("h",), lambda w: w.tool == "pan"),
        (("[",), lambda w: w.brush_size == 8.0),
        (("]",), lambda w: w.brush_size == 12.5),
        (("+",), lambda w: w.zoom == 2.0),
        (("=",), lambda w: w.zoom == 2.0),
        (("o",), lambda w: w.overlay_mode == "contour"),
        (("s",), lambda w: w.show_seeds is False),
    ],
)
def test_shortcut(combo, check):
    img, _ = disk_scene(h=120, w=160)
    w = SegmentWidget(img, method="watershed")
    w.brush_size = 10
    w.label = 3  # current object: 2
    w.tool = "eraser"
    send(w, "mouse_move", 50, 50)
    key(w, *combo)
    assert check(w)


def test_shortcuts_undo_redo_zoom_out_home_enter_escape():
    img, _ = disk_scene(h=120, w=160)
    w = SegmentWidget(img, method="watershed")
    w.paint([(10, 10), (50, 10)], radius=3)
    key(w, "z", ctrl=True)
    assert not w.seeds.any()
    key(w, "Z", shift=True, ctrl=True)
    assert w.seeds.any()
    key(w, "z", meta=True)  # Cmd on a Mac
    key(w, "y", ctrl=True)
    assert w.seeds.any()
    send(w, "mouse_move", 40, 40)
    key(w, "+")
    key(w, "+")
    key(w, "-")
    assert w.zoom == 2.0
    key(w, "Home")
    assert w.zoom == 1.0
    w.tool = "polygon"
    before = w.seeds.copy()
    for x, y in [(60, 60), (100, 60), (100, 100)]:
        click(w, x, y)
    key(w, "Escape")
    assert not w.input.handlers["polygon"].active and (w.seeds == before).all()
    for x, y in [(60, 60), (100, 60), (100, 100)]:
        click(w, x, y)
    key(w, "Enter")
    assert w.seeds[70, 90] == FOREGROUND


def test_readme_documents_every_shortcut():
    from pathlib import Path

    from ipyseg.ui.shortcuts import markdown_table

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert markdown_table() in readme


def test_tool_errors_show_in_status_and_keep_seeds(small, monkeypatch):
    w, _ = small
    w.paint([(20, 20), (60, 20)], radius=4)
    seeds = w.seeds.copy()

    def broken(row, col):
        raise RuntimeError("wand exploded")

    monkeypatch.setattr(w.editor, "wand", broken)
    w.tool = "wand"
    click(w, 100, 100)
    assert "wand exploded" in w.status and isinstance(w.last_error, RuntimeError)
    assert (w.seeds == seeds).all() and not w.input.handlers["wand"].active
    with pytest.raises(ValueError, match="`max_display_pixels`"):
        SegmentWidget(w.image, max_display_pixels=0)
