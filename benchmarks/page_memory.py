"""Browser memory over many strokes and zoom/pan steps on a 12 MP photo, in JupyterLab.

Drives a SegmentWidget with real mouse events in Debian's Chromium (headless, Playwright):
``--strokes`` foreground/background drags (each waits for the kernel to finish, so every result
reaches the page), then ``--view-steps`` zoom and pan steps (``w.zoom_by`` and drags with the
pan tool; each step redraws the photo). Before, between and after, it forces a garbage
collection and reads (``tests/browser/pagememory.py``): the page's JS heap, the resident memory
of Chromium's browser and renderer processes, their total proportional memory (PSS), and the
blob URLs the page holds (created and never revoked).

Usage::

    python benchmarks/page_memory.py                      # 500 strokes, 50 view steps, 12 MP
    python benchmarks/page_memory.py --strokes 100 --view-steps 20
    python benchmarks/page_memory.py --write-docs         # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from browser import pagetiming  # noqa: E402
from browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, JupyterServer, NotebookPage, scene_cell  # noqa: E402
from browser.pagememory import MemoryProbe  # noqa: E402
from browser.scenes import disk_geometry  # noqa: E402
from page_latency import write_docs  # noqa: E402

SIZES = {1: (866, 1155), 12: (3000, 4000)}
BUDGET_MB = 50
COLUMNS = (
    ("js_heap", "JS heap"),
    ("rss_renderer", "renderer RSS"),
    ("rss_browser", "browser RSS"),
    ("pss_total", "Chromium PSS"),
    ("blob_mb", "live blob URLs (MB)"),
    ("blob_urls", "live blob URLs"),
)


def stroke_points(nb, H, W, k, g):
    """Stroke k: odd strokes background (near the border), even ones foreground (inside the object)."""
    cy, cx, r = disk_geometry(H, W)
    t = (k * 0.137) % 1.0
    if k % 2 == 0:
        y = cy + (t - 0.5) * r
        pts = [(cx - 0.5 * r, y), (cx + 0.5 * r, y)]
    else:
        y = H * (0.05 + 0.9 * t)
        pts = [(W * 0.03, y), (W * 0.12, y)]
    return [nb.to_client(x, y, (H, W), g=g) for x, y in pts]


def stroke(nb, H, W, k, g):
    n_up = nb.kernel_json("result = len(w._pt['handled'])")
    nb.kernel(f"w.label = {2 if k % 2 == 0 else 1}")
    nb.drag(stroke_points(nb, H, W, k, g), steps=3)
    nb.wait_kernel("result = len(w._pt['handled'])", lambda v: v > n_up, timeout=120, what="the mouse-up")
    nb.wait_kernel("assert w.wait(300)\nresult = not w.engine.busy", bool, timeout=300, what="the engine")


def view_steps(nb, n, log):
    """``n`` photo redraws: zoom in at the object, pan drags with the pan tool, zoom out."""
    done = 0
    g = nb.geometry()
    cx, cy = g["left"] + 0.55 * g["cssw"], g["top"] + 0.5 * g["cssh"]
    count = "result = sum(1 for s in w.view.sent if s[1] == 0)"
    while done < n:
        before = nb.kernel_json(count)
        nb.kernel(f"w.zoom_by(1.6, {0.55 * g['w']}, {0.5 * g['h']})")
        nb.kernel("w.tool = 'pan'")
        moves = [(cx + 60 * (j % 3 - 1), cy + 40 * ((j // 3) % 3 - 1)) for j in range(6)]
        nb.drag([(cx, cy), *moves], steps=1)
        nb.kernel("w.tool = 'brush'; w.zoom_by(1 / 1.6)")
        nb.pointer_away()
        done += nb.kernel_json(count) - before
        log(f"  view steps: {done}")
    return done


def run(n_strokes, n_view, size=12, release=True, sample_every=100, log=print):
    from playwright.sync_api import sync_playwright

    H, W = SIZES[size]
    server = JupyterServer("lab", Path(tempfile.mkdtemp(prefix="page-memory-"))).start()
    pw = sync_playwright().start()
    rows = []
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        ctx = browser.new_context(viewport=VIEWPORT)
        ctx.set_default_timeout(300_000)
        ctx.add_init_script(pagetiming.INIT_SCRIPT)
        nb = NotebookPage(server, ctx.new_page(), "page-memory.ipynb")
        try:
            setup = "" if release else "import ipyseg.ui.canvas_view as _cv; _cv.RELEASE_IMAGES = False\n"
            nb.open([setup + scene_cell(H, W)])
            nb.run_all(timeout=600_000)
            nb.show()
            nb.wait_drawn(timeout=300_000)
            pagetiming.install(nb, "w")
            probe = MemoryProbe(browser, nb.page)
            pagetiming.settle(nb)
            rows.append(("loaded", 0, 0, probe.snapshot()))
            log(f"loaded: {fmt(rows[-1][3])}")
            g = nb.geometry()
            t0 = time.monotonic()
            for k in range(n_strokes):
                if k and k % 50 == 0:
                    nb.kernel("w.clear(); assert w.wait(300)")
                stroke(nb, H, W, k, g)
                if (k + 1) % sample_every == 0 or k + 1 == n_strokes:
                    pagetiming.settle(nb)
                    rows.append((f"{k + 1} strokes", k + 1, 0, probe.snapshot()))
                    log(f"{k + 1} strokes ({time.monotonic() - t0:.0f} s): {fmt(rows[-1][3])}")
            if n_view:
                steps = view_steps(nb, n_view, log=lambda s: None)
                pagetiming.settle(nb)
                rows.append((f"+ {steps} zoom/pan steps", n_strokes, steps, probe.snapshot()))
                log(f"{steps} view steps: {fmt(rows[-1][3])}")
            assert not nb.errors(), nb.errors()
        finally:
            nb.close()
            browser.close()
    finally:
        pw.stop()
        server.stop()
    return rows


def fmt(s):
    return ", ".join(f"{label} {s[key]:.1f}" for key, label in COLUMNS if s.get(key) is not None)


def table(rows) -> str:
    base = rows[0][3]
    out = [
        "| after | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for name, _, _, s in rows:
        cells = []
        for key, _ in COLUMNS:
            v = s.get(key)
            if v is None:
                cells.append("–")
            elif key == "blob_urls":
                cells.append(f"{v:.0f}")
            elif name == "loaded":
                cells.append(f"{v:.1f}")
            else:
                cells.append(f"{v:.1f} ({v - base[key]:+.1f})")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


DOC_INTRO = """## Browser memory

The page's memory while a 12 MP photo (4000 × 3000, display canvas 1632 × 1224) is segmented
with the mouse in JupyterLab (Debian's Chromium, headless), measured by
`benchmarks/page_memory.py`: real drags (alternating object and background strokes, each
waiting for its result; `w.clear()` every 50 strokes), then zoom and pan steps (`w.zoom_by` and
drags with the pan tool; each step redraws the photo, a ≈ 0.5 MB JPEG). Every reading follows
a forced garbage collection (`HeapProfiler.collectGarbage`): the page's JS heap
(`Performance.getMetrics`), the resident memory of Chromium's renderer and browser processes
(`/proc/<pid>/status`), the total proportional memory of all Chromium processes
(`smaps_rollup`; it moves by ± 100 MB between readings with the GPU/utility processes), and the
blob URLs the page holds. MB, growth since the photo was loaded in parentheses. Budget: growth
≤ 50 MB over 500 strokes and 50 zoom/pan steps.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strokes", type=int, default=500)
    ap.add_argument("--view-steps", type=int, default=50)
    ap.add_argument("--size", type=int, default=12, choices=sorted(SIZES))
    ap.add_argument("--no-release", action="store_true", help="measure ipycanvas as is (images never released)")
    ap.add_argument("--compare", action="store_true", help="measure both, without and with the image release")
    ap.add_argument(
        "--write-docs", action="store_true", help='update the "Browser memory" section of docs/benchmarks.md'
    )
    args = ap.parse_args(argv)
    variants = [False, True] if args.compare else [not args.no_release]
    load0 = os.getloadavg()
    t0 = time.monotonic()
    texts = []
    for release in variants:
        name = "with ipyseg's image release" if release else "ipycanvas as is (no release)"
        print(f"== {name}")
        rows = run(args.strokes, args.view_steps, size=args.size, release=release)
        texts.append(f"{name}:\n\n" + table(rows))
    load1 = os.getloadavg()
    cmd = "python benchmarks/page_memory.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    head = (
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average (1 min) "
        f"{load0[0]:.2f} at start, {load1[0]:.2f} at end, {time.monotonic() - t0:.0f} s; `{cmd}`"
    )
    text = head + "\n\n" + "\n".join(texts)
    print("\n" + text)
    if args.write_docs:
        write_docs(DOC_INTRO + "\n" + text, heading="## Browser memory")


if __name__ == "__main__":
    main()
