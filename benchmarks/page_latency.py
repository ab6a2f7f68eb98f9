"""In-page latency: mouse-up to the overlay visible in JupyterLab, measured inside Chromium.

A real JupyterLab in Debian's Chromium (headless, Playwright, real mouse events) shows a
SegmentWidget per photo size. For every stroke (``w.clear()``, then a foreground drag inside the
object) the page records, with ``tests/browser/pagetiming.py``'s init script, the mouse-up and
every image drawn on the overlay layer after it; the kernel records when it got the mouse-up,
when each result was applied (and its compute time) and when each overlay image was sent.
Kernel ``time.time()`` and page ``performance.timeOrigin + performance.now()`` read the same
machine clock.

For each size and method it prints p50 / p95 of

* *first*: mouse-up to the first overlay image composited onto the page's canvas (a coarse
  preview for slow methods, else the result),
* *final*: to the last one (the final stage),

and the median of each part of the first answer: to kernel (page -> kernel message), before
compute (seeds redraw, request, queue), compute, render (labels -> palette PNG -> sent),
message (kernel send -> page has the image bytes), load, decode + draw, composite (layers onto
the page's canvas). Wall clock: about 1 minute per (size, method) with 15 strokes, plus
start-up.

Usage::

    python benchmarks/page_latency.py                         # 1 and 12 MP, 3 methods, 15 strokes
    python benchmarks/page_latency.py --sizes 12 --methods click_graphcut --strokes 5
    python benchmarks/page_latency.py --write-docs            # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from browser import pagetiming  # noqa: E402
from browser.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    JupyterServer,
    NotebookPage,
    scene_cell,
)
from browser.scenes import disk_geometry  # noqa: E402

SIZES = {1: (866, 1155), 12: (3000, 4000)}
METHODS = ("click_graphcut", "grabcut", "watershed")
TARGET_FIRST_MS, TARGET_FINAL_MS = 150, 600


def stroke_points(nb, i, H, W, k, g):
    """The k-th foreground drag: horizontal, inside the object, at varying heights and lengths."""
    cy, cx, r = disk_geometry(H, W)
    dy = (((k * 7) % 11) - 5) / 10 * 0.6 * r
    half = (0.3 + 0.05 * ((k * 3) % 5)) * r
    return [nb.to_client(x, cy + dy, (H, W), i=i, g=g) for x in (cx - half, cx, cx + half)]


def rim_points(nb, i, H, W, k, g):
    """The k-th accumulating stroke: a short drag along the object's rim, just outside it for a
    foreground stroke (even ``k``, the object grows there) and just inside for a background one
    (odd ``k``, a notch), at angles that do not repeat, so that every stroke changes the result."""
    cy, cx, r = disk_geometry(H, W)
    theta = math.radians(137.5 * k)
    rho = r * (1.06 if k % 2 == 0 else 0.94)
    pts = []
    for d in (-0.12, 0.0, 0.12):
        pts.append((cx + rho * math.cos(theta + d), cy + rho * math.sin(theta + d)))
    return [nb.to_client(x, y, (H, W), i=i, g=g) for x, y in pts]


def pct(values, q):
    v = sorted(x for x in values if x is not None and not math.isnan(x))
    if not v:
        return float("nan")
    pos = (len(v) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def run(sizes, methods, n_strokes, warmup=2, release=True, setup_code="", log=print, accumulate=False):
    """Measure; returns a list of per-stroke records.

    ``accumulate``: clear once per method, before the warm-up strokes, and let every stroke
    after add to the same object (the final stage must not grow as strokes accumulate).
    """
    from playwright.sync_api import sync_playwright

    records = []
    server = JupyterServer("lab", Path(tempfile.mkdtemp(prefix="page-latency-"))).start()
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        ctx = browser.new_context(viewport=VIEWPORT)
        ctx.set_default_timeout(300_000)
        ctx.add_init_script(pagetiming.INIT_SCRIPT)
        nb = NotebookPage(server, ctx.new_page(), "page-latency.ipynb")
        try:
            setup = [] if release else ["import ipyseg.ui.canvas_view as _cv; _cv.RELEASE_IMAGES = False"]
            setup += [setup_code] if setup_code else []
            nb.open(setup + [scene_cell(*SIZES[s], var=f"w{i}") for i, s in enumerate(sizes)])
            nb.run_all(timeout=600_000)
            for i, s in enumerate(sizes):
                var = f"w{i}"
                H, W = SIZES[s]
                nb.show(i)
                nb.wait_drawn(i, timeout=300_000)
                pagetiming.install(nb, var)
                if release:  # images are decoded by ipyseg's ImageRelease (createImageBitmap), not ipycanvas
                    nb.wait_kernel(f"result = {var}.view.image_release.active", bool, what="the image release")
                g = nb.geometry(i)
                for method in methods:
                    for k in range(-warmup, n_strokes):
                        if not accumulate or k == -warmup:
                            nb.kernel(f"{var}.clear(); {var}.method = {method!r}; assert {var}.wait(300)")
                        if accumulate:  # foreground and background strokes in turn (BACKGROUND = 1)
                            nb.kernel(f"{var}.label = {1 if k % 2 else 2}")
                        nb.show(i)
                        pagetiming.settle(nb)
                        g = nb.geometry(i)
                        points = (rim_points if accumulate else stroke_points)(nb, i, H, W, k, g)
                        st = pagetiming.measure_stroke(nb, i, var, points)
                        if k < 0:
                            continue  # warm-up: first strokes learn each method's cost
                        rec = dict(
                            size=s, shape=f"{W} x {H}", canvas=f"{g['w']} x {g['h']}", method=method, stroke=k + 1, **st
                        )
                        records.append(rec)
                        first = pagetiming.breakdown(st, st["stages"][0]) if st["stages"] else {}
                        final = pagetiming.breakdown(st, st["stages"][-1]) if st["stages"] else {}
                        log(
                            f"{s:>2} MP {method:<15} stroke {k + 1:>2}: {len(st['stages'])} image(s), "
                            f"first {first.get('visible') or float('nan'):6.0f} ms, "
                            f"final {final.get('visible') or float('nan'):6.0f} ms"
                            + ("" if st["matched"] else "  (kernel/page images mismatch)")
                        )
        finally:
            nb.close()
            browser.close()
    finally:
        pw.stop()
        server.stop()
    return records


def growth_table(records, last: int = 5) -> str:
    """Accumulating strokes: final visible of the first and the last ``last`` strokes, per case."""
    out = [
        f"| image | method | strokes | final p50, strokes 1–{last} (ms) | final p50, last {last} (ms) | final of the last stroke (ms) |",
        "|---|---|---|---|---|---|",
    ]
    cases = list(dict.fromkeys((r["size"], r["method"]) for r in records))
    for size, method in cases:
        rs = sorted(
            (r for r in records if (r["size"], r["method"]) == (size, method) and r["stages"]),
            key=lambda r: r["stroke"],
        )
        if not rs:
            continue
        fin = [pagetiming.breakdown(r, r["stages"][-1])["visible"] for r in rs]
        out.append(
            f"| {size} MP ({rs[0]['shape']}) | {method} | {len(rs)} | {pct(fin[:last], 50):.0f} | "
            f"{pct(fin[-last:], 50):.0f} | {fin[-1]:.0f} |"
        )
    return "\n".join(out) + "\n"


def table(records) -> str:
    """Markdown tables: latency per case, and the median parts of the first answer."""
    cases = []
    for r in records:
        key = (r["size"], r["method"])
        if key not in cases:
            cases.append(key)
    out = [
        "| image | method | strokes | images per stroke | first visible p50 / p95 (ms) | final visible p50 / p95 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    parts = [name for name, _, _ in pagetiming.PARTS]
    out2 = [
        "| image | method | " + " | ".join(parts) + " | first visible |",
        "|---|---|" + "---|" * (len(parts) + 1),
    ]
    for size, method in cases:
        rs = [r for r in records if r["size"] == size and r["method"] == method and r["stages"]]
        if not rs:
            continue
        firsts = [pagetiming.breakdown(r, r["stages"][0]) for r in rs]
        finals = [pagetiming.breakdown(r, r["stages"][-1]) for r in rs]
        n_img = sorted({len(r["stages"]) for r in rs})
        label = f"{size} MP ({rs[0]['shape']}, canvas {rs[0]['canvas']})"
        f50, f95 = pct([b["visible"] for b in firsts], 50), pct([b["visible"] for b in firsts], 95)
        l50, l95 = pct([b["visible"] for b in finals], 50), pct([b["visible"] for b in finals], 95)
        out.append(
            f"| {label} | {method} | {len(rs)} | {'–'.join(map(str, n_img))} | {f50:.0f} / {f95:.0f} | {l50:.0f} / {l95:.0f} |"
        )
        meds = [pct([b[p] for b in firsts], 50) for p in parts]
        out2.append(f"| {size} MP | {method} | " + " | ".join(f"{m:.0f}" for m in meds) + f" | {f50:.0f} |")
    return "\n".join(out) + "\n\nMedian parts of the first answer (ms):\n\n" + "\n".join(out2) + "\n"


#: In a section written by ``write_docs``, what follows this line is kept when the section is
#: rewritten (hand-written reading of the numbers, experiments).
NOTES_MARK = "<!-- notes: kept when the benchmark rewrites this section -->"


def write_docs(text: str, heading: str = "## In-page latency") -> None:
    """Replace the section ``heading`` of docs/benchmarks.md by ``text`` (atomically), keeping its notes."""
    path = REPO / "docs" / "benchmarks.md"
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile("^" + re.escape(heading) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    old = pattern.search(doc)
    if old and NOTES_MARK in old.group(0) and NOTES_MARK not in text:
        text = text.rstrip() + "\n\n" + NOTES_MARK + old.group(0).split(NOTES_MARK, 1)[1].rstrip()
    if old:
        doc = pattern.sub(lambda _: text.rstrip() + "\n\n", doc).rstrip() + "\n"
    else:
        doc = doc.rstrip() + "\n\n" + text.rstrip() + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(doc)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,12", help="megapixels, comma-separated (1, 12)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--strokes", type=int, default=15, help="measured strokes per size and method")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured strokes first, per size and method")
    ap.add_argument("--no-release", action="store_true", help="ipycanvas' own image decoding (no ImageRelease)")
    ap.add_argument("--compare", action="store_true", help="measure both, ipycanvas' decoding and ImageRelease's")
    ap.add_argument("--setup", default="", help="kernel code run before the widgets are made (A/B switches)")
    ap.add_argument("--json", type=Path, help="write the per-stroke records here")
    ap.add_argument("--accumulate", action="store_true", help="do not clear between strokes (they add to one object)")
    ap.add_argument(
        "--write-docs", action="store_true", help='update the "In-page latency" section of docs/benchmarks.md'
    )
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        ap.error(f"--sizes must be among {sorted(SIZES)}; got {bad}")
    methods = args.methods.split(",")
    load0 = os.getloadavg()
    t0 = time.monotonic()
    variants = [False, True] if args.compare else [not args.no_release]
    texts, records = [], []
    for release in variants:
        recs = run(
            sizes,
            methods,
            args.strokes,
            warmup=args.warmup,
            release=release,
            setup_code=args.setup,
            accumulate=args.accumulate,
        )
        records += [dict(r, release=release) for r in recs]
        name = (
            "images decoded by ImageRelease (createImageBitmap)"
            if release
            else "ipycanvas' own decoding (blob URL + Image)"
        )
        body = (growth_table(recs) + "\n" if args.accumulate else "") + table(recs)
        texts.append((f"{name}:\n\n" if len(variants) > 1 else "") + body)
    load1 = os.getloadavg()
    text = "\n".join(texts)
    cmd = "python benchmarks/page_latency.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    head = (
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average (1 min) "
        f"{load0[0]:.2f} at start, {load1[0]:.2f} at end, {time.monotonic() - t0:.0f} s; `{cmd}`"
    )
    print("\n" + head + "\n\n" + text)
    bad = sum(not r["matched"] for r in records)
    if bad:
        print(f"warning: {bad} stroke(s) where the kernel's overlay images and the page's draws disagree")
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    if args.write_docs and args.accumulate:
        write_docs(ACCUMULATE_INTRO + "\n" + head + "\n\n" + text, heading=ACCUMULATE_HEADING)
    elif args.write_docs:
        write_docs(DOC_INTRO + "\n" + head + "\n\n" + text)


DOC_INTRO = """## In-page latency

What the user sees: time from the mouse-up of a foreground stroke to the overlay composited onto
the page's canvas, measured inside the page (JupyterLab, Debian's Chromium, headless, real mouse
events) by `benchmarks/page_latency.py`: an init script wraps `drawImage`, `URL.createObjectURL`
and image loading and finds the overlay layer's canvas by how ipycanvas composites its layers; the
kernel logs its side on the same clock. *First* is the first overlay image after the mouse-up (a
coarse preview for slow methods), *final* the last (the final stage). Parts of the first answer:
*to kernel* (the mouse-up message reaches the kernel), *before compute* (seed layer redraw,
request, engine queue), *compute*, *render* (labels sampled at the canvas, palette PNG, sent),
*message* (from the kernel handing the message to its comm to the page holding the image
bytes: serialisation, ipykernel's IOPub thread, ZMQ, the server, the websocket, ipywidgets and
ipycanvas' command queue), *load* (the image decoded by
`createImageBitmap` through ipyseg's `ImageRelease`; with `--no-release`, ipycanvas' blob URL
loaded into an `Image`), *decode+draw* (drawn onto the overlay layer, with any lazy decode),
*composite* (the four layers onto the page's canvas). *strokes* counts strokes that got an
overlay. Targets (idle machine): first ≤ 150 ms p50 at 12 MP, final ≤ 600 ms.
"""

ACCUMULATE_HEADING = "## In-page latency, strokes accumulating"
ACCUMULATE_INTRO = f"""{ACCUMULATE_HEADING}

The same measurement with `--accumulate`: one `w.clear()` per method, then every stroke adds to
the same object, so the final stage sees ever more seeds (the default mode clears before each
stroke, which hides any growth). The strokes are short drags along the object's rim, foreground
just outside it and background just inside in turn, at angles that do not repeat, so that each
one changes the result (a stroke that changes nothing sends no image and could not be timed). Target: the final result of stroke 20 visible in ≤ 300 ms p50
at 12 MP.
"""


if __name__ == "__main__":
    main()
