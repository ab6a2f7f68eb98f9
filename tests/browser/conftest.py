"""Real-browser fixtures: a Jupyter server, Debian's Chromium driven by Playwright, and helpers.

The server runs with ``PYTHONPATH=<this repository>`` so its kernels import this checkout of
ipyseg. User actions (drags, clicks, button presses) are real Playwright mouse and keyboard
events on the page; what the kernel holds is read through a second kernel client
(``jupyter_client`` on the kernel's connection file), and what the page shows is read from
the widget's composited ``<canvas>``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = os.environ.get("IPYSEG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI") == "true"
VIEWPORT = {"width": 1280, "height": 1000}
#: Selector of a SegmentWidget's root (the VBox whose direct child is the MultiCanvas <canvas>).
WIDGET = ".widget-vbox:has(> canvas)"
#: The notebook on show (JupyterLab hides the other tabs' panels).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(url: str, method: str = "GET", timeout: float = 10.0):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
    return json.loads(body) if body else None


# ---------------------------------------------------------------------------- server
class JupyterServer:
    """``jupyter lab`` or ``jupyter notebook`` on a loopback port, in a temporary root.

    A fresh ``JUPYTER_CONFIG_DIR``, settings and workspace directory keep the UI
    deterministic (no announcements pop-up, no restored workspace).
    """

    def __init__(self, app: str, base: Path):
        self.app = app
        self.base = base
        self.root = base / "root"
        self.runtime = base / "runtime"
        self.token = uuid.uuid4().hex
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = base / "server.log"

    def start(self, timeout: float = 120.0) -> JupyterServer:
        cfg = self.base / "config"
        for d in (
            self.root,
            self.runtime,
            cfg / "labconfig",
            self.base / "settings",
            self.base / "workspaces",
            self.base / "ipython",
        ):
            d.mkdir(parents=True, exist_ok=True)
        disabled = {"@jupyterlab/apputils-extension:announcements": True}
        (cfg / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env.update(
            JUPYTER_CONFIG_DIR=str(cfg),
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            IPYTHONDIR=str(self.base / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONWARNINGS="ignore::DeprecationWarning",  # the kernel's own import noise stays out of cell outputs
        )
        cmd = [
            sys.executable, "-m", "jupyter", self.app,
            "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabServerApp.user_settings_dir={self.base / 'settings'}",
            f"--LabServerApp.workspaces_dir={self.base / 'workspaces'}",
        ]  # fmt: skip
        if self.app == "lab":
            cmd += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                _http(self.api("status"), timeout=2)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"jupyter {self.app} did not answer /api/status in {timeout:.0f} s") from None
                time.sleep(0.25)

    def api(self, path: str) -> str:
        return f"{self.url}/api/{path}?token={self.token}"

    def page_url(self, nb_name: str) -> str:
        if self.app == "lab":  # `reset`: a fresh workspace, not the tabs of earlier tests
            return f"{self.url}/lab/tree/{nb_name}?reset&token={self.token}"
        return f"{self.url}/notebooks/{nb_name}?token={self.token}"

    def kernel_id(self, nb_name: str) -> str | None:
        for s in _http(self.api("sessions")):
            if s.get("path") == nb_name and s.get("kernel"):
                return s["kernel"]["id"]
        return None

    def shutdown_session(self, nb_name: str) -> None:
        for s in _http(self.api("sessions")):
            if s.get("path") == nb_name:
                _http(f"{self.url}/api/sessions/{s['id']}?token={self.token}", method="DELETE", timeout=30)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:  # shut kernels down cleanly: they run in their own sessions (process groups)
            for k in _http(self.api("kernels")):
                _http(f"{self.url}/api/kernels/{k['id']}?token={self.token}", method="DELETE", timeout=30)
        except OSError:
            pass
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        self.proc = None


def _start_server(app, tmp_path_factory, request):
    server = JupyterServer(app, tmp_path_factory.mktemp(f"jupyter-{app}"))
    request.addfinalizer(server.stop)
    return server.start()


# --------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def chromium_path():
    if not Path(CHROMIUM).exists():
        msg = f"Chromium not found at {CHROMIUM} (IPYSEG_CHROMIUM, `chromium` on PATH, /usr/bin/chromium)"
        if IN_CI:
            pytest.fail(f"{msg}; with CI=true the browser tests must run (`bash .ci/run` installs it)")
        pytest.skip(f"{msg}: real-browser tests skipped on this machine; `apt-get install chromium` to run them")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path, request):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    request.addfinalizer(pw.stop)
    b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
    request.addfinalizer(b.close)
    return b


@pytest.fixture(scope="session")
def lab_server(chromium_path, tmp_path_factory, request):
    return _start_server("lab", tmp_path_factory, request)


@pytest.fixture
def context(browser, request):
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(60_000)
    request.addfinalizer(ctx.close)
    return ctx


# -------------------------------------------------------------------------- notebook
def notebook_json(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [c if isinstance(c, dict) else nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def scene_cell(h, w, *, var="w", **widget_kw) -> str:
    """Notebook source: build the disk scene of ``h`` x ``w`` and display a SegmentWidget."""
    kw = "".join(f", {k}={v!r}" for k, v in widget_kw.items())
    return (
        f"import sys\nsys.path.insert(0, {str(HERE)!r})\n"
        "import numpy as np\nimport ipyseg\nfrom scenes import disk_scene\n\n"
        f"img, gt = disk_scene({h}, {w})\n"
        f"{var} = ipyseg.SegmentWidget(img{kw})\n{var}"
    )


class NotebookPage:
    """One notebook opened in a browser page, with its kernel reachable from the test."""

    def __init__(self, server: JupyterServer, page, name: str):
        self.server = server
        self.page = page
        self.name = name
        self.console: list[str] = []  # browser console errors and uncaught page errors
        self._kc = None
        page.on("console", lambda m: m.type == "error" and self.console.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}\n{e.stack}"))

    # -- opening and running
    def open(self, cells) -> NotebookPage:
        nbformat.write(notebook_json(cells), self.server.root / self.name)
        self.page.goto(self.server.page_url(self.name))
        self.wait_idle()
        return self

    def wait_idle(self, timeout=120.0):
        """Wait until the notebook's kernel is up, connected to the page and idle."""
        deadline = time.monotonic() + timeout
        while True:
            sessions = [s for s in _http(self.server.api("sessions")) if s.get("path") == self.name]
            k = sessions[0].get("kernel") if sessions else None
            if k and k.get("execution_state") == "idle" and k.get("connections", 0) >= 1:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"kernel of {self.name} not ready after {timeout:.0f} s: {sessions}")
            time.sleep(0.2)
        self.page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status=idle]", state="attached", timeout=1000 * timeout
        )

    def run_all(self, timeout=240_000) -> None:
        """Run > Run All Cells, with the mouse; returns when every code cell has run."""
        page = self.page
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        page.wait_for_function(
            """() => {
                if (document.querySelector('.jp-Dialog')) return true;
                const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                const cells = panel ? [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')] : [];
                return cells.length > 0 && cells.every(p => /\\[\\d+\\]/.test(p.textContent));
            }""",
            timeout=timeout,
        )
        dialog = page.locator(".jp-Dialog")
        assert not dialog.count(), f"unexpected dialog: {dialog.first.inner_text()}"

    # -- the widget in the page
    def widget(self, i=0):
        return self.page.locator(PANEL).locator(WIDGET).nth(i)

    def canvas(self, i=0):
        return self.widget(i).locator("> canvas")

    def wait_drawn(self, i=0, timeout=120_000) -> None:
        """Wait until the photo layer has reached the composited canvas."""
        self.canvas(i).wait_for(timeout=timeout)
        self.page.wait_for_function(
            "e => e.width > 0 && e.getContext('2d').getImageData(e.width >> 1, e.height >> 1, 1, 1).data[3] === 255",
            arg=self.canvas(i).element_handle(),
            timeout=timeout,
        )

    def show(self, i=0) -> None:
        """Scroll the whole widget (toolbar and canvas) into the middle of the view."""
        self.widget(i).evaluate("e => e.scrollIntoView({block: 'center'})")

    def geometry(self, i=0) -> dict:
        """Client rectangle (CSS px) and pixel size of the composited canvas."""
        return self.canvas(i).evaluate(
            "e => { const r = e.getBoundingClientRect();"
            " return {left: r.left, top: r.top, cssw: r.width, cssh: r.height, w: e.width, h: e.height}; }"
        )

    def to_client(self, x_img, y_img, image_shape, i=0, g=None):
        """Image (x, y) pixel centre -> client (CSS) point where the pointer must be."""
        g = g or self.geometry(i)
        h, w = image_shape[:2]
        cx = g["left"] + (x_img + 0.5) / w * g["cssw"]
        cy = g["top"] + (y_img + 0.5) / h * g["cssh"]
        return cx, cy

    def pixels(self, i=0) -> np.ndarray:
        """(h, w, 4) uint8: what the page shows in the composited canvas."""
        url = self.canvas(i).evaluate("e => e.toDataURL('image/png')")
        data = base64.b64decode(url.split(",", 1)[1])
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))

    def wait_pixel_change(self, xy_canvas, ref_rgb, i=0, tol=24, timeout=120_000) -> None:
        """Wait until the canvas pixel at ``xy_canvas`` differs from ``ref_rgb`` by more than ``tol``."""
        self.page.wait_for_function(
            """([e, x, y, ref, tol]) => {
                const d = e.getContext('2d').getImageData(x, y, 1, 1).data;
                return Math.max(Math.abs(d[0] - ref[0]), Math.abs(d[1] - ref[1]), Math.abs(d[2] - ref[2])) > tol;
            }""",
            arg=[
                self.canvas(i).element_handle(),
                int(xy_canvas[0]),
                int(xy_canvas[1]),
                [int(v) for v in ref_rgb[:3]],
                tol,
            ],
            timeout=timeout,
        )

    # -- real user actions
    def drag(self, points_client, steps=8) -> None:
        m = self.page.mouse
        m.move(*points_client[0])
        m.down()
        for p in points_client[1:]:
            m.move(*p, steps=steps)
        m.up()

    def pointer_away(self, i=0) -> None:
        """Move the pointer off the canvas (the widget clears its cursor on mouse-out)."""
        g = self.geometry(i)
        self.page.mouse.move(max(2, g["left"] - 40), g["top"] + 10, steps=3)

    def button(self, text, i=0):
        return self.widget(i).locator("button", has_text=text)

    # -- the kernel behind the page
    def kernel(self, code: str, timeout: float = 180.0) -> str:
        """Run ``code`` in the notebook's kernel (not shown in the page); returns its stdout."""
        if self._kc is None:
            from jupyter_client import BlockingKernelClient

            kid = self.server.kernel_id(self.name)
            assert kid, f"no kernel session for {self.name}"
            kc = BlockingKernelClient(connection_file=str(self.server.runtime / f"kernel-{kid}.json"))
            kc.load_connection_file()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            self._kc = kc
        out, err = [], []

        def hook(msg):
            t, c = msg["msg_type"], msg["content"]
            if t == "stream":
                (out if c["name"] == "stdout" else err).append(c["text"])
            elif t == "error":
                err.append("\n".join(c["traceback"]))

        reply = self._kc.execute_interactive(code, store_history=False, timeout=timeout, output_hook=hook)
        assert reply["content"]["status"] == "ok", "kernel error:\n" + "".join(err)
        return "".join(out)

    def kernel_json(self, code: str, timeout: float = 180.0):
        """Run ``code`` that ends by assigning ``result``; returns it through JSON."""
        text = self.kernel(code + "\nimport json as _json; print(_json.dumps(result))", timeout=timeout)
        return json.loads(text.strip().splitlines()[-1])

    def wait_kernel(self, code: str, predicate, timeout: float = 120.0, what: str = "kernel condition"):
        """Poll ``kernel_json(code)`` until ``predicate(value)``; returns the value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.kernel_json(code)
            if predicate(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
            time.sleep(0.1)

    def errors(self) -> list[str]:
        """Console errors and page errors, minus known ones that ipyseg has no part in."""
        return [e for e in self.console if not _known_frontend_error(e)]

    def close(self) -> None:
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        try:
            self.server.shutdown_session(self.name)
        except OSError:
            pass


def _known_frontend_error(text: str) -> bool:
    # Notebook 7.6 raises this while loading its settings on every page load, also for a
    # notebook with just `1 + 1` and without our page_config (checked by hand, 2026-11).
    return "reading 'schema'" in text and "/static/notebook/notebook_core." in text


def open_notebook(server, context, request, name_prefix: str, cells) -> NotebookPage:
    """Write a notebook, open it in a new page, run it; closed (kernel shut down) at teardown."""
    page = context.new_page()
    nbp = NotebookPage(server, page, f"{name_prefix}-{uuid.uuid4().hex[:6]}.ipynb")
    request.addfinalizer(nbp.close)
    nbp.open(cells)
    nbp.run_all()
    return nbp


# ------------------------------------------------------------------------ analysis
def blend(under: np.ndarray, rgb, alpha: float) -> np.ndarray:
    return under[..., :3].astype(float) * (1 - alpha) + np.asarray(rgb, float) * alpha


def tinted(before: np.ndarray, after: np.ndarray, rgb, alpha: float, tol: float = 10.0) -> np.ndarray:
    """Pixels of ``after`` that are ``before`` with ``rgb`` at ``alpha`` laid over it."""
    return np.abs(after[..., :3].astype(float) - blend(before, rgb, alpha)).max(axis=-1) <= tol


def unchanged(before: np.ndarray, after: np.ndarray, tol: float = 10.0) -> np.ndarray:
    return np.abs(after[..., :3].astype(int) - before[..., :3].astype(int)).max(axis=-1) <= tol


def display_gt(h, w, ch, cw):
    """Ground truth sampled at the centres of a ``ch`` x ``cw`` display canvas (as the widget does)."""
    from .scenes import disk_gt

    rows = np.floor((np.arange(ch) + 0.5) * h / ch)
    cols = np.floor((np.arange(cw) + 0.5) * w / cw)
    return disk_gt(h, w, rows, cols)


def display_seeds(nb, g, H, W) -> np.ndarray:
    """The kernel's seeds sampled at the display canvas' pixel centres, as a bool array."""
    rows = np.floor((np.arange(g["h"]) + 0.5) * H / g["h"]).astype(int).tolist()
    cols = np.floor((np.arange(g["w"]) + 0.5) * W / g["w"]).astype(int).tolist()
    flat = nb.kernel_json(f"d = w.seeds[np.ix_({rows}, {cols})] > 0\nresult = np.flatnonzero(d).tolist()")
    out = np.zeros(g["h"] * g["w"], bool)
    out[flat] = True
    return out.reshape(g["h"], g["w"])


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)).astype(bool)


def save_screenshot(nb, path: Path, i=0) -> None:
    """The widget's toolbar and canvas as a compact PNG (the status line with its timing is left
    out, so that runs on the same set-up give the same file)."""
    box = nb.widget(i).bounding_box()
    g = nb.geometry(i)
    clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": g["top"] + g["cssh"] - box["y"]}
    png = nb.page.screenshot(clip=clip)
    im = (
        Image.open(io.BytesIO(png))
        .convert("RGB")
        .quantize(128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    )
    path.parent.mkdir(exist_ok=True)
    im.save(path, "PNG", optimize=True)
