"""Dataset annotator speed: "next" at 12 MP, opening a 10,000-image folder, COCO export of 1,000 items.

    python -m benchmarks.dataset            # all three; prints numbers (see docs/benchmarks.md)
    python -m benchmarks.dataset --quick    # smaller sizes, for a smoke run

Images are generated (no downloads) into a temporary folder.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

import ipyseg
from ipyseg import session


def photo(h, w, seed):
    """A synthetic photo: smooth colour gradients, a few discs, camera-like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h:8, 0:w:8].astype(np.float32)
    base = np.stack(
        [120 + 60 * np.sin(xx / 90 + seed), 110 + 50 * np.cos(yy / 70), 100 + 40 * np.sin((xx + yy) / 130)], -1
    )
    img = cv2.resize(base.astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    for _ in range(4):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, c, int(rng.integers(h // 12, h // 5)), [int(v) for v in rng.integers(0, 255, 3)], -1)
    noise = rng.normal(0, 6, (h // 4, w // 4, 3)).astype(np.float32)
    img = np.clip(img + cv2.resize(noise, (w, h)), 0, 255).astype(np.uint8)
    return img


def write_jpegs(folder: Path, n, h, w):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"IMG_{i:04d}.jpg"), photo(h, w, i)[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return folder


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def wait_prefetched(a, i, timeout=60):
    deadline = time.monotonic() + timeout
    while i not in a._prefetcher.cached() and time.monotonic() < deadline:
        time.sleep(0.01)


def bench_next(tmp: Path, n=6, h=3000, w=4000):
    src = write_jpegs(tmp / "next", n, h, w)
    a = ipyseg.Annotator(src, out=tmp / "next-out")
    try:
        warm, cold, stroke_next = [], [], []
        rss = [rss_mb()]
        for i in range(1, n):
            wait_prefetched(a, i)
            t = time.perf_counter()
            a.next()
            warm.append(time.perf_counter() - t)
            rss.append(rss_mb())
        # with a stroke on each image (autosave running), as when annotating
        a.goto(0)
        for i in range(1, n):
            a.widget.click(w / 2, h / 2)
            a.widget.wait(60)
            wait_prefetched(a, i)
            t = time.perf_counter()
            a.next()
            stroke_next.append(time.perf_counter() - t)
        # cold: nothing prefetched (jump far, drop the cache)
        for i in [j % n for j in (0, 3, 1, 4)]:
            a._prefetcher.drop(i)
            t = time.perf_counter()
            a.goto(i)
            cold.append(time.perf_counter() - t)
            a._prefetcher.drop(i)
        a.flush()
    finally:
        a.close()
    ms = lambda xs: f"p50 {1000 * statistics.median(xs):.0f} ms, max {1000 * max(xs):.0f} ms"  # noqa: E731
    print(f"next() at {w} x {h} ({w * h / 1e6:.0f} MP), prefetched: {ms(warm)} (n={len(warm)})")
    print(f"next() after a stroke (autosave running), prefetched: {ms(stroke_next)} (n={len(stroke_next)})")
    print(f"resident memory while moving through the 12 MP images: {' -> '.join(f'{r:.0f}' for r in rss)} MB")
    print(f"goto() with nothing prefetched (decode + pyramid + PNG on the spot): {ms(cold)} (n={len(cold)})")
    return warm, stroke_next, cold


def bench_open_10k(tmp: Path, n=10_000, h=48, w=64):
    src = tmp / "many"
    src.mkdir()
    tiny = cv2.imencode(".png", photo(h, w, 0))[1].tobytes()
    for i in range(n):
        (src / f"img_{i:05d}.png").write_bytes(tiny)
    gc.collect()
    t = time.perf_counter()
    a = ipyseg.Annotator(src, out=tmp / "many-out")
    t_open = time.perf_counter() - t
    a.close()
    tracemalloc.start()  # after the timing: tracing slows Python down
    a = ipyseg.Annotator(src, out=tmp / "many-out")
    try:
        t = time.perf_counter()
        for _ in range(100):
            s = a.status
            p = a.progress
        t_status = (time.perf_counter() - t) / 100
        assert len(s) == n and p == (0, n)
        for i in range(60):  # visit and edit 60 items, memory must stay flat
            a.widget.click(w / 2, h / 2)
            a.mark_done()
            if i == 9:
                a.flush()
                mem10 = tracemalloc.get_traced_memory()[0]
        a.flush()
        mem60 = tracemalloc.get_traced_memory()[0]
        a.close()
        tracemalloc.stop()
        t = time.perf_counter()
        b = ipyseg.Annotator(src, out=tmp / "many-out")
        t_reopen = time.perf_counter() - t
        assert b.index == 60 and b.progress == (60, n)
        b.close()
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        a.close()
    print(f"open a folder of {n} images: {1000 * t_open:.0f} ms; re-open with 60 done: {1000 * t_reopen:.0f} ms")
    print(f"status + progress: {1e6 * t_status:.0f} µs per call")
    print(f"Python heap after 10 / 60 items done: {mem10 / 1e6:.1f} / {mem60 / 1e6:.1f} MB")
    return t_open, t_reopen, t_status, mem10, mem60


def bench_export(tmp: Path, n=1000, h=960, w=1280, objects=3):
    out = tmp / "export-out"
    rng = np.random.default_rng(0)
    keys = [f"IMG_{i:04d}.jpg" for i in range(n)]
    expected = 0
    for key in keys:
        lab = np.zeros((h, w), np.uint8)
        for k in range(1, objects + 1):
            c = (int(rng.integers(100, w - 100)), int(rng.integers(100, h - 100)))
            cv2.ellipse(
                lab,
                c,
                (int(rng.integers(30, 200)), int(rng.integers(30, 200))),
                float(rng.integers(0, 180)),
                0,
                360,
                k,
                -1,
            )
        cv2.circle(lab, c, 12, 0, -1)  # a hole in the last object
        expected += len(np.unique(lab)) - 1  # ellipses may hide each other
        st = session.SessionState(
            shape=(h, w),
            seeds=np.zeros((h, w), np.uint8),
            labels=lab,
            method="watershed",
            status="done",
            object_classes={1: "cat", 2: "dog"},
        )
        session.save(st, out / (key + ".json"))
    src = tmp / "export-src"  # the annotator needs the photos' list; tiny placeholder files with the same names
    src.mkdir()
    tiny = cv2.imencode(".jpg", np.zeros((h // 40, w // 40, 3), np.uint8))[1].tobytes()
    for key in keys:
        (src / key).write_bytes(tiny)
    a = ipyseg.Annotator(src, out=out, classes=["cat", "dog", "bird"])
    try:
        assert a.progress == (n, n)
        times = {}
        for seg in ("rle", "polygon"):
            t = time.perf_counter()
            a.export_coco(tmp / f"coco-{seg}.json", segmentation=seg)
            times[seg] = time.perf_counter() - t
        t = time.perf_counter()
        a.save_labels(tmp / "labels")
        times["labels"] = time.perf_counter() - t
    finally:
        a.close()
    from pycocotools.coco import COCO

    api = COCO(str(tmp / "coco-rle.json"))
    assert len(api.getImgIds()) == n and len(api.getAnnIds()) == expected
    print(
        f"export_coco of {n} items ({w} x {h}, {objects} objects each): RLE {times['rle']:.1f} s, "
        f"polygon {times['polygon']:.1f} s; save_labels {times['labels']:.1f} s"
    )
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores, shared)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.quick:
            bench_next(tmp, n=3, h=600, w=800)
            bench_open_10k(tmp, n=500)
            bench_export(tmp, n=20)
        else:
            bench_next(tmp)
            bench_open_10k(tmp)
            bench_export(tmp)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
