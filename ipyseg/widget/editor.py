"""Seed edits of one widget: which code a drawing marks, and each edit applied as one undo step.

:class:`Editor` turns a drawing (stroke, filled footprint, polygon, exact region, box) into a
change of the document's :class:`~ipyseg.seeds.SeedState`, keeps the other objects' seeds
when ``preserve_objects`` is on, and after every change redraws the seeds, publishes them and
asks for a segmentation, through the three callbacks it is given. It reads the widget
through :class:`Edited`; the widget's drawing methods and the tools (through
:class:`ipyseg.widget.input.PointerInput`) both edit through it.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from ipyseg._constants import BACKGROUND, FOREGROUND
from ipyseg._validation import as_label_code, as_object_id
from ipyseg.geometry import polygon_footprint, stroke_footprint
from ipyseg.seeds import codes_present
from ipyseg.widget.document import ImageDocument


class Edited(Protocol):
    """What an :class:`Editor` reads (``SegmentWidget`` provides it)."""

    preserve_objects: bool
    wand_tolerance: float
    wand_connectivity: int

    @property
    def document(self) -> ImageDocument:
        """The photo whose seeds are edited."""


class Editor:
    """Seed edits of one widget, each one undo step followed by a redraw and a segmentation.

    Parameters
    ----------
    host : Edited
        The widget (held weakly).
    redraw_seeds : callable
        ``redraw_seeds(window)``: redraw the seed layer where image ``window`` changed.
    publish : callable
        ``publish()``: make the document's seeds the widget's ``seeds`` trait.
    segment : callable
        ``segment()``: ask for a segmentation of what the document holds now.
    """

    def __init__(self, host: Edited, redraw_seeds: Callable, publish: Callable, segment: Callable) -> None:
        self._host = weakref.proxy(host)
        self._redraw_seeds = redraw_seeds
        self._publish = publish
        self._segment = segment

    @property
    def _doc(self) -> ImageDocument:
        return self._host.document

    def drawing_code(self, label, obj=None, *, objects_only: bool = False) -> int:
        """The seed code a drawing method marks: ``label``, else object ``obj``, else the current object."""
        if label is not None and obj is not None:
            raise TypeError(
                f"give `label` (a seed code) or `obj` (an object id), not both; got label={label!r}, obj={obj!r}"
            )
        if obj is not None:
            return as_object_id(obj, "obj") + 1
        if label is None:
            return self._doc.last_object_code
        code = as_label_code(label)
        if objects_only and code < FOREGROUND:
            raise ValueError(
                f"`label` must be an object's seed code (FOREGROUND = 2 or k + 1); got {code} (BACKGROUND)"
            )
        return code

    def protect(self, code: int) -> tuple:
        """Seed codes an edit with ``code`` must keep ("preserve other objects")."""
        if not self._host.preserve_objects or code < FOREGROUND:
            return ()
        return tuple(int(c) for c in codes_present(self._doc.seed_state.array) if c >= FOREGROUND and c != code)

    def stroke(self, points_rc: np.ndarray, code: int, radius: float) -> None:
        """Paint a stroke of ``radius`` through (N, 2) image ``(row, col)`` points with ``code`` (0 erases)."""
        window, footprint = stroke_footprint(points_rc, radius, self._doc.picture.shape)
        self.fill(window, footprint, code)

    def fill(self, window, footprint, code: int) -> None:
        """Set ``code`` on the True pixels of ``footprint`` (the shape of image ``window``)."""
        changed = self._doc.seed_state.apply(window, footprint, code, protect=self.protect(code))
        if not self.after_edit(changed) and window is not None:
            # Nothing changed (e.g. erasing where nothing was): drop the preview.
            self._redraw_seeds(window)

    def polygon(self, points_rc: np.ndarray, code: int, *, exact: bool = False) -> None:
        """Fill the polygon through (N, 2) image ``(row, col)`` vertices; ``exact``: make it the object (see :meth:`region`)."""
        window, footprint = polygon_footprint(points_rc, self._doc.picture.shape)
        if window is None:
            return
        if exact:
            self.region(window, footprint, code)
        else:
            self.fill(window, footprint, code)

    def region(self, window, footprint, code: int, ring: float = 2.0) -> None:
        """Make the region object ``code`` exactly, as one undo step.

        The inside is seeded ``code`` and a thin ring just outside it becomes background seeds
        (on unmarked pixels only), so every method keeps the region as drawn.
        """
        r0, r1, c0, c1 = window
        h, w = self._doc.picture.shape[:2]
        m = int(math.ceil(ring)) + 1
        outer = (max(0, r0 - m), min(h, r1 + m), max(0, c0 - m), min(w, c1 + m))
        grown = np.zeros((outer[1] - outer[0], outer[3] - outer[2]), np.uint8)
        grown[r0 - outer[0] : r1 - outer[0], c0 - outer[2] : c1 - outer[2]] = footprint
        k = 2 * int(math.ceil(ring)) + 1
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        halo = cv2.dilate(grown, disk).astype(bool) & ~grown.astype(bool)
        everything = tuple(range(BACKGROUND, 256))  # the ring only takes unmarked pixels
        changed = self._doc.seed_state.apply_many(
            [(window, footprint, code, self.protect(code)), (outer, halo, BACKGROUND, everything)]
        )
        self.after_edit(changed)

    def box(self, window, code: int) -> None:
        """Constrain object ``code`` to image ``window`` ``(r0, r1, c0, c1)`` (its box)."""
        self.after_edit(self._doc.seed_state.set_box(code, window))

    def wand(self, row: float, col: float):
        """Magic wand at image ``(row, col)``: ``(window, footprint)``, see :meth:`ImageDocument.wand`."""
        return self._doc.wand(row, col, self._host.wand_tolerance, self._host.wand_connectivity)

    def after_edit(self, window) -> bool:
        """Refresh after a seed edit touching ``window`` (image pixels); ``False`` if none."""
        if window is None:
            return False
        self._redraw_seeds(window)
        self._publish()
        self._segment()
        return True
