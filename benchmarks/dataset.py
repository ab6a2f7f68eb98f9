"""Dataset annotator speed: "next" at 12 MP, opening a 10,000-image folder, COCO export of 1,000 items.

    python -m benchmarks.dataset            # all three; prints numbers (see docs/benchmarks.md)
    python -m benchmarks.dataset --quick    # smaller sizes, for a smoke run
    python -m benchmarks.dataset --sam-only --sam-encoder ENC.onnx --sam-decoder DEC.onnx [--sam-normalize minmax]
                                            # "next" with SAM, with and without the prefetched embedding
                                            # (without model files: the tiny test pair at S = 1024)

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


def bench_open_tiffs(tmp: Path, n=10_000, planes=50, h=48, w=64):
    """Open a folder of ``n`` small 16-bit TIFFs plus one ``planes``-plane stack: first time, then re-open."""
    import tifffile

    src = tmp / "tiffs"
    src.mkdir()
    one = tmp / "one.tif"
    tifffile.imwrite(one, np.zeros((h, w), np.uint16))
    data = one.read_bytes()
    for i in range(n):
        (src / f"cell_{i:05d}.tif").write_bytes(data)
    tifffile.imwrite(src / "zstack.tif", np.zeros((planes, h, w), np.uint16), metadata={"axes": "ZYX"})
    gc.collect()
    t = time.perf_counter()
    a = ipyseg.Annotator(src, out=tmp / "tiffs-out")
    t_first = time.perf_counter() - t
    assert len(a) == n + planes and a.item_keys[-1] == f"zstack.tif#{planes - 1:04d}"
    a.close()
    t = time.perf_counter()
    b = ipyseg.Annotator(src, out=tmp / "tiffs-out")
    t_again = time.perf_counter() - t
    b.close()
    print(
        f"open a folder of {n} TIFFs + a {planes}-plane stack ({n + planes} items): first {1000 * t_first:.0f} ms "
        f"(every header read), re-open {1000 * t_again:.0f} ms (plane counts remembered)"
    )
    return t_first, t_again


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
    src = tmp / "export-src"  # the annotator needs the photos: placeholders of the same names and size
    src.mkdir()  # (one flat JPEG, a few kB; exports check each photo's size against its labels)
    tiny = cv2.imencode(".jpg", np.zeros((h, w, 3), np.uint8))[1].tobytes()
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


def sam_model(tmp: Path, encoder, decoder, normalize):
    from ipyseg.sam.model import SamModel

    if encoder is None:  # the tests' tiny pair (no weights needed): its encoder costs little
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        import tiny_sam

        encoder = tiny_sam.build_encoder(tmp / "tiny_encoder.onnx", size=1024)
        decoder = tiny_sam.build_decoder(tmp / "tiny_decoder.onnx", size=1024)
    return SamModel(encoder, decoder, normalize=normalize)


def bench_sam_next(tmp: Path, model, n=4, h=3000, w=4000):
    """ "next" -> first box answered, with SAM: embeddings prefetched vs computed after "next".

    Kernel-side wall clock from ``a.next()`` to the labels of a box prompt on the new image
    (what the user waits for before the first answer), and ``a.next()`` alone. Before each
    "next" the prefetch thread is left to finish (a user looks at the image for a while).
    """
    src = write_jpegs(tmp / "sam-next", 2 * n + 1, h, w)
    encoder_seconds = []
    orig = model._encoder.run

    def timed(feeds, names):
        t = time.perf_counter()
        try:
            return orig(feeds, names)
        finally:
            encoder_seconds.append(time.perf_counter() - t)

    model._encoder.run = timed
    a = ipyseg.Annotator(src, out=tmp / "sam-next-out", method="sam", model=model)
    box = (w // 3, h // 3, 2 * w // 3, 2 * h // 3)
    rows = {"prefetched": ([], []), "not prefetched": ([], [])}
    try:
        a.widget.wait(120)
        for i in range(1, 2 * n + 1):
            kind = "prefetched" if i <= n else "not prefetched"
            if kind == "not prefetched":
                a._prefetcher._warm = None  # decode and pyramid still prefetched, the encoder not
            a._prefetcher.idle(300)
            t = time.perf_counter()
            a.next()
            t_next = time.perf_counter() - t
            a.widget.paint_box(box)
            a.widget.wait(300)
            t_answer = time.perf_counter() - t
            assert a.widget.labels.any() or a.widget.last_error is None
            rows[kind][0].append(t_next)
            rows[kind][1].append(t_answer)
    finally:
        a.close()
        model._encoder.run = orig
    ms = lambda xs: f"p50 {1000 * statistics.median(xs):.0f} ms, max {1000 * max(xs):.0f} ms"  # noqa: E731
    enc = statistics.median(encoder_seconds)
    print(f"SAM ({model.encoder_path.name}, {model.backend}) at {w} x {h}: encoder {1000 * enc:.0f} ms (p50)")
    for kind, (nexts, answers) in rows.items():
        print(f"  embedding {kind}: next() {ms(nexts)}; next() -> box answered {ms(answers)} (n={len(nexts)})")
    return rows, enc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sam-only", action="store_true", help="only the SAM 'next' benchmark")
    ap.add_argument("--tiffs-only", action="store_true", help="only the TIFF folder opening benchmark")
    ap.add_argument("--sam-encoder", help="ONNX encoder (default: the tests' tiny pair at S = 1024)")
    ap.add_argument("--sam-decoder")
    ap.add_argument("--sam-normalize", default="imagenet")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores, shared)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.tiffs_only:
            bench_open_tiffs(tmp, n=500 if args.quick else 10_000)
            return
        if not args.sam_only:
            if args.quick:
                bench_next(tmp, n=3, h=600, w=800)
                bench_open_10k(tmp, n=500)
                bench_open_tiffs(tmp, n=500)
                bench_export(tmp, n=20)
            else:
                bench_next(tmp)
                bench_open_10k(tmp)
                bench_open_tiffs(tmp)
                bench_export(tmp)
        model = sam_model(tmp, args.sam_encoder, args.sam_decoder, args.sam_normalize)
        if args.quick:
            bench_sam_next(tmp, model, n=2, h=600, w=800)
        else:
            bench_sam_next(tmp, model)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
