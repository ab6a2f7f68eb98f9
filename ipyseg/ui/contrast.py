"""The contrast control: channel, display range, auto and gamma, bound to a widget's traits.

One compact row in the toolbar, shown for images that are not plain 8-bit RGB photos::

    [Channel v]  Contrast [lo ===|=======|=== hi]  [Auto]  Gamma [---o---]

The widget's ``display_range`` and ``gamma`` traits are the single source of truth: the
controls show them, a value from the page that the traits refuse (lo >= hi, NaN, garbage) is
dropped and the control shows the trait again. Changes from the page run as user actions
(``widget.input.from_ui()``): the photo is redrawn at once and segmentation follows in the background.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import traitlets

from ipyseg.display import COLORS, GAMMA_RANGE
from ipyseg.ui.guards import guard_updates


def _color_name(rgb) -> str:
    for name, value in COLORS.items():
        if tuple(rgb) == value and name not in ("grey", "white"):
            return name
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _same(a, b) -> bool:
    """Equal up to float noise (relative 1e-9)."""
    return all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b, strict=True))


class ContrastControl:
    """Contrast controls for ``widget`` (a :class:`ipyseg.SegmentWidget`).

    Attributes
    ----------
    box : ipywidgets.HBox
        The row (hidden for 8-bit RGB photos, see :meth:`wanted_for`).
    channel : ipywidgets.Dropdown
        Which channel the range slider edits (hidden for gray and RGB images).
    range : ipywidgets.FloatRangeSlider
        That channel's display range.
    auto : ipywidgets.Button
        Back to the robust default range for that channel.
    gamma : ipywidgets.FloatLogSlider
    """

    def __init__(self, widget):
        self.widget = w = widget
        pic = w.document.picture
        self._refreshing = False
        lay = widgets.Layout
        integer = pic.dtype.kind in "iu"
        self.channel = widgets.Dropdown(
            options=self._channel_options(),
            value=w.channels[0] if pic.groups > 1 else 0,
            description="Channel",
            layout=lay(width="170px"),
            style={"description_width": "56px"},
        )
        self.range = widgets.FloatRangeSlider(
            description="Contrast",
            readout_format=".0f" if integer else ".4g",
            continuous_update=True,
            layout=lay(width="380px"),
            style={"description_width": "60px"},
        )
        self.auto = widgets.Button(
            description="Auto", tooltip="Robust range: 0.1 % - 99.9 % of the values", layout=lay(width="60px")
        )
        self.gamma = widgets.FloatLogSlider(
            base=10,
            min=math.log10(GAMMA_RANGE[0]),
            max=math.log10(GAMMA_RANGE[1]),
            step=0.01,
            value=w.gamma,
            description="Gamma",
            readout_format=".2f",
            layout=lay(width="230px"),
            style={"description_width": "50px"},
        )
        for control in (self.channel, self.range, self.auto, self.gamma):
            guard_updates(control)
        self.show_range()
        self.range.observe(self._range_picked, "value")
        self.gamma.observe(self._gamma_picked, "value")
        self.channel.observe(lambda _: self.show_range(), "value")
        self.auto.on_click(self._auto_clicked)
        w.observe(lambda _: self.show_range(), "display_range")
        w.observe(self._show_gamma, "gamma")
        w.observe(self._refresh_channels, "channel_colors")
        self.box = widgets.HBox([self.channel, self.range, self.auto, self.gamma], layout=lay(flex_flow="row wrap"))
        self._show_parts()

    def refresh(self) -> None:
        """Show the widget's current picture and traits (after the widget switched images)."""
        pic = self.widget.document.picture
        self._refreshing = True
        try:
            self.channel.options = self._channel_options()
            self.channel.value = self.widget.channels[0] if pic.groups > 1 else 0
            self.range.readout_format = ".0f" if pic.dtype.kind in "iu" else ".4g"
        finally:
            self._refreshing = False
        self.show_range()
        self._show_gamma()
        self._show_parts()

    def _show_parts(self) -> None:
        """Hide the whole row for 8-bit RGB photos, the channel picker for gray and RGB images."""
        self.box.layout.display = None if self.wanted_for(self.widget) else "none"
        self.channel.layout.display = None if self.widget.document.picture.groups > 1 else "none"

    @staticmethod
    def wanted_for(widget) -> bool:
        """Whether ``widget`` needs the control: every image except 8-bit RGB(A) photos."""
        pic = widget.document.picture
        return not (pic.rgb and pic.dtype == np.uint8)

    # ------------------------------------------------------------- showing
    def _channel_options(self):
        w, pic = self.widget, self.widget.document.picture
        colors = dict(zip(w.channels, w.channel_colors, strict=True))
        return [(f"{c}: {_color_name(colors[c])}" if c in colors else f"{c}: hidden", c) for c in range(pic.groups)]

    def _refresh_channels(self, change=None) -> None:
        self._refreshing = True
        try:
            value = self.channel.value
            options = self._channel_options()
            if value not in [v for _, v in options]:  # another picture (set_image) with fewer channels
                value = self.widget.channels[0] if self.widget.document.picture.groups > 1 else 0
            self.channel.options = options
            self.channel.value = value
        finally:
            self._refreshing = False

    def _current_pair(self) -> tuple[float, float]:
        w, pic = self.widget, self.widget.document.picture
        ranges = pic.check_range(w.display_range, pic.mapping.ranges)
        return ranges[pic.group(int(self.channel.value or 0))]

    def show_range(self) -> None:
        """Make the slider show the trait: its bounds cover the channel's values and the range."""
        pic = self.widget.document.picture
        g = pic.group(int(self.channel.value or 0))
        lo, hi = self._current_pair()
        b0, b1 = pic.bounds[g]
        d0, d1 = pic.default_ranges[g]
        smin, smax = min(b0, d0, lo), max(b1, d1, hi)
        span = smax - smin
        fine = 10.0 ** max(-300, math.floor(math.log10(min(max(span / 1000.0, 1e-300), 1e300))))
        step = 1.0 if pic.dtype.kind in "iu" and span >= 100 else fine
        s = self.range
        self._refreshing = True
        try:
            s.min, s.max = min(s.min, smin), max(s.max, smax)  # widen first: the value stays valid
            s.step = step
            s.value = (lo, hi)
            s.min, s.max = smin, smax
        finally:
            self._refreshing = False
        if tuple(s.value) != (lo, hi):  # cannot happen: bounds always include the range
            raise AssertionError(f"contrast slider cannot show {(lo, hi)!r}")

    def _show_gamma(self, change=None) -> None:
        self._refreshing = True
        try:
            self.gamma.value = self.widget.gamma
        finally:
            self._refreshing = False

    # ------------------------------------------------------------- picking
    def _range_picked(self, change) -> None:
        if self._refreshing:
            return
        w, pic = self.widget, self.widget.document.picture
        c = int(self.channel.value or 0)
        current = self._current_pair()
        try:
            ranges = pic.check_range({c: tuple(change.new)}, pic.mapping.ranges)
        except (TypeError, ValueError):
            ranges = None
        if ranges is not None and _same(ranges[pic.group(c)], current):
            # The page's slider echoes what it was sent, through float arithmetic (500 comes back
            # as 500.00000000000006): the trait keeps its value, the control keeps the echo
            # (answering it would start a ping-pong with the page).
            return
        if ranges is not None:
            with w.input.from_ui():
                w.display_range = pic.public_range(ranges)
        if tuple(self.range.value) != self._current_pair():
            self.show_range()  # refused (e.g. lo == hi): show the trait again

    def _gamma_picked(self, change) -> None:
        if self._refreshing:
            return
        w = self.widget
        try:
            value = float(change.new)
            ok = GAMMA_RANGE[0] <= value <= GAMMA_RANGE[1]
        except (TypeError, ValueError):
            ok = False
        if ok and _same((value,), (w.gamma,)):
            return  # the page's echo of what it was sent (see _range_picked)
        if ok:
            try:
                with w.input.from_ui():
                    w.gamma = value
            except traitlets.TraitError:
                pass
        if not _same((self.gamma.value,), (w.gamma,)):
            self._show_gamma()

    def _auto_clicked(self, _=None) -> None:
        w = self.widget
        with w.input.from_ui():
            w.display_range = {int(self.channel.value or 0): None}
