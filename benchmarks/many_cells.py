"""Hundreds of cells: what one more edit costs as the number of objects grows (issue 18).

A synthetic 16-bit fluorescence field (``--size`` square, default 2048; blurred bright nuclei
on a dark background with shot noise), ``n`` of its cells already seeded with one click each,
and the final labels of a ``SegmentWidget`` computed once. Then, kernel side through the public
API, the time from the edit to the final labels (``w.wait()``):

* ``click``: one more click on an unseeded cell (a new object);
* ``stroke``: a background stroke across the rim of one seeded cell (fixing it);
* ``merge`` / ``split`` / ``delete``: the proofreading edits (``w.editor``), each undone after.

Every ``n`` is measured in the same run, so the ratio ``t(n) / t(smallest n)`` compares like with
like. Usage::

    python benchmarks/many_cells.py                         # n = 10, 300, 1000 on 2048 x 2048
    python benchmarks/many_cells.py --objects 10,100 --size 1024 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2
import numpy as np

from ipyseg import SegmentWidget


def fluorescence(size: int, n_cells: int, seed: int = 0, truth: bool = False, radius=(0.22, 0.32)):
    """(image uint16 (size, size), centres (n, 2) int, radii (n,)): nuclei on a jittered grid.

    ``truth``: also the ground-truth labels (uint16, cell k + 1 is label k + 1; a later cell
    covers an earlier one where they overlap). ``radius``: the range of radii as fractions of
    the grid step (from about 0.36 up, neighbours touch).
    """
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n_cells)))
    step = size / cols
    img = np.zeros((size, size), np.float32)
    gt = np.zeros((size, size), np.uint16)
    centres, radii = [], []
    for k in range(n_cells):
        i, j = divmod(k, cols)
        r = int((i + 0.5) * step + rng.uniform(-0.12, 0.12) * step)
        c = int((j + 0.5) * step + rng.uniform(-0.12, 0.12) * step)
        rad = max(3, int(step * rng.uniform(*radius)))
        cv2.circle(img, (c, r), rad, float(rng.uniform(0.5, 1.0)), -1)
        cv2.circle(gt, (c, r), rad, k + 1, -1)
        centres.append((r, c))
        radii.append(rad)
    img = cv2.GaussianBlur(img, (0, 0), max(1.0, step / 40))
    photons = rng.poisson(img * 3000 + 100).astype(np.float32)
    out = np.clip(photons * 16, 0, 65535).astype(np.uint16), np.array(centres), np.array(radii)
    return (*out, gt) if truth else out


def _wait(w):
    if not w.wait(600):
        raise RuntimeError("segmentation did not finish")


def _timed(w, edit):
    t = time.perf_counter()
    edit()
    _wait(w)
    return time.perf_counter() - t


def measure(n: int, size: int, repeat: int, method: str | None):
    total = n + repeat  # cells; the last `repeat` stay unseeded for the clicks
    img, centres, radii = fluorescence(size, total)
    seeds = np.zeros((size, size), np.uint16)
    for k, (r, c) in enumerate(centres[:n]):
        cv2.circle(seeds, (int(c), int(r)), 2, k + 2, -1)
    w = SegmentWidget(img, **({} if method is None else {"method": method}))
    try:
        t = time.perf_counter()
        w.seeds = seeds
        _wait(w)
        first = time.perf_counter() - t
        out = {"first": first, "click": [], "stroke": [], "merge": [], "split": [], "delete": []}
        for i in range(repeat):
            r, c = centres[n + i]
            out["click"].append(_timed(w, lambda r=r, c=c, i=i: w.click(float(c), float(r), label=n + i + 2)))
        for i in range(repeat):
            k = 1 + (i * 37) % n
            (r, c), rad = centres[k - 1], radii[k - 1]
            pts = [(float(c - rad), float(r + rad * 0.7)), (float(c + rad), float(r + rad * 0.7))]
            out["stroke"].append(_timed(w, lambda pts=pts: w.paint(pts, label=1, radius=1.5)))
            _wait(w)
            w.undo()
            _wait(w)
            a, b = k, 1 + k % n
            out["merge"].append(_timed(w, lambda a=a, b=b: w.editor.merge(a, b)))
            w.undo()
            _wait(w)
            line = np.array([(r, c - rad - 2), (r, c + rad + 2)], float)
            out["split"].append(_timed(w, lambda k=k, line=line: w.editor.split(k, line)))
            w.undo()
            _wait(w)
            out["delete"].append(_timed(w, lambda k=k: w.editor.delete(k)))
            w.undo()
            _wait(w)
        out["objects"] = len(w.objects())
        return out
    finally:
        w.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", default="10,300,1000")
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--method", default=None, help="default: the default method")
    args = ap.parse_args(argv)
    print(f"{args.size} x {args.size} uint16, load average {os.getloadavg()[0]:.2f}, p50 of {args.repeat}")
    ops = ("click", "stroke", "merge", "split", "delete")
    rows = {}
    for n in (int(v) for v in args.objects.split(",")):
        res = measure(n, args.size, args.repeat, args.method)
        rows[n] = {op: statistics.median(res[op]) for op in ops}
        cells = ", ".join(f"{op} {1000 * rows[n][op]:.0f} ms" for op in ops)
        print(f"n = {n:5d} ({res['objects']} objects, first result {res['first']:.1f} s): {cells}", flush=True)
    lo, hi = min(rows), max(rows)
    if lo != hi:
        print(f"t({hi}) / t({lo}): " + ", ".join(f"{op} {rows[hi][op] / rows[lo][op]:.2f}" for op in ops))


if __name__ == "__main__":
    main()
