"""Segment-Anything through ipyseg: encoder time, per-click latency at 12 MP, torch reproduction.

With your own ONNX exports (no torch needed here)::

    PYTHONPATH=$PWD python benchmarks/sam_bench.py --encoder enc.onnx --decoder dec.onnx \\
        [--normalize minmax] [--backends opencv onnxruntime] [--reference DIR] [--json FILE]

* **Encoder**: seconds per photo (median of ``--encodes`` photos; the encoder always sees an
  ``S x S`` input, so the photo's size hardly matters).
* **Per click at 12 MP** (4000 x 3000, the bundled sample upscaled), once the embedding exists:
  a ``SegmentWidget`` driven by real ipycanvas messages (point tool: mouse-move, mouse-down,
  mouse-up), timed from the mouse-up message to the end of the result's application, which
  includes the decoder, full-resolution labels and the overlay PNG sent to the front end. Wall
  and process CPU time (the machine is shared; CPU time is what an idle machine would see, with
  ``--threads 1``: with more threads, runtimes spin while waiting for each other on a busy box).
  Also box prompts (the box tool: a drag).
* **Reproduction** (``--reference DIR`` from ``benchmarks/medsam_export.py``): ipyseg's pipeline
  on the GrabCut photos with the ground-truth boxes, against the torch model's masks: IoU
  between the two, through ``SamModel.predict`` and through ``ipyseg.segment(..., boxes=...)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "benchmarks")):
    if p not in sys.path:
        sys.path.insert(0, p)

import ipyseg  # noqa: E402
from ipyseg import BACKGROUND, FOREGROUND  # noqa: E402
from ipyseg._validation import as_image  # noqa: E402
from ipyseg.sam.model import SamModel  # noqa: E402

DATA = ROOT / ".." / "shared" / "datasets" / "GrabCut" / "data_GT"

#: Clicks (normalised x, y, label) on the sample photo: the cup, the saucer, the table.
CLICKS = [
    (0.45, 0.35, FOREGROUND),
    (0.30, 0.70, FOREGROUND),
    (0.90, 0.10, BACKGROUND),
    (0.60, 0.55, FOREGROUND),
    (0.05, 0.90, BACKGROUND),
    (0.70, 0.85, FOREGROUND),
    (0.95, 0.60, BACKGROUND),
    (0.40, 0.50, FOREGROUND),
]
BOXES = [(0.15, 0.10, 0.85, 0.95), (0.20, 0.15, 0.75, 0.90), (0.10, 0.05, 0.90, 0.97)]


def load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def encoder_times(sam: SamModel, n: int) -> list[float]:
    import speed

    out = []
    for i in range(n):
        img = speed.synthetic_photo(1.0, seed=100 + i)
        t0, c0 = time.perf_counter(), time.process_time()
        emb = sam.embed(img)
        out.append((time.perf_counter() - t0, time.process_time() - c0))
        assert emb.source == "encoder"
    return out


def click_latency(sam: SamModel, photo: np.ndarray, repeats: int) -> dict:
    """Kernel-side latency of clicks and boxes on a widget showing ``photo``."""
    import speed

    rec = speed.Recorder()
    w = ipyseg.SegmentWidget(photo, method="sam", model=sam)
    if not w.wait(600):
        raise RuntimeError("the encoder did not finish")
    log = speed.hook_apply(w)
    vp = w.viewport
    w.tool = "point"
    clicks, boxes, sent = [], [], []
    try:
        for _ in range(repeats):
            w.clear()
            w.wait(60)
            for x, y, label in CLICKS:
                w.label = label
                cx, cy = x * vp.canvas_width, y * vp.canvas_height
                speed.send(w, "mouse_move", cx, cy)
                speed.send(w, "mouse_down", cx, cy)
                rec.take_bytes()
                log.clear()
                t_up = (time.perf_counter(), time.process_time())
                speed.send(w, "mouse_up", cx, cy)
                if not w.wait(60):
                    raise RuntimeError("a click did not finish")
                clicks.append((log[-1][0] - t_up[0], log[-1][1] - t_up[1]))
                sent.append(rec.take_bytes())
        w.tool = "box"
        w.label = FOREGROUND
        for _ in range(repeats):
            for x0, y0, x1, y1 in BOXES:
                w.clear()
                w.wait(60)
                speed.send(w, "mouse_move", x0 * vp.canvas_width, y0 * vp.canvas_height)
                speed.send(w, "mouse_down", x0 * vp.canvas_width, y0 * vp.canvas_height)
                speed.send(w, "mouse_move", x1 * vp.canvas_width, y1 * vp.canvas_height)
                log.clear()
                t_up = (time.perf_counter(), time.process_time())
                speed.send(w, "mouse_up", x1 * vp.canvas_width, y1 * vp.canvas_height)
                if not w.wait(60):
                    raise RuntimeError("a box did not finish")
                boxes.append((log[-1][0] - t_up[0], log[-1][1] - t_up[1]))
    finally:
        rec.close()
        w.engine.close()
    return {"click": clicks, "box": boxes, "bytes": sent, "decoder_s": sam.timings["decoder"]}


def reproduction(sam: SamModel, reference: Path) -> dict:
    """IoU between ipyseg's masks and the torch reference masks for the same boxes."""
    rows = []
    import noc

    photos = {p.stem: p for p in DATA.iterdir()}
    masks = {p.stem: p for p in (DATA.parent / "boundary_GT").iterdir()}
    for f in sorted((reference / "reference").glob("*.npz")):
        with np.load(f, allow_pickle=False) as ref:
            mask, box, digest = ref["mask"], tuple(int(v) for v in ref["box"]), str(ref["sha1"])
        img = as_image(photos[f.stem])[:, :, :3]
        if hashlib.sha1(img.tobytes()).hexdigest() != digest:
            raise RuntimeError(f"{f.stem}: the photo decodes differently here than in the reference environment")
        pred = sam.predict(img, box=box).mask
        seg = ipyseg.segment(img, np.zeros(img.shape[:2], np.uint8), method="sam", model=sam, boxes={2: box}) > 0

        def iou(a, b):
            union = (a | b).sum()
            return float((a & b).sum() / union) if union else 1.0

        _, gt, valid = noc.load_instance("grabcut", photos[f.stem], masks[f.stem])
        rows.append(
            {
                "name": f.stem,
                "iou_predict": iou(pred, mask),
                "iou_segment": iou(seg, mask),
                "iou_gt": noc.iou(pred, gt, valid),
                "pixels": int(mask.sum()),
            }
        )
    return {
        "instances": len(rows),
        "mean_iou_predict": float(np.mean([r["iou_predict"] for r in rows])),
        "min_iou_predict": float(np.min([r["iou_predict"] for r in rows])),
        "mean_iou_segment": float(np.mean([r["iou_segment"] for r in rows])),
        "min_iou_segment": float(np.min([r["iou_segment"] for r in rows])),
        "mean_iou_gt": float(np.mean([r["iou_gt"] for r in rows])),
        "per_instance": rows,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoder", type=Path, required=True)
    ap.add_argument("--decoder", type=Path, required=True)
    ap.add_argument("--normalize", default="imagenet")
    ap.add_argument("--backends", nargs="+", default=["opencv", "onnxruntime"])
    ap.add_argument("--encodes", type=int, default=5, help="photos encoded for the encoder time")
    ap.add_argument("--repeats", type=int, default=3, help="rounds of 8 clicks and 3 boxes at 12 MP")
    ap.add_argument("--reference", type=Path, help="folder written by benchmarks/medsam_export.py")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--threads", type=int, default=None, help="runtime threads (onnxruntime session, cv2.setNumThreads)"
    )
    args = ap.parse_args(argv)
    if args.threads is not None:
        import cv2

        cv2.setNumThreads(args.threads)
    import speed

    photo = speed.sample_photo(12.0)
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "encoder": args.encoder.name,
        "decoder": args.decoder.name,
        "photo": list(photo.shape),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "runs": {},
    }
    for backend in args.backends:
        sam = SamModel(args.encoder, args.decoder, backend=backend, normalize=args.normalize, threads=args.threads)
        run = {"load_before": load(), "threads": args.threads}
        enc = np.array(encoder_times(sam, args.encodes))
        run["encoder_s"] = enc.tolist()
        lat = click_latency(sam, photo, args.repeats)
        run.update(lat)
        if args.reference is not None:
            run["reproduction"] = reproduction(sam, args.reference)
        run["load_after"] = load()
        results["runs"][backend] = run
        c = np.array(lat["click"])
        b = np.array(lat["box"])
        print(
            f"{backend} (threads {args.threads or 'default'}): encoder median {np.median(enc[:, 0]):.3f} s wall "
            f"({np.median(enc[:, 1]):.3f} s CPU); click p50 {1000 * np.median(c[:, 0]):.0f} ms wall "
            f"({1000 * np.median(c[:, 1]):.0f} ms CPU), p90 {1000 * np.percentile(c[:, 0], 90):.0f} ms; "
            f"box p50 {1000 * np.median(b[:, 0]):.0f} ms wall ({1000 * np.median(b[:, 1]):.0f} ms CPU); "
            f"{np.median(lat['bytes']) / 1000:.1f} kB per click; load {run['load_before']} -> {run['load_after']}",
            flush=True,
        )
        if "reproduction" in run:
            r = run["reproduction"]
            print(
                f"  reproduction on {r['instances']} GrabCut boxes: IoU with torch mean {r['mean_iou_predict']:.4f} "
                f"(min {r['min_iou_predict']:.4f}) via predict, {r['mean_iou_segment']:.4f} "
                f"(min {r['min_iou_segment']:.4f}) via segment(boxes=...); the masks' IoU with the ground truth "
                f"{r['mean_iou_gt']:.3f}",
                flush=True,
            )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
