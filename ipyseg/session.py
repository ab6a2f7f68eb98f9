"""One image's annotation state on disk: PNG images plus a JSON sidecar. No pickles.

A session saved as ``cat.json`` is these files (all readable without ipyseg)::

    cat.json          format, version, image (path, hashes, shape), boxes, object names and
                      classes, method, params, status, timestamps, and the names of:
    cat.seeds.png     (H, W) seed codes: 0 unmarked, 1 background, k + 1 object k (8-bit; 16-bit beyond code 255)
    cat.labels.png    (H, W) labels: 0 background, k object k (8-bit; 16-bit beyond 255)
    cat.prior.png     (H, W) labels of a loaded mask (only when there is one)

Every file is written atomically (:func:`atomic_write`): to a temporary name in the same
folder, flushed to disk, then renamed over the old one, so a crash at any moment leaves either
the previous or the new complete file. The JSON file is written last.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ipyseg._util.files import (  # noqa: F401  (re-exported: ipyseg.session.atomic_write)
    PAUSE_ENV,
    TMP_MARK,
    atomic_write,
    file_sha256,
    pixels_sha256,
    remove_stray_temporaries,
)
from ipyseg.export import encode_label_png  # noqa: F401  (re-exported)

#: ``format`` field of a session file.
FORMAT = "ipyseg-session"
#: Version of the session format written; files with a newer version are refused.
VERSION = 1
STATUSES = ("untouched", "in progress", "done", "skipped", "reviewed", "rejected")


class SessionError(ValueError):
    """A session file is missing, corrupt, truncated, of another version or of another image."""


def read_label_png(path, shape=None) -> np.ndarray:
    """Read a PNG written by :func:`encode_label_png`; a clear :class:`SessionError` if it is bad.

    Parameters
    ----------
    path : path
    shape : tuple, optional
        Expected ``(H, W)``.

    Returns
    -------
    (H, W) ndarray of uint8 or uint16
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SessionError(f"session file '{path}' is missing") from None
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if arr is None or arr.ndim != 2 or data[-12:-8] != b"\x00\x00\x00\x00" or data[-8:-4] != b"IEND":
        raise SessionError(f"session file '{path}' is not a complete single-channel PNG (corrupt or truncated)")
    if shape is not None and arr.shape != tuple(shape[:2]):
        raise SessionError(f"session file '{path}' has shape {arr.shape}; expected {tuple(shape[:2])}")
    return arr


def read_json(path, what: str = "session file") -> dict:
    """Read a JSON object, with errors that name the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SessionError(f"{what} '{path}' does not exist") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SessionError(f"{what} '{path}' is not valid JSON (corrupt or truncated: {err})") from None
    if not isinstance(data, dict):
        raise SessionError(f"{what} '{path}' must hold a JSON object; got {type(data).__name__}")
    return data


def write_json(path, data: dict) -> Path:
    """Write ``data`` as indented UTF-8 JSON to ``path``, atomically."""
    return atomic_write(path, (json.dumps(data, indent=1, sort_keys=False) + "\n").encode("utf-8"))


def now_iso() -> str:
    """The local time now, ISO 8601 with its UTC offset, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


# ------------------------------------------------------------------------------ state
@dataclass
class SessionState:
    """Everything needed to bring one image's annotation back.

    Attributes
    ----------
    shape : tuple
        ``(H, W)`` of the image.
    seeds : (H, W) ndarray of uint16
    labels : (H, W) ndarray of uint16
    prior : (H, W) ndarray of uint16, or None
        A loaded mask (see ``SegmentWidget.load_mask``).
    boxes : dict
        ``{object id: (x0, y0, x1, y1)}``: box constraints in image pixel edges (``x1``, ``y1``
        exclusive).
    object_names, object_classes : dict
        ``{object id: str}``.
    method : str
    params : dict
        JSON-serialisable parameter values.
    labels_current : bool
        ``False`` when the labels were saved while a segmentation was still running (they are
        recomputed when the session is loaded into a widget).
    image_path : str or None
        Where the photo came from (absolute path), if from a file.
    image_plane : int or None
        The plane of a TIFF stack at ``image_path`` (see :class:`ipyseg.io.TiffPlane`), if the
        photo is one plane of a stack.
    image_file_sha256, image_pixels_sha256 : str or None
        Hashes of the image file's bytes (not recorded for a plane of a stack) and of the data
        (the values as loaded, whatever the display settings).
    params_not_saved : tuple of str
        Parameters that are Python objects (e.g. ``sam``'s ``model``): they are not written to
        the JSON file, and are given again when a session is loaded.
    status : str or None
        ``"untouched"``, ``"in progress"``, ``"done"``, ``"skipped"``, ``"reviewed"`` or
        ``"rejected"`` (set by the Annotator; the last two by a reviewer).
    created, modified : str or None
        ISO 8601 timestamps.
    provenance : dict
        Who did what to the item, when (set by the Annotator): ``created_by``, ``modified_by``,
        ``finished_by`` and ``finished`` (who marked it done or skipped, when), ``reviewed_by``,
        ``reviewed`` and ``comment`` (who reviewed or rejected it, when, and why), and ``events``,
        a list of ``{"at", "by", "what"}`` (``what``: ``"edit"`` when a new person starts editing,
        or the status it was given, with a ``comment`` for a rejection; at most
        :data:`MAX_EVENTS`, oldest dropped). What made the labels: ``method`` and ``params``.
    extra : dict
        Other JSON fields, kept as they are.
    """

    shape: tuple
    seeds: np.ndarray
    labels: np.ndarray
    prior: np.ndarray | None = None
    boxes: dict = field(default_factory=dict)
    object_names: dict = field(default_factory=dict)
    object_classes: dict = field(default_factory=dict)
    method: str = ""
    params: dict = field(default_factory=dict)
    labels_current: bool = True
    image_path: str | None = None
    image_plane: int | None = None
    image_file_sha256: str | None = None
    image_pixels_sha256: str | None = None
    status: str | None = None
    created: str | None = None
    modified: str | None = None
    params_not_saved: tuple = ()
    provenance: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """No seeds, boxes, loaded mask, labels, names or classes."""
        return not (
            self.boxes
            or self.object_names
            or self.object_classes
            or self.prior is not None
            or self.seeds.any()
            or self.labels.any()
        )


def companion(path, kind: str) -> Path:
    """``cat.json`` -> ``cat.<kind>.png``."""
    path = Path(path)
    return path.with_name(path.name[: -len(".json")] + f".{kind}.png")


def _json_path(path, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a file path ending in .json; got {type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise ValueError(f"`{name}` must end in .json (the session's sidecar file); got '{path.name}'")
    return path


def _jsonable(value, where: str):
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{where} must be finite to be saved; got {v}")
        return v
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v, where) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    raise TypeError(f"{where} cannot be saved as JSON; got {type(value).__name__} {value!r}"[:200])


def _is_object(value) -> bool:
    """Whether a parameter value is a Python object JSON cannot hold (a model, a callable, ...)."""
    try:
        _jsonable(value, "")
    except TypeError:
        return True
    except ValueError:
        return False  # a value problem (NaN): reported by _jsonable
    return False


def split_params(params: dict) -> tuple[dict, tuple]:
    """``(saved, not_saved)``: the JSON-able parameters, and the names of the Python objects."""
    objects = tuple(sorted(k for k, v in params.items() if _is_object(v)))
    return {k: v for k, v in params.items() if k not in objects}, objects


def to_json(state: SessionState, path: Path) -> dict:
    """The JSON sidecar of ``state`` saved as ``path`` (companion files named after its stem)."""
    stem = path.name[: -len(".json")]
    params, objects = split_params(state.params)
    image = {
        "path": state.image_path,
        "file_sha256": state.image_file_sha256,
        "pixels_sha256": state.image_pixels_sha256,
    }
    if state.image_plane is not None:
        image["plane"] = int(state.image_plane)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "image": image,
        "size": {"height": int(state.shape[0]), "width": int(state.shape[1])},
        "status": state.status,
        "method": state.method,
        "params": _jsonable(params, "`params`"),
        "objects": {
            str(k): {"name": state.object_names.get(k), "class": state.object_classes.get(k)}
            for k in sorted(set(state.object_names) | set(state.object_classes))
        },
        "boxes": {str(k): [int(v) for v in b] for k, b in sorted(state.boxes.items())},
        "labels_current": bool(state.labels_current),
        "files": {
            "seeds": f"{stem}.seeds.png",
            "labels": f"{stem}.labels.png",
            "prior": f"{stem}.prior.png" if state.prior is not None else None,
        },
        "created": state.created,
        "modified": state.modified,
        **state.extra,
    }
    if state.provenance:
        doc["provenance"] = _jsonable(dict(state.provenance), "`provenance`")
    objects = tuple(sorted(set(objects) | set(state.params_not_saved) - set(params)))
    if objects:
        doc["params_not_saved"] = list(objects)
    return doc


_KNOWN = {"format", "version", "image", "size", "status", "method", "params", "objects", "boxes"}
_KNOWN |= {"labels_current", "files", "created", "modified", "params_not_saved", "provenance"}
#: Most provenance events an item keeps (the oldest are dropped first).
MAX_EVENTS = 200


def save(state: SessionState, path, *, skip=()) -> Path:
    """Write a session: the PNG files first, then the JSON sidecar (each atomically).

    Parameters
    ----------
    state : SessionState
    path : path
        The JSON file (must end in ``.json``); the PNG files go next to it.
    skip : iterable of str
        ``"seeds"``, ``"labels"`` or ``"prior"``: files known to be on disk already with this
        content (the autosaver's shortcut for unchanged arrays).

    Returns
    -------
    Path
        The JSON file.
    """
    path = _json_path(path)
    if state.status is not None and state.status not in STATUSES:
        raise ValueError(f"`status` must be one of {list(STATUSES)}; got {state.status!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = to_json(state, path)  # validates params before anything is written
    for kind, arr in (("seeds", state.seeds), ("labels", state.labels), ("prior", state.prior)):
        if arr is not None and kind not in skip:
            atomic_write(companion(path, kind), encode_label_png(arr, kind))
    write_json(path, doc)
    if state.prior is None:
        companion(path, "prior").unlink(missing_ok=True)
    return path


def load(path) -> SessionState:
    """Read a session written by :func:`save`.

    Raises
    ------
    SessionError
        A file is missing, not valid JSON / PNG (corrupt or truncated), of a newer version, or
        inconsistent with the sidecar; the message names the file.
    """
    path = _json_path(path)
    doc = read_json(path)
    if doc.get("format") != FORMAT:
        raise SessionError(f"'{path}' is not an ipyseg session (format {doc.get('format')!r}, expected {FORMAT!r})")
    version = doc.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise SessionError(f"'{path}' has session format version {version!r}; this ipyseg reads versions 1-{VERSION}")
    try:
        shape = (int(doc["size"]["height"]), int(doc["size"]["width"]))
        image = doc.get("image") or {}
        objects = doc.get("objects") or {}
        state = SessionState(
            shape=shape,
            seeds=read_label_png(companion(path, "seeds"), shape),
            labels=read_label_png(companion(path, "labels"), shape),
            boxes={int(k): tuple(int(v) for v in b) for k, b in (doc.get("boxes") or {}).items()},
            object_names={int(k): str(o["name"]) for k, o in objects.items() if o.get("name") is not None},
            object_classes={int(k): str(o["class"]) for k, o in objects.items() if o.get("class") is not None},
            method=str(doc.get("method") or ""),
            params=dict(doc.get("params") or {}),
            labels_current=bool(doc.get("labels_current", True)),
            image_path=image.get("path"),
            image_plane=None if image.get("plane") is None else int(image["plane"]),
            image_file_sha256=image.get("file_sha256"),
            image_pixels_sha256=image.get("pixels_sha256"),
            status=doc.get("status"),
            created=doc.get("created"),
            modified=doc.get("modified"),
            params_not_saved=tuple(str(k) for k in doc.get("params_not_saved") or ()),
            provenance=dict(doc.get("provenance") or {}),
            extra={k: v for k, v in doc.items() if k not in _KNOWN},
        )
        if (doc.get("files") or {}).get("prior"):
            state.prior = read_label_png(companion(path, "prior"), shape)
    except SessionError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SessionError(f"session file '{path}' is malformed ({type(err).__name__}: {err})") from None
    state.seeds = state.seeds.astype(np.uint16, copy=False)
    state.labels = state.labels.astype(np.uint16, copy=False)
    if state.prior is not None:
        state.prior = state.prior.astype(np.uint16, copy=False)
    if state.status is not None and state.status not in STATUSES:
        raise SessionError(f"session file '{path}' has unknown status {state.status!r}")
    return state


def check_image(
    state: SessionState, data: np.ndarray, image_path, session_path, *, shown=None, file_hash: str | None = None
) -> None:
    """Raise :class:`SessionError` if ``data`` is not the image the session was saved on.

    Parameters
    ----------
    state : SessionState
    data : (H, W) or (H, W, C) ndarray
        The image's data as loaded (``SegmentWidget.data``): display settings (contrast,
        channels) do not change it, so they never invalidate saved work.
    image_path : path or None
        The image's file; for a plane of a stack, the stack's file.
    session_path : path
        Named in the error.
    shown : ndarray, optional
        The image as shown (8-bit RGB): sessions written before the data was hashed recorded
        this one's hash, and still open.
    file_hash : str, optional
        ``image_path``'s SHA-256 if the caller has it already.

    Notes
    -----
    The file's bytes are compared when both the session and the caller know a file (robust to
    decoder versions) and the image is the whole file; otherwise the decoded values.
    """
    if tuple(data.shape[:2]) != tuple(state.shape):
        raise SessionError(
            f"session '{session_path}' is for a {state.shape[1]} x {state.shape[0]} image; "
            f"got {data.shape[1]} x {data.shape[0]}"
        )
    if image_path is not None and state.image_file_sha256 and state.image_plane is None:
        if (file_hash or file_sha256(image_path)) != state.image_file_sha256:
            raise SessionError(
                f"image '{image_path}' is not the one session '{session_path}' was saved on (file hash differs)"
            )
    elif state.image_pixels_sha256 and pixels_sha256(data) != state.image_pixels_sha256:
        if shown is not None and pixels_sha256(shown) == state.image_pixels_sha256:
            return
        where = f"'{image_path}'" if image_path is not None else "the given array"
        if state.image_plane is not None and image_path is not None:
            where = f"plane {state.image_plane} of '{image_path}'"
        raise SessionError(f"image {where} is not the one session '{session_path}' was saved on (pixel hash differs)")


def load_labels(path) -> tuple[np.ndarray, dict]:
    """Only the labels and ``{object id: class}`` of a saved session (for exports: one PNG read).

    Raises :class:`SessionError` as :func:`load` does.
    """
    path = _json_path(path)
    doc = read_json(path)
    if doc.get("format") != FORMAT or not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
        return (lambda st: (st.labels, st.object_classes))(load(path))  # load() names the problem
    try:
        shape = (int(doc["size"]["height"]), int(doc["size"]["width"]))
        classes = {int(k): str(o["class"]) for k, o in (doc.get("objects") or {}).items() if o.get("class") is not None}
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SessionError(f"session file '{path}' is malformed ({type(err).__name__}: {err})") from None
    return read_label_png(companion(path, "labels"), shape), classes
