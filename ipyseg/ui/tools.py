"""Interactive tools: an enum and one gesture handler per tool (a dispatch table, no flags).

Handlers receive pointer gestures in image coordinates ``(row, col)`` and act on a
:class:`ToolTarget` (``ipyseg.widget.input.PointerInput`` is the widget's). Every handler has
``down``, ``move``, ``up``, ``key`` (``"Enter"`` / ``"Escape"``) and ``cancel``, and an
``active`` flag while a gesture is in progress. A new tool is a handler class here and one
entry in :data:`HANDLERS` (see ``docs/extending.md``).
"""

from __future__ import annotations

import time
from enum import Enum
from typing import Protocol

import numpy as np

from ipyseg._constants import UNMARKED
from ipyseg.geometry import Viewport, box_window

#: Two presses closer in time (s) and space (display pixels) than this are a double-click.
DOUBLE_CLICK_SECONDS = 0.4
DOUBLE_CLICK_PIXELS = 4.0
#: A press this close (display pixels) to a polygon's first vertex closes it.
CLOSE_PIXELS = 6.0


class Tool(str, Enum):
    """Values of ``SegmentWidget.tool``."""

    BRUSH = "brush"
    ERASER = "eraser"
    POINT = "point"
    BOX = "box"
    WAND = "wand"
    LIVEWIRE = "livewire"
    POLYGON = "polygon"
    PAN = "pan"
    PICK = "pick"
    SPLIT = "split"


class ToolTarget(Protocol):
    """What a tool's gesture handler may use: the seeds it edits and the canvas it draws guides on."""

    @property
    def viewport(self) -> Viewport:
        """The view: image <-> canvas coordinates and ``scale`` (canvas pixels per image pixel)."""

    @property
    def image_shape(self) -> tuple:
        """``(H, W, ...)`` of the photo."""

    @property
    def paint_code(self) -> int:
        """The seed code a gesture paints: the label, or background during a right-button gesture."""

    @property
    def object_code(self) -> int:
        """The current object's seed code."""

    @property
    def brush_radius(self) -> float:
        """Brush radius in image pixels."""

    @property
    def point_radius(self) -> float:
        """Radius of a point seed in image pixels."""

    def preview(self, points_rc: np.ndarray, code: int) -> None:
        """Draw part of a stroke preview on the seed layer (nothing is committed)."""

    def redraw_seeds(self) -> None:
        """Redraw the seed layer as the seeds are (drops a preview)."""

    def commit_stroke(self, points_rc: np.ndarray, code: int, radius: float) -> None:
        """Paint a stroke as one undo step, then segment."""

    def commit_fill(self, window, footprint, code: int) -> None:
        """Set ``code`` on a footprint of image ``window`` as one undo step, then segment."""

    def commit_polygon(self, points_rc: np.ndarray, code: int, *, exact: bool = False) -> None:
        """Fill a polygon (``exact``: make it the object, with a background halo), then segment."""

    def commit_box(self, window) -> None:
        """Make image ``window`` the current object's box, then segment."""

    def show_guide(self, points_rc: np.ndarray, closed: bool) -> None:
        """Draw an outline through image points on the cursor layer."""

    def clear_guide(self) -> None:
        """Remove the outline."""

    def pan(self, d_row: float, d_col: float) -> None:
        """Move the view by image pixels (when zoomed in)."""

    def wand(self, row: float, col: float):
        """The magic wand's ``(window, footprint)`` at image ``(row, col)`` (``(None, None)`` if empty)."""

    def livewire(self):
        """The live wire of the photo (``anchor(p)``, ``path_to(p)``)."""

    @property
    def shift_pressed(self) -> bool:
        """Whether shift was held at the press of the current gesture."""

    def pick(self, row: float, col: float) -> None:
        """Make the object at image ``(row, col)`` current."""

    def merge_into_current(self, row: float, col: float) -> None:
        """Merge the object at image ``(row, col)`` into the current one, as one undo step."""

    def select(self, code: int) -> None:
        """Make the object of seed code ``code`` current again."""

    def commit_split(self, points_rc: np.ndarray) -> None:
        """Split the object the stroke crosses most, as one undo step."""


class _Handler:
    active = False

    def down(self, ctl, row, col):
        pass

    def move(self, ctl, row, col):
        pass

    def up(self, ctl, row, col):
        pass

    def key(self, ctl, key):
        if key == "Escape":
            self.cancel(ctl)

    def cancel(self, ctl):
        pass


class _StrokeTool(_Handler):
    """Brush and eraser: drag to paint a stroke, committed on mouse-up."""

    erase = False

    def __init__(self):
        self.points: list[tuple[float, float]] = []

    @property
    def active(self) -> bool:
        return bool(self.points)

    def code(self, ctl) -> int:
        return UNMARKED if self.erase else ctl.paint_code

    def down(self, ctl, row, col):
        self.points = [(row, col)]
        ctl.preview(np.array(self.points), self.code(ctl))

    def move(self, ctl, row, col):
        if self.points:
            self.points.append((row, col))
            ctl.preview(np.array(self.points[-2:]), self.code(ctl))

    def up(self, ctl, row, col):
        if not self.points:
            return
        if (row, col) != self.points[-1]:
            self.points.append((row, col))
        pts, self.points = np.array(self.points), []
        ctl.commit_stroke(pts, self.code(ctl), ctl.brush_radius)

    def cancel(self, ctl):
        if self.points:
            self.points = []
            ctl.redraw_seeds()  # drop the preview


class _BrushTool(_StrokeTool):
    erase = False


class _EraserTool(_StrokeTool):
    erase = True


class _PressTool(_Handler):
    """Remembers where the button went down, until release or cancel."""

    def __init__(self):
        self.at = None

    @property
    def active(self) -> bool:
        return self.at is not None

    def down(self, ctl, row, col):
        self.at = (row, col)

    def cancel(self, ctl):
        self.at = None


class _ClickTool(_PressTool):
    """Acts on release at the press position (by then the button is known)."""

    def up(self, ctl, row, col):
        if self.at is not None:
            at, self.at = self.at, None
            self.act(ctl, *at)


class _PointTool(_ClickTool):
    """Each click adds a small disk of the current label; dragging does nothing."""

    def act(self, ctl, row, col):
        ctl.commit_stroke(np.array([(row, col)]), ctl.paint_code, ctl.point_radius)


class _BoxTool(_PressTool):
    """Drag a rectangle: the current object lies inside it, everything outside is background."""

    def _corners(self, row, col):
        (r0, c0), (r1, c1) = self.at, (row, col)
        return np.array([(r0, c0), (r0, c1), (r1, c1), (r1, c0)])

    def move(self, ctl, row, col):
        if self.at is not None:
            ctl.show_guide(self._corners(row, col), closed=True)

    def up(self, ctl, row, col):
        if self.at is None:
            return
        start, self.at = self.at, None
        ctl.clear_guide()
        window = box_window(start, (row, col), ctl.image_shape)
        min_side = 3.0 / ctl.viewport.scale  # a click, not a box
        if window[1] - window[0] >= min_side and window[3] - window[2] >= min_side:
            ctl.commit_box(window)

    def cancel(self, ctl):
        if self.at is not None:
            self.at = None
            ctl.clear_guide()


class _WandTool(_ClickTool):
    """Click: the connected region of similar colour becomes seeds of the current label."""

    def act(self, ctl, row, col):
        window, footprint = ctl.wand(row, col)
        if window is not None:
            ctl.commit_fill(window, footprint, ctl.paint_code)


class _PolygonTool(_Handler):
    """Click vertices; double-click, Enter or a click on the first vertex closes; Esc cancels."""

    def __init__(self):
        self.vertices: list[tuple[float, float]] = []
        self._last_press = (0.0, None)

    @property
    def active(self) -> bool:
        return bool(self.vertices)

    def _near(self, ctl, a, b, pixels) -> bool:
        return np.hypot(a[0] - b[0], a[1] - b[1]) * ctl.viewport.scale <= pixels

    def _is_double(self, ctl, p) -> bool:
        t_prev, p_prev = self._last_press
        now = time.monotonic()
        self._last_press = (now, p)
        return (
            p_prev is not None
            and now - t_prev <= DOUBLE_CLICK_SECONDS
            and self._near(ctl, p, p_prev, DOUBLE_CLICK_PIXELS)
        )

    def down(self, ctl, row, col):
        p = (row, col)
        double = self._is_double(ctl, p)
        if self.vertices and (
            double or (len(self.vertices) >= 3 and self._near(ctl, p, self.vertices[0], CLOSE_PIXELS))
        ):
            self.close(ctl)
            return
        self.add_vertex(ctl, p)
        ctl.show_guide(self.outline(), closed=False)

    def move(self, ctl, row, col):
        if self.vertices:
            ctl.show_guide(self.outline((row, col)), closed=False)

    def add_vertex(self, ctl, p):
        self.vertices.append(p)

    def outline(self, pointer=None) -> np.ndarray:
        pts = list(self.vertices) + ([pointer] if pointer is not None else [])
        return np.array(pts, dtype=float)

    def close(self, ctl):
        pts = self.outline()
        self.vertices = []
        ctl.clear_guide()
        if len(pts) >= 3:
            self.commit(ctl, pts)

    def commit(self, ctl, pts):
        """The filled polygon becomes seeds of the current label."""
        ctl.commit_polygon(pts, ctl.paint_code)

    def key(self, ctl, key):
        if key == "Enter" and self.vertices:
            self.close(ctl)
        elif key == "Escape":
            self.cancel(ctl)

    def cancel(self, ctl):
        if self.vertices:
            self.vertices = []
            ctl.clear_guide()


class _LiveWireTool(_PolygonTool):
    """Intelligent scissors: each segment between anchors follows image edges."""

    def __init__(self):
        super().__init__()
        self.path: list[np.ndarray] = []

    def add_vertex(self, ctl, p):
        lw = ctl.livewire()
        if self.vertices:
            self.path.append(lw.path_to(p))
        else:
            self.path = [np.array([p], dtype=float)]
        self.vertices.append(p)
        lw.anchor(p)

    def outline(self, pointer=None) -> np.ndarray:
        parts = list(self.path)
        if pointer is not None and self.vertices:
            parts.append(self._lw.path_to(pointer))
        return np.concatenate(parts) if parts else np.zeros((0, 2))

    def move(self, ctl, row, col):
        if self.vertices:
            self._lw = ctl.livewire()
            ctl.show_guide(self.outline((row, col)), closed=False)

    def close(self, ctl):
        if self.vertices and len(self.vertices) >= 2:
            lw = ctl.livewire()
            self.path.append(lw.path_to(self.vertices[0]))
        super().close(ctl)
        self.path = []

    def commit(self, ctl, pts):
        """The closed contour's inside becomes the current object (with a background halo)."""
        ctl.commit_polygon(pts, ctl.object_code, exact=True)

    def cancel(self, ctl):
        self.path = []
        super().cancel(ctl)


class _PanTool(_PressTool):
    """Drag to move the view (when zoomed in): the pressed image point stays under the pointer."""

    def move(self, ctl, row, col):
        if self.at is not None:
            ctl.pan(self.at[0] - row, self.at[1] - col)

    def up(self, ctl, row, col):
        self.move(ctl, row, col)
        self.at = None


class _PickTool(_ClickTool):
    """Click an object to make it current; shift-click merges the clicked one into it.

    ipycanvas reports the click and ipyevents reports shift, on two channels: when shift is
    reported only after the release, the click has picked already, and :meth:`shift_came_late`
    turns that pick into the merge it was meant to be.
    """

    def __init__(self):
        super().__init__()
        self.shift = False
        self.last = None  # (current object code before the last plain pick, row, col)

    def down(self, ctl, row, col):
        super().down(ctl, row, col)
        self.shift = False

    def up(self, ctl, row, col):
        self.shift = ctl.shift_pressed  # ipyevents' report of the press, when it came first
        super().up(ctl, row, col)

    def act(self, ctl, row, col):
        if self.shift:
            self.last = None
            ctl.merge_into_current(row, col)
        else:
            self.last = (ctl.object_code, row, col)
            ctl.pick(row, col)

    def shift_came_late(self, ctl):
        """Shift was held at the press just released: undo its pick, merge instead."""
        if self.last is None:
            return
        code, row, col = self.last
        self.last = None
        ctl.select(code)
        ctl.merge_into_current(row, col)


class _SplitTool(_StrokeTool):
    """Drag a line across an object: it is cut in two along it (a knife, shown as a thin guide)."""

    def down(self, ctl, row, col):
        self.points = [(row, col)]

    def move(self, ctl, row, col):
        if self.points:
            self.points.append((row, col))
            ctl.show_guide(np.array(self.points), closed=False)

    def up(self, ctl, row, col):
        if not self.points:
            return
        self.points.append((row, col))
        pts, self.points = np.array(self.points), []
        ctl.clear_guide()
        ctl.commit_split(pts)

    def cancel(self, ctl):
        if self.points:
            self.points = []
            ctl.clear_guide()


HANDLERS = {
    Tool.BRUSH: _BrushTool,
    Tool.ERASER: _EraserTool,
    Tool.POINT: _PointTool,
    Tool.BOX: _BoxTool,
    Tool.WAND: _WandTool,
    Tool.LIVEWIRE: _LiveWireTool,
    Tool.POLYGON: _PolygonTool,
    Tool.PAN: _PanTool,
    Tool.PICK: _PickTool,
    Tool.SPLIT: _SplitTool,
}


def make_handlers() -> dict:
    """Fresh handler instances, one per tool (handlers hold gesture state)."""
    return {tool.value: cls() for tool, cls in HANDLERS.items()}
