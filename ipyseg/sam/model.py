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
or from the encoder; the seeds become point prompts (:mod:`ipyseg.sam.prompts`), boxes become
box prompts; the decoder runs once per object (with the object's previous low-resolution
logits as ``mask_input`` when its prompts only grew); objects are resolved by the largest
logit; seeds that contradict the result are enforced by a graph cut around them and at full
resolution (:mod:`ipyseg.sam.masks`).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ipyseg._util.arrays import nonzero_rect
from ipyseg._validation import as_image
from ipyseg.sam import onnx as _onnx
from ipyseg.sam.cache import Embedding, EmbeddingCache
from ipyseg.sam.files import check_normalize, check_pair, preprocess
from ipyseg.sam.masks import enforce_seeds, refine_with_seeds, upsample_labels, work_logits
from ipyseg.sam.prompts import Frame, box_to_input, seed_points, work_seeds
from ipyseg.segmenters.params import Param
from ipyseg.segmenters.registry import register

__all__ = ["Embedding", "SamModel", "SamPrediction"]

#: Prompt results remembered per model (for refinement and for undo/redo to give the same mask).
MEMO_SIZE = 512


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
class _Decoded:
    points: frozenset
    low_res: np.ndarray  # (M, M)
    score: float
    refined_from: frozenset | None = None


#: The "sam" method's parameters: declared once, checked by the registry and by :meth:`SamModel.__call__`.
PARAMS = {"refine": Param(bool), "stroke_points": Param(int, 1, 64), "smoothness": Param(float, 0, 1000)}


def _check_params(**values) -> dict:
    """``values`` checked and converted with :data:`PARAMS` (errors name the parameter and method "sam")."""
    return {name: PARAMS[name].check(value, name, "sam") for name, value in values.items()}


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
        self._spec = check_pair(enc, dec, input_size, resize)
        self._normalize = check_normalize(normalize)
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
        self._options = {
            "backend": backend,
            "input_size": input_size,
            "resize": resize,
            "normalize": normalize
            if isinstance(normalize, str)
            else tuple(tuple(float(v) for v in np.ravel(part)) for part in normalize),
            "cache_dir": None if self.cache_dir is None else str(self.cache_dir),
            "memory_cache": int(memory_cache),
            "threads": threads,
        }
        self.backend = _onnx.resolve_backend(backend)
        self._encoder = _onnx.open_runner(enc, self.backend, "encoder", threads)
        self._decoder = _onnx.open_runner(dec, self.backend, "decoder", threads)
        self._cache = EmbeddingCache(
            memory_cache, self.cache_dir, self._model_hash, list(self._spec.features), self._check_features
        )
        self._memo: OrderedDict[tuple, _Decoded] = OrderedDict()
        self._last: dict[tuple, frozenset] = {}  # (embedding key, code) -> points of the last decode
        self._lock = threading.RLock()
        self._encode_lock = threading.Lock()
        self._model_key: str | None = None
        self._local = threading.local()  # per-thread full-resolution float buffer for upsampling
        self.timings: dict = {"encoder": None, "decoder": None}
        self._dry_run()

    def __reduce__(self):
        """Pickled as its files and options (a Dask task's argument): the other process opens the
        files again, once per process (:func:`reopened`); embeddings travel through ``cache_dir``.
        """
        return reopened, (str(self.encoder_path), str(self.decoder_path), tuple(sorted(self._options.items())))

    # ------------------------------------------------------------------ info
    @property
    def input_size(self) -> int:
        """Side in pixels of the encoder's square input."""
        return self._spec.size

    @property
    def variant(self) -> str:
        """The model family read from the files: ``"sam"`` or ``"sam2"``."""
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
        key = self._cache.image_key(rgb)
        emb = self._cache.get(key)
        if emb is not None:
            return emb
        with self._encode_lock:  # one encoder run per photo even when two threads ask at once
            emb = self._cache.get(key)
            if emb is not None:
                return emb
            frame = Frame.make(rgb.shape[0], rgb.shape[1], self._spec.size, self._spec.resize)
            blob, small = preprocess(rgb, frame, self._spec, self._normalize)
            features = self._cache.load(key)
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
                source = "encoder"
            emb = Embedding(key, frame, features, small, seconds, source)
            self._cache.put(emb)  # first: a disk that cannot be written must not cost the embedding
            if source == "encoder":
                self._cache.save(key, features)
        return emb

    def clear_cache(self) -> None:
        """Forget the embeddings and prompt results kept in memory (the disk cache stays)."""
        self._cache.clear()
        with self._lock:
            self._memo.clear()
            self._last.clear()

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
        seeds : (H, W) ndarray of uint16
            ``0`` unmarked, ``1`` background, ``k + 1`` object k. Every seed component is a
            prompt (a click: one point; a stroke: points along it) and a hard constraint.
        boxes : dict, optional
            ``{code: (r0, r1, c0, c1)}`` windows (end exclusive): a box prompt for that object.
        refine : bool
            Feed an object's previous low-resolution logits back as ``mask_input`` when its
            prompts only grew (SAM's interactive protocol); prompts removed (undo, erase) start
            afresh.
        stroke_points : int
            Most points taken from one stroke (1 to 64).
        smoothness : float
            Weight of the boundary term of the graph cut that makes the result obey seeds the
            model contradicts (0 to 1000).

        The parameters are checked with the same declarations as the ``"sam"`` method's
        (:data:`PARAMS`), so calling the model directly has the same bounds.

        Returns
        -------
        (H, W) ndarray of uint16
            Labels: ``0`` background, ``k`` object k; every seeded pixel has its seed's label.
        """
        checked = _check_params(refine=refine, stroke_points=stroke_points, smoothness=smoothness)
        refine, stroke_points, smoothness = checked["refine"], checked["stroke_points"], checked["smoothness"]
        seeds = np.ascontiguousarray(seeds, dtype=np.uint16)
        boxes = dict(boxes or {})
        emb = self.embed(image)
        frame = emb.frame
        if seeds.shape != (frame.height, frame.width):
            raise ValueError(f"`seeds` (shape {seeds.shape}) must match the image ({frame.height}, {frame.width})")
        bbox = nonzero_rect(seeds)
        ws = work_seeds(seeds, frame, bbox)
        points = seed_points(seeds, ws, frame, int(stroke_points))
        codes = sorted({c for c in points if c >= 2} | {int(c) for c in boxes})
        labels = np.zeros(seeds.shape, np.uint16)
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
        low, iou = self.decode_all(emb, coords, kinds, has_box=has_box, mask_input=mask_input)
        best = int(np.argmax(iou)) if len(low) > 1 and iou.size == len(low) else 0
        return np.ascontiguousarray(low[best]), float(iou[best] if iou.size > best else np.nan)

    def decode_all(self, emb: Embedding, coords, kinds, *, has_box: bool = False, mask_input=None):
        """One decoder run on a cached embedding, every mask it outputs (the automatic mask generator's seam).

        Parameters
        ----------
        emb : Embedding
            From :meth:`embed`.
        coords : (N, 2) array_like
            Prompt points in the input frame (``emb.frame.to_input`` of image ``(x, y)``).
        kinds : (N,) array_like
            SAM point labels: 1 foreground, 0 background, 2 / 3 box corners.
        has_box : bool
            Whether the last two points are a box's corners (no padding point is added then).
        mask_input : (M, M) ndarray, optional

        Returns
        -------
        low : (C, M, M) ndarray of float32
            The low-resolution logits of each of the decoder's C masks.
        iou : (C,) ndarray of float32
            Its IoU predictions (may be shorter than C for decoders without one per mask).
        """
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
        return low[0], np.asarray(iou, np.float32).reshape(-1)

    def _dry_run(self) -> None:
        """Run the decoder once on zero features, so that a model the runtime cannot execute fails now.

        Runtimes differ in when they reject a model (OpenCV 5.1 reports an unsupported operator
        on the first ``setInput``/``forward``, not on reading): a failure here is reported as
        the runner's load error, the same message whichever step failed.
        """
        shapes = self._spec.feature_shapes
        if any(s is None for s in shapes.values()):
            return  # dynamic feature shapes: checked on the first photo
        s = self._spec.size
        frame = Frame.make(s, s, s, self._spec.resize)
        emb = Embedding("dry-run", frame, {n: np.zeros(shape, np.float32) for n, shape in shapes.items()}, None)
        try:
            self._decode(emb, np.array([[s / 2, s / 2]]), np.array([1.0]), False, None)
        except _onnx.RunError as err:
            raise self._decoder.load_error(err.detail, " (it fails when run once on zeros)") from None
        finally:
            self.timings["decoder"] = None

    def _check_features(self, features: dict) -> None:
        for name, arr in features.items():
            want = self._spec.feature_shapes.get(name)
            if want is not None and tuple(arr.shape) != tuple(want):
                raise RuntimeError(f"the encoder produced `{name}` with shape {arr.shape}; the decoder expects {want}")

    def _model_hash(self) -> str:
        if self._model_key is None:
            digest = hashlib.sha1()
            with open(self.encoder_path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(chunk)
            digest.update(repr((self._spec.size, self._spec.resize, self._normalize)).encode())
            self._model_key = digest.hexdigest()
        return self._model_key

    @staticmethod
    def _rgb(image) -> np.ndarray:
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            return np.ascontiguousarray(image)

        arr = as_image(image)
        return np.ascontiguousarray(arr[:, :, :3])


# ------------------------------------------------------------------- the "sam" method


@register(
    "sam",
    params=PARAMS,
)
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


_REOPENED: dict = {}
_REOPENED_LOCK = threading.Lock()


def reopened(encoder_path: str, decoder_path: str, options: tuple) -> SamModel:
    """The :class:`SamModel` of these files and ``options`` (its keyword arguments as sorted
    items), opened once per process: what an unpickled model is.
    """
    key = (encoder_path, decoder_path, options)
    with _REOPENED_LOCK:
        model = _REOPENED.get(key)
        if model is None:
            model = _REOPENED[key] = SamModel(encoder_path, decoder_path, **dict(options))
        return model
