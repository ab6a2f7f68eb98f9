"""The toolbar: ipywidgets controls wired to a ``SegmentWidget``'s traits and methods.

Controls that only mirror a trait are linked both ways. Controls whose change starts a
segmentation (method, undo, redo, clear, ...) call the widget inside ``widget._from_ui()``,
so that the segmentation runs in the background and the kernel keeps handling events.
"""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from . import segmenters
from ._constants import BACKGROUND, FOREGROUND
from .contrast import ContrastControl
from .tools import Tool

_TOOL_BUTTONS = [
    # (description, tool, icon, tooltip)
    ("Brush", Tool.BRUSH, "paint-brush", "Drag to paint (d)"),
    ("Point", Tool.POINT, "dot-circle-o", "Click to place a point seed (c)"),
    ("Eraser", Tool.ERASER, "eraser", "Drag to erase seeds (e)"),
    ("Box", Tool.BOX, "square-o", "Drag a box around the object (r)"),
    ("Wand", Tool.WAND, "magic", "Click a region of similar colour (w)"),
    ("Live-wire", Tool.LIVEWIRE, "scissors", "Click anchors along edges; double-click or Enter closes (l)"),
    ("Polygon", Tool.POLYGON, "pencil-square-o", "Click vertices; double-click or Enter closes (p)"),
    ("Pan", Tool.PAN, "arrows", "Drag to move the zoomed view (h)"),
]


def _guard_updates(control: widgets.Widget) -> None:
    """Refuse a state update from the page that the control cannot hold, and show its value again.

    ipywidgets validates an update (an index out of range, ``None`` for a checkbox, a string for
    a slider) inside its comm handler and logs the failure as a traceback; the page then shows
    what Python refused. Here such an update is dropped quietly and the control's real state is
    sent back, so page and kernel agree.
    """
    set_state = control.set_state

    def guarded(state):
        try:
            set_state(state)
        except (traitlets.TraitError, ValueError, TypeError, KeyError):
            control.send_state()

    control.set_state = guarded


class Toolbar:
    """Builds the controls for ``widget`` and keeps them in sync with it.

    Attributes
    ----------
    box : ipywidgets.VBox
        The toolbar rows.
    status : ipywidgets.HTML
        The status line.
    controls : dict
        ``label``, ``object``, ``class``, ``tool``, ``brush_size``, ``method``, ``opacity``,
        ``overlay_mode``, ``show_seeds``, ``wand_tolerance`` widgets.
    buttons : dict
        ``undo``, ``redo``, ``clear``, ``new_object``, ``zoom_in``, ``zoom_out``, ``fit``.
    contrast : ipyseg.contrast.ContrastControl
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
                tooltips=["Paint the current object (f)", "Paint background (b)"],
                style={"button_width": "112px"},
            ),
            "object": widgets.Dropdown(
                options=[("1", FOREGROUND)],
                value=FOREGROUND,
                description="Object",
                layout=lay(width="170px"),
                style={"description_width": "48px"},
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
                style={"button_width": "98px"},
            ),
            "method": widgets.Dropdown(options=segmenters.available(), description="Method", layout=lay(width="220px")),
            "brush_size": widgets.FloatSlider(
                min=size_min, max=size_max, step=1, description="Brush", readout_format=".0f", layout=lay(width="250px")
            ),
            "opacity": widgets.FloatSlider(min=0, max=1, step=0.05, description="Opacity", layout=lay(width="230px")),
            "overlay_mode": widgets.Dropdown(
                options=["filled", "contour", "hidden"],
                description="Overlay",
                layout=lay(width="170px"),
                style={"description_width": "52px"},
            ),
            "show_seeds": widgets.Checkbox(description="Seeds", indent=False, layout=lay(width="70px")),
            "wand_tolerance": widgets.FloatSlider(
                min=0, max=255, step=1, description="Wand tol.", readout_format=".0f", layout=lay(width="230px")
            ),
        }
        btn = widgets.Button
        b = self.buttons = {
            "undo": btn(icon="undo", tooltip="Undo (ctrl+z)", layout=lay(width="40px")),
            "redo": btn(icon="repeat", tooltip="Redo (ctrl+shift+z)", layout=lay(width="40px")),
            "clear": btn(description="Clear", icon="trash", tooltip="Remove all seeds", layout=lay(width="80px")),
            "new_object": btn(icon="plus", tooltip="New object (n)", layout=lay(width="40px")),
            "zoom_in": btn(icon="search-plus", tooltip="Zoom in (+)", layout=lay(width="40px")),
            "zoom_out": btn(icon="search-minus", tooltip="Zoom out (-)", layout=lay(width="40px")),
            "fit": btn(icon="expand", tooltip="Fit the whole image (Home)", layout=lay(width="40px")),
        }
        self.status = widgets.HTML(value="")

        for control in (*c.values(), *b.values()):
            _guard_updates(control)
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
                with w._from_ui():
                    fn()

            return handler

        b["undo"].on_click(ui(w.undo))
        b["redo"].on_click(ui(w.redo))
        b["clear"].on_click(ui(w.clear))
        b["new_object"].on_click(ui(w.new_object))
        b["zoom_in"].on_click(ui(lambda: w.zoom_by(2.0)))
        b["zoom_out"].on_click(ui(lambda: w.zoom_by(0.5)))
        b["fit"].on_click(ui(w.reset_view))

        row1 = widgets.HBox([c["label"], c["object"], b["new_object"], c["class"], b["undo"], b["redo"], b["clear"]])
        row2 = widgets.HBox([c["tool"]], layout=lay(flex_flow="row wrap"))
        row3 = widgets.HBox([c["method"], c["brush_size"], c["opacity"]], layout=lay(flex_flow="row wrap"))
        row4 = widgets.HBox(
            [c["overlay_mode"], c["show_seeds"], c["wand_tolerance"], b["zoom_out"], b["zoom_in"], b["fit"]],
            layout=lay(flex_flow="row wrap"),
        )
        self.contrast = ContrastControl(w)  # display range and gamma (contrast.py); hidden for 8-bit photos
        self.box = widgets.VBox([row1, row2, row3, row4, self.contrast.box])

    # ------------------------------------------------------------ syncing
    def _bind(self, name: str) -> None:
        """Keep ``controls[name].value`` equal to the widget's trait ``name``, both ways."""
        w, control = self.widget, self.controls[name]
        control.value = getattr(w, name)

        def to_control(change):
            self._refreshing = True
            try:
                if name == "method" and change.new not in control.options:  # registered after we were built
                    control.options = segmenters.available()
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
                    with w._from_ui():
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
        """Rebuild the object dropdown from the widget's objects and names."""
        w = self.widget
        names = w.object_names
        options = [(f"{k}: {names[k]}" if k in names else str(k), k + 1) for k in w.objects()]
        dd = self.controls["object"]
        self._refreshing = True
        try:
            if list(dd.options) != options:
                dd.options = options  # ipywidgets resets the value here
            dd.value = w._object_code if w._object_code in [v for _, v in options] else None
            self._refresh_class()
        finally:
            self._refreshing = False

    def _refresh_class(self) -> None:
        w, dd = self.widget, self.controls["class"]
        if list(dd.options) != list(w.classes):
            dd.options = list(w.classes)
        dd.layout.display = None if w.classes else "none"
        current = w.object_classes.get(w._object_code - 1)
        dd.value = current if current in w.classes else None

    def _class_picked(self, change):
        w = self.widget
        if self._refreshing or change.new is None:
            return
        k = w._object_code - 1
        if w.object_classes.get(k) != change.new:
            w.object_classes = {**w.object_classes, k: change.new}

    def sync_label(self, change=None) -> None:
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
        code = BACKGROUND if change.new == BACKGROUND else w._object_code
        if code != w.label:
            w.label = code

    def _object_picked(self, change):
        if self._refreshing:
            return
        if change.new is None:
            self.refresh_objects()
        elif change.new != self.widget.label:
            self.widget.label = change.new
