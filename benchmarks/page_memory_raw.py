"""Browser memory as a user's browser has it: Chromium driven by a bare CDP client, no Playwright.

Playwright instruments every page it drives (its own browser context and a set of DevTools
domains: Page, Runtime, Network, Log, …), and with that instrumentation Chromium's renderer
keeps ≈ 30–60 KB of native memory per message the page sends to the kernel: a growth a user
never sees (docs/benchmarks.md, "Browser memory"). This launches Debian's Chromium itself
(headless, ``--remote-debugging-port`` on 127.0.0.1), opens the same 12 MP JupyterLab page as
``page_memory.py`` and talks to the page over one CDP connection that enables no domain:
``Runtime.evaluate`` (works without ``Runtime.enable``) for the set-up,
``Input.dispatchMouseEvent`` for moves and drags; the kernel is driven through jupyter_client.
Memory is the renderer's ``VmRSS`` from ``/proc`` and the page's ``performance.memory``, after
``gc()`` (``--js-flags=--expose-gc``).

``--enable`` turns Playwright's domains on again (``--early --new-context --enable
Page,Lifecycle,Runtime,Network,Log,Focus,World,Media,AutoAttach`` brings the growth back);
``--no-release`` measures ipycanvas as is (every received image kept: ≈ 4 MB per stroke).

Usage::

    python benchmarks/page_memory_raw.py --moves 0 --rounds 0 --strokes 500 --view-steps 50
    python benchmarks/page_memory_raw.py --moves 1000 --rounds 3      # mouse moves over the canvas
    python benchmarks/page_memory_raw.py --moves 1000 --detach        # moves made by page JS, CDP detached
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import nbformat  # noqa: E402
from browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, JupyterServer, notebook_json, scene_cell  # noqa: E402
from browser.scenes import disk_geometry  # noqa: E402


def proc_kb(pid, key="VmRSS"):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def renderers(root_pid):
    """Pids of Chromium renderer processes descending from ``root_pid``."""
    parent, cmds = {}, {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmds[int(d.name)] = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])

    def under(pid):
        while pid > 1:
            if pid == root_pid:
                return True
            pid = parent.get(pid, 0)
        return False

    return [p for p, c in cmds.items() if b"--type=renderer" in c and under(p)]


class CDP:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=600, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events = 0

    def send(self, method, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events += 1  # nothing is enabled: there should be none

    def eval(self, expr, await_promise=True):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr[:80]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout=300, what=None):
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise TimeoutError(what or expr)
            time.sleep(0.2)

    def mouse(self, kind, x, y, buttons=0, button="none"):
        self.send(
            "Input.dispatchMouseEvent",
            type=kind,
            x=x,
            y=y,
            button=button,
            buttons=buttons,
            clickCount=1 if button != "none" else 0,
        )

    def close(self):
        self.ws.close()


#: What Playwright does to every page besides enabling domains (crPage.ts, as far as it matters here).
EXTRAS = {
    "Lifecycle": [("Page.setLifecycleEventsEnabled", {"enabled": True})],
    "Focus": [("Emulation.setFocusEmulationEnabled", {"enabled": True})],
    "World": [("Page.addScriptToEvaluateOnNewDocument", {"source": "", "worldName": "__utility_world__"})],
    "Media": [
        ("Emulation.setEmulatedMedia", {"media": "", "features": [{"name": "prefers-color-scheme", "value": "light"}]})
    ],
    "IsoWorld": [("Page.createIsolatedWorld", {"grantUniveralAccess": True, "worldName": "__utility_world__"})],
    "AutoAttach": [("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True})],
}


def enable(cdp, names):
    for name in filter(None, names.split(",")):
        for method, params in EXTRAS.get(name, [(f"{name}.enable", {})]):
            if method == "Page.createIsolatedWorld":
                params = dict(params, frameId=cdp.send("Page.getFrameTree")["frameTree"]["frame"]["id"])
            cdp.send(method, **params)
        print("enabled", name)


def rss_mb(pids):
    return sum(proc_kb(p) for p in pids) / 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--strokes", type=int, default=0)
    ap.add_argument("--view-steps", type=int, default=0, help="zoom/pan steps after the strokes (needs --strokes)")
    ap.add_argument("--detach", action="store_true", help="moves dispatched by page JS with the CDP socket closed")
    ap.add_argument(
        "--enable", default="", help="comma-separated CDP domains to enable (as Playwright does), e.g. Network,Runtime"
    )
    ap.add_argument("--flags", default="", help="extra Chromium switches, separated by spaces")
    ap.add_argument(
        "--new-context",
        action="store_true",
        help="open the page in a new browser context (as Playwright's new_context)",
    )
    ap.add_argument("--early", action="store_true", help="enable the domains before navigating (as Playwright does)")
    ap.add_argument("--no-release", action="store_true", help="ipycanvas as is (received images never released)")
    ap.add_argument("--size", type=int, nargs=2, default=(3000, 4000))
    args = ap.parse_args(argv)
    H, W = args.size
    base = Path(tempfile.mkdtemp(prefix="page-memory-raw-"))
    server = JupyterServer("lab", base).start()
    cfg = base / "config" / "labconfig" / "page_config.json"
    pc = json.loads(cfg.read_text())
    pc["exposeAppInBrowser"] = True
    cfg.write_text(json.dumps(pc))
    name = "raw.ipynb"
    setup = "import ipyseg.ui.canvas_view as _cv; _cv.RELEASE_IMAGES = False\n" if args.no_release else ""
    nbformat.write(notebook_json([setup + scene_cell(H, W)]), server.root / name)
    profile = base / "page-memory-raw-profile"
    chrome = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_ARGS, "--headless", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "--js-flags=--expose-gc", "--enable-precise-memory-info", *args.flags.split(),
         f"--window-size={VIEWPORT['width']},{VIEWPORT['height']}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    kc = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise TimeoutError("no DevToolsActivePort")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p["type"] == "page")
        if args.new_context:
            bws = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version"))["webSocketDebuggerUrl"]
            b = CDP(bws)
            bc = b.send("Target.createBrowserContext", disposeOnDetach=False)["browserContextId"]
            tid = b.send("Target.createTarget", url="about:blank", browserContextId=bc)["targetId"]
            b.close()
            page = {"webSocketDebuggerUrl": f"ws://127.0.0.1:{port}/devtools/page/{tid}"}
        cdp = CDP(page["webSocketDebuggerUrl"])
        cdp.send(
            "Emulation.setDeviceMetricsOverride",
            width=VIEWPORT["width"],
            height=VIEWPORT["height"],
            deviceScaleFactor=1,
            mobile=False,
        )
        if args.early:
            enable(cdp, args.enable)
        cdp.send("Page.navigate", url=server.page_url(name))
        cdp.wait(
            "!!window.jupyterapp && !!document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=idle]')",
            what="lab",
        )
        time.sleep(2)
        cdp.eval("jupyterapp.commands.execute('notebook:run-all-cells')")
        cdp.wait("(() => { const c = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-vbox:has(> canvas) > canvas');"
                 " return c && c.width > 0 && c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data[3] === 255; })()", what="drawn")  # fmt: skip
        cdp.eval(
            "document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-vbox:has(> canvas)').scrollIntoView({block: 'center'})"
        )
        time.sleep(1)
        g = cdp.eval("(() => { const r = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-vbox:has(> canvas) > canvas').getBoundingClientRect();"
                     " return {left: r.left, top: r.top, w: r.width, h: r.height}; })()")  # fmt: skip
        print("canvas", g, "events received:", cdp.events)
        if not args.early:
            enable(cdp, args.enable)
        bcdp = CDP(json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version"))["webSocketDebuggerUrl"])
        info = bcdp.send("SystemInfo.getProcessInfo")["processInfo"]
        bcdp.close()  # the browser target: one call, then no client there either
        pids = [int(p["id"]) for p in info if p["type"] == "renderer"]
        print("renderers", {p: round(proc_kb(p) / 1024) for p in pids})

        def gc_rss():
            cdp.eval("gc(); gc(); 1")
            time.sleep(0.5)
            return rss_mb(pids)

        def js_heap():
            return cdp.eval("performance.memory.usedJSHeapSize") / 2**20

        def moves_on_canvas(n):
            for j in range(n):
                x = g["left"] + g["w"] * (0.2 + 0.6 * ((j * 37) % 100) / 100)
                y = g["top"] + g["h"] * (0.2 + 0.6 * ((j * 53) % 100) / 100)
                cdp.mouse("mouseMoved", x, y)
            cdp.mouse("mouseMoved", max(2, g["left"] - 40), g["top"] + 10)

        gc_rss()
        r0 = gc_rss()
        print(f"loaded: renderer RSS {r0:.1f} MB, JS heap {js_heap():.1f} MB (load {os.getloadavg()[0]:.2f})")
        for rnd in range(args.rounds):
            a = gc_rss()
            t0 = time.monotonic()
            if args.detach:
                js = f"""new Promise(res => {{ const c = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-vbox:has(> canvas) > canvas');
                    const r = c.getBoundingClientRect(); let j = 0;
                    const id = setInterval(() => {{ for (let k = 0; k < 5 && j < {args.moves}; k++, j++) {{
                        const x = r.left + r.width * (0.2 + 0.6 * ((j * 37) % 100) / 100), y = r.top + r.height * (0.2 + 0.6 * ((j * 53) % 100) / 100);
                        c.dispatchEvent(new MouseEvent('mousemove', {{clientX: x, clientY: y, bubbles: true}})); }}
                        if (j >= {args.moves}) {{ clearInterval(id); window.__movesDone = true; }} }}, 5); window.__movesDone = false; res(1); }})"""
                cdp.eval(js)
                cdp.close()  # no CDP client on the page while the moves run
                time.sleep(args.moves / 1000 * 1.2 + 5)
                cdp = CDP(page["webSocketDebuggerUrl"])
                cdp.wait("window.__movesDone === true", what="moves")
            else:
                moves_on_canvas(args.moves)
            time.sleep(2)
            b = gc_rss()
            print(
                f"round {rnd}: {args.moves} canvas moves ({time.monotonic() - t0:.0f} s): renderer RSS {a:.1f} -> {b:.1f} MB ({b - a:+.1f}); load {os.getloadavg()[0]:.2f}"
            )
        if args.strokes:
            from jupyter_client import BlockingKernelClient

            kid = server.kernel_id(name)
            kc = BlockingKernelClient(connection_file=str(server.runtime / f"kernel-{kid}.json"))
            kc.load_connection_file()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)

            def kernel(code):
                out = []
                reply = kc.execute_interactive(code, store_history=False, timeout=300,
                                               output_hook=lambda m: m["msg_type"] == "stream" and out.append(m["content"]["text"]))  # fmt: skip
                assert reply["content"]["status"] == "ok", reply
                return "".join(out)

            from browser import pagetiming

            kernel(pagetiming.KERNEL_SETUP + "\n_pt_install(w)")

            def handled():
                return int(kernel("print(len(w._pt['handled']))").split()[-1])

            cy, cx, r = disk_geometry(H, W)

            def client(x, y):
                return g["left"] + (x + 0.5) / W * g["w"], g["top"] + (y + 0.5) / H * g["h"]

            a = gc_rss()
            t0 = time.monotonic()
            for k in range(args.strokes):
                if k and k % 50 == 0:
                    kernel("w.clear(); assert w.wait(300)")
                n_up = handled()
                kernel(f"w.label = {2 if k % 2 == 0 else 1}")
                t = (k * 0.137) % 1.0
                if k % 2 == 0:
                    yy = cy + (t - 0.5) * r
                    pts = [client(cx - 0.5 * r, yy), client(cx + 0.5 * r, yy)]
                else:
                    yy = H * (0.05 + 0.9 * t)
                    pts = [client(W * 0.03, yy), client(W * 0.12, yy)]
                (x0, y0), (x1, y1) = pts
                cdp.mouse("mouseMoved", x0, y0)
                cdp.mouse("mousePressed", x0, y0, buttons=1, button="left")
                for s in range(1, 4):
                    cdp.mouse("mouseMoved", x0 + (x1 - x0) * s / 3, y0 + (y1 - y0) * s / 3, buttons=1)
                cdp.mouse("mouseReleased", x1, y1, buttons=0, button="left")
                deadline = time.monotonic() + 120
                while handled() <= n_up:
                    if time.monotonic() > deadline:
                        raise TimeoutError("mouse-up")
                    time.sleep(0.1)
                kernel("assert w.wait(300)")
                if (k + 1) % 50 == 0 or k + 1 == args.strokes:
                    time.sleep(1)
                    b = gc_rss()
                    print(f"{k + 1} strokes ({time.monotonic() - t0:.0f} s): renderer RSS {a:.1f} -> {b:.1f} MB "
                          f"({b - a:+.1f}, {(b - a) / (k + 1):.3f} MB/stroke); JS heap {js_heap():.1f} MB; load {os.getloadavg()[0]:.2f}")  # fmt: skip
            if args.view_steps:
                count = "print(sum(1 for s in w.view.sent if s[1] == 0))"
                cx, cy = g["left"] + 0.55 * g["w"], g["top"] + 0.5 * g["h"]
                canvas_w = int(kernel("print(w.viewport.canvas_width)").split()[-1])
                canvas_h = int(kernel("print(w.viewport.canvas_height)").split()[-1])
                done, t0 = 0, time.monotonic()
                while done < args.view_steps:
                    before = int(kernel(count).split()[-1])
                    kernel(f"w.zoom_by(1.6, {0.55 * canvas_w}, {0.5 * canvas_h}); w.tool = 'pan'")
                    cdp.mouse("mouseMoved", cx, cy)
                    cdp.mouse("mousePressed", cx, cy, buttons=1, button="left")
                    for j in range(6):
                        cdp.mouse("mouseMoved", cx + 60 * (j % 3 - 1), cy + 40 * ((j // 3) % 3 - 1), buttons=1)
                    cdp.mouse("mouseReleased", cx, cy, buttons=0, button="left")
                    time.sleep(0.3)
                    kernel("w.tool = 'brush'; w.zoom_by(1 / 1.6)")
                    cdp.mouse("mouseMoved", max(2, g["left"] - 40), g["top"] + 10)
                    time.sleep(0.3)
                    done += int(kernel(count).split()[-1]) - before
                time.sleep(1)
                b = gc_rss()
                print(f"+ {done} zoom/pan steps ({time.monotonic() - t0:.0f} s): renderer RSS {a:.1f} -> {b:.1f} MB "
                      f"({b - a:+.1f}); JS heap {js_heap():.1f} MB; load {os.getloadavg()[0]:.2f}")  # fmt: skip
        print("events received on the CDP socket:", cdp.events)
        cdp.close()
    finally:
        if kc is not None:
            kc.stop_channels()
        chrome.terminate()
        try:
            chrome.wait(20)
        except subprocess.TimeoutExpired:
            chrome.kill()
        server.stop()


if __name__ == "__main__":
    main()
