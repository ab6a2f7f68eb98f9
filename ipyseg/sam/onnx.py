"""ONNX files without the ``onnx`` package: read a model's inputs and outputs, run it.

:func:`read_signature` walks the protobuf wire format of a ``.onnx`` file just far enough to
list the graph's inputs and outputs (names, element types, shapes), its opset and the operators
it uses; weights are skipped, never decoded. :func:`open_runner` runs a model on OpenCV's DNN
module or on onnxruntime behind one small interface (``run(feeds, names) -> arrays``).
"""

from __future__ import annotations

import mmap
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: ONNX TensorProto element types we name in messages.
ELEM_TYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}
FLOAT = 1

#: OpenCV versions whose DNN module runs SAM-family exports (checked: 5.0).
MIN_OPENCV = (5, 0)


class OnnxFormatError(ValueError):
    """The file is not an ONNX model we can read."""


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: name, element type code, shape (ints, or strings for symbolic dims)."""

    name: str
    elem_type: int
    shape: tuple | None  # None: rank unknown

    @property
    def dtype(self) -> str:
        """The element type's name (e.g. ``"float32"``)."""
        return ELEM_TYPES.get(self.elem_type, f"type {self.elem_type}")

    def describe(self) -> str:
        """``name: dtype (dims)`` for error messages."""
        dims = "?" if self.shape is None else "(" + ", ".join(str(d) for d in self.shape) + ")"
        return f"{self.name}: {self.dtype} {dims}"


@dataclass
class Signature:
    """What :func:`read_signature` found in a model file."""

    path: Path
    inputs: dict = field(default_factory=dict)  # name -> TensorInfo (initializers excluded)
    outputs: dict = field(default_factory=dict)
    opset: int = 0
    ops: set = field(default_factory=set)
    producer: str = ""


# ------------------------------------------------------------------ protobuf wire format


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise OnnxFormatError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise OnnxFormatError("varint too long")


def _fields(buf, start: int, end: int):
    """Yield ``(field number, wire type, value)``; length-delimited values are ``(start, end)``."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise OnnxFormatError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 5:
            value, pos = None, pos + 4
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            value, pos = (pos, pos + length), pos + length
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")
        if pos > end:
            raise OnnxFormatError("truncated field")
        yield number, wire, value


def _text(buf, span) -> str:
    return buf[span[0] : span[1]].decode("utf-8", errors="replace")


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _value_info(buf, span) -> TensorInfo:
    name, elem, shape = "", 0, None
    for num, wire, val in _fields(buf, *span):
        if num == 1 and wire == 2:
            name = _text(buf, val)
        elif num == 2 and wire == 2:  # TypeProto
            for tnum, twire, tval in _fields(buf, *val):
                if tnum == 1 and twire == 2:  # TypeProto.Tensor
                    for k, kw, kv in _fields(buf, *tval):
                        if k == 1 and kw == 0:
                            elem = kv
                        elif k == 2 and kw == 2:  # TensorShapeProto
                            shape = []
                            for d, dw, dv in _fields(buf, *kv):
                                if d == 1 and dw == 2:
                                    dim = "?"
                                    for x, xw, xv in _fields(buf, *dv):
                                        if x == 1 and xw == 0:
                                            dim = _signed(xv)
                                        elif x == 2 and xw == 2:
                                            dim = _text(buf, xv) or "?"
                                    shape.append(dim)
                            shape = tuple(shape)
    return TensorInfo(name, elem, shape)


def read_signature(path, name: str = "path") -> Signature:
    """Inputs, outputs, opset and operators of the ONNX model in ``path``.

    Parameters
    ----------
    path : str or path-like
        An ``.onnx`` file (weights may live in external data files; they are not read).
    name : str
        Argument name for error messages.

    Returns
    -------
    Signature

    Raises
    ------
    FileNotFoundError
        No such file.
    OnnxFormatError
        The file is not an ONNX model (not protobuf, or no graph).
    """
    p = Path(os.fspath(path))
    if not p.is_file():
        raise FileNotFoundError(f"`{name}`: no such file: '{p}'")
    size = p.stat().st_size
    if size == 0:
        raise OnnxFormatError(f"`{name}` '{p}' is not an ONNX model (empty file)")
    sig = Signature(path=p)
    # Indexing an mmap gives ints and slicing gives bytes: no buffer exports that could keep it open.
    with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        try:
            graph, initializers, inputs = None, set(), []
            for num, wire, val in _fields(buf, 0, size):
                if num == 7 and wire == 2:
                    graph = val
                elif num == 8 and wire == 2:  # opset_import
                    domain, version = "", 0
                    for k, kw, kv in _fields(buf, *val):
                        if k == 1 and kw == 2:
                            domain = _text(buf, kv)
                        elif k == 2 and kw == 0:
                            version = kv
                    if domain in ("", "ai.onnx"):
                        sig.opset = version
                elif num == 2 and wire == 2:
                    sig.producer = _text(buf, val)
            if graph is None:
                raise OnnxFormatError("no graph")
            for num, wire, val in _fields(buf, *graph):
                if num == 1 and wire == 2:  # NodeProto
                    for k, kw, kv in _fields(buf, *val):
                        if k == 4 and kw == 2:
                            sig.ops.add(_text(buf, kv))
                elif num == 5 and wire == 2:  # TensorProto initializer
                    for k, kw, kv in _fields(buf, *val):
                        if k == 8 and kw == 2:
                            initializers.add(_text(buf, kv))
                elif num == 11 and wire == 2:
                    inputs.append(_value_info(buf, val))
                elif num == 12 and wire == 2:
                    info = _value_info(buf, val)
                    sig.outputs[info.name] = info
            sig.inputs = {i.name: i for i in inputs if i.name not in initializers}
        except OnnxFormatError as err:
            raise OnnxFormatError(f"`{name}` '{p}' is not an ONNX model ({err})") from None
    if not sig.outputs:
        raise OnnxFormatError(f"`{name}` '{p}' is not an ONNX model (its graph has no outputs)")
    return sig


# --------------------------------------------------------------------------- runtimes


def onnxruntime_available() -> bool:
    """Whether onnxruntime can be imported (the optional runtime)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def opencv_version() -> tuple[int, ...]:
    """OpenCV's version as a tuple of ints (e.g. ``(4, 10, 0)``)."""
    import cv2

    parts = []
    for piece in cv2.__version__.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def resolve_backend(backend: str) -> str:
    """``"auto"`` -> ``"onnxruntime"`` when it is installed, else ``"opencv"``; others are checked."""
    if backend not in ("auto", "opencv", "onnxruntime"):
        raise ValueError(f"`backend` must be 'auto', 'opencv' or 'onnxruntime'; got {backend!r}")
    if backend == "auto":
        return "onnxruntime" if onnxruntime_available() else "opencv"
    if backend == "onnxruntime" and not onnxruntime_available():
        raise ImportError("`backend`='onnxruntime' needs the onnxruntime package: pip install 'ipyseg[sam]'")
    return backend


def _opencv_hint() -> str:
    return (
        f"ipyseg runs SAM-family exports on OpenCV >= {'.'.join(map(str, MIN_OPENCV))} "
        f"(this is OpenCV {'.'.join(map(str, opencv_version()))}); "
        "install onnxruntime (pip install 'ipyseg[sam]') or a newer opencv-python-headless"
    )


class RunError(RuntimeError):
    """A runtime failed to run a model; ``detail`` is the runtime's own message on one line."""

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


class OpenCVRunner:
    """A model on ``cv2.dnn`` (one net; calls are serialised, the net is not thread-safe)."""

    backend = "opencv"

    def __init__(self, signature: Signature, what: str):
        import cv2

        self.signature, self.what = signature, what
        if opencv_version() < MIN_OPENCV:
            raise RuntimeError(f"OpenCV cannot run the {what} '{signature.path.name}': {_opencv_hint()}")
        try:
            self._net = cv2.dnn.readNetFromONNX(str(signature.path))
        except Exception as err:  # cv2.error, or anything else the bindings raise
            raise self.load_error(_first_line(err)) from None
        self._all = list(signature.outputs)
        self._lock = threading.Lock()

    def load_error(self, detail: str, when: str = "") -> RuntimeError:
        """The one error for a model OpenCV cannot take, whether it fails on reading or on a first run.

        OpenCV versions differ in when an unsupported operator shows (``readNetFromONNX`` or the
        first ``setInput``/``forward``); callers that run the model once at load turn a
        :class:`RunError` into this, so the message does not depend on the version.
        """
        sig = self.signature
        return RuntimeError(
            f"OpenCV could not load the {self.what} '{sig.path.name}'{when} (ops used: {sorted(sig.ops)}): "
            f"{detail}. {_opencv_hint()}"
        )

    def run(self, feeds: dict, names: list[str]) -> list[np.ndarray]:
        """Run the network on ``feeds`` (name -> array) and return the outputs ``names``."""
        with self._lock:
            try:
                for name, value in feeds.items():
                    self._net.setInput(np.ascontiguousarray(value), name)
                # OpenCV 5's engine computes every graph output and wants them all named
                outs = dict(zip(self._all, self._net.forward(self._all), strict=True))
                outs = [outs[n] for n in names]
            except Exception as err:  # cv2.error, or anything else the bindings raise
                detail = _first_line(err)
                raise RunError(
                    f"OpenCV could not run the {self.what} '{self.signature.path.name}': {detail}. {_opencv_hint()}",
                    detail,
                ) from None
        return [np.asarray(o) for o in outs]


class OrtRunner:
    """A model on an onnxruntime CPU session (thread-safe)."""

    backend = "onnxruntime"

    def __init__(self, signature: Signature, what: str, threads: int | None = None):
        import onnxruntime as ort

        self.signature, self.what = signature, what
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(signature.path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise self.load_error(_first_line(err)) from None

    def load_error(self, detail: str, when: str = "") -> RuntimeError:
        """The error for a model onnxruntime cannot take (on reading, or on a run at load)."""
        return RuntimeError(f"onnxruntime could not load the {self.what} '{self.signature.path.name}'{when}: {detail}")

    def run(self, feeds: dict, names: list[str]) -> list[np.ndarray]:
        """Run the session on ``feeds`` (name -> array) and return the outputs ``names``."""
        try:
            return self._session.run(list(names), feeds)
        except Exception as err:
            detail = _first_line(err)
            raise RunError(
                f"onnxruntime could not run the {self.what} '{self.signature.path.name}': {detail}", detail
            ) from None


def open_runner(signature: Signature, backend: str, what: str, threads: int | None = None):
    """A runner for ``signature``'s model on ``backend`` (``"opencv"`` or ``"onnxruntime"``)."""
    if backend == "onnxruntime":
        return OrtRunner(signature, what, threads)
    return OpenCVRunner(signature, what)


def _first_line(err: BaseException) -> str:
    """The useful part of a runtime's error message, on one line."""
    parts = [ln.strip().lstrip(">").strip() for ln in str(err).splitlines()]
    text = " ".join(p for p in parts if p)
    at = text.rfind("error: (")  # OpenCV: "... error: (-215:Assertion failed) ... in function ..."
    text = text[at:] if at >= 0 else text
    return (text or type(err).__name__)[:400]
