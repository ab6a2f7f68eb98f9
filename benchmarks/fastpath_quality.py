"""Does the fast path cost clicks? A simplified robot-user NoC on the GrabCut set, fast vs full.

The photos are upscaled (bicubic, ``--scale``) so that the fast path really works coarse-to-
fine, as it does on camera photos. For each image a robot user clicks (disks of radius
``5 * scale`` px) at the interior point of the largest error region farthest from its border
(object click for a missed region, background click for a false one) until IoU reaches the
threshold or 20 clicks; NoC is averaged. The same clicks protocol runs through
``ipyseg.segment`` (full resolution, no shortcuts) and ``Multiscale.segment`` (the widget's
final stage). Pixels marked 128 in the ground truth are ignored.

Usage::

    PYTHONPATH=$PWD python benchmarks/fastpath_quality.py --methods watershed --scale 2
    PYTHONPATH=$PWD python benchmarks/fastpath_quality.py --methods grabcut --limit 10
"""

from __future__ import annotations

import argparse
import glob
import os
import time

import cv2
import numpy as np

from ipyseg import BACKGROUND, FOREGROUND, segmenters
from ipyseg._segment import run_segmenter
from ipyseg._validation import as_image
from ipyseg.multiscale import Multiscale

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "GrabCut")


def load(name: str, scale: float):
    img = as_image(os.path.join(DATA, "data_GT", name))
    gt = cv2.imread(os.path.join(DATA, "boundary_GT", os.path.splitext(name)[0] + ".bmp"), cv2.IMREAD_GRAYSCALE)
    if scale != 1:
        h, w = img.shape[:2]
        size = (int(round(w * scale)), int(round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
        gt = cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST)
    return img, gt


def iou(labels, gt) -> float:
    valid = gt != 128
    pred, obj = labels > 0, gt == 255
    return float((pred & obj & valid).sum() / max(1, ((pred | obj) & valid).sum()))


def next_click(labels, gt):
    """(row, col, is_object) at the centre of the largest error region."""
    valid = gt != 128
    fn = (gt == 255) & (labels == 0) & valid
    fp = (gt == 0) & (labels > 0) & valid
    best = None
    for err, is_obj in ((fn, True), (fp, False)):
        padded = np.pad(err, 1).astype(np.uint8)
        dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
        r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
        if best is None or dist[r, c] > best[0]:
            best = (dist[r, c], r, c, is_obj)
    return best[1], best[2], best[3]


def noc(run, img, gt, threshold: float, radius: int, max_clicks: int = 20) -> int:
    seeds = np.zeros(gt.shape, np.uint8)
    labels = np.zeros(gt.shape, np.uint8)
    for n in range(1, max_clicks + 1):
        r, c, is_obj = next_click(labels, gt)
        cv2.circle(seeds, (int(c), int(r)), radius, FOREGROUND if is_obj else BACKGROUND, -1)
        labels = run(seeds)
        if iou(labels, gt) >= threshold:
            return n
    return max_clicks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="watershed")
    ap.add_argument("--scale", type=float, default=2.0)
    ap.add_argument("--limit", type=int, default=0, help="first N images only")
    ap.add_argument("--threshold", type=float, default=0.90)
    ap.add_argument("--final-pixels", type=int, default=None, help="Multiscale final_pixels (default: the widget's)")
    args = ap.parse_args(argv)
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(DATA, "data_GT", "*")))
    if args.limit:
        names = names[: args.limit]
    radius = max(1, int(round(5 * args.scale)))
    for method in args.methods.split(","):
        func = segmenters.get(method)
        full_n, fast_n, t_full, t_fast, factors = [], [], 0.0, 0.0, set()
        for name in names:
            img, gt = load(name, args.scale)
            t = time.perf_counter()
            full_n.append(
                noc(
                    lambda s, img=img, func=func: run_segmenter(func, img, s, None, {}), img, gt, args.threshold, radius
                )
            )
            t_full += time.perf_counter() - t
            kw = {} if args.final_pixels is None else {"final_pixels": args.final_pixels}
            ms = Multiscale(img, preview_seconds=0, **kw)
            factors.add(ms.final_factor)
            t = time.perf_counter()
            fast_n.append(noc(lambda s, ms=ms, func=func: ms.segment(func, s).labels, img, gt, args.threshold, radius))
            t_fast += time.perf_counter() - t
            print(f"{name:12s} {img.shape[1]}x{img.shape[0]} full {full_n[-1]:2d}  fast {fast_n[-1]:2d}", flush=True)
        d = np.mean(fast_n) - np.mean(full_n)
        print(
            f"{method}: {len(names)} images x{args.scale:g} (fast factors {sorted(factors)}), NoC@{int(100 * args.threshold)} "
            f"full {np.mean(full_n):.2f}, fast {np.mean(fast_n):.2f}, difference {d:+.2f} clicks; "
            f"time full {t_full:.0f} s, fast {t_fast:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
