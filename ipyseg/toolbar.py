"""The toolbar: ipywidgets controls wired to a ``SegmentWidget``'s traits and methods.

Controls that only mirror a trait are linked both ways. Controls whose change starts a
segmentation (method, undo, redo, clear, ...) call the widget inside ``widget._from_ui()``,
so that the segmentation runs in the background and the kernel keeps handling events.
"""

from __future__ import annotations

import ipywidgets as widgets

from . import segmenters
from ._constants import BACKGROUND, FOREGROUND
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


class Toolbar:
    """Builds the controls for ``widget`` and keeps them in sync with it.

    Attributes
    ----------
    box : ipywidgets.VBox
        The toolbar rows.
    status : ipywidgets.HTML
        The status line.
    controls : dict
        ``label``, ``object``, ``tool``, ``brush_size``, ``method``, ``opacity``,
        ``overlay_mode``, ``show_seeds``, ``wand_tolerance`` widgets.
    buttons : dict
        ``undo``, ``redo``, ``clear``, ``new_object``, ``zoom_in``, ``zoom_out``, ``fit``.
    """

    def __init__(self, widget):
        self.widget = w = widget
        self._refreshing = False
        lay = widgets.Layout
        size_max = max(50, round(0.15 * max(w.image.shape[:2])))
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
            "tool": widgets.ToggleButtons(
                options=[(d, t.value) for d, t, _, _ in _TOOL_BUTTONS],
                icons=[i for _, _, i, _ in _TOOL_BUTTONS],
                tooltips=[tip for _, _, _, tip in _TOOL_BUTTONS],
                style={"button_width": "98px"},
            ),
            "method": widgets.Dropdown(options=self._methods(), description="Method", layout=lay(width="220px")),
            "brush_size": widgets.FloatSlider(
                min=1, max=size_max, step=1, description="Brush", readout_format=".0f", layout=lay(width="250px")
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
                min=0, max=128, step=1, description="Wand tol.", readout_format=".0f", layout=lay(width="230px")
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

        for name in ("tool", "brush_size", "opacity", "overlay_mode", "show_seeds", "wand_tolerance"):
            widgets.link((w, name), (c[name], "value"))  # the widget's value wins
        c["method"].value = w.method
        c["method"].observe(self._method_picked, "value")
        c["label"].observe(self._label_picked, "value")
        c["object"].observe(self._object_picked, "value")
        w.observe(self.sync_label, "label")
        w.observe(self._sync_method, "method")

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

        row1 = widgets.HBox([c["label"], c["object"], b["new_object"], b["undo"], b["redo"], b["clear"]])
        row2 = widgets.HBox([c["tool"]], layout=lay(flex_flow="row wrap"))
        row3 = widgets.HBox([c["method"], c["brush_size"], c["opacity"]], layout=lay(flex_flow="row wrap"))
        row4 = widgets.HBox(
            [c["overlay_mode"], c["show_seeds"], c["wand_tolerance"], b["zoom_out"], b["zoom_in"], b["fit"]],
            layout=lay(flex_flow="row wrap"),
        )
        self.box = widgets.VBox([row1, row2, row3, row4])

    # ------------------------------------------------------------ syncing
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
        finally:
            self._refreshing = False

    def sync_label(self, change=None) -> None:
        w = self.widget
        self.controls["label"].value = BACKGROUND if w.label == BACKGROUND else FOREGROUND
        self.refresh_objects()

    def _label_picked(self, change):
        w = self.widget
        code = BACKGROUND if change.new == BACKGROUND else w._object_code
        if change.new is not None and code != w.label:
            w.label = code

    def _object_picked(self, change):
        if self._refreshing:
            return
        if change.new is not None and change.new != self.widget.label:
            self.widget.label = change.new

    def _methods(self) -> list[str]:
        """The dropdown's methods: those runnable on defaults, plus those given to this widget.

        A method with a required parameter (``sam`` and its ``model``) stays listed once used, so
        that one can switch back to it.
        """
        names = segmenters.available()
        used = [m for m in (self.widget.method, *self.widget._params_by_method) if m and m not in names]
        return names + sorted(set(used))

    def _sync_method(self, change) -> None:
        dd = self.controls["method"]
        self._refreshing = True
        try:
            options = self._methods()
            if list(dd.options) != options:
                dd.options = options  # ipywidgets resets the value here
            dd.value = change.new
        finally:
            self._refreshing = False

    def _method_picked(self, change):
        w = self.widget
        if self._refreshing or change.new is None:
            return
        if change.new != w.method:
            with w._from_ui():
                w.method = change.new
