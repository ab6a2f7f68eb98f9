"""Speed benchmark: a SegmentWidget driven through real ipycanvas messages on 1-12 MP photos.

For every stroke (mouse-down, ~50 mouse-moves, mouse-up, as the ipycanvas front end sends
them) it records

* latency from the mouse-up message to the first overlay draw sent (the *answer*: a preview for
  slow methods) and to the final result,
* bytes sent to the front end for the stroke's update (every widget message: JSON + buffers),
* the time to handle each mouse-move message (stroke preview).

In the same run it times the plain pipeline (full-resolution ``cv2.grabCut``, 1 iteration, and a
full-frame RGBA ``put_image_data`` PNG as ipycanvas encodes it) on the same strokes, and measures
a widget's peak memory on the largest photo and its growth over many strokes (in subprocesses,
so the numbers are the widget's own).

Usage::

    PYTHONPATH=$PWD python benchmarks/speed.py                  # everything (see below)
    PYTHONPATH=$PWD python benchmarks/speed.py --sizes 1 --strokes 20 --no-memory   # ~1 min
    PYTHONPATH=$PWD python benchmarks/speed.py --baseline-strokes 1 --growth-strokes 200

The full run takes 10-30 minutes on a shared 2-core machine, most of it in the plain
pipeline at 12 MP (one full-resolution GrabCut iteration per timed stroke) and GrabCut's final
stages; ``--baseline-strokes``, ``--sizes``, ``--methods`` and ``--growth-strokes`` trim it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import cv2
import ipycanvas
import ipywidgets
import numpy as np

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND, segmenters
from ipyseg._validation import as_image, sample_path
from ipyseg.geometry import stroke_footprint

# ----------------------------------------------------------------------------- photos

#: Strokes in normalised (x, y) image coordinates, alternating object / background. The object
#: is the cup and saucer of the bundled sample (and the ellipse of the synthetic scene).
FG_STROKES = [
    [(0.36, 0.30), (0.58, 0.30)],
    [(0.25, 0.62), (0.40, 0.75), (0.50, 0.82)],
    [(0.33, 0.45), (0.42, 0.55)],
    [(0.62, 0.88), (0.72, 0.80)],
    [(0.55, 0.55), (0.60, 0.70)],
    [(0.20, 0.50), (0.22, 0.62)],
    [(0.45, 0.10), (0.55, 0.10)],
    [(0.70, 0.40), (0.74, 0.55)],
    [(0.30, 0.85), (0.40, 0.90)],
    [(0.48, 0.40), (0.52, 0.48)],
    [(0.66, 0.30), (0.68, 0.20)],
]
BG_STROKES = [
    [(0.03, 0.10), (0.22, 0.05)],
    [(0.86, 0.10), (0.97, 0.50)],
    [(0.04, 0.80), (0.10, 0.97)],
    [(0.86, 0.72), (0.95, 0.95)],
    [(0.55, 0.02), (0.92, 0.04)],
    [(0.02, 0.30), (0.05, 0.60)],
    [(0.20, 0.985), (0.60, 0.99)],
    [(0.90, 0.60), (0.97, 0.65)],
    [(0.08, 0.02), (0.30, 0.02)],
    [(0.80, 0.95), (0.98, 0.98)],
    [(0.12, 0.20), (0.14, 0.30)],
]


def strokes(n: int) -> list[tuple[int, list]]:
    """``n`` strokes ``(label, points)``, alternating object and background, cycling the lists."""
    out = []
    for i in range(n):
        src = FG_STROKES if i % 2 == 0 else BG_STROKES
        out.append((FOREGROUND if i % 2 == 0 else BACKGROUND, src[(i // 2) % len(src)]))
    return out


def size_for(mp: float, aspect: float = 1.5) -> tuple[int, int]:
    """``(H, W)`` of about ``mp`` megapixels at ``aspect = W / H``."""
    h = int(round(np.sqrt(mp * 1e6 / aspect)))
    return h, int(round(h * aspect))


def sample_photo(mp: float) -> np.ndarray:
    """The bundled sample scaled up (bicubic) to ``mp`` megapixels."""
    img = as_image(sample_path())
    h, w = size_for(mp, img.shape[1] / img.shape[0])
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)


def synthetic_photo(mp: float, seed: int = 0) -> np.ndarray:
    """A textured scene: an elliptical, shaded object on a wood-like striped background."""
    h, w = size_for(mp)
    rng = np.random.default_rng(seed)
    lh, lw = max(8, h // 4), max(8, w // 4)  # build smooth structure at 1/4 size
    yy, xx = np.mgrid[:lh, :lw].astype(np.float32)
    yn, xn = yy / lh, xx / lw
    grain = np.sin(40 * yn + 6 * np.sin(7 * xn)) * 0.5 + 0.5
    bg = np.stack([120 + 50 * grain, 75 + 30 * grain, 40 + 15 * grain], axis=-1)
    obj = ((xn - 0.47) / 0.30) ** 2 + ((yn - 0.52) / 0.42) ** 2 <= 1
    shade = 0.75 + 0.25 * np.cos(5 * (xn - 0.47))
    fg = np.stack([170 * shade, 35 * shade + 20 * (yn > 0.5), 30 * shade], axis=-1)
    small = np.where(obj[..., None], fg, bg).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    noise = rng.integers(-14, 15, size=(h, w, 1), dtype=np.int16)
    return np.clip(big.astype(np.int16) + noise, 0, 255).astype(np.uint8)


PHOTOS = {"sample": sample_photo, "synthetic": synthetic_photo}

# ---------------------------------------------------------------------- measurement


class Recorder:
    """Counts every message the widgets send (JSON + binary buffers) by wrapping ``Widget._send``."""

    def __init__(self):
        self.messages: list = []
        self._orig = ipywidgets.Widget._send
        rec = self

        def _send(widget, msg, buffers=None):
            rec.messages.append((msg, buffers))
            return rec._orig(widget, msg, buffers)

        ipywidgets.Widget._send = _send

    def take_bytes(self) -> int:
        """Bytes of the messages recorded since the last call (then forgets them)."""
        total = 0
        for msg, buffers in self.messages:
            total += len(json.dumps(msg, default=str))
            total += sum(memoryview(b).nbytes for b in buffers or ())
        self.messages.clear()
        return total

    def close(self):
        ipywidgets.Widget._send = self._orig


def send(widget, event, x, y):
    widget.view.canvas._handle_custom_msg({"event": event, "x": float(x), "y": float(y)}, [])


def hook_apply(widget):
    """Timestamp every result the engine applies: ``[(perf_counter, process_time, final)]``.

    Process CPU time from mouse-up to the draw is the latency an idle machine would see
    (nothing else of ours runs meanwhile: the driver is blocked in ``wait``).
    """
    log = []

    def applied(result):
        log.append((time.perf_counter(), time.process_time(), getattr(result.labels, "final", True)))

    widget.engine.on_result(applied)
    return log


def drive(widget, stroke, moves: int = 50, before_up=None):
    """One stroke through ipycanvas messages; returns (t_mouse_up, [(wall, cpu) per move]).

    CPU time (this thread's) is reported besides wall time because on a loaded machine the
    scheduler can pause the process in the middle of a sub-millisecond handler.

    ``before_up()`` is called just before the mouse-up message (to split what was sent).
    """
    label, pts = stroke
    vp = widget.viewport
    widget.label = label
    pts = np.asarray(pts, float) * (vp.canvas_width, vp.canvas_height)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    t = np.linspace(0, seg.sum(), moves + 1)
    xs = np.interp(t, np.r_[0, np.cumsum(seg)], pts[:, 0])
    ys = np.interp(t, np.r_[0, np.cumsum(seg)], pts[:, 1])
    send(widget, "mouse_move", xs[0], ys[0])
    send(widget, "mouse_down", xs[0], ys[0])
    times = []
    for x, y in zip(xs[1:], ys[1:], strict=True):
        a, c = time.perf_counter(), time.thread_time()
        send(widget, "mouse_move", x, y)
        times.append((time.perf_counter() - a, time.thread_time() - c))
    if before_up is not None:
        before_up()
    t_up = (time.perf_counter(), time.process_time())
    send(widget, "mouse_up", xs[-1], ys[-1])
    return t_up, times


def run_widget(photo: np.ndarray, method: str, n_strokes: int, rec: Recorder) -> dict:
    """Drive a widget through ``n_strokes`` strokes, waiting for the final result of each."""
    w = ipyseg.SegmentWidget(photo, method=method)
    log = hook_apply(w)
    rec.take_bytes()
    first, final, first_cpu, sent, preview, moves = [], [], [], [], [], []
    for stroke in strokes(n_strokes):
        log.clear()
        t_up, mv = drive(w, stroke, before_up=lambda: preview.append(rec.take_bytes()))
        if not w.wait(600):
            raise RuntimeError("segmentation did not finish")
        moves += mv
        first.append(log[0][0] - t_up[0] if log else float("nan"))
        first_cpu.append(log[0][1] - t_up[1] if log else float("nan"))
        final.append(log[-1][0] - t_up[0] if log else float("nan"))
        sent.append(rec.take_bytes())  # from mouse-up: seeds, overlay (preview and final), status
    w.engine.close()
    return {
        "first": first,
        "first_cpu": first_cpu,
        "final": final,
        "bytes": sent,
        "preview_bytes": preview,
        "moves": moves,
        "canvas": (w.viewport.canvas_height, w.viewport.canvas_width),
    }


def plain_pipeline(photo: np.ndarray, n_strokes: int, brush: float, which: list[int]) -> list[float]:
    """Seconds per stroke of full-resolution ``cv2.grabCut`` (1 iteration) + RGBA PNG of the frame."""
    from ipycanvas.utils import binary_image

    from ipyseg.ui.render import label_lut

    h, w = photo.shape[:2]
    seeds = np.zeros((h, w), np.uint8)
    bgr = np.ascontiguousarray(photo[:, :, ::-1])
    lut = label_lut(0.5)
    out = []
    for i, (label, pts) in enumerate(strokes(n_strokes)):
        rc = np.asarray(pts, float)[:, ::-1] * (h, w)
        win, fp = stroke_footprint(rc, brush / 2, seeds.shape)
        seeds[win[0] : win[1], win[2] : win[3]][fp] = label
        if i not in which:
            continue
        t0 = time.perf_counter()
        mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
        mask[seeds == BACKGROUND] = cv2.GC_BGD
        mask[seeds == FOREGROUND] = cv2.GC_FGD
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        cv2.grabCut(bgr, mask, None, bgd, fgd, 1, cv2.GC_INIT_WITH_MASK)
        labels = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
        binary_image(lut[labels])
        out.append(time.perf_counter() - t0)
    return out


# --------------------------------------------------------------------------- memory

_MEMORY_CHILD = r"""
import sys, json, time, tracemalloc
import numpy as np
sys.path.insert(0, {bench_dir!r})
import speed

def vm(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
photo = np.load({path!r})
rec = speed.Recorder()
base = vm("VmRSS:")
tracemalloc.start()
w = speed.ipyseg.SegmentWidget(photo, method={method!r})
curve = []
for i, stroke in enumerate(speed.strokes({n})):
    speed.drive(w, stroke, moves=10)
    w.wait(600)
    rec.messages.clear()
    if (i + 1) % {every} == 0:
        curve.append((i + 1, tracemalloc.get_traced_memory()[0], vm("VmRSS:")))
peak_traced = tracemalloc.get_traced_memory()[1]
print(json.dumps({{"rgb_bytes": int(photo.shape[0] * photo.shape[1] * 3), "peak_rss": vm("VmHWM:") - base,
                   "peak_traced": peak_traced, "curve": curve}}))
"""


def memory_run(photo: np.ndarray, method: str, n: int, every: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "photo.npy")
        np.save(path, photo)
        code = _MEMORY_CHILD.format(
            bench_dir=os.path.dirname(os.path.abspath(__file__)), path=path, method=method, n=n, every=every
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def pct(values, q):
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    return float(np.percentile(v, q)) if v.size else float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,4,12", help="megapixels, comma-separated")
    ap.add_argument("--photos", default="sample,synthetic")
    ap.add_argument("--methods", default="default,watershed,grabcut")
    ap.add_argument("--strokes", type=int, default=20)
    ap.add_argument("--baseline-strokes", type=int, default=3, help="plain-pipeline strokes per size (slow)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--growth-strokes", type=int, default=500)
    ap.add_argument("--growth-method", default="watershed")
    ap.add_argument("--json", help="write raw results here")
    args = ap.parse_args(argv)

    sizes = [float(s) for s in args.sizes.split(",")]
    names = {"default": segmenters.DEFAULT_METHOD}
    methods = []
    for m in args.methods.split(","):
        real = names.get(m, m)
        if real not in [r for _, r in methods]:
            methods.append((m if m != "default" else f"default={real}", real))
    print(
        f"ipyseg {getattr(ipyseg, '__version__', '?')} · python {platform.python_version()} · numpy {np.__version__} · "
        f"opencv {cv2.__version__} · ipycanvas {ipycanvas.__version__} · {os.cpu_count()} cpus · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    rec = Recorder()
    rows, raw = [], {}
    for mp in sizes:
        for pname in args.photos.split(","):
            photo = PHOTOS[pname](mp)
            raw_frame = photo.shape[0] * photo.shape[1] * 4
            for label, method in methods:
                r = run_widget(photo, method, args.strokes, rec)
                disp_frame = r["canvas"][0] * r["canvas"][1] * 4
                row = {
                    "mp": mp,
                    "photo": pname,
                    "method": label,
                    "shape": photo.shape[:2],
                    "first_p50": pct(r["first"], 50),
                    "first_p95": pct(r["first"], 95),
                    "first_cpu_p50": pct(r["first_cpu"], 50),
                    "final_p50": pct(r["final"], 50),
                    "final_p95": pct(r["final"], 95),
                    "bytes_p50": pct(r["bytes"], 50),
                    "bytes_max": max(r["bytes"]),
                    "bytes_pct_display": 100 * max(r["bytes"]) / disp_frame,
                    "bytes_pct_full": 100 * max(r["bytes"]) / raw_frame,
                    "drag_bytes_p50": pct(r["preview_bytes"], 50),
                    "move_p50": pct([m[0] for m in r["moves"]], 50),
                    "move_p95": pct([m[0] for m in r["moves"]], 95),
                    "move_cpu_p95": pct([m[1] for m in r["moves"]], 95),
                }
                rows.append(row)
                raw[f"{mp}/{pname}/{method}"] = r
                print(
                    f"{mp:>4g} MP {pname:9s} {label:18s} answer p50 {1e3 * row['first_p50']:7.1f} ms p95 {1e3 * row['first_p95']:7.1f}"
                    f" (cpu p50 {1e3 * row['first_cpu_p50']:6.1f}) | final p50 {1e3 * row['final_p50']:7.1f} ms | bytes/update p50 {row['bytes_p50'] / 1e3:6.1f} kB max {row['bytes_max'] / 1e3:6.1f} kB"
                    f" ({row['bytes_pct_display']:.2f} % of display RGBA, {row['bytes_pct_full']:.3f} % of full RGBA; drag {row['drag_bytes_p50'] / 1e3:.1f} kB)"
                    f" | move p50 {1e3 * row['move_p50']:.2f} ms p95 {1e3 * row['move_p95']:.2f} ms (cpu p95 {1e3 * row['move_cpu_p95']:.2f})",
                    flush=True,
                )
            if args.baseline_strokes and pname == args.photos.split(",")[0]:
                which = sorted({int(round(x)) for x in np.linspace(1, args.strokes - 1, args.baseline_strokes)})
                brush = max(3, round(0.02 * max(photo.shape[:2])))
                plain = plain_pipeline(photo, args.strokes, brush, which)
                out = {"strokes": which, "seconds": plain}
                for name in [m for m in args.methods.split(",") if f"{mp}/{pname}/{m}" in raw]:
                    got = raw[f"{mp}/{pname}/{name}"]
                    answer = np.median(plain) / np.median([got["first"][i] for i in which])
                    final = np.median(plain) / np.median([got["final"][i] for i in which])
                    print(
                        f"{mp:>4g} MP plain pipeline (full-res grabCut 1 it + RGBA PNG) strokes {which}: p50 {np.median(plain):.2f} s"
                        f" -> {name} answer {answer:.0f}x faster, final {final:.1f}x faster",
                        flush=True,
                    )
                    out[f"ratio_answer_{name}"], out[f"ratio_final_{name}"] = float(answer), float(final)
                raw[f"{mp}/plain"] = out
    rec.close()
    if not args.no_memory:
        big = max(sizes)
        photo = PHOTOS["sample"](big)
        m = memory_run(photo, segmenters.DEFAULT_METHOD, 20, 20)
        print(
            f"memory {big:g} MP ({segmenters.DEFAULT_METHOD}, 20 strokes): peak RSS {m['peak_rss'] / 1e6:.0f} MB = "
            f"{m['peak_rss'] / m['rgb_bytes']:.1f} x RGB bytes; traced peak {m['peak_traced'] / 1e6:.0f} MB = "
            f"{m['peak_traced'] / m['rgb_bytes']:.1f} x",
            flush=True,
        )
        raw["memory"] = m
        g = memory_run(photo, args.growth_method, args.growth_strokes, max(1, args.growth_strokes // 10))
        curve = g["curve"]
        print(
            f"growth {big:g} MP ({args.growth_method}, {args.growth_strokes} strokes): traced MB at strokes "
            + ", ".join(f"{n}: {t / 1e6:.0f}" for n, t, _ in curve)
            + " | RSS MB "
            + ", ".join(f"{r / 1e6:.0f}" for _, _, r in curve),
            flush=True,
        )
        raw["growth"] = g
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "raw": raw}, f, default=float, indent=1)
    return rows


if __name__ == "__main__":
    main()
