"""Contrast speed: how long the kernel takes to redraw the photo when the display range changes.

A ``SegmentWidget`` on 12 MP scientific images (12-bit gray, float with negative values, three
and five 16-bit channels, and an 8-bit gray reference). The contrast control's range slider is
moved through its real comm message (``{"method": "update", "state": {"value": [lo, hi]}}``, as
the page sends it while the handle is dragged), and for every step it records the time until
the handler returns (everything the kernel does for the step: validate, map the
display-resolution samples, encode, send), the thread's CPU time, the bytes sent and the canvas
layers drawn. It also times the lossless PNG that follows once the slider is still, a
programmatic ``w.display_range = ...`` (sent lossless at once), the full-resolution
segmentation image rebuilt afterwards (in the engine's thread, off the event thread), and a
mouse stroke answered on the display-mapped image (``--strokes``), against the same scene in 8 bits.

Usage::

    PYTHONPATH=$PWD python benchmarks/contrast_speed.py            # about 2-4 minutes
    PYTHONPATH=$PWD python benchmarks/contrast_speed.py --steps 10 --strokes 0 --kinds gray12
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import cv2
import numpy as np

import ipyseg
from benchmarks.speed import Recorder, drive
from ipyseg import BACKGROUND, FOREGROUND

H, W = 3000, 4000  # 12 MP


def cells(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth blobs ("cells") in [0, 1], built at 1/8 size and scaled up, float32."""
    rng = np.random.default_rng(seed)
    lh, lw = h // 8, w // 8
    canvas = np.zeros((lh, lw), np.float32)
    for _ in range(60):
        cy, cx, r = rng.uniform(0, lh), rng.uniform(0, lw), rng.uniform(6, 22)
        cv2.circle(canvas, (int(cx), int(cy)), int(r), float(rng.uniform(0.4, 1.0)), -1)
    cv2.circle(canvas, (lw // 2, lh // 2), lh // 5, 1.0, -1)  # the cell the strokes segment
    canvas = cv2.GaussianBlur(canvas, (0, 0), 2.0)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_LINEAR)


def scene(kind: str, h: int = H, w: int = W):
    """``(image, widget kwargs)`` for one kind of data."""
    rng = np.random.default_rng(1)
    base = cells(h, w)
    noise = rng.standard_normal((h, w), dtype=np.float32)
    if kind == "gray8":
        return np.clip(20 + 200 * base + 6 * noise, 0, 255).astype(np.uint8), {}
    if kind == "gray12":
        return np.clip(200 + 3000 * base + 80 * noise, 0, 4095).astype(np.uint16), {}
    if kind == "float":
        return (-50 + 1000 * base + 30 * noise).astype(np.float32), {}
    if kind in ("rgb16x3", "ch16x5"):
        n = 3 if kind == "rgb16x3" else 5
        chans = [
            np.clip(1000 + (20000 + 8000 * c) * np.roll(base, 40 * c, axis=1) + 500 * noise, 0, 65535) for c in range(n)
        ]
        return np.stack(chans, axis=-1).astype(np.uint16), {"channel_axis": -1}
    raise ValueError(kind)


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def update(control, **state):
    control._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def hook_apply(widget) -> list:
    """Timestamp every result the engine applies: ``[(perf_counter, final)]``."""
    log = []
    widget.engine.on_result(lambda result: log.append((time.perf_counter(), getattr(result.labels, "final", True))))
    return log


def bench(kind: str, steps: int, strokes: int) -> dict:
    img, kw = scene(kind)
    load0 = load()
    t = time.perf_counter()
    w = ipyseg.SegmentWidget(img, method="click_graphcut", **kw)
    t_new = time.perf_counter() - t
    c = w.toolbar.contrast
    rec = Recorder()
    layers: list = []
    orig = w.view.put_png
    w.view.put_png = lambda layer, png, x=0, y=0, **k: (layers.append(layer), orig(layer, png, x, y, **k))[1]
    lo0, hi0 = c.range.value
    walls, cpus, sizes, drawn = [], [], [], []
    for i in range(steps):  # a drag of the upper handle, then of the lower one
        f = (i + 1) / (steps + 1)
        value = [lo0, hi0 - 0.5 * f * (hi0 - lo0)] if i < steps // 2 else [lo0 + 0.3 * f * (hi0 - lo0), 0.6 * hi0]
        rec.take_bytes()
        layers.clear()
        a, b = time.perf_counter(), time.thread_time()
        update(c.range, value=value)
        walls.append(time.perf_counter() - a)
        cpus.append(time.thread_time() - b)
        sizes.append(rec.take_bytes())
        drawn.append({lay.name if hasattr(lay, "name") else str(id(lay)) for lay in layers})
    assert all(layer is w.view.image_layer for layer in layers)
    only_photo = all(len(d) == 1 for d in drawn)
    t = time.perf_counter()
    w.presenter.lossless_later.flush()
    t_lossless = time.perf_counter() - t
    lossless_bytes = rec.take_bytes()
    prog = []
    for j in range(3):
        t = time.perf_counter()
        w.display_range = {0: (lo0 + j, hi0 * 0.8)} if w.document.picture.groups > 1 else (lo0 + j, hi0 * 0.8)
        prog.append(time.perf_counter() - t)
    t = time.perf_counter()
    seg = w.document.picture.segmentation_image()
    t_seg = time.perf_counter() - t
    t = time.perf_counter()
    w.image  # noqa: B018 - full-resolution display image, computed when read
    t_image = time.perf_counter() - t
    out = dict(
        kind=kind,
        dtype=str(img.dtype),
        shape=img.shape,
        construct=t_new,
        step_p50=pct(walls, 50),
        step_p95=pct(walls, 95),
        step_max=pct(walls, 100),
        step_cpu_p50=pct(cpus, 50),
        step_kb=float(np.median(sizes)) / 1000,
        only_photo=only_photo,
        lossless=t_lossless * 1000,
        lossless_kb=lossless_bytes / 1000,
        programmatic_p50=pct(prog, 50),
        segmentation_image=t_seg * 1000,
        seg_dtype=str(seg.dtype),
        image=t_image * 1000,
        load=f"{load0} -> {load()}",
    )
    rec.close()
    if strokes:
        log = hook_apply(w)
        answers, finals = [], []
        for s in range(strokes):  # object strokes inside the middle cell, background ones in the corners
            d = 0.01 * s
            fg = [(0.45, 0.48 + d), (0.55, 0.48 + d)]
            bg = [(0.05 + d, 0.05), (0.3 + d, 0.08)]
            log.clear()
            t_up = drive(w, (FOREGROUND if s % 2 == 0 else BACKGROUND, fg if s % 2 == 0 else bg), moves=20)[0]
            assert w.wait(300)
            if not log:
                raise RuntimeError(f"stroke {s}: no result applied ({w.status!r}, {w.engine.last_apply_error!r})")
            answers.append(log[0][0] - t_up[0])
            finals.append(log[-1][0] - t_up[0])
        out.update(stroke_answer_p50=pct(answers, 50), stroke_final_p50=pct(finals, 50))
    w.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", default="gray8,gray12,float,rgb16x3,ch16x5")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--strokes", type=int, default=6)
    args = ap.parse_args()
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; load {load()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, OpenCV {cv2.__version__}"
    )
    print(
        "| image | build | contrast step p50 / p95 / max (CPU p50) | sent per step | photo layer only "
        "| lossless PNG after | programmatic set | segmentation image | w.image | stroke answer / final p50 | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind in args.kinds.split(","):
        r = bench(kind, args.steps, args.strokes)
        stroke = f"{r['stroke_answer_p50']:.0f} / {r['stroke_final_p50']:.0f} ms" if "stroke_answer_p50" in r else "-"
        print(
            f"| {kind} {r['dtype']} {r['shape']} | {r['construct']:.2f} s "
            f"| {r['step_p50']:.0f} / {r['step_p95']:.0f} / {r['step_max']:.0f} ms ({r['step_cpu_p50']:.0f} ms) "
            f"| {r['step_kb']:.0f} kB | {'yes' if r['only_photo'] else 'NO'} "
            f"| {r['lossless']:.0f} ms ({r['lossless_kb']:.0f} kB) | {r['programmatic_p50']:.0f} ms "
            f"| {r['segmentation_image']:.0f} ms ({r['seg_dtype']}) | {r['image']:.0f} ms | {stroke} | {r['load']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
