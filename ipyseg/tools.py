"""Interactive tools: an enum and one gesture handler per tool (a dispatch table, no flags).

A handler turns pointer gestures in image coordinates into edits on the widget's controller
(``SegmentWidget``), through a small set of controller methods:

* ``controller._preview(points_rc, code)``: draw a stroke preview (nothing is committed),
* ``controller._commit_stroke(points_rc, code, radius)``: rasterise and apply as one undo step,
* ``controller._brush_radius``, ``controller._point_radius``, ``controller.label``.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from ._constants import UNMARKED


class Tool(str, Enum):
    """Values of ``SegmentWidget.tool``."""

    BRUSH = "brush"
    ERASER = "eraser"
    POINT = "point"


class _StrokeTool:
    """Brush and eraser: drag to paint a stroke, committed on mouse-up."""

    erase = False

    def __init__(self):
        self.points: list[tuple[float, float]] = []

    def code(self, ctl) -> int:
        return UNMARKED if self.erase else int(ctl.label)

    def down(self, ctl, row, col):
        self.points = [(row, col)]
        ctl._preview(np.array(self.points), self.code(ctl))

    def move(self, ctl, row, col):
        if not self.points:
            return
        self.points.append((row, col))
        ctl._preview(np.array(self.points[-2:]), self.code(ctl))

    def up(self, ctl, row, col):
        if not self.points:
            return
        if (row, col) != self.points[-1]:
            self.points.append((row, col))
        pts, self.points = np.array(self.points), []
        ctl._commit_stroke(pts, self.code(ctl), ctl._brush_radius)

    def cancel(self, ctl):
        self.points = []

    @property
    def active(self) -> bool:
        return bool(self.points)


class _BrushTool(_StrokeTool):
    erase = False


class _EraserTool(_StrokeTool):
    erase = True


class _PointTool:
    """Point: each click adds a small disk of the current label; dragging does nothing."""

    active = False

    def down(self, ctl, row, col):
        ctl._commit_stroke(np.array([(row, col)]), int(ctl.label), ctl._point_radius)

    def move(self, ctl, row, col):
        pass

    def up(self, ctl, row, col):
        pass

    def cancel(self, ctl):
        pass


HANDLERS = {Tool.BRUSH: _BrushTool, Tool.ERASER: _EraserTool, Tool.POINT: _PointTool}


def make_handlers() -> dict:
    """Fresh handler instances, one per tool (handlers hold gesture state)."""
    return {tool.value: cls() for tool, cls in HANDLERS.items()}
