"""How segmentation time grows with the number of objects (a known limit, see docs/benchmarks.md).

One photo (random texture, 300 x 400 by default), a background stroke along the top, and ``n``
small object dabs; each method segments it once with ``ipyseg.segment`` (full resolution, as a
programmatic call does), for several ``n``.

Usage::

    python benchmarks/many_objects.py                 # n = 1, 10, 20, 40
    python benchmarks/many_objects.py --objects 1,50 --size 600 800
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import ipyseg


def scene(n: int, h: int, w: int):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    seeds = np.zeros((h, w), np.uint8)
    seeds[0:3, :] = ipyseg.BACKGROUND
    cols = int(np.ceil(np.sqrt(n * w / h)))
    for k in range(n):
        r = int((k // cols + 0.5) * (h - 10) / max(1, int(np.ceil(n / cols)))) + 5
        c = int((k % cols + 0.5) * w / cols)
        seeds[r : r + 3, c : c + 3] = k + 2
    return img, seeds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", default="1,10,20,40")
    ap.add_argument("--size", type=int, nargs=2, default=(300, 400))
    ap.add_argument("--methods", default="click_graphcut,grabcut,watershed")
    args = ap.parse_args(argv)
    h, w = args.size
    print(f"{h} x {w}, load average {os.getloadavg()[0]:.2f}")
    for m in args.methods.split(","):  # warm up (imports, OpenCV's first calls)
        ipyseg.segment(*scene(2, 40, 50), method=m)
    for n in (int(v) for v in args.objects.split(",")):
        img, seeds = scene(n, h, w)
        row = []
        for m in args.methods.split(","):
            t = time.perf_counter()
            labels = ipyseg.segment(img, seeds, method=m)
            row.append(f"{m} {time.perf_counter() - t:.2f} s ({len(np.unique(labels)) - 1} objects)")
        print(f"{n:4d} objects: " + ", ".join(row))


if __name__ == "__main__":
    main()
