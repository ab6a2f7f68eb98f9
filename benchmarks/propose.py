"""Proposals: ``ipyseg.propose`` on synthetic nuclei, time and instance F1 at IoU 0.5 (issue 18).

A 2048 x 2048 16-bit field of 1,000 nuclei (``benchmarks/many_cells.fluorescence``; radii 0.25-0.40
of the grid step, so neighbours touch, and a harder 0.30-0.48, where they overlap), then the same
proposals taken into a ``SegmentWidget`` (``w.editor.propose``: 1,000 exact objects in one undo
step) until the final labels are shown. Usage::

    python benchmarks/propose.py [--size 2048] [--cells 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ipyseg  # noqa: E402
from benchmarks.many_cells import fluorescence  # noqa: E402


def f1_at_half(gt: np.ndarray, lab: np.ndarray) -> float:
    """Instance F1: a proposal matches a true object when their IoU exceeds 0.5 (one to one)."""
    m = (gt > 0) & (lab > 0)
    pairs, cnt = np.unique(np.stack([gt[m].astype(np.int64), lab[m].astype(np.int64)]), axis=1, return_counts=True)
    ga, la = np.bincount(gt.ravel()), np.bincount(lab.ravel())
    tp = int((cnt / (ga[pairs[0]] + la[pairs[1]] - cnt) > 0.5).sum())
    return 2 * tp / max(1, int((ga[1:] > 0).sum()) + int((la[1:] > 0).sum()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{args.size} x {args.size} uint16, {args.cells} nuclei, load average {os.getloadavg()[0]:.2f}")
    for name, radius in (("touching", (0.25, 0.40)), ("overlapping", (0.30, 0.48))):
        img, _, radii, gt = fluorescence(args.size, args.cells, truth=True, radius=radius)
        d = 2 * float(np.median(radii))
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            lab = ipyseg.propose(img, diameter=d)
            times.append(time.perf_counter() - t)
        print(
            f"{name:<12} propose p50 {statistics.median(times):.2f} s, {int(lab.max())} objects, "
            f"F1 at IoU 0.5 {f1_at_half(gt, lab):.3f}",
            flush=True,
        )
    w = ipyseg.SegmentWidget(img)
    try:
        t = time.perf_counter()
        new = w.editor.propose(diameter=d)
        assert w.wait(600)
        print(f"w.editor.propose: {len(new)} objects added and shown in {time.perf_counter() - t:.2f} s")
        r, c = np.argwhere(w.labels == new[len(new) // 2])[0]
        t = time.perf_counter()
        w.editor.delete(new[len(new) // 2])
        assert w.wait(600)
        print(f"then delete one of them: {1000 * (time.perf_counter() - t):.0f} ms")
    finally:
        w.close()


if __name__ == "__main__":
    main()
