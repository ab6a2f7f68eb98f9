"""Segment-Anything prompts with your own ONNX weights: :class:`SamModel`, and the ``"sam"`` method.

``SamModel(encoder_path, decoder_path)`` loads an image encoder and a prompt decoder exported to
ONNX (the official SAM decoder interface; MobileSAM, EfficientSAM-as-SAM, SAM, LiteMedSAM and
SAM 2 exports with the same inputs) and runs them on OpenCV's DNN module or on onnxruntime.
To the rest of ipyseg it is an ordinary segmenter: ``model(image, seeds, boxes=...) -> labels``.

    from ipyseg.sam import SamModel
    sam = SamModel("mobile_sam_encoder.onnx", "mobile_sam_decoder.onnx")
    w = ipyseg.SegmentWidget("photo.jpg", method="sam", model=sam)
    labels = ipyseg.segment(img, seeds, method="sam", model=sam)

What happens per call: the photo's embedding comes from the cache (memory, then ``cache_dir``)
or from the encoder; the seeds become point prompts (:mod:`ipyseg._sam_prompts`), boxes become
box prompts; the decoder runs once per object (with the object's previous low-resolution
logits as ``mask_input`` when its prompts only grew); objects are resolved by the largest
logit; seeds that contradict the result are enforced by a graph cut around them and at full
resolution (:mod:`ipyseg._sam_masks`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import _onnx
from ._sam_masks import enforce_seeds, refine_with_seeds, upsample_labels, work_logits
from ._sam_prompts import Frame, box_to_input, seed_points, work_seeds
from .segmenters import register

#: Decoder inputs that carry prompts; the others are image features from the encoder.
PROMPT_INPUTS = ("point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size")
REQUIRED_PROMPT_INPUTS = ("point_coords", "point_labels", "mask_input", "has_mask_input")
#: SAM's pixel normalisation (ImageNet mean and std, 0-255 units).
IMAGENET = ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
NORMALIZATIONS = ("imagenet", "minmax")
#: Prompt results remembered per model (for refinement and for undo/redo to give the same mask).
MEMO_SIZE = 512


@dataclass
class Embedding:
    """One photo's encoder output and what goes with it.

    Attributes
    ----------
    key : str
        Hash of the photo (and the model), the cache key.
    frame : Frame
        The photo's sizes in SAM's frames.
    features : dict
        Decoder input name -> encoder output array.
    small : (new_h, new_w, 3) ndarray of uint8
        The resized photo (the work grid) in OpenCV's 8-bit Lab, for the stroke graph cut.
    seconds : float
        Encoder time (0 when it came from a cache).
    source : str
        ``"encoder"``, ``"memory"`` or ``"disk"``.
    """

    key: str
    frame: Frame
    features: dict
    small: np.ndarray
    seconds: float = 0.0
    source: str = "encoder"


@dataclass
class SamPrediction:
    """Result of :meth:`SamModel.predict` for one prompt set.

    Attributes
    ----------
    mask : (H, W) ndarray of bool
        Full resolution (SAM's postprocessing, threshold 0).
    low_res : (M, M) ndarray of float32
        The decoder's low-resolution logits (feed them back as ``mask_input``).
    score : float
        The decoder's IoU prediction for the chosen mask.
    """

    mask: np.ndarray
    low_res: np.ndarray
    score: float


@dataclass
class _Spec:
    input_name: str
    hwc: bool  # the encoder takes the resized (new_h, new_w, 3) RGB photo and normalises and pads it itself
    size: int
    resize: str
    features: dict  # decoder input name -> encoder output name
    feature_shapes: dict  # decoder input name -> static shape or None
    mask_size: int
    low_res_output: str
    iou_output: str
    orig_im_size: bool
    pad_point: bool
    variant: str


@dataclass
class _Decoded:
    points: frozenset
    low_res: np.ndarray  # (M, M)
    score: float
    refined_from: frozenset | None = None


@dataclass
class _Timing:
    encoder: list = field(default_factory=list)
    decoder: list = field(default_factory=list)


def _static(shape) -> bool:
    return shape is not None and all(isinstance(d, int) and d > 0 for d in shape)


def _names(infos) -> str:
    return ", ".join(i.describe() for i in infos.values())


def _check_pair(enc, dec, input_size, resize) -> _Spec:
    """Match an encoder's outputs to a decoder's inputs; clear errors for anything that does not fit."""
    if "point_coords" in enc.inputs and "point_coords" not in dec.inputs:
        raise ValueError(
            f"`encoder_path` '{enc.path.name}' looks like a prompt decoder (inputs: {_names(enc.inputs)}); "
            "pass the image encoder first, then the decoder"
        )
    missing = [n for n in REQUIRED_PROMPT_INPUTS if n not in dec.inputs]
    if missing:
        raise ValueError(
            f"`decoder_path` '{dec.path.name}' lacks the SAM decoder input(s) {missing}; it has: {_names(dec.inputs)}. "
            "Expected the official SAM ONNX decoder interface (image_embeddings, point_coords, point_labels, "
            "mask_input, has_mask_input, orig_im_size -> masks, iou_predictions, low_res_masks)"
        )
    for name in ("point_coords", "point_labels", "mask_input", "has_mask_input", *dec.inputs):
        info = dec.inputs[name]
        if info.elem_type != _onnx.FLOAT:
            raise ValueError(f"`decoder_path` input `{name}` must be float32; got {info.dtype}")
    if "iou_predictions" not in dec.outputs:
        raise ValueError(
            f"`decoder_path` '{dec.path.name}' lacks the output `iou_predictions`; it has: {_names(dec.outputs)}"
        )
    if "low_res_masks" in dec.outputs:
        low_res_output = "low_res_masks"
    elif "masks" in dec.outputs and "orig_im_size" not in dec.inputs:
        low_res_output = "masks"  # SAM 2 exports: masks at mask_input's size, no orig_im_size
    else:
        raise ValueError(
            f"`decoder_path` '{dec.path.name}' lacks the output `low_res_masks` (the logits at mask_input's "
            f"resolution); it has: {_names(dec.outputs)}"
        )
    mi = dec.inputs["mask_input"].shape
    if mi is None or len(mi) != 4 or not isinstance(mi[2], int) or mi[2] != mi[3] or mi[2] <= 0:
        raise ValueError(f"`decoder_path` input `mask_input` must have a static square shape (1, 1, M, M); got {mi}")
    pc = dec.inputs["point_coords"].shape
    if pc is None or len(pc) != 3 or pc[2] != 2:
        raise ValueError(f"`decoder_path` input `point_coords` must have shape (1, N, 2); got {pc}")

    if len(enc.inputs) != 1:
        raise ValueError(
            f"`encoder_path` '{enc.path.name}' must take one image input (1, 3, S, S); it has: {_names(enc.inputs)}"
        )
    (inp,) = enc.inputs.values()
    shape = inp.shape
    hwc = shape is not None and len(shape) == 3 and shape[2] == 3  # preprocessing inside the model
    if inp.elem_type != _onnx.FLOAT or not (hwc or (shape is not None and len(shape) == 4 and shape[1] == 3)):
        raise ValueError(
            "`encoder_path` input must be a float32 (1, 3, S, S) image (normalised and padded by ipyseg) or an "
            f"(H, W, 3) image it resizes to S itself; got {inp.describe()}"
        )
    static = [] if hwc else [d for d in shape[2:] if isinstance(d, int) and d > 0]
    if len(static) == 2 and static[0] != static[1]:
        raise ValueError(f"`encoder_path` input must be square (1, 3, S, S); got {inp.describe()}")
    if input_size is None:
        size = static[0] if static else 1024
    else:
        size = int(input_size)
        if size < 16 or (static and static[0] != size):
            raise ValueError(
                f"`input_size` must be the encoder's input side ({static[0] if static else '>= 16'}); got {input_size}"
            )

    feature_inputs = [n for n in dec.inputs if n not in PROMPT_INPUTS]
    if not feature_inputs:
        raise ValueError(
            f"`decoder_path` '{dec.path.name}' has no image-feature input (e.g. image_embeddings); "
            f"it has: {_names(dec.inputs)}"
        )
    if len(feature_inputs) == 1 and len(enc.outputs) == 1:
        wiring = {feature_inputs[0]: next(iter(enc.outputs))}
    else:
        absent = [n for n in feature_inputs if n not in enc.outputs]
        if absent:
            raise ValueError(
                f"the encoder's outputs ({_names(enc.outputs)}) do not provide the decoder's image-feature "
                f"input(s) {absent}: pass an encoder and a decoder exported together"
            )
        wiring = {n: n for n in feature_inputs}
    feature_shapes = {}
    for d_name, e_name in wiring.items():
        ds, es = dec.inputs[d_name].shape, enc.outputs[e_name].shape
        if _static(ds) and _static(es) and tuple(ds) != tuple(es):
            raise ValueError(
                f"the encoder's output `{e_name}` has shape {es} but the decoder's input `{d_name}` expects {ds}: "
                "pass an encoder and a decoder exported together"
            )
        feature_shapes[d_name] = tuple(ds) if _static(ds) else (tuple(es) if _static(es) else None)

    sam2 = "orig_im_size" not in dec.inputs or len(feature_inputs) > 1
    if resize == "auto":
        resize = "stretch" if sam2 else "longest"
    elif resize not in ("longest", "stretch"):
        raise ValueError(f"`resize` must be 'auto', 'longest' or 'stretch'; got {resize!r}")
    return _Spec(
        input_name=inp.name,
        hwc=hwc,
        size=size,
        resize=resize,
        features=wiring,
        feature_shapes=feature_shapes,
        mask_size=int(mi[2]),
        low_res_output=low_res_output,
        iou_output="iou_predictions",
        orig_im_size="orig_im_size" in dec.inputs,
        pad_point=not sam2,
        variant="sam2" if sam2 else "sam",
    )


def _check_normalize(normalize):
    if isinstance(normalize, str):
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"`normalize` must be one of {list(NORMALIZATIONS)} or (mean, std); got {normalize!r}")
        return normalize
    try:
        mean, std = (np.asarray(v, np.float32).reshape(3) for v in normalize)
    except (TypeError, ValueError):
        raise ValueError(
            f"`normalize` must be one of {list(NORMALIZATIONS)} or a pair (mean, std) of 3 numbers each; got {normalize!r}"
        ) from None
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ValueError(f"`normalize` (mean, std) must be finite with std > 0; got {normalize!r}")
    return (tuple(float(v) for v in mean), tuple(float(v) for v in std))


def _check_params(refine, stroke_points, smoothness):
    if not isinstance(refine, (bool, np.bool_)):
        raise TypeError(f"`refine` must be True or False; got {refine!r}")
    if isinstance(stroke_points, bool) or not isinstance(stroke_points, (int, np.integer)) or stroke_points < 1:
        raise ValueError(f"`stroke_points` must be an integer >= 1; got {stroke_points!r}")
    if (
        isinstance(smoothness, bool)
        or not isinstance(smoothness, (int, float, np.integer, np.floating))
        or not np.isfinite(smoothness)
        or smoothness < 0
    ):
        raise ValueError(f"`smoothness` must be a finite number >= 0; got {smoothness!r}")


class SamModel:
    """A Segment-Anything-family model from an ONNX image encoder and an ONNX prompt decoder.

    Parameters
    ----------
    encoder_path : str or path-like
        Image encoder: one float32 input ``(1, 3, S, S)`` (the photo resized, normalised and
        padded by ipyseg; ``S`` is read from the file, e.g. 1024), or ``(H, W, 3)`` (the photo
        resized to ``S`` on its longer side, 0-255 RGB; the model normalises and pads it, as
        samexporter's ``--use-preprocess`` exports do). Outputs the image features the decoder
        takes (``image_embeddings``; SAM 2: ``image_embed``, ``high_res_feats_0``,
        ``high_res_feats_1``).
    decoder_path : str or path-like
        Prompt decoder with the official SAM ONNX interface: inputs ``image_embeddings``,
        ``point_coords``, ``point_labels``, ``mask_input``, ``has_mask_input``, ``orig_im_size``;
        outputs ``masks``, ``iou_predictions``, ``low_res_masks``. SAM 2 decoders without
        ``orig_im_size`` whose ``masks`` are at ``mask_input``'s size are accepted too.
    backend : {"auto", "opencv", "onnxruntime"}
        ``"auto"``: onnxruntime when it is installed (about twice as fast on a CPU), else
        OpenCV's DNN module (OpenCV >= 5.0).
    input_size : int, optional
        ``S`` for encoders whose input size is not fixed in the file (default 1024).
    resize : {"auto", "longest", "stretch"}
        ``"longest"``: SAM's resize of the longer side to ``S`` (aspect kept, padded at the
        bottom and right); ``"stretch"``: SAM 2's resize to ``S x S``. ``"auto"`` picks
        ``"stretch"`` for SAM 2 decoders.
    normalize : "imagenet", "minmax" or (mean, std)
        Pixel normalisation before padding: SAM's ImageNet mean and std (0-255 units), or the
        photo scaled by its own minimum and maximum to [0, 1] (MedSAM / LiteMedSAM), or
        per-channel ``(mean, std)`` in 0-255 units.
    cache_dir : str or path-like, optional
        Keep embeddings on disk too (``.npz`` files named by the photo's and the model's hashes,
        written atomically, loaded without pickle).
    memory_cache : int
        Embeddings kept in memory (least recently used dropped first).
    threads : int, optional
        onnxruntime threads (default: all cores). OpenCV uses ``cv2.setNumThreads``.

    Attributes
    ----------
    backend : str
        ``"opencv"`` or ``"onnxruntime"``.
    input_size : int
    variant : str
        ``"sam"`` or ``"sam2"`` (which decoder interface was found).
    timings : dict
        Seconds of the last ``"encoder"`` and ``"decoder"`` runs.
    """

    #: The widget's coarse-to-fine fast path leaves this segmenter at full resolution: it works
    #: on its own grid and returns full-resolution labels.
    full_resolution = True

    def __init__(
        self,
        encoder_path,
        decoder_path,
        *,
        backend: str = "auto",
        input_size: int | None = None,
        resize: str = "auto",
        normalize="imagenet",
        cache_dir=None,
        memory_cache: int = 8,
        threads: int | None = None,
    ):
        enc = _onnx.read_signature(encoder_path, "encoder_path")
        dec = _onnx.read_signature(decoder_path, "decoder_path")
        if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer))):
            raise TypeError(f"`input_size` must be an integer; got {input_size!r}")
        self._spec = _check_pair(enc, dec, input_size, resize)
        self._normalize = _check_normalize(normalize)
        if isinstance(memory_cache, bool) or not isinstance(memory_cache, (int, np.integer)) or memory_cache < 1:
            raise ValueError(f"`memory_cache` must be an integer >= 1; got {memory_cache!r}")
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1
        ):
            raise ValueError(f"`threads` must be None or an integer >= 1; got {threads!r}")
        self.cache_dir = None if cache_dir is None else Path(os.fspath(cache_dir))
        if self.cache_dir is not None and self.cache_dir.exists() and not self.cache_dir.is_dir():
            raise ValueError(f"`cache_dir` '{self.cache_dir}' exists and is not a folder")
        self.encoder_path, self.decoder_path = enc.path, dec.path
        self.backend = _onnx.resolve_backend(backend)
        self._encoder = _onnx.open_runner(enc, self.backend, "encoder", threads)
        self._decoder = _onnx.open_runner(dec, self.backend, "decoder", threads)
        self._memory_size = int(memory_cache)
        self._memory: OrderedDict[str, Embedding] = OrderedDict()
        self._ids: dict[int, tuple] = {}  # id(read-only array) -> (weakref, image hash)
        self._memo: OrderedDict[tuple, _Decoded] = OrderedDict()
        self._last: dict[tuple, frozenset] = {}  # (embedding key, code) -> points of the last decode
        self._lock = threading.RLock()
        self._encode_lock = threading.Lock()
        self._model_key: str | None = None
        self._local = threading.local()  # per-thread full-resolution float buffer for upsampling
        self.timings: dict = {"encoder": None, "decoder": None}
        self._dry_run()

    # ------------------------------------------------------------------ info
    @property
    def input_size(self) -> int:
        return self._spec.size

    @property
    def variant(self) -> str:
        return self._spec.variant

    def __repr__(self) -> str:
        return (
            f"SamModel({self.encoder_path.name!r}, {self.decoder_path.name!r}, backend={self.backend!r}, "
            f"input_size={self._spec.size}, variant={self._spec.variant!r})"
        )

    # ------------------------------------------------------------- embedding
    def prepare(self, image, **params) -> Embedding:
        """Compute (or fetch from a cache) the embedding of ``image``; the widget calls this off the event thread.

        ``params`` (the method's parameters) are accepted and ignored, so that any segmenter's
        ``prepare(image, **params)`` can be called the same way.
        """
        return self.embed(image)

    def embed(self, image) -> Embedding:
        """The embedding of ``image`` (RGB(A) array, PIL image or path): memory cache, disk cache, or the encoder.

        Returns
        -------
        Embedding
        """
        rgb = self._rgb(image)
        key = self._image_key(rgb)
        with self._lock:
            emb = self._memory.get(key)
            if emb is not None:
                self._memory.move_to_end(key)
                return Embedding(emb.key, emb.frame, emb.features, emb.small, 0.0, "memory")
        with self._encode_lock:  # one encoder run per photo even when two threads ask at once
            with self._lock:
                emb = self._memory.get(key)
            if emb is not None:
                return Embedding(emb.key, emb.frame, emb.features, emb.small, 0.0, "memory")
            frame = Frame.make(rgb.shape[0], rgb.shape[1], self._spec.size, self._spec.resize)
            blob, small = self._preprocess(rgb, frame)
            features = self._load_disk(key)
            source, seconds = "disk", 0.0
            if features is None:
                t0 = time.perf_counter()
                names = list(self._spec.features.values())
                outs = self._encoder.run({self._spec.input_name: blob}, names)
                seconds = time.perf_counter() - t0
                self.timings["encoder"] = seconds
                by_name = dict(zip(names, outs, strict=True))
                features = {d: np.ascontiguousarray(by_name[e], np.float32) for d, e in self._spec.features.items()}
                self._check_features(features)
                self._save_disk(key, features)
                source = "encoder"
            emb = Embedding(key, frame, features, small, seconds, source)
            with self._lock:
                self._memory[key] = emb
                while len(self._memory) > self._memory_size:
                    self._memory.popitem(last=False)
        return emb

    def clear_cache(self) -> None:
        """Forget the embeddings and prompt results kept in memory (the disk cache stays)."""
        with self._lock:
            self._memory.clear()
            self._memo.clear()
            self._last.clear()
            self._ids.clear()

    # -------------------------------------------------------------- decoding
    def predict(self, image, points=None, labels=None, box=None, mask_input=None) -> SamPrediction:
        """One decoder run for one prompt set, with SAM's own postprocessing.

        Parameters
        ----------
        image : array_like, PIL image or path
        points : (N, 2) array_like, optional
            ``(x, y)`` image pixel coordinates.
        labels : (N,) array_like, optional
            1 foreground, 0 background (default: all foreground).
        box : tuple, optional
            ``(x0, y0, x1, y1)`` image pixel coordinates.
        mask_input : (M, M) ndarray, optional
            Low-resolution logits of an earlier prediction (``SamPrediction.low_res``).

        Returns
        -------
        SamPrediction
        """
        emb = self.embed(image)
        frame = emb.frame
        pts = np.zeros((0, 2)) if points is None else np.asarray(points, np.float64).reshape(-1, 2)
        lab = np.ones(len(pts)) if labels is None else np.asarray(labels, np.float64).reshape(-1)
        if len(lab) != len(pts):
            raise ValueError(f"`labels` must have one value per point ({len(pts)}); got {len(lab)}")
        if not np.isfinite(pts).all() or not np.isin(lab, (0, 1)).all():
            raise ValueError("`points` must be finite and `labels` 0 (background) or 1 (foreground)")
        coords, codes = [frame.to_input(pts)], [lab]
        if box is not None:
            b = np.asarray(box, np.float64).reshape(4)
            if not np.isfinite(b).all() or b[2] < b[0] or b[3] < b[1]:
                raise ValueError(f"`box` must be finite (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1; got {box!r}")
            coords.append(frame.to_input(b.reshape(2, 2)))
            codes.append(np.array([2.0, 3.0]))
        if not len(pts) and box is None:
            raise ValueError("`points` or `box` is needed")
        if mask_input is not None:
            mask_input = np.asarray(mask_input, np.float32)
            m = self._spec.mask_size
            if mask_input.shape != (m, m):
                raise ValueError(f"`mask_input` must have shape ({m}, {m}); got {mask_input.shape}")
        low, score = self._decode(emb, np.concatenate(coords), np.concatenate(codes), box is not None, mask_input)
        logits = work_logits(low, frame)[None]
        mask = upsample_labels(logits, np.array([1]), (frame.height, frame.width), scratch=self._scratch) > 0
        return SamPrediction(mask, low, score)

    def __call__(self, image, seeds, *, boxes=None, refine=True, stroke_points=4, smoothness=5.0):
        """Segment with the seeds and boxes as prompts (the segmenter interface).

        Parameters
        ----------
        image : (H, W, 3) ndarray of uint8
            RGB photo (validated by :func:`ipyseg.segment` or the widget).
        seeds : (H, W) ndarray of uint8
            ``0`` unmarked, ``1`` background, ``k + 1`` object k. Every seed component is a
            prompt (a click: one point; a stroke: points along it) and a hard constraint.
        boxes : dict, optional
            ``{code: (r0, r1, c0, c1)}`` windows (end exclusive): a box prompt for that object.
        refine : bool
            Feed an object's previous low-resolution logits back as ``mask_input`` when its
            prompts only grew (SAM's interactive protocol); prompts removed (undo, erase) start
            afresh.
        stroke_points : int
            Most points taken from one stroke.
        smoothness : float
            Weight of the boundary term of the graph cut that makes the result obey seeds the
            model contradicts.

        Returns
        -------
        (H, W) ndarray of uint8
            Labels: ``0`` background, ``k`` object k; every seeded pixel has its seed's label.
        """
        _check_params(refine, stroke_points, smoothness)
        seeds = np.ascontiguousarray(seeds, dtype=np.uint8)
        boxes = dict(boxes or {})
        emb = self.embed(image)
        frame = emb.frame
        if seeds.shape != (frame.height, frame.width):
            raise ValueError(f"`seeds` (shape {seeds.shape}) must match the image ({frame.height}, {frame.width})")
        bbox = cv2.boundingRect(seeds)
        ws = work_seeds(seeds, frame, bbox)
        points = seed_points(seeds, ws, frame, int(stroke_points))
        codes = sorted({c for c in points if c >= 2} | {int(c) for c in boxes})
        labels = np.zeros(seeds.shape, np.uint8)
        if not codes:
            return labels
        negative = points.get(1, np.zeros((0, 2)))
        logits = []
        for code in codes:
            positive = points.get(code, np.zeros((0, 2)))
            coords = [positive, negative]
            kinds = [np.ones(len(positive)), np.zeros(len(negative))]
            if code in boxes:
                coords.append(box_to_input(boxes[code], frame))
                kinds.append(np.array([2.0, 3.0]))
            coords, kinds = np.concatenate(coords), np.concatenate(kinds)
            low = self._decode_object(emb, code, coords, kinds, code in boxes, bool(refine))
            logits.append(work_logits(low, frame))
        logits = np.stack(logits)
        values = np.array(codes, np.intp) - 1
        logits, _ = refine_with_seeds(logits, values, ws, emb.small, smoothness=float(smoothness))
        labels = upsample_labels(logits, values, seeds.shape, scratch=self._scratch)
        return enforce_seeds(labels, seeds, bbox)

    # --------------------------------------------------------------- private
    def _scratch(self, shape: tuple) -> np.ndarray:
        """A float32 buffer of ``shape`` reused by this thread (one at a time: the last shape asked)."""
        buf = getattr(self._local, "buf", None)
        if buf is None or buf.shape != tuple(shape):
            buf = self._local.buf = np.empty(shape, np.float32)
        return buf

    def _decode_object(self, emb, code, coords, kinds, has_box, refine):
        """Decode one object's prompts, reusing or refining earlier results for this photo and object."""
        points = frozenset(zip(np.round(coords[:, 0], 3), np.round(coords[:, 1], 3), kinds, strict=True))
        key = (emb.key, code, points, refine)
        with self._lock:
            hit = self._memo.get(key)
            prev_points = self._last.get((emb.key, code))
            prev = self._memo.get((emb.key, code, prev_points, refine)) if prev_points is not None else None
        if hit is not None:
            with self._lock:
                self._memo.move_to_end(key)
                self._last[(emb.key, code)] = points
            return hit.low_res
        mask_input = None
        if refine and prev is not None and prev.points < points:
            mask_input = prev.low_res
        low, score = self._decode(emb, coords, kinds, has_box, mask_input)
        with self._lock:
            self._memo[key] = _Decoded(points, low, score, prev.points if mask_input is not None else None)
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
            self._last[(emb.key, code)] = points
        return low

    def _decode(self, emb, coords, kinds, has_box, mask_input):
        """Run the decoder: (N, 2) input-frame coords and SAM point labels -> ((M, M) logits, score)."""
        spec = self._spec
        coords = np.asarray(coords, np.float32).reshape(-1, 2)
        kinds = np.asarray(kinds, np.float32).reshape(-1)
        if spec.pad_point and not has_box:  # SAM's predictor pads point-only prompts
            coords = np.concatenate([coords, np.zeros((1, 2), np.float32)])
            kinds = np.concatenate([kinds, np.array([-1.0], np.float32)])
        m = spec.mask_size
        feeds = dict(emb.features)
        feeds["point_coords"] = coords[None]
        feeds["point_labels"] = kinds[None]
        if mask_input is None:
            feeds["mask_input"] = np.zeros((1, 1, m, m), np.float32)
            feeds["has_mask_input"] = np.zeros(1, np.float32)
        else:
            feeds["mask_input"] = np.asarray(mask_input, np.float32).reshape(1, 1, m, m)
            feeds["has_mask_input"] = np.ones(1, np.float32)
        if spec.orig_im_size:
            # Only the low-resolution output is used: keep the graph's own upscaling small.
            feeds["orig_im_size"] = np.array([emb.frame.new_h, emb.frame.new_w], np.float32)
        t0 = time.perf_counter()
        low, iou = self._decoder.run(feeds, [spec.low_res_output, spec.iou_output])
        self.timings["decoder"] = time.perf_counter() - t0
        low = np.asarray(low, np.float32)
        if low.ndim != 4 or low.shape[-2:] != (m, m):
            raise RuntimeError(
                f"the decoder's `{spec.low_res_output}` has shape {low.shape}; expected (1, C, {m}, {m}) "
                "like `mask_input`"
            )
        iou = np.asarray(iou, np.float32).reshape(-1)
        best = int(np.argmax(iou)) if low.shape[1] > 1 and iou.size == low.shape[1] else 0
        return np.ascontiguousarray(low[0, best]), float(iou[best] if iou.size > best else np.nan)

    def _dry_run(self) -> None:
        """Run the decoder once on zero features, so that a model the runtime cannot execute fails now."""
        shapes = self._spec.feature_shapes
        if any(s is None for s in shapes.values()):
            return  # dynamic feature shapes: checked on the first photo
        s = self._spec.size
        frame = Frame.make(s, s, s, self._spec.resize)
        emb = Embedding("dry-run", frame, {n: np.zeros(shape, np.float32) for n, shape in shapes.items()}, None)
        self._decode(emb, np.array([[s / 2, s / 2]]), np.array([1.0]), False, None)
        self.timings["decoder"] = None

    def _check_features(self, features: dict) -> None:
        for name, arr in features.items():
            want = self._spec.feature_shapes.get(name)
            if want is not None and tuple(arr.shape) != tuple(want):
                raise RuntimeError(f"the encoder produced `{name}` with shape {arr.shape}; the decoder expects {want}")

    def _preprocess(self, rgb: np.ndarray, frame: Frame):
        """Resize, normalise and pad: ((1, 3, S, S) float32 blob, (new_h, new_w, 3) uint8 Lab of the resized photo).

        Encoders that take an (H, W, 3) image get the resized photo as float32 0-255 RGB instead.
        """
        h, w = frame.new_h, frame.new_w
        if (h, w) == rgb.shape[:2]:
            small = rgb
        else:
            shrink = h < rgb.shape[0] or w < rgb.shape[1]
            small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        lab = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2LAB)
        x = small.astype(np.float32)
        if self._spec.hwc:
            return x, lab
        if self._normalize == "imagenet":
            mean, std = IMAGENET
            x = (x - np.float32(mean)) / np.float32(std)
        elif self._normalize == "minmax":
            lo, hi = float(x.min()), float(x.max())
            x = (x - lo) / max(hi - lo, 1e-8)
        else:
            mean, std = self._normalize
            x = (x - np.float32(mean)) / np.float32(std)
        s = frame.size
        blob = np.zeros((1, 3, s, s), np.float32)
        blob[0, :, :h, :w] = x.transpose(2, 0, 1)
        return blob, lab

    @staticmethod
    def _rgb(image) -> np.ndarray:
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            return np.ascontiguousarray(image)
        from ._validation import as_image

        arr = as_image(image)
        return np.ascontiguousarray(arr[:, :, :3])

    def _image_key(self, rgb: np.ndarray) -> str:
        """SHA-1 of the photo; remembered per read-only array object (the widget's photo is hashed once)."""
        readonly = not rgb.flags.writeable
        if readonly:
            with self._lock:
                entry = self._ids.get(id(rgb))
            if entry is not None and entry[0]() is rgb:
                return entry[1]
        digest = hashlib.sha1(f"{rgb.shape}".encode())
        digest.update(memoryview(rgb).cast("B"))
        key = digest.hexdigest()
        if readonly:
            ident = id(rgb)
            ids = self._ids

            def forget(_ref, ident=ident, ids=ids):
                ids.pop(ident, None)

            with self._lock:
                self._ids[ident] = (weakref.ref(rgb, forget), key)
        return key

    # -------------------------------------------------------------- disk cache
    def _model_hash(self) -> str:
        if self._model_key is None:
            digest = hashlib.sha1()
            with open(self.encoder_path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(chunk)
            digest.update(repr((self._spec.size, self._spec.resize, self._normalize)).encode())
            self._model_key = digest.hexdigest()
        return self._model_key

    def _disk_path(self, key: str) -> Path:
        return self.cache_dir / f"sam-{self._model_hash()[:20]}-{key}.npz"

    def _load_disk(self, key: str):
        if self.cache_dir is None:
            return None
        path = self._disk_path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                features = {name: np.ascontiguousarray(data[name], np.float32) for name in self._spec.features}
            self._check_features(features)
        except Exception:  # a damaged or foreign file: recompute (and overwrite it)
            return None
        return features

    def _save_disk(self, key: str, features: dict) -> None:
        if self.cache_dir is None:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        path = self._disk_path(key)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.cache_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **features)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# ------------------------------------------------------------------- the "sam" method


@register("sam")
def sam(image, seeds, *, model, boxes=None, refine: bool = True, stroke_points: int = 4, smoothness: float = 5.0):
    """Segment-Anything prompts (``model``: a :class:`SamModel`) refined by strokes; see :meth:`SamModel.__call__`."""
    if not isinstance(model, SamModel):
        raise TypeError(
            f"`model` must be a SamModel (ipyseg.sam.SamModel(encoder_path, decoder_path)); got {type(model).__name__}"
        )
    return model(image, seeds, boxes=boxes, refine=refine, stroke_points=stroke_points, smoothness=smoothness)


def _prepare(image, *, model=None, **params):
    if isinstance(model, SamModel):
        model.prepare(image)


sam.prepare = _prepare
sam.full_resolution = True
