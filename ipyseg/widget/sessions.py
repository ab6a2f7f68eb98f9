"""A widget's saved sessions: the checks between a :class:`~ipyseg.session.SessionState` and one photo.

Pure functions, no widget state: :func:`restorable` checks a state against the photo's shape
and the method registry and returns what ``SegmentWidget.restore_session`` assigns;
:func:`source_of` finds the photo a saved session was made on. ``SegmentWidget`` keeps the
public methods (``session_state``, ``restore_session``, ``save_session``, ``load_session``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ipyseg import segmenters, session
from ipyseg._constants import MAX_OBJECTS
from ipyseg._validation import as_label_code, as_labels, as_seeds
from ipyseg.geometry import box_window
from ipyseg.io import TiffPlane
from ipyseg.session import SessionState
from ipyseg.widget.traits import frozen


@dataclass(frozen=True)
class Restorable:
    """What a checked :class:`SessionState` gives one photo (arrays read-only)."""

    method: str
    params: dict
    seeds: np.ndarray  # (H, W) uint16
    boxes: dict  # {seed code: (r0, r1, c0, c1)}
    prior: np.ndarray | None  # (H, W) uint16
    labels: np.ndarray  # (H, W) uint16


def boxes_of(boxes: dict) -> dict:
    """``{object id: (x0, y0, x1, y1)}`` (a session's form, end exclusive) of ``{seed code: (r0, r1, c0, c1)}``."""
    return {code - 1: (c0, r0, c1, r1) for code, (r0, r1, c0, c1) in boxes.items()}


def restorable(state: SessionState, shape: tuple, method: str, params_by_method: dict) -> Restorable:
    """Check ``state`` against a photo of ``shape`` (H, W, ...); raise before anything changes.

    Parameters
    ----------
    state : SessionState
    shape : tuple
        The photo's shape.
    method : str
        The widget's method, used when the state names none.
    params_by_method : dict
        The widget's ``{method: params}``: the parameters a session could not save (e.g.
        ``sam``'s ``model``) are taken from there.
    """
    h, w = shape[:2]
    if tuple(state.shape) != (h, w):
        raise ValueError(f"`state` is for a {state.shape[1]} x {state.shape[0]} image; this photo is {w} x {h}")
    segmenters.get(state.method or None)
    method = state.method or method
    params = dict(state.params)
    mine = params_by_method.get(method, {})
    wanted = set(state.params_not_saved) | set(segmenters.required_params(segmenters.get(method)))
    for name in wanted - set(params):
        if name in mine:
            params[name] = mine[name]
    segmenters.check_params(method, params)
    seeds = as_seeds(state.seeds, shape, "state.seeds")
    labels = np.asarray(state.labels)
    if labels.shape != (h, w) or (labels.size and int(labels.max()) > MAX_OBJECTS):
        raise ValueError(f"`state.labels` must be ({h}, {w}) with values <= {MAX_OBJECTS}")
    boxes = {}
    for k, (x0, y0, x1, y1) in state.boxes.items():
        boxes[as_label_code(int(k) + 1, "box object + 1")] = box_window((y0, x0), (y1 - 1, x1 - 1), shape)
    prior = None if state.prior is None else frozen(as_labels(state.prior, shape, "state.prior"))
    return Restorable(method, params, seeds, boxes, prior, frozen(labels.astype(np.uint16)))


def source_of(state: SessionState, path, image, kwargs: dict):
    """The photo to open session ``path`` on: ``image``, else the file (or TIFF plane) it records.

    Raises ``SessionError`` for a session of an in-memory array without ``image``, and
    ``TypeError`` when a parameter the session could not save is not in ``kwargs``.
    """
    source = image
    if source is None:
        if not state.image_path:
            raise session.SessionError(
                f"session '{path}' was saved from an in-memory array: pass the photo as `image=`"
            )
        source = state.image_path
        if state.image_plane is not None:
            source = TiffPlane(state.image_path, state.image_plane)
    missing = [k for k in state.params_not_saved if k not in state.params and k not in kwargs]
    if missing:
        raise TypeError(
            f"session '{path}' was saved with the parameter(s) {missing} of method {state.method!r}, which are "
            f"Python objects and not saved: pass them again, e.g. load_session(path, {missing[0]}=...)"
        )
    return source
