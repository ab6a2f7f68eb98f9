"""Proposals: ``ipyseg.propose`` on synthetic nuclei, time and instance F1 at IoU 0.5 (issue 18).

A 2048 x 2048 16-bit field of 1,000 nuclei (``benchmarks/many_cells.fluorescence``; radii 0.25-0.40
of the grid step, so neighbours touch, and a harder 0.30-0.48, where they overlap), then the same
proposals taken into a ``SegmentWidget`` (``w.editor.propose``: 1,000 exact objects in one undo
step) until the final labels are shown. Usage::

    python benchmarks/propose.py [--size 2048] [--cells 1000] [--repeat 3] [--sam tiny | --sam ENC.onnx,DEC.onnx]

``--sam``: also SAM's automatic mask generator (``propose(image, "sam", model=m)``) on the same
field, 16 x 16 and 32 x 32 point grids: total time, of which decoder runs (timed on their own on
the cached embedding) and the rest (filters, NMS, painting). ``tiny`` is the test suite's tiny
ONNX pair (tests/tiny_sam.py, needs the ``onnx`` package): its masks are disks, so its F1 means
nothing; it measures ipyseg's own cost around the decoder. With real weights F1 is reported too.
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
    ap.add_argument("--sam", default=None, help="tiny, or ENCODER.onnx,DECODER.onnx")
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
    if args.sam:
        _sam(args, img, gt)


def _sam(args, img, gt) -> None:
    import tempfile

    from ipyseg.sam import SamModel

    if args.sam == "tiny":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        import tiny_sam

        d = Path(tempfile.mkdtemp())
        enc = tiny_sam.build_encoder(d / "e.onnx", size=1024)
        dec = tiny_sam.build_decoder(d / "d.onnx", size=1024, radii=(20.0, 40.0, 80.0), ious=(0.9, 0.8, 0.7))
    else:
        enc, dec = args.sam.split(",")
    model = SamModel(enc, dec)
    t = time.perf_counter()
    emb = model.embed(img)
    print(f"SAM ({model.backend}): embedding {time.perf_counter() - t:.2f} s (once per photo; then cached)")
    for side in (16, 32):
        t = time.perf_counter()
        lab = ipyseg.propose(img, "sam", model=model, points_per_side=side)
        total = time.perf_counter() - t
        pts = (np.arange(side) + 0.5) / side * img.shape[0]
        t = time.perf_counter()
        for y in pts:
            for x in pts:
                model.decode_all(emb, emb.frame.to_input(np.array([[x, y]])), np.ones(1))
        decoder = time.perf_counter() - t
        f1 = "" if args.sam == "tiny" else f", F1 at IoU 0.5 {f1_at_half(gt, lab):.3f}"
        print(
            f"  {side} x {side} grid: {total:.2f} s, of which {side * side} decoder runs {decoder:.2f} s "
            f"and the rest {total - decoder:.2f} s; {int(lab.max())} objects{f1}",
            flush=True,
        )


if __name__ == "__main__":
    main()
