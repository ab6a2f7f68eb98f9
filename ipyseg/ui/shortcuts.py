"""Keyboard shortcuts, from the key events ipycanvas sends when the canvas has focus.

``SHORTCUTS`` is the single table: the README's table is generated from the same entries and
every entry has a test. Keys are matched on ``event.key`` (letters case-insensitively);
``ctrl`` means Ctrl or Cmd (meta).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ipyseg._constants import BACKGROUND


@dataclass(frozen=True)
class Shortcut:
    """One keyboard shortcut: the keys shown, what it does, and the callable that does it."""

    keys: tuple  # display form, e.g. ("ctrl+z",)
    action: str
    run: Callable


def _tool(name):
    return lambda w: setattr(w, "tool", name)


def _object(k):
    def run(w):
        w.label = k + 1
        if w.tool == "eraser":
            w.tool = "brush"

    return run


def _label(code_of):
    def run(w):
        w.label = code_of(w)
        if w.tool == "eraser":
            w.tool = "brush"

    return run


def _brush(factor):
    def run(w):
        lo, hi = w.brush_size_range
        w.brush_size = min(hi, max(lo, round(w.brush_size * factor, 1)))

    return run


def _on_current(op):
    """A shortcut that runs an editor operation on the current object."""
    return lambda w: op(w.editor, w.object_code - 1)


def propose_from_ui(w) -> None:
    """Propose objects from the toolbar or the ``i`` key: ``w.propose()``, its expected diameter
    (20 px) capped at the photo's larger side so that a small photo gets proposals, not an error.
    """
    side = max(w.labels.shape)
    if side >= 2:
        w.propose(diameter=min(20.0, float(side)))


def _cycle_overlay(w):
    modes = ["filled", "contour", "hidden"]
    w.overlay_mode = modes[(modes.index(w.overlay_mode) + 1) % len(modes)]


SHORTCUTS = [
    Shortcut(("f",), "paint the current object (foreground)", _label(lambda w: w.object_code)),
    Shortcut(("b", "0"), "paint background (GrabCut sample's `0`)", _label(lambda w: BACKGROUND)),
    Shortcut(
        ("1", "2", "3", "4", "5", "6", "7", "8", "9"), "select object 1-9 (`1` = GrabCut sample's foreground)", None
    ),
    Shortcut(("n",), "new object", lambda w: w.new_object()),
    Shortcut(("d",), "brush tool", _tool("brush")),
    Shortcut(("c",), "point (click) tool", _tool("point")),
    Shortcut(("e",), "eraser", _tool("eraser")),
    Shortcut(("r",), "box (rectangle) tool", _tool("box")),
    Shortcut(("w",), "magic wand", _tool("wand")),
    Shortcut(("l",), "live-wire", _tool("livewire")),
    Shortcut(("p",), "polygon", _tool("polygon")),
    Shortcut(("h",), "pan (hand) tool", _tool("pan")),
    Shortcut(
        ("v",), "pick tool: click an object to select it, shift-click merges it into the current one", _tool("pick")
    ),
    Shortcut(("k",), "split (knife) tool: drag across an object to cut it in two", _tool("split")),
    Shortcut(("Delete", "Backspace"), "delete the current object", _on_current(lambda ed, k: ed.delete(k))),
    Shortcut(
        ("t",), "the current object's class: the next one of `classes`", _on_current(lambda ed, k: ed.next_class(k))
    ),
    Shortcut(("g",), "fill the holes of the current object", _on_current(lambda ed, k: ed.fill_holes(k))),
    Shortcut(("i",), "propose objects (`w.propose()`, blobs of about 20 px)", propose_from_ui),
    Shortcut(("[",), "smaller brush", _brush(1 / 1.25)),
    Shortcut(("]",), "larger brush", _brush(1.25)),
    Shortcut(("ctrl+z",), "undo", lambda w: w.undo()),
    Shortcut(("ctrl+shift+z", "ctrl+y"), "redo", lambda w: w.redo()),
    Shortcut(("+", "="), "zoom in around the pointer", lambda w: w.input.zoom_at_pointer(2.0)),
    Shortcut(("-",), "zoom out around the pointer", lambda w: w.input.zoom_at_pointer(0.5)),
    Shortcut(("Home",), "fit the whole image", lambda w: w.reset_view()),
    Shortcut(("o",), "overlay: filled -> contour -> hidden", _cycle_overlay),
    Shortcut(("s",), "show / hide seeds", lambda w: setattr(w, "show_seeds", not w.show_seeds)),
    Shortcut(("Enter",), "close the polygon / live-wire", None),
    Shortcut(("Escape",), "cancel the current gesture", None),
]


#: The Annotator's keys (handled before the widget's; they must not collide with ``SHORTCUTS``).
ANNOTATOR_SHORTCUTS = [
    Shortcut(("ArrowRight", "."), "Annotator: next image", lambda a: a.next()),
    Shortcut(("ArrowLeft", ","), "Annotator: previous image", lambda a: a.previous()),
    Shortcut(("a",), "Annotator: Done (accept), then the next unfinished image", lambda a: a.mark_done()),
    Shortcut(("x",), "Annotator: Skip, then the next unfinished image", lambda a: a.skip()),
]
ANNOTATOR_TABLE = {combo: sc.run for sc in ANNOTATOR_SHORTCUTS for combo in sc.keys}
#: A reviewer's keys (``Annotator(..., mode="review")``), in place of Done and Skip.
REVIEW_SHORTCUTS = [
    Shortcut(("a",), "Annotator, review mode: Accept (reviewed), then the next done image", lambda a: a.accept()),
    Shortcut(
        ("x",),
        "Annotator, review mode: Reject with the comment typed in the header",
        lambda a: a.reject(a.header.comment.value),
    ),
]
REVIEW_TABLE = {**ANNOTATOR_TABLE, **{combo: sc.run for sc in REVIEW_SHORTCUTS for combo in sc.keys}}


def _build_table() -> dict:
    table = {}
    for sc in SHORTCUTS:
        for combo in sc.keys:
            if sc.run is None and combo.isdigit():
                table[combo] = _object(int(combo))
            elif sc.run is not None:
                table[combo] = sc.run
    return table


_TABLE = _build_table()


def combo_of(key: str, shift: bool, ctrl: bool, meta: bool) -> str:
    """Normalise a key event to the table's form, e.g. ``("Z", True, True, False) -> "ctrl+shift+z"``."""
    k = key.lower() if len(key) == 1 else key
    mods = ("ctrl+" if (ctrl or meta) else "") + ("shift+" if shift and (ctrl or meta) else "")
    return mods + k


def handle_key(widget, key: str, shift: bool, ctrl: bool, meta: bool) -> bool:
    """Run the shortcut for a key event; ``True`` if one matched.

    ``Enter`` and ``Escape`` go to the current tool's gesture (close / cancel).
    """
    if key in ("Enter", "Escape"):
        widget.input.gesture_key(key)
        return True
    run = _TABLE.get(combo_of(key, shift, ctrl, meta))
    if run is None:
        return False
    run(widget)
    return True


def markdown_table() -> str:
    """The shortcut table as Markdown (for the README)."""
    rows = ["| key | action |", "|---|---|"]
    for sc in SHORTCUTS + ANNOTATOR_SHORTCUTS + REVIEW_SHORTCUTS:
        keys = " / ".join(f"`{k}`" for k in sc.keys) if len(sc.keys) < 5 else f"`{sc.keys[0]}`-`{sc.keys[-1]}`"
        rows.append(f"| {keys} | {sc.action} |")
    return "\n".join(rows)
