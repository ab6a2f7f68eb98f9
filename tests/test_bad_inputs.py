"""The bad-input table: every public entry point refuses bad values with an error that names them.

Each :class:`Case` is one call with one bad argument. The test checks the exception type and
that the message names the argument; the module then writes every case and the message a user
sees to ``docs/bad_inputs.md``. To add a row, append a ``Case`` to ``CASES``: ``run`` receives
a :class:`Context` (``c.image``, ``c.seeds``, a fresh small widget ``c.w``, files under the
working folder) and must raise.

Regenerate the table: ``python -m pytest tests/test_bad_inputs.py``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ipyseg
from ipyseg import Param
from ipyseg.export import from_coco_rle, save_png, to_coco_rle, to_polygons

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md"
NAN = float("nan")


@dataclass(frozen=True)
class Case:
    """One bad call: ``call`` and ``value`` as shown in the table, ``argument`` the name the message must contain."""

    call: str
    argument: str
    value: str
    run: Callable[[Context], object]
    error: type[BaseException]


class Context:
    """What a case can use. Files live in the current folder (the test's temporary folder)."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.image = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
        self.seeds = np.zeros((30, 40), np.uint8)
        self.seeds[15, 20] = 2
        self._widget = None
        self._annotator = None

    @property
    def w(self) -> ipyseg.SegmentWidget:
        if self._widget is None:
            self._widget = ipyseg.SegmentWidget(self.image, max_display_pixels=40 * 30)
        return self._widget

    @property
    def annotator(self) -> ipyseg.Annotator:
        if self._annotator is None:
            self._annotator = ipyseg.Annotator("photos_ok", out="annotations")
        return self._annotator

    def close(self):
        if self._widget is not None:
            self._widget.close()
        if self._annotator is not None:
            self._annotator.close()

    @staticmethod
    def make_files():
        os.makedirs("photos", exist_ok=True)
        Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save("big.png")
        pages = [Image.fromarray(np.full((30, 40), v, np.uint8)) for v in (0, 255)]
        pages[0].save("stack.tif", save_all=True, append_images=pages[1:])
        Path("notes.txt").write_text("not an image")
        os.makedirs("photos_ok", exist_ok=True)
        Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save("photos_ok/a.png")


def _bomb(c):
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 4000  # big.png has 10,000 pixels: more than twice the limit
    try:
        return ipyseg.segment("big.png", c.seeds)
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _plugin(image, seeds, *, radius: float = 2.0):
    return seeds >= 2


def _bad_plugin(value):
    def labels_plugin(image, seeds):
        out = np.zeros(seeds.shape, np.int32)
        out[0, 0] = value
        return out

    return labels_plugin


def _run_bad_plugin(c, value):
    ipyseg.register_method("bad_labels", _bad_plugin(value), overwrite=True)
    try:
        return ipyseg.segment(c.image, c.seeds, "bad_labels")
    finally:
        from ipyseg import segmenters

        segmenters.unregister("bad_labels")


def _closed(c):
    c.w.close()
    return c.w


def _set(attr, value):
    return lambda c: setattr(c.w, attr, value)


S = "segment(image, seeds, ...)"
W = "SegmentWidget(image, ...)"

CASES: list[Case] = [
    # ---- segment(): image
    Case(S, "image", "None", lambda c: ipyseg.segment(None, c.seeds), TypeError),
    Case(S, "image", "np.zeros((1, 5))", lambda c: ipyseg.segment(np.zeros((1, 5)), c.seeds), ValueError),
    Case(
        S,
        "image",
        "np.zeros((4, 30, 40, 3)) (a stack)",
        lambda c: ipyseg.segment(np.zeros((4, 30, 40, 3)), c.seeds),
        ValueError,
    ),
    Case(S, "channels", "[7] (3 channels)", lambda c: ipyseg.segment(c.image, c.seeds, channels=[7]), ValueError),
    Case(S, "display_range", "(5, 5)", lambda c: ipyseg.segment(c.image, c.seeds, display_range=(5, 5)), ValueError),
    Case(S, "gamma", "0", lambda c: ipyseg.segment(c.image, c.seeds, gamma=0), ValueError),
    Case(S, "image", "NaN pixels", lambda c: ipyseg.segment(np.full((30, 40), NAN), c.seeds), ValueError),
    Case(S, "image", "np.zeros((30, 40, 2))", lambda c: ipyseg.segment(np.zeros((30, 40, 2)), c.seeds), ValueError),
    Case(S, "image", "'missing.jpg'", lambda c: ipyseg.segment("missing.jpg", c.seeds), FileNotFoundError),
    Case(S, "image", "'photos' (a folder)", lambda c: ipyseg.segment("photos", c.seeds), IsADirectoryError),
    Case(
        S,
        "image",
        "'https://example.com/cat.jpg'",
        lambda c: ipyseg.segment("https://example.com/cat.jpg", c.seeds),
        ValueError,
    ),
    Case(S, "image", "'notes.txt'", lambda c: ipyseg.segment("notes.txt", c.seeds), ValueError),
    Case(S, "image", "'stack.tif' (2 pages)", lambda c: ipyseg.segment("stack.tif", c.seeds), ValueError),
    Case(S, "image", "'big.png' above PIL.Image.MAX_IMAGE_PIXELS", _bomb, ValueError),
    # ---- segment(): seeds, method, prior
    Case(S, "seeds", "np.zeros((3, 3))", lambda c: ipyseg.segment(c.image, np.zeros((3, 3))), ValueError),
    Case(S, "seeds", "codes with -1", lambda c: ipyseg.segment(c.image, c.seeds.astype(int) - 1), ValueError),
    Case(S, "seeds", "codes 2.5", lambda c: ipyseg.segment(c.image, c.seeds + 0.5), ValueError),
    Case(S, "seeds", "'abc'", lambda c: ipyseg.segment(c.image, "abc"), TypeError),
    Case(S, "method", "'nope'", lambda c: ipyseg.segment(c.image, c.seeds, "nope"), ValueError),
    Case(
        S, "prior", "np.zeros((3, 3))", lambda c: ipyseg.segment(c.image, c.seeds, prior=np.zeros((3, 3))), ValueError
    ),
    Case(
        S,
        "prior",
        "labels with -1",
        lambda c: ipyseg.segment(c.image, c.seeds, prior=np.full((30, 40), -1)),
        ValueError,
    ),
    # ---- segment(): method parameters
    Case(S, "smoothness", "nan", lambda c: ipyseg.segment(c.image, c.seeds, smoothness=NAN), ValueError),
    Case(S, "smoothness", "None", lambda c: ipyseg.segment(c.image, c.seeds, smoothness=None), TypeError),
    Case(S, "smoothness", "-1", lambda c: ipyseg.segment(c.image, c.seeds, smoothness=-1), ValueError),
    Case(S, "click_weight", "inf", lambda c: ipyseg.segment(c.image, c.seeds, click_weight=math.inf), ValueError),
    Case(S, "click_sigma", "nan", lambda c: ipyseg.segment(c.image, c.seeds, click_sigma=NAN), ValueError),
    Case(S, "iterations", "2.7", lambda c: ipyseg.segment(c.image, c.seeds, iterations=2.7), TypeError),
    Case(S, "iterations", "0", lambda c: ipyseg.segment(c.image, c.seeds, iterations=0), ValueError),
    Case(S, "clean", "'yes'", lambda c: ipyseg.segment(c.image, c.seeds, clean="yes"), TypeError),
    Case(S, "coarse_pixels", "'x'", lambda c: ipyseg.segment(c.image, c.seeds, coarse_pixels="x"), TypeError),
    Case(S, "band", "0", lambda c: ipyseg.segment(c.image, c.seeds, band=0), ValueError),
    Case(S, "border", "0.9", lambda c: ipyseg.segment(c.image, c.seeds, border=0.9), ValueError),
    Case(S, "colour", "'red' (unknown name)", lambda c: ipyseg.segment(c.image, c.seeds, colour="red"), TypeError),
    Case(
        S + ' with "grabcut"',
        "iterations",
        "10**9",
        lambda c: ipyseg.segment(c.image, c.seeds, "grabcut", iterations=10**9),
        ValueError,
    ),
    Case(
        S + ' with "watershed"',
        "blur",
        "1e6",
        lambda c: ipyseg.segment(c.image, c.seeds, "watershed", blur=1e6),
        ValueError,
    ),
    Case(
        S + ' with "watershed"',
        "border_prior",
        "1",
        lambda c: ipyseg.segment(c.image, c.seeds, "watershed", border_prior=1),
        TypeError,
    ),
    Case("a plug-in's labels", "labels_plugin", "label -1", lambda c: _run_bad_plugin(c, -1), ValueError),
    Case("a plug-in's labels", "labels_plugin", "label 65535", lambda c: _run_bad_plugin(c, 65535), ValueError),
    # ---- SegmentWidget(...)
    Case(W, "image", "5", lambda c: ipyseg.SegmentWidget(5), TypeError),
    Case(W, "method", "'nope'", lambda c: ipyseg.SegmentWidget(c.image, method="nope"), ValueError),
    Case(W, "smoothness", "None", lambda c: ipyseg.SegmentWidget(c.image, smoothness=None), TypeError),
    Case(W, "iterations", "2.7", lambda c: ipyseg.SegmentWidget(c.image, iterations=2.7), TypeError),
    Case(W, "max_display_pixels", "0", lambda c: ipyseg.SegmentWidget(c.image, max_display_pixels=0), ValueError),
    # ---- widget traits
    Case(
        "w.params = ...", "coarse_pixels", "{'coarse_pixels': 'x'}", _set("params", {"coarse_pixels": "x"}), TypeError
    ),
    Case("w.params = ...", "smoothness", "{'smoothness': nan}", _set("params", {"smoothness": NAN}), ValueError),
    Case("w.params = ...", "colour", "{'colour': 1}", _set("params", {"colour": 1}), TypeError),
    Case("w.method = ...", "method", "'nope'", _set("method", "nope"), ValueError),
    Case("w.label = ...", "label", "0", _set("label", 0), ValueError),
    Case("w.brush_size = ...", "brush_size", "-1", _set("brush_size", -1), ValueError),
    Case("w.brush_size = ...", "brush_size", "nan", _set("brush_size", NAN), ValueError),
    Case("w.opacity = ...", "opacity", "2", _set("opacity", 2.0), ValueError),
    Case("w.tool = ...", "tool", "'nope'", _set("tool", "nope"), ValueError),
    Case("w.overlay_mode = ...", "overlay_mode", "'nope'", _set("overlay_mode", "nope"), ValueError),
    Case("w.wand_connectivity = ...", "wand_connectivity", "5", _set("wand_connectivity", 5), ValueError),
    Case("w.seeds = ...", "seeds", "np.zeros((3, 3))", _set("seeds", np.zeros((3, 3), np.uint8)), ValueError),
    # ---- widget methods
    Case("w.paint(points, ...)", "points", "[(nan, 1)]", lambda c: c.w.paint([(NAN, 1)]), ValueError),
    Case("w.paint(points, radius=...)", "radius", "-1", lambda c: c.w.paint([(1, 1)], radius=-1), ValueError),
    Case("w.paint(points, label=...)", "label", "65536", lambda c: c.w.paint([(1, 1)], label=65536), ValueError),
    Case("w.click(x, y, label=...)", "label", "'x'", lambda c: c.w.click(1, 1, label="x"), TypeError),
    Case("w.paint_box(box)", "box", "(-50, -50, -10, -10)", lambda c: c.w.paint_box((-50, -50, -10, -10)), ValueError),
    Case("w.paint_box(box, obj=...)", "obj", "0", lambda c: c.w.paint_box((1, 2, 10, 10), obj=0), ValueError),
    Case(
        "w.load_mask(mask_or_path)",
        "mask_or_path",
        "np.zeros((3, 3), bool)",
        lambda c: c.w.load_mask(np.zeros((3, 3), bool)),
        ValueError,
    ),
    Case(
        "w.load_mask(mask_or_path)",
        "mask_or_path",
        "'photos' (a folder)",
        lambda c: c.w.load_mask("photos"),
        IsADirectoryError,
    ),
    Case("w.fill(mask)", "mask", "np.zeros((3, 3), bool)", lambda c: c.w.fill(np.zeros((3, 3), bool)), ValueError),
    Case("w.polygon(points)", "points", "two vertices", lambda c: c.w.polygon([(1, 1), (2, 2)]), ValueError),
    Case("w.save_mask(path)", "path", "'mask.jpg'", lambda c: c.w.save_mask("mask.jpg"), ValueError),
    Case("w.brush_size = ...", "brush_size", "1e6 (beyond the slider)", _set("brush_size", 1e6), ValueError),
    Case("w.opacity = ...", "opacity", "nan", _set("opacity", NAN), ValueError),
    Case("w.wand_tolerance = ...", "wand_tolerance", "300", _set("wand_tolerance", 300.0), ValueError),
    Case("w.object_names = ...", "object_names", "{0: 'bg'}", _set("object_names", {0: "bg"}), ValueError),
    Case("w.click(x, y)", "x, y", "('12', 3)", lambda c: c.w.click("12", 3), TypeError),
    Case(
        "w.livewire(anchors, obj=...)", "obj", "0", lambda c: c.w.livewire([(1, 1), (9, 1), (9, 9)], obj=0), ValueError
    ),
    Case("w.paint_box(box, obj=...)", "obj", "True", lambda c: c.w.paint_box((1, 2, 10, 10), obj=True), TypeError),
    Case(
        "w.paint(...) after w.close()",
        "SegmentWidget",
        "a closed widget",
        lambda c: _closed(c).paint([(1, 1)]),
        RuntimeError,
    ),
    Case(
        "w.seeds = ... after w.close()",
        "SegmentWidget",
        "a closed widget",
        lambda c: setattr(_closed(c), "seeds", c.seeds),
        RuntimeError,
    ),
    # ---- register_method, Param
    Case("register_method(name, func)", "name", "''", lambda c: ipyseg.register_method("", _plugin), TypeError),
    Case("register_method(name, func)", "func", "42", lambda c: ipyseg.register_method("p", 42), TypeError),
    Case(
        "register_method(..., params=...)",
        "params",
        "{'colour': float}",
        lambda c: ipyseg.register_method("p", _plugin, params={"colour": float}),
        ValueError,
    ),
    Case(
        "register_method(..., params=...)",
        "params",
        "{'radius': 'float'}",
        lambda c: ipyseg.register_method("p", _plugin, params={"radius": "float"}),
        TypeError,
    ),
    Case(
        "register_method(..., params=...)",
        "params",
        "{'radius': Param(float, 5, 10)} (default 2.0)",
        lambda c: ipyseg.register_method("p", _plugin, params={"radius": Param(float, 5, 10)}),
        ValueError,
    ),
    Case(
        "register_method(name, func)",
        "name",
        "'grabcut' (taken)",
        lambda c: ipyseg.register_method("grabcut", _plugin),
        ValueError,
    ),
    Case("Param(kind, lo, hi)", "lo", "lo=5, hi=1", lambda c: Param(int, 5, 1), ValueError),
    Case("Param(kind)", "kind", "list", lambda c: Param(list), TypeError),
    # ---- export
    Case("export.to_coco_rle(mask)", "mask", "np.zeros(5)", lambda c: to_coco_rle(np.zeros(5)), ValueError),
    Case("export.from_coco_rle(rle)", "rle", "{}", lambda c: from_coco_rle({}), TypeError),
    Case(
        "export.from_coco_rle(rle)",
        "rle",
        "counts summing to 2 for size [2, 2]",
        lambda c: from_coco_rle({"size": [2, 2], "counts": [1, 1]}),
        ValueError,
    ),
    Case(
        "export.from_coco_rle(rle)",
        "rle",
        "compressed counts 'abc'",
        lambda c: from_coco_rle({"size": [2, 2], "counts": "abc"}),
        ValueError,
    ),
    Case(
        "export.to_polygons(mask, tolerance=...)",
        "tolerance",
        "nan",
        lambda c: to_polygons(np.ones((4, 4)), tolerance=NAN),
        ValueError,
    ),
    Case(
        "export.to_polygons(mask, min_area=...)",
        "min_area",
        "'1'",
        lambda c: to_polygons(np.ones((4, 4)), min_area="1"),
        TypeError,
    ),
    Case(
        "export.save_png(arr, path)",
        "path",
        "'mask.jpg'",
        lambda c: save_png(np.zeros((4, 4), np.uint8), "mask.jpg"),
        ValueError,
    ),
    Case(
        "export.save_png(arr, path)",
        "path",
        "'nowhere/mask.png'",
        lambda c: save_png(np.zeros((4, 4), np.uint8), "nowhere/mask.png"),
        FileNotFoundError,
    ),
    Case(
        "export.save_png(arr, path)",
        "arr",
        "values up to 300",
        lambda c: save_png(np.full((4, 4), 300), "mask.png"),
        ValueError,
    ),
    Case(
        "ipyseg.Annotator(source, out=...)",
        "out",
        "'big.png' (a file)",
        lambda c: _annotator(out="big.png"),
        ValueError,
    ),
    Case(
        "ipyseg.Annotator(..., carry_over=...)",
        "carry_over",
        "'yes'",
        lambda c: _annotator(carry_over="yes"),
        TypeError,
    ),
    Case(
        "ipyseg.Annotator(..., max_display_pixels=...)",
        "max_display_pixels",
        "-1",
        lambda c: _annotator(max_display_pixels=-1),
        ValueError,
    ),
    Case("a.mark_done(advance=...)", "advance", "'no'", lambda c: c.annotator.mark_done(advance="no"), TypeError),
    Case(
        "a.save_labels(folder, suffix=...)",
        "suffix",
        "'png'",
        lambda c: c.annotator.save_labels(".", suffix="png"),
        ValueError,
    ),
    Case(
        "a.save_labels(folder, statuses=...)",
        "statuses",
        "None",
        lambda c: c.annotator.save_labels(".", statuses=None),
        TypeError,
    ),
    Case("ipyseg.Annotator(..., mode=...)", "mode", "'reviewer'", lambda c: _annotator(mode="reviewer"), ValueError),
    Case("ipyseg.Annotator(..., user=...)", "user", "'  '", lambda c: _annotator(user="  "), ValueError),
    Case("a.reject(comment)", "comment", "''", lambda c: c.annotator.reject(""), ValueError),
    Case("a.run(task)", "task", "'train'", lambda c: c.annotator.run("train"), ValueError),
    Case("a.run(task, items=...)", "items", "[99]", lambda c: c.annotator.run("segment", items=[99]), ValueError),
    Case("a.run('embed', model=...)", "model", "None", lambda c: c.annotator.run("embed"), TypeError),
    Case("w.gamma = ...", "gamma", "True", lambda c: setattr(c.w, "gamma", True), TypeError),
    Case("w.method = ...", "method", "'sam' (no model)", lambda c: setattr(c.w, "method", "sam"), TypeError),
    Case("w.display_range = ...", "display_range", "(-1e308, 1e308)", lambda c: _wide_range(c), ValueError),
    Case(
        "SegmentWidget(image)",
        "image",
        "masked array with NaN",
        lambda c: ipyseg.SegmentWidget(_masked_nan()),
        ValueError,
    ),
    Case(
        "SegmentWidget(image, channel_axis=-1)",
        "image",
        "shape (30, 40, 0)",
        lambda c: ipyseg.SegmentWidget(np.zeros((30, 40, 0), np.uint16), channel_axis=-1),
        ValueError,
    ),
]


def _annotator(**kw):
    kw.setdefault("out", "annotations")
    a = ipyseg.Annotator("photos_ok", **kw)
    a.close()
    return a


def _wide_range(c):
    w = ipyseg.SegmentWidget(np.linspace(0, 1, 1200).reshape(30, 40))
    try:
        w.display_range = (-1e308, 1e308)
    finally:
        w.close()


def _masked_nan():
    data = np.linspace(0.0, 1.0, 1200).reshape(30, 40)
    data[3, 3] = np.nan
    return np.ma.masked_invalid(data)


_OUTCOMES: dict[int, str] = {}  # case index -> "Type: message", for the table


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Context.make_files()
    return tmp_path


def _outcome(case: Case) -> BaseException:
    ctx = Context()
    try:
        with pytest.raises(case.error) as info:
            case.run(ctx)
    finally:
        ctx.close()
    return info.value


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c.argument}={c.value}" for c in CASES])
def test_bad_input_is_refused_with_a_message_naming_it(workdir, index):
    case = CASES[index]
    err = _outcome(case)
    message = str(err)
    assert case.argument in message, f"{case.call}: the message does not name `{case.argument}`: {message}"
    _OUTCOMES[index] = f"{type(err).__name__}: {message}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def test_write_the_table(workdir):
    for index, case in enumerate(CASES):
        if index not in _OUTCOMES:  # e.g. when run with -k
            err = _outcome(case)
            _OUTCOMES[index] = f"{type(err).__name__}: {err}"
    assert len(CASES) >= 30
    lines = [
        "# Bad inputs and what happens",
        "",
        "Generated by `tests/test_bad_inputs.py` (do not edit by hand); regenerate with",
        "`python -m pytest tests/test_bad_inputs.py`. Each row is one call with one bad argument;",
        "the test checks the exception type and that the message names the argument.",
        "",
        "| call | argument | value | what happens |",
        "|---|---|---|---|",
    ]
    for index, case in enumerate(CASES):
        row = (f"`{case.call}`", f"`{case.argument}`", _cell(case.value), _cell(_OUTCOMES[index]))
        lines.append("| " + " | ".join(_cell(x) if i < 2 else x for i, x in enumerate(row)) + " |")
    text = "\n".join(lines) + "\n"
    assert "0x" not in text and str(workdir) not in text  # deterministic: no addresses, no temp paths
    tmp = DOC.with_name(f".{DOC.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, DOC)
    assert DOC.read_text(encoding="utf-8") == text
