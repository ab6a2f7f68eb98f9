"""The toolbar: ipywidgets controls wired to a ``SegmentWidget``'s traits and methods.

Controls that only mirror a trait are linked both ways. Controls whose change starts a
segmentation (method, undo, redo, clear, ...) call the widget inside ``widget.input.from_ui()``,
so that the segmentation runs in the background and the kernel keeps handling events.
"""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from ipyseg import segmenters
from ipyseg._constants import BACKGROUND, FOREGROUND, MAX_OBJECTS
from ipyseg.ui import shortcuts
from ipyseg.ui.contrast import ContrastControl
from ipyseg.ui.guards import guard_updates
from ipyseg.ui.tools import Tool

_TOOL_BUTTONS = [
    # (description, tool, icon, tooltip): icon-only buttons; the tooltip names the shortcut first
    ("Brush", Tool.BRUSH, "paint-brush", "Brush (d): drag to paint; right-drag paints background"),
    ("Point", Tool.POINT, "dot-circle-o", "Point (c): click to place a point seed"),
    ("Eraser", Tool.ERASER, "eraser", "Eraser (e): drag to erase seeds"),
    ("Box", Tool.BOX, "square-o", "Box (r): drag a box around the object"),
    ("Wand", Tool.WAND, "magic", "Magic wand (w): click a region of similar colour"),
    ("Live-wire", Tool.LIVEWIRE, "scissors", "Live-wire (l): click anchors along edges; double-click or Enter closes"),
    ("Polygon", Tool.POLYGON, "pencil-square-o", "Polygon (p): click vertices; double-click or Enter closes"),
    ("Pan", Tool.PAN, "arrows", "Pan (h): drag to move the zoomed view; ctrl/⌘ + wheel or pinch zooms"),
    (
        "Pick",
        Tool.PICK,
        "hand-pointer-o",
        "Pick (v): click an object to select it; shift-click merges it into the current one",
    ),
    ("Split", Tool.SPLIT, "chain-broken", "Split (k): drag a line across an object to cut it in two"),
]

#: Most entries the object box suggests (ids around the current one, then named objects).
MAX_SUGGESTIONS = 100


def object_text(k: int, names: dict) -> str:
    """How object ``k`` shows in the object box: ``"3"`` or ``"3: cat"``."""
    return f"{k}: {names[k]}" if k in names else str(k)


def object_suggestions(ids: list, names: dict, current: int) -> list[str]:
    """The object box's suggestions: the ids nearest ``current`` and the named objects, in id order."""
    near = sorted(ids, key=lambda k: (abs(k - current), k))[: MAX_SUGGESTIONS // 2]
    named = [k for k in sorted(names) if k not in near][: MAX_SUGGESTIONS - len(near)]
    return [object_text(k, names) for k in sorted(set(near) | set(named))]


def find_object(text, names: dict) -> int | None:
    """The object id typed into the object box: ``"12"``, ``"12: cat"``, or a name (exact, then the
    first containing it, case-insensitive); ``None`` if nothing matches.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    head = text.split(":", 1)[0].strip()
    if head.isdigit():
        k = int(head)
        return k if 1 <= k <= MAX_OBJECTS else None
    low = text.lower()
    for match in (lambda n: n.lower() == low, lambda n: low in n.lower()):
        found = [k for k in sorted(names) if match(str(names[k]))]
        if found:
            return found[0]
    return None


#: Tools whose footprint is the brush size (its slider shows while one of them is active).
BRUSH_TOOLS = (Tool.BRUSH.value, Tool.ERASER.value)


class Toolbar:
    """Builds the controls for ``widget`` and keeps them in sync with it.

    Attributes
    ----------
    box : ipywidgets.VBox
        The toolbar rows.
    controls : dict
        ``label``, ``object``, ``class``, ``tool``, ``brush_size``, ``method``, ``opacity``,
        ``overlay_mode``, ``show_seeds``, ``wand_tolerance`` widgets.
    buttons : dict
        ``undo``, ``redo``, ``clear``, ``new_object``, ``delete_object``, ``propose``, ``zoom_in``,
        ``zoom_out``, ``fit``.
    contrast : ipyseg.ui.contrast.ContrastControl
        Channel, display range, *Auto* and gamma (its row is hidden for 8-bit RGB photos).
    """

    def __init__(self, widget):
        self.widget = w = widget
        self._refreshing = False
        lay = widgets.Layout
        size_min, size_max = w.brush_size_range
        c = self.controls = {
            "label": widgets.ToggleButtons(
                options=[("Foreground", FOREGROUND), ("Background", BACKGROUND)],
                value=FOREGROUND,
                tooltips=["Foreground (f): paint the current object", "Background (b, 0): paint background"],
                style={"button_width": "90px"},
            ),
            "object": widgets.Combobox(  # type an id or a name: no list of thousands of entries
                value="1",
                options=["1"],
                placeholder="object",
                ensure_option=False,
                continuous_update=False,
                tooltip="Object: the one the brush paints; type its id or name, Enter (1-9 select, n new, v pick)",
                layout=lay(width="70px"),
            ),
            "class": widgets.Dropdown(  # the current object's class; shown when `w.classes` is set
                options=[],
                value=None,
                description="Class",
                layout=lay(width="170px", display="none"),
                style={"description_width": "40px"},
            ),
            "tool": widgets.ToggleButtons(
                options=[(d, t.value) for d, t, _, _ in _TOOL_BUTTONS],
                icons=[i for _, _, i, _ in _TOOL_BUTTONS],
                tooltips=[tip for _, _, _, tip in _TOOL_BUTTONS],
                style={"button_width": "28px"},
            ),
            "method": widgets.Dropdown(
                options=self._methods(),
                description="Method",
                layout=lay(width="176px"),
                style={"description_width": "initial"},
            ),
            "brush_size": widgets.FloatSlider(
                min=size_min,
                max=size_max,
                step=1,
                description="Brush",
                tooltip="Brush diameter in image pixels ([ smaller, ] larger)",
                readout_format=".0f",
                layout=lay(width="184px"),
                style={"description_width": "initial"},
            ),
            "opacity": widgets.FloatSlider(
                min=0,
                max=1,
                step=0.05,
                description="Opacity",
                readout_format=".2f",
                layout=lay(width="164px"),
                style={"description_width": "initial"},
            ),
            "overlay_mode": widgets.Dropdown(
                options=["filled", "contour", "hidden"],
                description="Overlay",
                tooltip="Overlay: filled, contour or hidden (o)",
                layout=lay(width="150px"),
                style={"description_width": "initial"},
            ),
            "show_seeds": widgets.Checkbox(
                description="Seeds", tooltip="Show the seeds (s)", indent=False, layout=lay(width="62px")
            ),
            "wand_tolerance": widgets.FloatSlider(
                min=0,
                max=255,
                step=1,
                description="Wand tol.",
                tooltip="Magic wand tolerance (per channel)",
                readout_format=".0f",
                layout=lay(width="196px"),
                style={"description_width": "initial"},
            ),
        }
        btn = widgets.Button

        def icon_button(icon, tooltip, description=""):
            b = btn(description=description, icon=icon, tooltip=tooltip, layout=lay(width="30px"))
            b.add_class("ipyseg-icon")
            return b

        b = self.buttons = {
            "undo": icon_button("undo", "Undo (ctrl+z)"),
            "redo": icon_button("repeat", "Redo (ctrl+shift+z, ctrl+y)"),
            "clear": icon_button("trash", "Clear: remove all seeds", "Clear"),
            "new_object": icon_button("plus", "New object (n)"),
            "delete_object": icon_button("minus", "Delete the current object (Delete)"),
            "propose": icon_button("th", "Propose objects (i): blobs of about 20 px, each an object to correct"),
            "zoom_in": icon_button("search-plus", "Zoom in (+, ctrl/⌘ + wheel)"),
            "zoom_out": icon_button("search-minus", "Zoom out (-, ctrl/⌘ + wheel)"),
            "fit": icon_button("expand", "Fit the whole image (Home)"),
        }
        c["tool"].add_class("ipyseg-icons")

        for control in (*c.values(), *b.values()):
            guard_updates(control)
        # One source of truth: the widget's traits. A control shows its trait; a value from the
        # page that the trait refuses (None from a cleared selection, NaN from a slider, ...)
        # is dropped and the control shows the trait again.
        for name in ("tool", "brush_size", "opacity", "overlay_mode", "show_seeds", "wand_tolerance", "method"):
            self._bind(name)
        c["label"].observe(self._label_picked, "value")
        c["object"].observe(self._object_picked, "value")
        c["class"].observe(self._class_picked, "value")
        w.observe(self.sync_label, "label")

        def ui(fn):
            def handler(_):
                with w.input.from_ui():
                    fn()

            return handler

        b["undo"].on_click(ui(w.undo))
        b["redo"].on_click(ui(w.redo))
        b["clear"].on_click(ui(w.clear))
        b["new_object"].on_click(ui(w.new_object))
        b["delete_object"].on_click(ui(lambda: w.editor.delete(w.object_code - 1)))
        b["propose"].on_click(ui(lambda: shortcuts.propose_from_ui(w)))
        b["zoom_in"].on_click(ui(lambda: w.zoom_by(2.0)))
        b["zoom_out"].on_click(ui(lambda: w.zoom_by(0.5)))
        b["fit"].on_click(ui(w.reset_view))

        def sep():
            return widgets.Box(layout=lay(width="1px")).add_class("ipyseg-sep")

        row1 = widgets.HBox(
            [c["label"], c["object"], b["new_object"], c["class"], sep(), c["tool"], sep()]
            + [b["undo"], b["redo"], b["clear"], sep(), b["zoom_out"], b["zoom_in"], b["fit"]]
        )
        # The last slot holds the current tool's option (brush size, wand tolerance), as in
        # napari's layer controls: the row stays short and shows what applies.
        row2 = widgets.HBox(
            [
                b["delete_object"],
                b["propose"],
                c["method"],
                c["opacity"],
                c["overlay_mode"],
                c["show_seeds"],
                sep(),
                c["brush_size"],
                c["wand_tolerance"],
            ]
        )
        self.contrast = ContrastControl(w)  # display range and gamma (contrast.py); hidden for 8-bit photos
        self.box = widgets.VBox([row1, row2, self.contrast.box])
        self.box.add_class("ipyseg-toolbar")
        w.observe(self._show_tool_options, "tool")
        self._show_tool_options()

    # ------------------------------------------------------------ syncing
    def _bind(self, name: str) -> None:
        """Keep ``controls[name].value`` equal to the widget's trait ``name``, both ways."""
        w, control = self.widget, self.controls[name]
        control.value = getattr(w, name)

        def to_control(change):
            self._refreshing = True
            try:
                if name == "method" and change.new not in control.options:  # registered after we were built
                    control.options = self._methods()
                control.value = change.new
            finally:
                self._refreshing = False
            if control.value != change.new:  # cannot happen while ranges agree; never leave them apart
                raise AssertionError(f"toolbar control {name!r} cannot show {change.new!r}")

        def to_widget(change):
            if self._refreshing or change.new == getattr(w, name):
                return
            try:
                if name == "method":  # a method change segments: in the background, errors shown
                    if isinstance(change.new, str) and change.new in control.options:  # not None from the page
                        with w.input.from_ui():
                            w.method = change.new
                else:
                    setattr(w, name, change.new)
            except (traitlets.TraitError, ValueError, TypeError):
                pass
            if control.value != getattr(w, name):
                self._refreshing = True
                try:
                    control.value = getattr(w, name)
                finally:
                    self._refreshing = False

        w.observe(to_control, name)
        control.observe(to_widget, "value")

    def refresh_objects(self) -> None:
        """Show the current object in the object box, with the ids around it and the named ones as
        its suggestions (at most :data:`MAX_SUGGESTIONS`, however many objects there are).
        """
        w = self.widget
        box = self.controls["object"]
        options = object_suggestions(w.objects(), w.object_names, w.object_code - 1)
        self._refreshing = True
        try:
            if list(box.options) != options:
                box.options = options
            box.value = object_text(w.object_code - 1, w.object_names)
            self._refresh_class()
        finally:
            self._refreshing = False

    def _refresh_class(self) -> None:
        w, dd = self.widget, self.controls["class"]
        if list(dd.options) != list(w.classes):
            dd.options = list(w.classes)
        dd.layout.display = None if w.classes else "none"
        current = w.object_classes.get(w.object_code - 1)
        dd.value = current if current in w.classes else None

    def _class_picked(self, change):
        w = self.widget
        if self._refreshing or change.new is None:
            return
        k = w.object_code - 1
        if w.object_classes.get(k) != change.new:
            w.object_classes = {**w.object_classes, k: change.new}

    def _show_tool_options(self, change=None) -> None:
        tool = self.widget.tool
        c = self.controls
        c["brush_size"].layout.display = None if tool in BRUSH_TOOLS else "none"
        c["wand_tolerance"].layout.display = None if tool == Tool.WAND else "none"

    def sync_label(self, change=None) -> None:
        """Show the widget's current object (``label``) in the object chooser."""
        w = self.widget
        self._refreshing = True
        try:
            self.controls["label"].value = BACKGROUND if w.label == BACKGROUND else FOREGROUND
        finally:
            self._refreshing = False
        self.refresh_objects()

    def _label_picked(self, change):
        if self._refreshing:
            return
        w = self.widget
        if change.new is None:  # nothing selected: show the widget's label again
            self.sync_label()
            return
        code = BACKGROUND if change.new == BACKGROUND else w.object_code
        if code != w.label:
            w.label = code

    def _object_picked(self, change):
        if self._refreshing:
            return
        w = self.widget
        k = find_object(change.new, w.object_names)
        if k is None:
            if isinstance(change.new, str) and change.new.strip():
                w.controller.show_status(f"no object {change.new.strip()!r}: type an id (1-{MAX_OBJECTS}) or a name")
            self.refresh_objects()
        elif k + 1 != w.label:
            w.label = k + 1
        else:
            self.refresh_objects()  # e.g. "3" typed for "3: cat"

    def _methods(self) -> list[str]:
        """The dropdown's methods: those runnable on defaults, plus those given to this widget.

        A method with a required parameter (``sam`` and its ``model``) stays listed once used, so
        that one can switch back to it.
        """
        names = segmenters.available()
        used = [m for m in (self.widget.method, *self.widget.params_by_method) if m and m not in names]
        return names + sorted(set(used))
