"""Widget lifetimes: close() releases everything, threads never keep widgets alive, one draw lock."""

import gc
import io
import os
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
from conftest import disk_scene, drag
from ipycanvas.canvas import _CANVAS_MANAGER, COMMANDS
from ipywidgets.widgets import widget as ipw
from PIL import Image

from ipyseg import FOREGROUND, SegmentWidget
from ipyseg.ui import lifecycle as _lifecycle
from ipyseg.ui import render
from ipyseg.ui.canvas_view import DRAW_LOCK


def _engine_threads():
    return [t for t in threading.enumerate() if t.name == "ipyseg-engine" and t.is_alive()]


def _stroked_widget(seed=0):
    img, _ = disk_scene(h=120, w=160, seed=seed)
    w = SegmentWidget(img, method="watershed")
    drag(w, [(70, 60), (95, 60)])  # a mouse stroke: segmented by the engine's worker thread
    assert w.wait(30) and w.mask.any()
    return w


def _tree(widget):
    found, stack = [], [widget]
    while stack:
        x = stack.pop()
        if any(x is y for y in found) or x is _CANVAS_MANAGER:
            continue
        found.append(x)
        for name in x.keys:
            v = getattr(x, name, None)
            stack.extend(u for u in (v if isinstance(v, (list, tuple)) else [v]) if isinstance(u, ipw.Widget))
    return found


def test_closed_widgets_are_released_with_their_threads():
    before = len(_engine_threads())
    refs = []
    for i in range(5):
        w = _stroked_widget(i)
        assert w.engine.thread is not None and w.engine.thread.is_alive()
        refs.append(weakref.ref(w))
        w.close()
        assert not w.engine.thread.is_alive()
        del w
    gc.collect()
    assert [r() for r in refs] == [None] * 5
    assert len(_engine_threads()) == before


def test_a_garbage_widget_is_not_kept_alive_by_its_worker():
    """Without close(): once nothing but its own thread refers to it, the widget is collected."""
    w = _stroked_widget()
    thread = w.engine.thread
    ref = weakref.ref(w)
    # ipywidgets' own close of every part (its registry and comms let go), but not ours:
    # the engine is not told, so only the weak references can free the widget.
    for x in _tree(w) + [w.input.dom_events]:
        ipw.Widget.close(x)
    assert thread.is_alive() and not w.engine.closed
    del w, x
    gc.collect()
    assert ref() is None
    thread.join(5)
    assert not thread.is_alive()


def test_close_keeps_the_work_readable_and_refuses_edits(tmp_path):
    w = _stroked_widget()
    seeds, labels = w.seeds.copy(), w.labels.copy()
    tree = _tree(w) + [w.input.dom_events]
    w.close()
    w.close()  # idempotent
    assert w.closed and all(x.comm is None for x in tree)
    assert _CANVAS_MANAGER.comm is not None  # the kernel-wide canvas manager stays
    assert (w.seeds == seeds).all() and (w.labels == labels).all() and w.mask.any()
    assert w.cutout().shape == w.image.shape
    w.save_mask(tmp_path / "m.png")
    for edit in (
        lambda: w.paint([(10, 10)]),
        lambda: w.click(5, 5),
        w.undo,
        w.clear,
        lambda: setattr(w, "seeds", seeds),
        lambda: setattr(w, "method", "grabcut"),
        lambda: setattr(w, "params", {}),
        lambda: w.paint_box((1, 1, 20, 20)),
    ):
        with pytest.raises(RuntimeError, match="closed"):
            edit()
    assert (w.seeds == seeds).all()
    assert w.document.multiscale is None and not w.document.seed_state.can_undo


def test_rerunning_a_cell_closes_the_widgets_of_its_earlier_run(monkeypatch):
    img, _ = disk_scene(h=40, w=50)
    run = ["cell-a", "run-1"]
    monkeypatch.setattr(_lifecycle, "_current_run", lambda: tuple(run))
    w1 = SegmentWidget(img)
    w1b = SegmentWidget(img)  # same run: both stay
    assert not w1.closed
    run[0] = "cell-b"
    other = SegmentWidget(img)  # another cell: unaffected
    run[:] = ["cell-a", "run-2"]
    w2 = SegmentWidget(img)
    assert w1.closed and w1b.closed and not w2.closed and not other.closed
    monkeypatch.setattr(_lifecycle, "_current_run", lambda: None)  # scripts, callbacks: no tracking
    w3 = SegmentWidget(img)
    assert not w3.closed and not w2.closed
    for w in (w2, w3, other):
        w.close()


def test_a_constructor_failure_leaves_no_thread_behind():
    before = len(_engine_threads())
    with pytest.raises(ValueError, match="max_display_pixels"):
        SegmentWidget(np.zeros((20, 20, 3), np.uint8), max_display_pixels=1)
    gc.collect()
    assert len(_engine_threads()) == before


def test_two_widgets_drawing_from_two_threads_never_mix_commands_and_images(monkeypatch):
    """ipycanvas caches commands and image buffers kernel-wide; one lock keeps them paired."""
    a = SegmentWidget(np.zeros((60, 80, 3), np.uint8))
    b = SegmentWidget(np.zeros((60, 80, 3), np.uint8))
    assert a.view.lock is b.view.lock is DRAW_LOCK
    sent = []
    monkeypatch.setattr(
        _CANVAS_MANAGER, "_send_custom", lambda command, buffers=(): sent.append((list(command), list(buffers)))
    )
    queue_command = _CANVAS_MANAGER.send_command

    def yielding(*args, **kwargs):  # hand the GIL over in the middle of a batch
        queue_command(*args, **kwargs)
        time.sleep(1e-4)

    monkeypatch.setattr(_CANVAS_MANAGER, "send_command", yielding)
    size = {a.view.overlay_layer.model_id: (7, 5), b.view.overlay_layer.model_id: (9, 3)}
    lut = render.label_lut(0.5)

    start, counts = threading.Barrier(2), []

    def draw(w, shape):
        index = np.ones((60, 80), np.uint8)
        start.wait()
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < 0.3:  # both threads draw at the same time
            w.view.show_index(w.view.overlay_layer, index, lut, (0, shape[1], 0, shape[0]))
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=draw, args=(w, size[w.view.overlay_layer.model_id])) for w in (a, b)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up at once
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(switch)
    puts, current = 0, None  # the front end, like the manager, keeps the current canvas between messages
    for command, buffers in sent:
        assert isinstance(command[0], list)  # always one batch per message, never loose commands
        queue, targets = list(buffers), set()
        for cmd in command:
            if cmd[0] == COMMANDS["switchCanvas"]:
                current = cmd[1][0].removeprefix("IPY_MODEL_")
                continue
            n = cmd[2] if len(cmd) > 2 else 0
            bufs, queue = queue[:n], queue[n:]
            if cmd[0] == COMMANDS["putImageData"]:
                puts += 1
                targets.add(current)
                assert Image.open(io.BytesIO(bytes(bufs[0]))).size == size[current]
        assert not queue  # every buffer belongs to a command of the same message
        assert len(targets) <= 1  # one batch per message: batches of two views never interleave
    assert puts == sum(counts) and min(counts) > 10
    a.close()
    b.close()


def test_segmenter_raising_systemexit_in_a_stroke_is_an_error_not_a_dead_worker():
    import ipyseg

    calls = []

    def exits(image, seeds):
        calls.append(1)
        if len(calls) == 1:
            raise SystemExit("plugin called sys.exit()")
        return seeds >= 2

    ipyseg.register_method("exits_once", exits, overwrite=True)
    img, _ = disk_scene(h=60, w=80)
    w = SegmentWidget(img, method="exits_once")
    drag(w, [(30, 30), (40, 30)])
    assert w.wait(30)
    assert "SystemExit" in w.status and isinstance(w.last_error, SystemExit)
    assert w.engine.thread.is_alive()
    drag(w, [(30, 40), (40, 40)])
    assert w.wait(30)
    assert w.last_error is None and "⚠" not in w.status and w.mask.any()
    w.close()


def test_a_ui_error_is_not_cleared_by_a_result_already_on_its_way():
    img, _ = disk_scene(h=60, w=80)
    w = SegmentWidget(img, method="watershed")
    gate, entered = threading.Event(), threading.Event()
    import ipyseg

    def slow(image, seeds):
        entered.set()
        gate.wait(10)
        return seeds >= 2

    ipyseg.register_method("slow_gate", slow, overwrite=True)
    w.method = "slow_gate"
    drag(w, [(30, 30), (40, 30)])  # its result is computed while the UI error happens
    assert entered.wait(10)
    with w.input.from_ui():
        raise ValueError("a tool failed")
    assert isinstance(w.last_error, ValueError) and "a tool failed" in w.status
    gate.set()
    assert w.wait(30)
    assert isinstance(w.last_error, ValueError) and w.status.startswith("⚠")  # still shown
    w.paint([(20, 20)], label=FOREGROUND)  # a later edit's result clears it
    assert w.last_error is None and not w.status.startswith("⚠")
    w.close()


def test_paint_box_and_livewire_refuse_the_background_as_object():
    img, _ = disk_scene(h=60, w=80)
    w = SegmentWidget(img)
    for bad in (0, -1, True, 2.0, 65535):
        with pytest.raises((TypeError, ValueError), match="`obj`"):
            w.paint_box((5, 5, 20, 20), obj=bad)
        with pytest.raises((TypeError, ValueError), match="`obj`"):
            w.livewire([(5, 5), (20, 5), (20, 20)], obj=bad)
    assert w.document.seed_state.boxes == {}
    w.paint_box((5, 5, 20, 20), obj=2)
    assert set(w.document.seed_state.boxes) == {3}
    w.close()


def test_worker_exits_promptly_on_close_even_mid_computation():
    import ipyseg

    started = threading.Event()

    def patient(image, seeds):
        started.set()
        time.sleep(0.3)
        return seeds >= 2

    ipyseg.register_method("patient", patient, overwrite=True)
    img, _ = disk_scene(h=60, w=80)
    w = SegmentWidget(img, method="patient")
    drag(w, [(30, 30), (40, 30)])
    assert started.wait(10)
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 5 and not w.engine.thread.is_alive()


_EXIT_SCRIPT = """
import pathlib, sys
import numpy as np
from PIL import Image
import ipyseg

folder = pathlib.Path(sys.argv[2])
if sys.argv[1] == "widget":
    w = ipyseg.SegmentWidget(np.zeros((37, 53, 3), np.uint8))
    w.paint([(10, 10), (20, 30)])
    w.new_object()
    w.click(40, 20)
else:
    for i in range(2):
        Image.fromarray(np.full((31, 45, 3), 90 * i, np.uint8)).save(folder / f"{i}.png")
    a = ipyseg.Annotator(folder, out=folder / "out")
    a.widget.paint([(5, 5), (20, 30)])
    a.next()
"""


@pytest.mark.parametrize("kind", ["widget", "annotator"])
def test_a_script_that_makes_one_exits_silently(kind, tmp_path):
    """A plain script (no kernel) creating a SegmentWidget or an Annotator and exiting prints nothing."""
    import subprocess
    import sys

    script = tmp_path / "make.py"
    script.write_text(_EXIT_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    import ipyseg  # the copy under test, whether or not it is installed

    root = str(Path(ipyseg.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, str(script), kind, str(tmp_path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == ""
