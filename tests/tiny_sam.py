"""A tiny Segment-Anything-shaped ONNX encoder/decoder pair whose outputs are known exactly.

Built with the ``onnx`` package's helpers (a test dependency only). Same input/output names and
ranks as the official SAM export (and as SAM 2 exports), small sizes:

* encoder ``image`` (1, 3, S, S) -> ``image_embeddings`` (1, 3, S/16, S/16): 16 x 16 average
  pooling of the normalised, padded input (SAM 2: ``image_embed`` plus two finer poolings).
* decoder: low-resolution logit (grid M = S/4) at cell centre ``c`` (input frame)::

      min(max(R - d(c, positive points), box(c)), d(c, negative points) - R)
      + GAMMA * channel mean of the embedding (nearest, x4) + has_mask_input * mask_input

  with points at ``coord + 0.5`` (SAM's pixel centres), ``box(c)`` the signed distance inside
  the box given by the labels 2 / 3 corners, and label -1 (padding) ignored. Multimask
  decoders output one mask per radius in ``radii`` and ``iou_predictions`` = ``ious``.

:func:`reference_low_res` computes the same in numpy, :func:`reference_embedding` the encoder.
"""

from __future__ import annotations

import cv2
import numpy as np

BIG = 1.0e4
GAMMA = 0.25
GAMMA_HR = (0.125, 0.0625)  # SAM 2 high-resolution features' weights
IMAGENET = (np.array([123.675, 116.28, 103.53], np.float32), np.array([58.395, 57.12, 57.375], np.float32))


def _onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    return onnx, TensorProto, helper, numpy_helper


def _save(model, path):
    onnx, *_ = _onnx()
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_encoder(path, size=128, variant="sam", input_name="image", output_name="image_embeddings", dynamic=False):
    """Average-pooling encoder; ``variant="sam2"`` adds the two high-resolution feature maps."""
    onnx, TP, helper, nh = _onnx()
    e = size // 16
    nodes = [
        helper.make_node(
            "AveragePool",
            [input_name],
            [output_name if variant == "sam" else "image_embed"],
            kernel_shape=[16, 16],
            strides=[16, 16],
        )
    ]
    outputs = [
        helper.make_tensor_value_info(output_name if variant == "sam" else "image_embed", TP.FLOAT, [1, 3, e, e])
    ]
    if variant == "sam2":
        nodes += [
            helper.make_node("AveragePool", [input_name], ["high_res_feats_0"], kernel_shape=[4, 4], strides=[4, 4]),
            helper.make_node("AveragePool", [input_name], ["high_res_feats_1"], kernel_shape=[8, 8], strides=[8, 8]),
        ]
        outputs = [
            helper.make_tensor_value_info("high_res_feats_0", TP.FLOAT, [1, 3, 4 * e, 4 * e]),
            helper.make_tensor_value_info("high_res_feats_1", TP.FLOAT, [1, 3, 2 * e, 2 * e]),
            *outputs,
        ]
    dims = [1, 3, "S", "S"] if dynamic else [1, 3, size, size]
    graph = helper.make_graph(
        nodes, "tiny_encoder", [helper.make_tensor_value_info(input_name, TP.FLOAT, dims)], outputs
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ipyseg-tests")
    model.ir_version = 8
    return _save(model, path)


def build_hwc_encoder(path, size=128):
    """An encoder that takes the resized (h, w, 3) 0-255 RGB photo and normalises and pads it itself."""
    onnx, TP, helper, nh = _onnx()
    e = size // 16
    N = helper.make_node
    inits = {
        "mean": IMAGENET[0].reshape(1, 1, 3),
        "std": IMAGENET[1].reshape(1, 1, 3),
        "zeros6": np.zeros(6, np.int64),
        "side": np.array([size], np.int64),
        "i0": np.array([0], np.int64),
        "i1": np.array([1], np.int64),
        "ax0": np.array([0], np.int64),
    }
    nodes = [
        N("Sub", ["input_image", "mean"], ["centred"]),
        N("Div", ["centred", "std"], ["normed"]),
        N("Transpose", ["normed"], ["chw"], perm=[2, 0, 1]),
        N("Unsqueeze", ["chw", "ax0"], ["nchw"]),
        N("Shape", ["input_image"], ["shape"]),
        N("Gather", ["shape", "i0"], ["h"]),
        N("Gather", ["shape", "i1"], ["w"]),
        N("Sub", ["side", "h"], ["pad_h"]),
        N("Sub", ["side", "w"], ["pad_w"]),
        N("Concat", ["zeros6", "pad_h", "pad_w"], ["pads"], axis=0),
        N("Pad", ["nchw", "pads"], ["padded"], mode="constant"),
        N("AveragePool", ["padded"], ["image_embeddings"], kernel_shape=[16, 16], strides=[16, 16]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_hwc_encoder",
        [helper.make_tensor_value_info("input_image", TP.FLOAT, ["H", "W", 3])],
        [helper.make_tensor_value_info("image_embeddings", TP.FLOAT, [1, 3, e, e])],
        [nh.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ipyseg-tests")
    model.ir_version = 8
    return _save(model, path)


def build_decoder(
    path,
    size=128,
    variant="sam",
    radii=(12.0,),
    ious=None,
    drop_inputs=(),
    drop_outputs=(),
    embed_name="image_embeddings",
    embed_shape=None,
    extra_op=None,
):
    """The decoder described in the module docstring.

    ``drop_inputs`` / ``drop_outputs`` remove names (for error tests); ``extra_op`` adds a node
    of that type on a side branch (an op a runtime may not know).
    """
    onnx, TP, helper, nh = _onnx()
    e = size // 16
    m = 4 * e
    radii = tuple(float(r) for r in radii)
    ious = np.full(len(radii), 0.9, np.float32) if ious is None else np.asarray(ious, np.float32)
    cells = (np.arange(m) + 0.5) * size / m
    gx, gy = np.meshgrid(cells, cells)
    inits = {
        "gxy": np.stack([gx, gy], -1).reshape(1, m * m, 1, 2).astype(np.float32),
        "gx": gx.reshape(1, m * m).astype(np.float32),
        "gy": gy.reshape(1, m * m).astype(np.float32),
        "half": np.array(0.5, np.float32),
        "one": np.array(1.0, np.float32),
        "two": np.array(2.0, np.float32),
        "three": np.array(3.0, np.float32),
        "big": np.array(BIG, np.float32),
        "nbig": np.array(-BIG, np.float32),
        "gamma": np.array(GAMMA, np.float32),
        "ax1": np.array([1], np.int64),
        "ax3": np.array([3], np.int64),
        "shape_flat": np.array([1, m * m], np.int64),
        "shape_low": np.array([1, 1, m, m], np.int64),
        "scales4": np.array([1, 1, 4, 4], np.float32),
        "scales2": np.array([1, 1, 2, 2], np.float32),
        "iou_const": ious.reshape(1, -1),
        "zero": np.array(0.0, np.float32),
        "nc_sizes": np.array([1, len(radii)], np.int64),
        "idx0": np.array([0], np.int64),
        "idx1": np.array([1], np.int64),
    }
    for i, r in enumerate(radii):
        inits[f"r{i}"] = np.array(r, np.float32)
    N = helper.make_node
    nodes = [
        N("Add", ["point_coords", "half"], ["pts"]),  # (1, N, 2) pixel centres
        N("Unsqueeze", ["pts", "ax1"], ["pts4"]),  # (1, 1, N, 2)
        N("Sub", ["gxy", "pts4"], ["diff"]),  # (1, P, N, 2)
        N("Mul", ["diff", "diff"], ["sq"]),
        N("ReduceSum", ["sq", "ax3"], ["d2"], keepdims=0),  # (1, P, N)
        N("Sqrt", ["d2"], ["d"]),
        N("Unsqueeze", ["point_labels", "ax1"], ["lab"]),  # (1, 1, N)
    ]

    def indicator(value_name, out):  # relu(1 - |lab - v|)
        nodes.extend(
            [
                N("Sub", ["lab", value_name], [out + "_s"]),
                N("Abs", [out + "_s"], [out + "_a"]),
                N("Sub", ["one", out + "_a"], [out + "_b"]),
                N("Relu", [out + "_b"], [out]),
            ]
        )

    indicator("one", "is_pos")
    indicator("zero", "is_neg")
    indicator("two", "is_tl")
    indicator("three", "is_br")
    # box corners: sums over points of indicator * coordinate
    nodes += [
        N("Gather", ["pts", "idx0"], ["px3"], axis=2),  # (1, N, 1)
        N("Gather", ["pts", "idx1"], ["py3"], axis=2),
        N("Squeeze", ["px3", "ax_sq"], ["px"]),  # (1, N)
        N("Squeeze", ["py3", "ax_sq"], ["py"]),
        N("Unsqueeze", ["px", "ax1"], ["pxu"]),  # (1, 1, N)
        N("Unsqueeze", ["py", "ax1"], ["pyu"]),
    ]
    inits["ax_sq"] = np.array([2], np.int64)
    inits["ax2"] = np.array([2], np.int64)
    for corner, ind in (("tl", "is_tl"), ("br", "is_br")):
        nodes += [
            N("Mul", [ind, "pxu"], [f"{corner}x_p"]),
            N("ReduceSum", [f"{corner}x_p", "ax2"], [f"{corner}x"], keepdims=0),  # (1, 1)
            N("Mul", [ind, "pyu"], [f"{corner}y_p"]),
            N("ReduceSum", [f"{corner}y_p", "ax2"], [f"{corner}y"], keepdims=0),
        ]
    nodes += [
        N("ReduceSum", ["is_tl", "ax2"], ["has_box"], keepdims=0),  # (1, 1)
        N("Sub", ["gx", "tlx"], ["b1"]),
        N("Sub", ["brx", "gx"], ["b2"]),
        N("Sub", ["gy", "tly"], ["b3"]),
        N("Sub", ["bry", "gy"], ["b4"]),
        N("Min", ["b1", "b2", "b3", "b4"], ["bmin"]),
        N("Mul", ["has_box", "bmin"], ["box_in"]),
        N("Sub", ["one", "has_box"], ["no_box"]),
        N("Mul", ["no_box", "nbig"], ["box_out"]),
        N("Add", ["box_in", "box_out"], ["box_term"]),  # (1, P)
        N("Sub", ["one", "is_pos"], ["not_pos"]),
        N("Mul", ["not_pos", "nbig"], ["pos_off"]),
        N("Sub", ["one", "is_neg"], ["not_neg"]),
        N("Mul", ["not_neg", "big"], ["neg_off"]),
    ]
    # image-feature term on the low-resolution grid
    feat = "image_embed" if variant == "sam2" else embed_name
    nodes += [
        N("ReduceMean", [feat], ["emb_mean"], axes=[1], keepdims=1),  # (1, 1, e, e)
        N("Resize", ["emb_mean", "", "scales4"], ["emb_up"], mode="nearest"),
        N("Reshape", ["emb_up", "shape_flat"], ["emb_flat"]),
        N("Mul", ["emb_flat", "gamma"], ["emb_term"]),
        N("Reshape", ["mask_input", "shape_flat"], ["mi_flat"]),
        N("Mul", ["mi_flat", "has_mask_input"], ["mask_term"]),
        N("Add", ["emb_term", "mask_term"], ["extra"]),
    ]
    if variant == "sam2":
        inits["g_hr0"] = np.array(GAMMA_HR[0], np.float32)
        inits["g_hr1"] = np.array(GAMMA_HR[1], np.float32)
        nodes += [
            N("ReduceMean", ["high_res_feats_0"], ["hr0_mean"], axes=[1], keepdims=1),  # (1, 1, m, m)
            N("Reshape", ["hr0_mean", "shape_flat"], ["hr0_flat"]),
            N("Mul", ["hr0_flat", "g_hr0"], ["hr0_term"]),
            N("ReduceMean", ["high_res_feats_1"], ["hr1_mean"], axes=[1], keepdims=1),  # (1, 1, m/2, m/2)
            N("Resize", ["hr1_mean", "", "scales2"], ["hr1_up"], mode="nearest"),
            N("Reshape", ["hr1_up", "shape_flat"], ["hr1_flat"]),
            N("Mul", ["hr1_flat", "g_hr1"], ["hr1_term"]),
            N("Add", ["emb_term", "hr0_term"], ["e1"]),
            N("Add", ["e1", "hr1_term"], ["e2"]),
            N("Add", ["e2", "mask_term"], ["extra2"]),
        ]
    extra = "extra2" if variant == "sam2" else "extra"
    per_mask = []
    for i in range(len(radii)):
        nodes += [
            N("Sub", [f"r{i}", "d"], [f"rd{i}"]),
            N("Mul", ["is_pos", f"rd{i}"], [f"pos_in{i}"]),
            N("Add", [f"pos_in{i}", "pos_off"], [f"pos_all{i}"]),
            N("ReduceMax", [f"pos_all{i}"], [f"pos{i}"], axes=[2], keepdims=0),  # (1, P)
            N("Sub", ["d", f"r{i}"], [f"dr{i}"]),
            N("Mul", ["is_neg", f"dr{i}"], [f"neg_in{i}"]),
            N("Add", [f"neg_in{i}", "neg_off"], [f"neg_all{i}"]),
            N("ReduceMin", [f"neg_all{i}"], [f"neg{i}"], axes=[2], keepdims=0),
            N("Max", [f"pos{i}", "box_term"], [f"pb{i}"]),
            N("Min", [f"pb{i}", f"neg{i}"], [f"base{i}"]),
            N("Add", [f"base{i}", extra], [f"logit{i}"]),
            N("Reshape", [f"logit{i}", "shape_low"], [f"low{i}"]),
        ]
        per_mask.append(f"low{i}")
    low_name = "masks" if variant == "sam2" else "low_res_masks"
    nodes.append(
        N("Concat", per_mask, [low_name], axis=1) if len(per_mask) > 1 else N("Identity", per_mask, [low_name])
    )
    nodes.append(N("Add", ["iou_const", "zero"], ["iou_predictions"]))
    if variant == "sam":
        nodes += [
            N("Cast", ["orig_im_size"], ["sz"], to=TP.INT64),
            N("Concat", ["nc_sizes", "sz"], ["sizes"], axis=0),
            N("Resize", ["low_res_masks", "", "", "sizes"], ["masks"], mode="linear"),
        ]
    if extra_op is not None:
        nodes.append(N(extra_op, ["has_mask_input"], ["exotic"]))
        nodes.append(N("Identity", ["exotic"], ["exotic_out"]))

    E = embed_shape or [1, 3, e, e]
    vi = helper.make_tensor_value_info
    if variant == "sam2":
        feats = [
            vi("image_embed", TP.FLOAT, [1, 3, e, e]),
            vi("high_res_feats_0", TP.FLOAT, [1, 3, m, m]),
            vi("high_res_feats_1", TP.FLOAT, [1, 3, m // 2, m // 2]),
        ]
    else:
        feats = [vi(embed_name, TP.FLOAT, E)]
    inputs = feats + [
        vi("point_coords", TP.FLOAT, [1, "N", 2]),
        vi("point_labels", TP.FLOAT, [1, "N"]),
        vi("mask_input", TP.FLOAT, [1, 1, m, m]),
        vi("has_mask_input", TP.FLOAT, [1]),
    ]
    if variant == "sam":
        inputs.append(vi("orig_im_size", TP.FLOAT, [2]))
    c = len(radii)
    outputs = [vi("iou_predictions", TP.FLOAT, [1, c])]
    if variant == "sam":
        outputs = [vi("masks", TP.FLOAT, [1, c, "H", "W"]), outputs[0], vi("low_res_masks", TP.FLOAT, [1, c, m, m])]
    else:
        outputs = [vi("masks", TP.FLOAT, [1, c, m, m]), outputs[0]]
    if extra_op is not None:
        outputs.append(vi("exotic_out", TP.FLOAT, None))
    inputs = [i for i in inputs if i.name not in drop_inputs]
    outputs = [o for o in outputs if o.name not in drop_outputs]
    # drop nodes whose inputs were removed (keeps the graph valid for the error tests)
    if drop_inputs or drop_outputs:
        nodes = _prune(nodes, {i.name for i in inputs} | set(inits), {o.name for o in outputs})
    init_list = [nh.from_array(v, k) for k, v in inits.items()]
    graph = helper.make_graph(nodes, "tiny_decoder", inputs, outputs, init_list)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ipyseg-tests")
    model.ir_version = 8
    if drop_inputs or drop_outputs or extra_op:
        onnx, *_ = _onnx()
        onnx.save(model, str(path))  # possibly not checkable (dangling names); only the signature matters
        return path
    return _save(model, path)


def _prune(nodes, available, wanted):
    """Keep nodes computable from ``available`` names (iteratively)."""
    kept, have, changed = [], set(available) | {""}, True
    pending = list(nodes)
    while changed:
        changed = False
        rest = []
        for n in pending:
            if all(i in have for i in n.input):
                kept.append(n)
                have.update(n.output)
                changed = True
            else:
                rest.append(n)
        pending = rest
    return kept


# ------------------------------------------------------------------------ references


def preprocess_reference(rgb, size=128, resize="longest", normalize="imagenet"):
    """SAM's preprocessing written out: (blob (1, 3, S, S), (new_h, new_w))."""
    h, w = rgb.shape[:2]
    if resize == "stretch":
        nh, nw = size, size
    else:
        s = size / max(h, w)
        nh, nw = int(h * s + 0.5), int(w * s + 0.5)
    interp = cv2.INTER_AREA if (nh < h or nw < w) else cv2.INTER_LINEAR
    small = cv2.resize(rgb, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else rgb
    x = small.astype(np.float32)
    if normalize == "imagenet":
        x = (x - IMAGENET[0]) / IMAGENET[1]
    elif normalize == "minmax":
        x = (x - x.min()) / max(float(x.max() - x.min()), 1e-8)
    else:
        x = (x - np.float32(normalize[0])) / np.float32(normalize[1])
    blob = np.zeros((1, 3, size, size), np.float32)
    blob[0, :, :nh, :nw] = x.transpose(2, 0, 1)
    return blob, (nh, nw)


def pool(blob, k):
    n, c, h, w = blob.shape
    return blob.reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5))


def reference_embedding(blob):
    return pool(blob, 16)


def reference_low_res(features, coords, labels, mask_input=None, size=128, radii=(12.0,), variant="sam"):
    """The tiny decoder in numpy: (C, M, M) logits for input-frame ``coords`` (N, 2) and ``labels`` (N,)."""
    emb = features["image_embed" if variant == "sam2" else "image_embeddings"]
    e = emb.shape[-1]
    m = 4 * e
    cells = (np.arange(m) + 0.5) * size / m
    gx, gy = np.meshgrid(cells, cells)
    pts = np.asarray(coords, np.float64).reshape(-1, 2) + 0.5
    lab = np.asarray(labels, np.float64).reshape(-1)
    d = np.hypot(gx[..., None] - pts[:, 0], gy[..., None] - pts[:, 1])  # (m, m, N)
    extra = GAMMA * np.kron(emb[0].mean(axis=0), np.ones((4, 4)))
    if variant == "sam2":
        extra = extra + GAMMA_HR[0] * features["high_res_feats_0"][0].mean(axis=0)
        extra = extra + GAMMA_HR[1] * np.kron(features["high_res_feats_1"][0].mean(axis=0), np.ones((2, 2)))
    if mask_input is not None:
        extra = extra + np.asarray(mask_input).reshape(m, m)
    pos, neg = lab == 1, lab == 0
    tl, br = lab == 2, lab == 3
    if tl.any():
        (x0, y0), (x1, y1) = pts[tl][0], pts[br][0]
        box = np.minimum.reduce([gx - x0, x1 - gx, gy - y0, y1 - gy])
    else:
        box = np.full((m, m), -BIG)
    out = []
    for r in radii:
        p = (r - d[..., pos]).max(axis=-1) if pos.any() else np.full((m, m), -BIG)
        q = (d[..., neg] - r).min(axis=-1) if neg.any() else np.full((m, m), BIG)
        out.append(np.minimum(np.maximum(p, box), q) + extra)
    return np.stack(out).astype(np.float32)


def reference_mask(low, shape, new_hw, size=128):
    """SAM's postprocessing with cv2.resize: (M, M) logits -> (H, W) float logits at full resolution."""
    up = cv2.resize(low.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    crop = up[: new_hw[0], : new_hw[1]]
    return cv2.resize(crop, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
