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

from ipyseg._constants import BACKGROUND, FOREGROUND, MAX_OBJECTS
from ipyseg._util.arrays import nonzero_rect, union_windows
from ipyseg._validation import as_instance_labels, as_label_code, as_object_id
from ipyseg.geometry import polygon_footprint, stroke_footprint
from ipyseg.objects import regions
from ipyseg.seeds import codes_present
from ipyseg.segmentation.propose import propose
from ipyseg.widget.document import ImageDocument


class Edited(Protocol):
    """What an :class:`Editor` reads (``SegmentWidget`` provides it)."""

    preserve_objects: bool
    wand_tolerance: float
    wand_connectivity: int
    labels: np.ndarray
    label: int
    object_names: dict
    object_classes: dict
    classes: list

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
        k = 2 * int(math.ceil(ring)) + 1
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        self.after_edit(
            self._doc.seed_state.apply_many(self._ringed(window, footprint, code, self.protect(code), disk))
        )

    def _ringed(self, window, footprint, code: int, protect, kernel: np.ndarray) -> list:
        """Edits seeding ``footprint`` (at image ``window``) with ``code`` and its ring (the
        ``kernel`` dilation, on unmarked pixels only) with background: the region made exact.
        """
        r0, r1, c0, c1 = window
        h, w = self._doc.picture.shape[:2]
        m = kernel.shape[0] // 2 + 1
        outer = (max(0, r0 - m), min(h, r1 + m), max(0, c0 - m), min(w, c1 + m))
        grown = np.zeros((outer[1] - outer[0], outer[3] - outer[2]), np.uint8)
        grown[r0 - outer[0] : r1 - outer[0], c0 - outer[2] : c1 - outer[2]] = footprint
        halo = cv2.dilate(grown, kernel).astype(bool) & ~grown.astype(bool)
        everything = range(BACKGROUND, MAX_OBJECTS + 2)  # the ring only takes unmarked pixels
        return [(window, footprint, code, protect), (outer, halo, BACKGROUND, everything)]

    def fill_mask(self, mask: np.ndarray, code: int) -> None:
        """Set ``code`` on every True pixel of a full-image (H, W) bool ``mask`` (one undo step)."""
        window = _window(mask)
        if window is not None:
            self.fill(window, self._crop(mask, window), code)

    def livewire(self, points_rc: np.ndarray, code: int) -> np.ndarray:
        """Close an edge-snapping contour through (N, 2) image ``(row, col)`` anchors; its inside
        becomes object ``code`` exactly. Returns the contour, (M, 2) ``(row, col)``.
        """
        lw = self._doc.livewire()
        path = [points_rc[:1]]
        for a, b in zip(points_rc, np.vstack([points_rc[1:], points_rc[:1]]), strict=True):
            lw.anchor(a)
            path.append(lw.path_to(b))
        contour = np.concatenate(path)
        self.polygon(contour, code, exact=True)
        return contour

    def box(self, window, code: int) -> None:
        """Constrain object ``code`` to image ``window`` ``(r0, r1, c0, c1)`` (its box)."""
        self.after_edit(self._doc.seed_state.set_box(code, window))

    def wand(self, row: float, col: float):
        """Magic wand at image ``(row, col)``: ``(window, footprint)``, see :meth:`ImageDocument.wand`."""
        return self._doc.wand(row, col, self._host.wand_tolerance, self._host.wand_connectivity)

    # ------------------------------------------------------------ proofreading
    # Each is one undo step on the seeds (and boxes). An object taken as it is now becomes exact:
    # its labelled pixels are seeded with its code and a one-pixel ring of unmarked pixels around
    # it becomes background, so every method keeps it as shown; other objects' seeds are kept.
    def pick(self, row: int, col: int) -> int:
        """Make the object under image pixel ``(row, col)`` current; returns its id (0: background)."""
        k = self.object_at(row, col)
        if k:
            self._host.label = k + 1  # and paints it, also after background
        return k

    def object_at(self, row: float, col: float) -> int:
        """The object shown at image pixel ``(row, col)`` (0: background)."""
        h, w = self._doc.picture.shape[:2]
        if not (0 <= row < h and 0 <= col < w):
            raise ValueError(f"`(row, col)` must lie in the image ({h} x {w}); got ({row}, {col})")
        return int(self._host.labels[int(row), int(col)])

    def merge_into_current(self, row: float, col: float) -> int:
        """Merge the object at image ``(row, col)`` into the current object (the pick tool's
        shift-click); returns the merged id (0: nothing merged, e.g. background or the current one).
        """
        k, current = self.object_at(row, col), self._doc.last_object_code - 1
        if k == 0 or k == current:
            return 0
        if current not in self._doc.label_ids:  # no current object shown: the click picks
            self._make_current(k)
            return 0
        self.merge(current, k)
        return k

    def split_where(self, points_rc: np.ndarray, radius: float = 1.5) -> list[int]:
        """Split the object the stroke through (N, 2) image ``(row, col)`` points crosses most
        (the split tool); returns the new ids (none if it crosses no object or does not cut it).
        """
        h, w = self._doc.picture.shape[:2]
        rc = np.clip(np.rint(np.asarray(points_rc, float)).astype(np.int64), 0, [h - 1, w - 1])
        hit = self._host.labels[rc[:, 0], rc[:, 1]]
        hit = hit[hit > 0]
        if hit.size == 0:
            return []
        return self.split(int(np.bincount(hit).argmax()), points_rc, radius)

    def set_class(self, obj: int, name) -> None:
        """Give object ``obj`` the class ``name`` (one of the widget's ``classes``; ``None`` removes it).

        Classes are not part of the seeds' undo history: undo does not change them back.
        """
        k = as_object_id(obj, "obj")
        classes = list(self._host.classes)
        if name is not None and name not in classes:
            raise ValueError(f"`name` must be one of the widget's classes {classes}; got {name!r}")
        current = dict(self._host.object_classes)
        if name is None:
            current.pop(k, None)
        else:
            current[k] = name
        self._host.object_classes = current

    def next_class(self, obj: int) -> str | None:
        """Give object ``obj`` the class after its own in ``classes`` (the ``t`` key); returns it."""
        classes = list(self._host.classes)
        if not classes:
            return None
        k = as_object_id(obj, "obj")
        now = self._host.object_classes.get(k)
        name = classes[(classes.index(now) + 1) % len(classes)] if now in classes else classes[0]
        self.set_class(k, name)
        return name

    def _make_current(self, k: int) -> None:
        """Object ``k`` becomes the current one (what the brush paints while on foreground)."""
        if self._host.label >= FOREGROUND:
            self._host.label = k + 1
        else:
            self._doc.last_object_code = k + 1

    def delete(self, *objs: int) -> None:
        """Delete objects: their seeds and boxes go, and the pixels they covered become background seeds."""
        ks = [as_object_id(o, "obj") for o in objs]
        edits, boxes = [], dict(self._doc.seed_state.boxes)
        for k in ks:
            boxes.pop(k + 1, None)
            edits += self._replace_code(k + 1, 0)
            win = _window(self._host.labels == k)
            if win is not None:
                edits.append(
                    (win, self._crop(self._host.labels, win) == k, BACKGROUND, range(FOREGROUND, MAX_OBJECTS + 2))
                )
        self.after_edit(self._doc.seed_state.apply_many(edits, boxes=boxes))

    def merge(self, a: int, b: int) -> None:
        """Merge object ``b`` into object ``a`` (both as shown now); ``b`` disappears."""
        a, b = as_object_id(a, "a"), as_object_id(b, "b")
        if a == b:
            raise ValueError(f"`b` must be another object than `a`; got a = b = {a}")
        boxes = dict(self._doc.seed_state.boxes)
        box_a, box_b = boxes.pop(a + 1, None), boxes.pop(b + 1, None)
        if box_a and box_b:
            boxes[a + 1] = union_windows([box_a, box_b])
        union = np.isin(self._host.labels, (a, b))
        edits = self._replace_code(b + 1, a + 1) + self._exact(union, a + 1, keep=(b + 1,))
        self.after_edit(self._doc.seed_state.apply_many(edits, boxes=boxes))

    def split(self, obj: int, points_rc: np.ndarray, radius: float = 1.5) -> list[int]:
        """Cut object ``obj`` along a stroke through (N, 2) image ``(row, col)`` points.

        The stroke's pixels inside the object become background; the largest remaining part
        keeps the id, every other part becomes a new object. Returns the new ids (none when the
        stroke does not cut the object in two).
        """
        k = as_object_id(obj, "obj")
        region = self._host.labels == k
        window, cut = stroke_footprint(points_rc, radius, self._doc.picture.shape)
        line = np.zeros(region.shape, bool)
        if window is not None:
            r0, r1, c0, c1 = window
            line[r0:r1, c0:c1] = cut
        line &= region
        n, comp = cv2.connectedComponents((region & ~line).view(np.uint8), connectivity=4)
        if n <= 2:
            return []
        sizes = np.bincount(comp.ravel(), minlength=n)[1:]
        order = np.argsort(-sizes, kind="stable") + 1  # component numbers, largest first
        new = self.free_ids(n - 2)
        edits = self._replace_code(k + 1, 0)
        win = _window(line)
        if win is not None:
            edits.append((win, self._crop(line, win), BACKGROUND, ()))
        for code, part in zip([k + 1] + [i + 1 for i in new], order, strict=True):
            edits += self._exact(comp == part, code)
        self.after_edit(self._doc.seed_state.apply_many(edits))
        return new

    def add_objects(self, labels) -> list[int]:
        """Add the objects of a label image as exact objects, in one undo step.

        Parameters
        ----------
        labels : (H, W) array_like of int, or a path
            ``0`` background, ``k`` object k (any integer dtype and any ids; a 0/255 mask is one object),
            the photo's height and width: proposals (:func:`ipyseg.propose`), a loaded
            segmentation (cellpose, StarDist, a threshold).

        Returns
        -------
        list of int
            The ids the added objects got, in the order of their ids in ``labels``.

        Objects that overlap an object already here (its labels or its seeds) are left out, so
        nothing drawn or corrected is overwritten; the others get the next free ids. Each added
        object is seeded as it is, with a background ring on unmarked pixels (one pixel, and two
        blocks of the coarse stage on big photos), so every method keeps it exactly until it is
        edited, and the one-vs-rest methods take it without solving anything.
        """
        h, w = self._doc.picture.shape[:2]
        lab = as_instance_labels(labels, (h, w), "labels")
        seeds = self._doc.seed_state.array
        busy = (self._host.labels > 0) | (seeds >= FOREGROUND)
        taken = np.zeros(65536, bool)
        taken[codes_present(lab[busy])] = True
        taken[0] = True
        ids = codes_present(lab)
        ids = ids[~taken[ids]]
        if ids.size == 0:
            return []
        free = self.free_ids(int(ids.size))[0] - 1
        lut = np.zeros(65536, np.uint32)
        lut[ids] = np.arange(free + 2, free + 2 + ids.size)  # seed codes: id + 1
        code = lut[lab]
        new = seeds.copy()
        obj = code > 0
        new[obj] = code[obj]
        # the background ring is as wide as two blocks of the coarse stage (plus one pixel), so
        # that the block-reduced seeds enclose the object too and it is taken without solving
        # anything (ipyseg.segmenters.local); on unmarked pixels only
        width = 2 * self._doc.multiscale.final_factor + 1
        kernel = np.ones((2 * width - 1, 2 * width - 1), np.uint8)
        ring = cv2.dilate(obj.view(np.uint8), kernel).view(bool) & (new == 0)
        new[ring] = BACKGROUND
        self.after_edit(self._doc.seed_state.replace(new))
        added = list(range(free + 1, free + 1 + ids.size))
        if self._doc.last_object_code - 1 in added and added[-1] < MAX_OBJECTS:
            self._make_current(added[-1] + 1)  # the next stroke starts a new object, not proposal k
        return added

    def propose(self, method: str | None = None, **params) -> list[int]:
        """Propose objects on this photo (:func:`ipyseg.propose`) and add them (:meth:`add_objects`).

        The proposals are computed on the photo's data (its own dtype, all channels); ``params``
        are ``propose``'s (``"blobs"``: ``diameter``, ``dark``; ``"sam"``: ``model``, the grid and
        filters). One undo step; returns the new ids.
        """
        return self.add_objects(propose(self._doc.picture.data, method, **params))

    def fill_holes(self, obj: int) -> None:
        """Fill the holes of object ``obj`` (background enclosed by it, not other objects)."""
        k = as_object_id(obj, "obj")
        region = self._host.labels == k
        win = _window(region)
        if win is None:
            return
        sub = self._crop(region, win)
        n, comp = cv2.connectedComponents((~sub).view(np.uint8), connectivity=4)
        edge = np.unique(np.concatenate([comp[0], comp[-1], comp[:, 0], comp[:, -1]]))
        hole = ~np.isin(comp, edge) & (self._crop(self._host.labels, win) == 0)
        filled = region.copy()
        filled[win[0] : win[1], win[2] : win[3]] |= hole
        self.after_edit(self._doc.seed_state.apply_many(self._exact(filled, k + 1)))

    def remove_small(self, min_pixels: int) -> list[int]:
        """Delete every object of fewer than ``min_pixels`` pixels (one undo step); returns their ids."""
        if isinstance(min_pixels, bool) or not isinstance(min_pixels, (int, np.integer)) or min_pixels < 1:
            raise ValueError(f"`min_pixels` must be a positive integer number of pixels; got {min_pixels!r}")
        found = regions(self._host.labels)
        small = [int(k) for k, a in zip(found.ids, found.area, strict=True) if a < min_pixels]
        if small:
            self.delete(*small)
        return small

    def renumber(self) -> dict:
        """Renumber the objects 1..n in the order of their ids (one undo step); returns ``{old: new}``.

        Names and classes follow their objects.
        """
        state = self._doc.seed_state
        ids = sorted({int(c) - 1 for c in codes_present(state.array) if c >= FOREGROUND} | {c - 1 for c in state.boxes})
        mapping = {old: new for new, old in enumerate(ids, start=1) if old != new}
        if not mapping:
            return {}
        lut = np.arange(65536, dtype=np.uint16)
        for old, new in mapping.items():
            lut[old + 1] = new + 1
        boxes = {int(lut[c]): b for c, b in state.boxes.items()}
        window = state.replace(lut[state.array], boxes=boxes)
        host = self._host
        host.object_names = {mapping.get(k, k): v for k, v in host.object_names.items()}
        host.object_classes = {mapping.get(k, k): v for k, v in host.object_classes.items()}
        self.after_edit(window)
        return mapping

    def _crop(self, arr: np.ndarray, win: tuple) -> np.ndarray:
        return arr[win[0] : win[1], win[2] : win[3]]

    def taken_ids(self) -> set:
        """Ids of the objects that hold something: labels, seeds, a box, a name or a class."""
        state, host = self._doc.seed_state, self._host
        ids = {int(c) - 1 for c in codes_present(state.array) if c >= FOREGROUND}
        ids |= {int(k) for k in self._doc.label_ids} | {c - 1 for c in state.boxes}
        return ids | {int(k) for k in host.object_names} | {int(k) for k in host.object_classes}

    def object_ids(self) -> list[int]:
        """Ids of the objects that exist (:meth:`taken_ids` and the current one), ascending."""
        return sorted(self.taken_ids() | {self._doc.last_object_code - 1})

    def free_ids(self, n: int) -> list[int]:
        """The next ``n`` object ids no object holds anything under (after the largest taken one).

        The one seam every operation that makes objects uses (split, add_objects), so that a new
        object never inherits another's name, class or box.
        """
        first = max(self.taken_ids(), default=0) + 1
        if first + n - 1 > MAX_OBJECTS:
            raise ValueError(
                f"at most {MAX_OBJECTS} objects are supported; {n} new ones need ids up to {first + n - 1}"
            )
        return list(range(first, first + n))

    def _replace_code(self, old: int, new: int) -> list:
        """Edits that recode every seed ``old`` as ``new``."""
        seeds = self._doc.seed_state.array
        win = _window(seeds == old)
        return [] if win is None else [(win, self._crop(seeds, win) == old, new, ())]

    def _exact(self, region: np.ndarray, code: int, keep=()) -> list:
        """Edits that make full-image bool ``region`` object ``code`` exactly, with a background ring.

        Other objects' seeds inside it are kept, except the codes in ``keep`` (e.g. a merged one).
        """
        win = _window(region)
        if win is None:
            return []
        seeds = self._crop(self._doc.seed_state.array, win)
        protect = [c for c in codes_present(seeds) if c >= FOREGROUND and c != code and c not in keep]
        return self._ringed(win, self._crop(region, win), code, protect, np.ones((3, 3), np.uint8))

    def after_edit(self, window) -> bool:
        """Refresh after a seed edit touching ``window`` (image pixels); ``False`` if none."""
        if window is None:
            return False
        self._redraw_seeds(window)
        self._publish()
        self._segment()
        return True


def _window(mask: np.ndarray) -> tuple | None:
    """``(r0, r1, c0, c1)`` of the True pixels of ``mask``, or ``None``."""
    x, y, w, h = nonzero_rect(mask.view(np.uint8))
    return None if w == 0 else (y, y + h, x, x + w)
