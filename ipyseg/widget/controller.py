"""Edits -> requests -> results: how one widget gets its labels, and what its status line says.

:class:`Controller` turns the current document (seeds, boxes, loaded mask) and the chosen
method into a :class:`Request`, has the :class:`ipyseg.segmentation.engine.Engine` compute it
(in the calling thread for code in a cell, in the worker for the browser), applies results
and keeps the status line, the canvas badge and ``last_error`` consistent. It reads the
widget through :class:`Segmented` and hands labels back through one callback.
"""

from __future__ import annotations

import dataclasses
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ipyseg import segmenters
from ipyseg.segmentation.engine import Cancelled, Engine, Result
from ipyseg.segmentation.multiscale import FastResult
from ipyseg.segmentation.run import box_inputs
from ipyseg.ui.overlay import Badge
from ipyseg.widget.document import ImageDocument


class SegmentationWarning(RuntimeWarning):
    """A segmenter failed on code run from a cell; seeds and the last good labels were kept."""


@dataclass(frozen=True)
class Request:
    """One segmentation to compute: a snapshot of what the widget holds when it is asked for."""

    seeds: np.ndarray
    method: str
    params: dict
    prior: np.ndarray | None
    preview: bool = False  # first the quick stage of the fast path, then the final one
    boxes: dict | None = None  # box prompts, for segmenters that take ``boxes``
    prepare: bool = False  # call the segmenter's ``prepare(image, **params)`` first (background requests)


class Segmented(Protocol):
    """What a :class:`Controller` reads (``SegmentWidget`` provides it)."""

    method: str
    params: dict
    labels: np.ndarray

    @property
    def document(self) -> ImageDocument:
        """The photo being segmented."""

    @property
    def closed(self) -> bool:
        """Whether the widget is closed (requests are dropped)."""


class Controller:
    """Requests, results, status and errors of one widget.

    Parameters
    ----------
    host : Segmented
        The widget (held weakly).
    badge : ipyseg.ui.overlay.Badge
        The canvas badge (busy, refining, error).
    show_labels : callable
        ``show_labels(labels, window)``: make (H, W) uint16 ``labels`` the widget's result;
        ``window`` (image pixels) bounds where they changed, or ``None``.
    show_status : callable
        ``show_status(text, error)``: the status line.
    """

    def __init__(self, host: Segmented, badge: Badge, show_labels: Callable, show_status: Callable) -> None:
        self._host = weakref.proxy(host)
        self._badge = badge
        self._show_labels = show_labels
        self._show_status = show_status
        self.engine = Engine(self._compute, self._apply, self.on_busy)
        self.last_error: BaseException | None = None
        self.last_seconds = 0.0
        self._status_lock = threading.RLock()  # last_error and status change together
        self._error_generation = -1  # engine generation at which last_error was set
        self._busy_note = ""  # what the busy status says besides "segmenting" (e.g. preparing)

    def request(self, *, ui: bool, background: bool | None = None) -> Request:
        """What the widget holds now, as a request; ``ui``: from the browser (preview first)."""
        host, doc = self._host, self._host.document
        seeds = doc.seed_state.array.copy()
        # A box constrains its own object only (prompts, GrabCut's rectangle or per-object; see box_inputs).
        seeds, prior, boxes = box_inputs(segmenters.get(host.method), seeds, doc.prior, doc.seed_state.boxes)
        return Request(
            seeds=seeds,
            method=host.method,
            params=dict(host.params),
            prior=prior,
            preview=ui,
            boxes=boxes,
            prepare=ui if background is None else background,
        )

    def segment(self, *, ui: bool) -> None:
        """Segment what the widget holds: in the worker (``ui``) or now, in this thread."""
        request = self.request(ui=ui)
        self._badge.busy(request.method)
        if ui:
            self.engine.submit(request)  # the engine shows "busy" at once
            return
        result = self.engine.run_sync(request)
        if result.error is not None and result.generation == self.engine.generation:
            warnings.warn(
                f"{request.method} failed ({result.error!r}); seeds and the last good labels were kept",
                SegmentationWarning,
                stacklevel=4,
            )

    def prepare_in_background(self) -> None:
        """Run the method's ``prepare`` (e.g. SAM's image encoder) in the engine thread, busy shown.

        A segmenter may define ``prepare(image, **params)``: expensive per-photo work done once
        when the photo or the method is set, instead of on the first stroke. The request also
        segments (the seeds as they are), so it is an ordinary request for the engine: a newer
        one replaces it, and every background request prepares first (a no-op once done).
        """
        if self._host.closed or getattr(segmenters.get(self._host.method), "prepare", None) is None:
            return
        self._busy_note = "preparing the image"
        self.engine.submit(self.request(ui=False, background=True))

    def _compute(self, request: Request) -> np.ndarray:
        func = segmenters.get(request.method)
        doc = self._host.document
        doc.multiscale.set_image(doc.picture.segmentation_image())  # rebuilt only when what is seen changed
        prepare = getattr(func, "prepare", None)
        if request.prepare and prepare is not None:  # the image as the segmenter will receive it
            prepare(segmenters.adapt_image(func, doc.multiscale.image), **request.params)
        if request.prior is not None and not (request.seeds > 0).any() and not request.boxes:
            return request.prior.copy()  # a loaded mask, not refined yet
        if self.engine.stale():
            raise Cancelled
        return doc.multiscale.segment_staged(
            func,
            request.seeds,
            request.prior,
            request.params,
            preview=request.preview,
            should_stop=self.engine.stale,
            boxes=request.boxes,
        )

    def _apply(self, result: Result) -> None:
        method = self._host.method
        self.last_seconds = result.seconds
        self._busy_note = ""
        if result.error is not None:
            err = result.error
            self.report_error(err, f"⚠ {method} failed: {type(err).__name__}: {err}", result.generation)
            return
        value, window, preview = result.labels, None, False
        if isinstance(value, FastResult):
            # The window is relative to the fast path's previous result: only if that is shown.
            value, window = value.labels, (value.window if value.base is self._host.labels else None)
            if not result.labels.final:  # a preview: the final stage follows (latest wins)
                preview = True
                self._badge.refining(method)
                self.engine.submit(dataclasses.replace(result.request, preview=False))
        labels = np.asarray(value, dtype=np.uint16)
        self._show_labels(labels, window)
        n = len(self._host.document.label_ids)
        objs = f"{n} object{'s' if n != 1 else ''}"
        if preview:
            text = f"{method} · preview in {1000 * result.seconds:.0f} ms · {objs} · refining…"
        else:
            text = f"{method} · {1000 * result.seconds:.0f} ms · {objs}"
        if self.report_result(text, result.generation) and not preview:
            self._badge.done()

    def on_busy(self, busy: bool) -> None:
        """Show the engine's state on the badge and status line (the engine calls it, any thread)."""
        with self._status_lock:
            if busy:
                method = self._host.method
                self._badge.working(method)
                if self.last_error is None and self._badge.kind != "refining":  # an error stays until a newer result
                    note = self._busy_note
                    self.show_status(f"⏳ {method}: {note}…" if note else f"⏳ segmenting with {method}…")
            else:
                self._badge.idle()

    # Status line and ``last_error`` change together, under one lock, whichever thread reports:
    # ``last_error`` is set exactly when the status shows an error ("⚠ ..."). An error is
    # cleared only by the result of a request made after it (a later edit), not by a result
    # that was already on its way when the error happened.
    def report_error(self, err: BaseException, text: str, generation: int | None = None) -> None:
        """Show ``err`` (as ``text``) until the result of a request newer than ``generation``."""
        with self._status_lock:
            self.last_error = err
            self._error_generation = self.engine.generation if generation is None else generation
            self.show_status(text, error=True)

    def report_result(self, text: str, generation: int) -> bool:
        """Show a result's status; ``False`` if an error reported after its request stays on show."""
        with self._status_lock:
            if self.last_error is not None and generation <= self._error_generation:
                return False
            self.last_error = None
            self.show_status(text)
            return True

    def show_status(self, text: str, error: bool = False) -> None:
        """Set the status line (and, for an error, the canvas badge)."""
        if error:
            self._badge.error(text)  # on the canvas too: the status line may be off-screen
        self._show_status(text, error)

    def close(self, timeout: float | None) -> bool:
        """Stop the engine's worker (see :meth:`ipyseg.segmentation.engine.Engine.close`)."""
        return self.engine.close(timeout=timeout)
