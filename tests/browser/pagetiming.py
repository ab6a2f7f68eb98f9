"""In-page timing of what the user sees: mouse-up -> overlay drawn, and where the time goes.

An init script (:data:`INIT_SCRIPT`, installed with ``context.add_init_script``) wraps a few
browser functions before JupyterLab loads:

* ``mouseup`` (capture listener on ``window``): when the user released the button;
* ``URL.createObjectURL``: ipycanvas turns every image it receives into a blob URL; the time
  and size of each blob (the message has arrived and been parsed), and the URLs not revoked;
* ``createImageBitmap`` (the same for images decoded without a URL) and its completion;
* the ``onload`` setter of ``<img>``: when the blob has loaded into an ``Image``;
* ``CanvasRenderingContext2D.drawImage``: the draw of that image onto a layer's canvas (with
  synchronous decode inside), and the compositing of the layers onto the canvas in the page.

ipycanvas' ``MultiCanvas`` keeps one off-page ``<canvas>`` per layer and, after every message,
clears its own off-page canvas and draws the layers on it in order (``image | overlay |
seeds | cursor``), then draws that onto the ``<canvas>`` in the page. The wrapper records, per
destination canvas, the canvases drawn onto it since its last full clear, so the overlay layer
of a widget is ``page_canvas.__srcs[0].__srcs[1]``: identified by structure, not by guessing.

Page times are taken as ``performance.timeOrigin + performance.now()`` (monotonic, sub-ms) and
shifted by ``Date.now()`` minus that when read, so that they are on the system clock, as the
kernel's ``time.time()`` on the same machine.
"""

from __future__ import annotations

INIT_SCRIPT = r"""
(() => {
  if (window.__pt) return;
  const now = () => performance.timeOrigin + performance.now();
  // blobs: URL -> {t, size} until drawn; live: URL -> size until revoked (the page's blob URLs)
  const T = window.__pt = {ups: [], draws: [], shows: [], blobs: new Map(), live: new Map(), nblobs: 0, blobBytes: 0};
  window.addEventListener('mouseup', () => T.ups.push(now()), true);
  const createURL = URL.createObjectURL;
  URL.createObjectURL = function (obj) {
    const url = createURL.call(URL, obj);
    if (obj instanceof Blob) {
      T.blobs.set(url, {t: now(), size: obj.size});
      T.live.set(url, obj.size);
      T.nblobs += 1; T.blobBytes += obj.size;
    }
    return url;
  };
  const revokeURL = URL.revokeObjectURL;
  URL.revokeObjectURL = function (url) {
    const size = T.live.get(url);
    if (size !== undefined) { T.live.delete(url); T.nblobs -= 1; T.blobBytes -= size; }
    T.blobs.delete(url);
    return revokeURL.call(URL, url);
  };
  // images decoded without a URL: createImageBitmap(blob)
  const bitmap = window.createImageBitmap;
  window.createImageBitmap = function (src, ...rest) {
    const t = now();
    const size = src instanceof Blob ? src.size : undefined;
    return bitmap.call(window, src, ...rest).then(bm => { try { bm.__pt = {t, size, load: now()}; } catch (e) {} return bm; });
  };
  const onload = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'onload');
  Object.defineProperty(HTMLImageElement.prototype, 'onload', {
    configurable: true, enumerable: true,
    get() { return onload.get.call(this); },
    set(fn) {
      const img = this;
      onload.set.call(this, typeof fn === 'function' ? function (ev) { img.__tLoad = now(); return fn.call(this, ev); } : fn);
    },
  });
  const P = CanvasRenderingContext2D.prototype;
  const clearRect = P.clearRect;
  P.clearRect = function (x, y, w, h) {
    const c = this.canvas;
    if (x <= 0 && y <= 0 && x + w >= c.width && y + h >= c.height) c.__srcs = [];
    return clearRect.call(this, x, y, w, h);
  };
  let frameWanted = null;
  const drawImage = P.drawImage;
  P.drawImage = function (src, ...args) {
    const t0 = now();
    const r = drawImage.call(this, src, ...args);
    const t1 = now();
    const dst = this.canvas;
    if (src instanceof HTMLCanvasElement) {
      (dst.__srcs = dst.__srcs || []).push(src);
      if (dst.isConnected) {
        const show = {canvas: dst, t: t1, frame: null};
        T.shows.push(show);
        if (T.shows.length > 5000) T.shows.splice(0, 1000);
        if (!frameWanted) {
          frameWanted = [];
          requestAnimationFrame(() => { const t = now(); for (const s of frameWanted) s.frame = t; frameWanted = null; });
        }
        frameWanted.push(show);
      }
    } else if (src instanceof HTMLImageElement || (window.ImageBitmap && src instanceof ImageBitmap)) {
      let b = src.__pt || {};
      if (src instanceof HTMLImageElement) {
        b = Object.assign({load: src.__tLoad}, T.blobs.get(src.src) || {});
        T.blobs.delete(src.src);
      }
      const kind = src instanceof HTMLImageElement ? 'img' : 'bitmap';
      T.draws.push({canvas: dst, kind, blob: b.t, size: b.size, load: b.load, draw0: t0, draw1: t1});
      if (T.draws.length > 5000) T.draws.splice(0, 1000);
    }
    return r;
  };
})();
"""

#: Page function: the overlay draws and page updates of widget canvas ``el`` since ``since``
#: (epoch ms), as plain numbers. ``layer`` 1 is the overlay.
READ_JS = r"""
([el, since, layer]) => {
  const T = window.__pt;
  const comp = el.__srcs && el.__srcs[0];
  const target = comp && comp.__srcs && comp.__srcs[layer];
  if (!target) return {error: 'layers not identified', ups: T.ups.filter(t => t >= since)};
  const draws = T.draws.filter(d => d.canvas === target && d.draw0 >= since)
    .map(d => ({blob: d.blob, size: d.size, load: d.load, draw0: d.draw0, draw1: d.draw1}));
  const shows = T.shows.filter(s => s.canvas === el && s.t >= since).map(s => ({t: s.t, frame: s.frame}));
  // performance.now() is monotonic; Date.now() follows the system clock, as time.time() does
  const offset = Date.now() - (performance.timeOrigin + performance.now());
  return {ups: T.ups.filter(t => t >= since), draws, shows, nlayers: comp.__srcs.length, offset};
}
"""


# ------------------------------------------------------------------------ kernel side
#: Kernel code defining ``_pt_install(w)``: logs when the kernel got each mouse-up message
#: (before the widget's own handler runs) and the start and end of each segmentation stage (the
#: fast path's ``segment_staged``, with its ``final`` flag). The widget itself logs each image it
#: sends (``w.view.sent``).
KERNEL_SETUP = r"""
import time as _pt_time

def _pt_install(w):
    if getattr(w, "_pt", None) is not None:
        return
    log = w._pt = {"up": [], "handled": [], "stages": []}

    def is_up(content):
        return isinstance(content, dict) and content.get("event") == "mouse_up"

    def on_arrival(widget, content, buffers):
        if is_up(content):
            log["up"].append(_pt_time.time())

    def on_handled(widget, content, buffers):
        if is_up(content):
            log["handled"].append(_pt_time.time())

    callbacks = w.view.canvas._msg_callbacks.callbacks
    callbacks.insert(0, on_arrival)  # before the widget's handler: when the mouse-up arrived
    callbacks.append(on_handled)  # after it: the stroke is committed and its request submitted
    fast = w.document.multiscale
    if fast is None:  # no fast path to time: the compute parts stay empty
        return
    staged = fast.segment_staged

    def timed(*args, **kwargs):
        t0 = _pt_time.time()
        out = staged(*args, **kwargs)
        log["stages"].append((t0, _pt_time.time(), bool(getattr(out, "final", True))))
        return out

    fast.segment_staged = timed
"""


def install(nb, var: str) -> None:
    """Install the kernel-side timing hooks on widget ``var`` of notebook page ``nb``."""
    nb.kernel(KERNEL_SETUP + f"\n_pt_install({var})")


def page_now(page) -> float:
    return page.evaluate("performance.timeOrigin + performance.now()")


def settle(nb, quiet_ms: float = 250.0, timeout: float = 60.0) -> None:
    """Wait until the page has drawn no image for ``quiet_ms`` (it has caught up with the kernel)."""
    nb.page.wait_for_function(
        """q => { const T = window.__pt; const last = Math.max(0, ...T.draws.slice(-1).map(d => d.draw1));
                  return performance.timeOrigin + performance.now() - last > q; }""",
        arg=quiet_ms,
        timeout=timeout * 1000,
        polling=50,
    )


def measure_stroke(nb, i: int, var: str, points_client, *, steps: int = 6, timeout: float = 300.0) -> dict:
    """Drag through ``points_client`` on widget ``i`` and return the stroke's timeline.

    The caller has reset the widget (e.g. ``w.clear()``) and called :func:`settle`. Returns a
    dict of epoch-millisecond times: ``up`` (page mouse-up), ``kernel_up`` (the kernel got it),
    and ``stages``: one entry per overlay image the kernel sent for this stroke, oldest first,
    each with ``compute_start`` / ``computed`` (the segmentation stage it shows), ``final``, ``sent``,
    ``size``, ``blob`` (page received and unpacked it), ``load`` (image loaded), ``draw0`` /
    ``draw1`` (drawn on the overlay layer, decode included), ``show`` (the layers composited
    onto the page's canvas) and ``frame`` (the next animation frame). ``matched`` is False if the
    kernel's images and the page's draws disagree (count or sizes).
    """
    page = nb.page
    n_up = nb.kernel_json(f"result = len({var}._pt['handled'])")
    t0 = page_now(page)
    nb.drag(points_client, steps=steps)
    # The page's mouse-up travels through the server, this client's requests do not, and with
    # ipykernel 7 a widget message can be handled while a request of this client is under way:
    # wait until the widget has handled the mouse-up, then until its engine is idle.
    nb.wait_kernel(f"result = len({var}._pt['handled'])", lambda v: v > n_up, timeout=timeout, what="the mouse-up")
    nb.wait_kernel(
        f"assert {var}.wait({timeout})\nresult = not {var}.engine.busy",
        bool,
        timeout=timeout,
        what="the engine to be idle",
    )
    k = nb.kernel_json(
        f"log = {var}._pt\nup = log['up'][-1]\n"
        "result = dict(up=up, computed=[a for a in log['stages'] if a[0] >= up],"
        f" sent=[s for s in {var}.view.sent if s[0] >= up and s[1] == 1],"
        f" seeds=int(({var}.seeds > 0).sum()), status={var}.status)"
    )
    n = len(k["sent"])
    canvas = nb.canvas(i).element_handle()
    page.wait_for_function(
        """([el, since, n]) => { const T = window.__pt;
             const comp = el.__srcs && el.__srcs[0]; const ov = comp && comp.__srcs && comp.__srcs[1];
             if (!ov) return false;
             const d = T.draws.filter(d => d.canvas === ov && d.draw0 >= since);
             if (d.length < n) return false;
             if (n === 0) return true;
             const last = d[d.length - 1].draw1;
             return T.shows.some(s => s.canvas === el && s.t >= last && s.frame !== null); }""",
        arg=[canvas, t0, n],
        timeout=timeout * 1000,
        polling=20,
    )
    p = page.evaluate(READ_JS, [canvas, t0, 1])
    if "error" in p:
        raise AssertionError(f"page timing: {p['error']}")
    off = p["offset"]  # to the kernel's clock (whole milliseconds: Date.now() resolution)
    for d in p["draws"]:
        for key in ("blob", "load", "draw0", "draw1"):
            if d.get(key) is not None:
                d[key] += off
    for sh in p["shows"]:
        sh["t"] += off
        if sh.get("frame") is not None:
            sh["frame"] += off
    up = p["ups"][-1] + off if p["ups"] else float("nan")
    draws = [d for d in p["draws"] if d["draw0"] >= up]
    computed = k["computed"]
    stages = []
    for j, (t_sent, _layer, size) in enumerate(k["sent"]):
        st = dict(sent=1000 * t_sent, size=size)
        done = [c for c in computed if c[1] <= t_sent]
        if done:  # the computation whose result this image shows
            c = done[-1]
            st.update(compute_start=1000 * c[0], computed=1000 * c[1], final=c[2])
        if j < len(draws):
            d = draws[j]
            st.update({key: d.get(key) for key in ("blob", "load", "draw0", "draw1")}, page_size=d.get("size"))
            show = next((s for s in p["shows"] if s["t"] >= d["draw1"]), None)
            if show is not None:
                st.update(show=show["t"], frame=show.get("frame"))
        stages.append(st)
    matched = len(draws) == n and all(s.get("page_size") == s["size"] for s in stages)
    return dict(
        up=up,
        kernel_up=1000 * k["up"],
        stages=stages,
        matched=matched,
        draws=len(draws),
        seeds=k["seeds"],
        status=k["status"],
    )


#: The parts of a stage's latency, each the difference of two consecutive timestamps.
PARTS = (
    ("to kernel", "up", "kernel_up"),
    ("before compute", "kernel_up", "compute_start"),
    ("compute", "compute_start", "computed"),
    ("render", "computed", "sent"),
    ("message", "sent", "blob"),
    ("load", "blob", "load"),
    ("decode+draw", "load", "draw1"),
    ("composite", "draw1", "show"),
)


def breakdown(stroke: dict, stage: dict) -> dict:
    """Milliseconds of each part of ``PARTS`` for one stage, plus ``visible`` (mouse-up to the
    page's canvas showing it) and ``frame`` (to the next animation frame)."""
    t = dict(stage, up=stroke["up"], kernel_up=stroke["kernel_up"])
    out = {
        name: (t[b] - t[a] if a in t and b in t and t[a] is not None and t[b] is not None else None)
        for name, a, b in PARTS
    }
    out["visible"] = t["show"] - t["up"] if t.get("show") is not None else None
    out["frame"] = t["frame"] - t["up"] if t.get("frame") is not None else None
    return out
