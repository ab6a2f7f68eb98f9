"""What a Segment-Anything export must look like: the encoder/decoder pair checked on load, and
the encoder's input (resize, normalise, pad) prepared from a photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ipyseg.sam import onnx as _onnx
from ipyseg.sam.prompts import Frame

#: Decoder inputs that carry prompts; the others are image features from the encoder.
PROMPT_INPUTS = ("point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size")
REQUIRED_PROMPT_INPUTS = ("point_coords", "point_labels", "mask_input", "has_mask_input")
#: SAM's pixel normalisation (ImageNet mean and std, 0-255 units).
IMAGENET = ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
NORMALIZATIONS = ("imagenet", "minmax")


@dataclass
class Spec:
    """What :func:`check_pair` found: how to feed the encoder and the decoder."""

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


def _static(shape) -> bool:
    return shape is not None and all(isinstance(d, int) and d > 0 for d in shape)


def _names(infos) -> str:
    return ", ".join(i.describe() for i in infos.values())


def check_pair(enc, dec, input_size, resize) -> Spec:
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
    return Spec(
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


def check_normalize(normalize):
    """Validate ``normalize``: ``"imagenet"``, ``"minmax"`` or ``(mean, std)`` (3 numbers each, 0-255 units)."""
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


def preprocess(rgb: np.ndarray, frame: Frame, spec: Spec, normalize):
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
    if spec.hwc:
        return x, lab
    if normalize == "imagenet":
        mean, std = IMAGENET
        x = (x - np.float32(mean)) / np.float32(std)
    elif normalize == "minmax":
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / max(hi - lo, 1e-8)
    else:
        mean, std = normalize
        x = (x - np.float32(mean)) / np.float32(std)
    s = frame.size
    blob = np.zeros((1, 3, s, s), np.float32)
    blob[0, :, :h, :w] = x.transpose(2, 0, 1)
    return blob, lab
