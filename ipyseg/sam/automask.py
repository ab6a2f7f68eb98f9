"""Segment-Anything's automatic mask generator: a grid of point prompts -> an instance label image.

As SAM's ``SamAutomaticMaskGenerator`` (and micro-sam's AMG): one point prompt per grid cell,
decoded from the photo's cached embedding (the encoder runs once per photo, or never when the
embedding is in the memory or disk cache), every mask the decoder outputs kept when its
predicted IoU and its stability (the IoU of the mask thresholded at +1 and at -1) are high
enough, duplicates removed by non-maximum suppression of their boxes (``cv2.dnn.NMSBoxes``),
then painted largest first so that a small object inside a large one stays visible (as
micro-sam turns AMG masks into an instance segmentation).

The official SAM ONNX decoder takes one prompt set per run (its batch axis is fixed at 1), so
the grid is decoded point by point; everything after the decoder works on all masks at once,
on the decoder's low-resolution grid, and only the kept masks are brought to full resolution
(each inside its own box). A coarse grid (16 x 16) is the default on a CPU: 256 decoder runs.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ipyseg._constants import MAX_OBJECTS
from ipyseg.segmentation.propose import register_proposer
from ipyseg.segmenters.params import Param

#: The generator's parameters (checked by ``ipyseg.propose(image, "sam", ...)``).
PARAMS = {
    "points_per_side": Param(int, 1, 64, doc="grid of points_per_side x points_per_side prompts"),
    "min_score": Param(float, 0.0, 1.0, doc="smallest predicted IoU a mask keeps"),
    "min_stability": Param(float, 0.0, 1.0, doc="smallest IoU of the mask at logit +1 and -1"),
    "nms_iou": Param(float, 0.0, 1.0, doc="box IoU above which the lower-scored mask is dropped"),
    "max_area": Param(
        float, 0.0, 1.0, doc="largest mask kept, as a fraction of the photo (the background is no object)"
    ),
}
DEFAULTS = {"points_per_side": 16, "min_score": 0.7, "min_stability": 0.8, "nms_iou": 0.7, "max_area": 0.5}


def auto_masks(
    image,
    *,
    model,
    points_per_side: int = 16,
    min_score: float = 0.7,
    min_stability: float = 0.8,
    nms_iou: float = 0.7,
    max_area: float = 0.5,
) -> np.ndarray:
    """Objects found by prompting ``model`` with a grid of points (see the module docstring).

    Parameters
    ----------
    image : array_like, PIL image or path
        RGB(A) or gray, as :meth:`SamModel.embed` takes it.
    model : ipyseg.sam.SamModel
    points_per_side : int
        Grid size (1-64): ``points_per_side ** 2`` decoder runs.
    min_score, min_stability, nms_iou, max_area : float
        In [0, 1]; see :data:`PARAMS`.

    Returns
    -------
    (H, W) ndarray of uint16
        ``0`` background, ``1..n`` objects, numbered by decreasing score.
    """
    emb = model.embed(image)
    frame = emb.frame
    h, w = frame.height, frame.width
    # grid cell centres in image (x, y), as SAM's build_point_grid
    t = (np.arange(points_per_side) + 0.5) / points_per_side
    xs, ys = np.meshgrid(t * w, t * h)
    points = np.column_stack([xs.ravel(), ys.ravel()])
    # masks are filtered as they come (a 32 x 32 grid of 3 masks would be 0.8 GB of logits)
    kept, score, area = [], [], []
    for xy in points:
        low, iou = model.decode_all(emb, frame.to_input(xy[None]), np.ones(1))
        m = low.shape[-1]  # the part of the low-resolution grid that covers the photo (the rest is padding):
        vh, vw = max(1, math.ceil(m * frame.new_h / frame.size)), max(1, math.ceil(m * frame.new_w / frame.size))
        iou = iou if iou.size == len(low) else np.full(len(low), float(iou.max()) if iou.size else 1.0)
        for c in np.flatnonzero(iou >= min_score):
            g = low[c, :vh, :vw]
            n_in = int(np.count_nonzero(g > 0))
            if n_in == 0 or n_in > max_area * vh * vw:
                continue
            if np.count_nonzero(g > 1.0) < min_stability * np.count_nonzero(g > -1.0):
                continue
            kept.append(np.ascontiguousarray(g))
            score.append(float(iou[c]))
            area.append(n_in)
    if not kept:
        return np.zeros((h, w), np.uint16)
    boxes = [_box(g > 0) for g in kept]
    chosen = cv2.dnn.NMSBoxes(boxes, score, 0.0, float(nms_iou))
    chosen = [int(c) for c in np.asarray(chosen).reshape(-1)][:MAX_OBJECTS]  # by decreasing score
    return _paint(kept, chosen, np.asarray(area), frame, m)


def _box(mask: np.ndarray) -> list[int]:
    """``[x, y, width, height]`` of a bool mask's True cells (OpenCV's box form)."""
    x, y, bw, bh = cv2.boundingRect(mask.view(np.uint8))
    return [int(x), int(y), int(bw), int(bh)]


def _paint(low: list, chosen: list, area: np.ndarray, frame, m: int) -> np.ndarray:
    """Full-resolution labels: each chosen mask's logits warped (bilinear) into its own box,
    largest first; ids by decreasing score.
    """
    h, w = frame.height, frame.width
    labels = np.zeros((h, w), np.uint16)
    # image pixel centre x + 0.5 -> input x * scale_x -> low-resolution cell u = that * m / S - 0.5
    ax, ay = frame.scale_x * m / frame.size, frame.scale_y * m / frame.size
    ids = {k: n for n, k in enumerate(chosen, start=1)}
    for k in sorted(chosen, key=lambda k: -area[k]):
        x, y, bw, bh = _box(low[k] > 0)
        c0, c1 = max(0, int((x - 1) / ax)), min(w, int(math.ceil((x + bw + 1) / ax)))
        r0, r1 = max(0, int((y - 1) / ay)), min(h, int(math.ceil((y + bh + 1) / ay)))
        if c1 <= c0 or r1 <= r0:
            continue
        warp = np.array([[ax, 0, (c0 + 0.5) * ax - 0.5], [0, ay, (r0 + 0.5) * ay - 0.5]], np.float64)
        crop = cv2.warpAffine(
            np.ascontiguousarray(low[k]),
            warp,
            (c1 - c0, r1 - r0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        labels[r0:r1, c0:c1][crop > 0] = ids[k]
    # masks entirely covered by smaller ones leave no pixel: number what is shown 1..n
    shown = np.bincount(labels.ravel(), minlength=len(chosen) + 1) > 0
    shown[0] = False
    lut = np.zeros(len(shown), np.uint16)
    lut[shown] = np.arange(1, int(shown.sum()) + 1)
    return lut[labels]


def _check(**params) -> dict:
    unknown = sorted(set(params) - set(PARAMS) - {"model"})
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown} for propose method 'sam'; it takes model, {', '.join(PARAMS)}")
    model = params.get("model")
    if model is None or not callable(getattr(model, "decode_all", None)) or not callable(getattr(model, "embed", None)):
        raise TypeError(f"`model` must be an ipyseg.sam.SamModel (propose method 'sam'); got {model!r}")
    checked = {name: PARAMS[name].check(params.get(name, DEFAULTS[name]), name, "sam") for name in PARAMS}
    return {"model": model, **checked}


register_proposer("sam", _check, auto_masks)
