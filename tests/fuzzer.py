"""A seeded fuzzer of SegmentWidget's message handlers, tools and public API.

Each *sequence* builds a widget on a random small photo (odd sizes, gray or colour, sometimes
a forced coarse-to-fine block factor), then sends it a random mix of

* ipycanvas front-end messages (mouse, wheel, keys, touch, client_ready), well-formed and
  malformed (``null``/NaN/huge coordinates, non-string keys, missing fields, unknown events),
  including realistic drags and clicks;
* ipyevents reports (mouse buttons, modifiers) and garbage ones;
* toolbar messages exactly as the ipywidgets front end sends them (state updates with valid and
  invalid values, button clicks);
* programmatic calls with valid arguments (which must not raise) and invalid ones (which must
  raise ``TypeError``/``ValueError``/``TraitError`` and change nothing);
* tool and method switches, including plug-in methods that fail or return garbage.

After each sequence it checks the invariants below; any exception that escapes into a comm
handler (ipywidgets logs it) or a thread is counted as *uncaught*.

Invariants: ``wait()`` returns; seeds and labels have the image's height and width and legal
codes; a built-in method leaves no error; ``last_error`` is set exactly when the status shows an
error; the same seeds give the same labels (the widget's incremental result equals a fresh
computation); undo + redo restores seeds and labels; every toolbar control shows its trait;
``close()`` stops the worker.

Run ``python tests/fuzzer.py --sequences 10000`` for the long run (``tests/test_fuzz.py`` runs
500 in CI).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import traitlets

import ipyseg
from ipyseg import BACKGROUND, FOREGROUND, MAX_OBJECTS, SegmentationWarning, SegmentWidget, segmenters
from ipyseg.segmentation.multiscale import Multiscale

BUILTIN = ("click_graphcut", "grabcut", "watershed")
KEYS = [k for sc in ipyseg.ui.shortcuts.SHORTCUTS for k in sc.keys]
CLEAN_ERRORS = (TypeError, ValueError, traitlets.TraitError)


# ----------------------------------------------------------------- plug-in methods
def _flaky(image, seeds):
    """A plug-in that fails on some inputs."""
    if int(seeds.sum()) % 3 == 0:
        raise RuntimeError("flaky plug-in failed")
    return seeds >= 2


def _garbage(image, seeds):
    """A plug-in returning labels of the wrong shape."""
    return np.zeros((3, 3), np.uint8)


def _register_plugins():
    ipyseg.register_method("fuzz_flaky", _flaky, overwrite=True)
    ipyseg.register_method("fuzz_garbage", _garbage, overwrite=True)


PLUGINS = ("fuzz_flaky", "fuzz_garbage")


# ------------------------------------------------------------------ bookkeeping
class _Uncaught(logging.Handler):
    """Collects exceptions that ipywidgets caught and logged in a comm/callback handler."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record):
        if "Exception in" in record.getMessage() or record.exc_info:
            self.records.append(self.format(record)[-2000:])


@dataclass
class Report:
    sequences: int = 0
    events: int = 0
    uncaught: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    seconds: float = 0.0

    def ok(self) -> bool:
        return not self.uncaught and not self.violations

    def summary(self) -> str:
        return (
            f"{self.sequences} sequences, {self.events} events in {self.seconds:.1f} s: "
            f"{len(self.uncaught)} uncaught exceptions, {len(self.violations)} invariant violations"
        )


@contextlib.contextmanager
def watching():
    """Collect logged handler exceptions and exceptions in threads while inside."""
    handler = _Uncaught()
    loggers = [logging.getLogger(n) for n in ("traitlets", "ipywidgets", "ipyseg", "")]
    for lg in loggers:
        lg.addHandler(handler)
    thread_errors: list[str] = []
    old_hook = threading.excepthook
    threading.excepthook = lambda args: thread_errors.append(f"{args.exc_type.__name__}: {args.exc_value}")
    try:
        yield handler.records, thread_errors
    finally:
        threading.excepthook = old_hook
        for lg in loggers:
            lg.removeHandler(handler)


# --------------------------------------------------------------------- messages
def _msg_update(control, **state):
    control._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def _msg_click(button):
    button._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "click"}}}, "buffers": []})


def _canvas(w, content):
    w.view.canvas._handle_custom_msg(content, [])


class Fuzzer:
    """Generates and runs random sequences from one seed (reproducible)."""

    def __init__(self, seed: int = 0, *, max_side: int = 90, max_actions: int = 24):
        self.seed = seed
        self.max_side = max_side
        self.max_actions = max_actions
        _register_plugins()

    # -- random values -------------------------------------------------------
    _GARBAGE = (None, float("nan"), float("inf"), -float("inf"), 1e308, -1e308, "12", [], {}, True, 2**70)

    def _garbage(self, rng):
        return self._GARBAGE[int(rng.integers(len(self._GARBAGE)))]

    def _coord(self, rng, size):
        r = rng.random()
        if r < 0.8:
            return float(rng.uniform(-2, size + 2))
        if r < 0.9:
            return float(rng.uniform(-5 * size, 6 * size))
        return self._garbage(rng)

    def _point(self, rng, w):
        """An image (x, y) inside or near the image."""
        h, wd = w.image.shape[:2]
        return float(rng.uniform(-3, wd + 3)), float(rng.uniform(-3, h + 3))

    def _box(self, rng, w):
        """A box ``(x0, y0, x1, y1)`` that covers at least one pixel (corners in any order)."""
        h, wd = w.image.shape[:2]
        x0, y0 = int(rng.integers(0, wd)), int(rng.integers(0, h))
        x1, y1 = int(rng.integers(0, wd)), int(rng.integers(0, h))
        return (x0, y0, x1, y1) if rng.random() < 0.5 else (x1, y1, x0, y0)

    def _inside(self, rng, w):
        h, wd = w.image.shape[:2]
        return float(rng.uniform(0, wd - 1)), float(rng.uniform(0, h - 1))

    # -- building a widget ---------------------------------------------------
    def make_widget(self, rng) -> SegmentWidget:
        h = int(rng.integers(2, self.max_side + 1))
        wd = int(rng.integers(2, self.max_side + 1))
        kind = rng.integers(4)
        base = rng.integers(0, 256, size=(h, wd, 3), dtype=np.uint8)
        yy, xx = np.mgrid[:h, :wd]
        blob = (yy - h * rng.uniform(0.3, 0.7)) ** 2 + (xx - wd * rng.uniform(0.3, 0.7)) ** 2 < (min(h, wd) * 0.3) ** 2
        base[blob] = (base[blob] // 4 + np.array([180, 90, 20], np.uint8)).astype(np.uint8)
        img = base[:, :, 0] if kind == 0 else base if kind < 3 else np.dstack([base, np.full((h, wd), 255, np.uint8)])
        method = str(rng.choice(BUILTIN))
        disp = int(rng.choice([h * wd, max(4, h * wd // 3), 2_000_000]))
        w = SegmentWidget(img, method=method, max_display_pixels=max(4, disp))
        if rng.random() < 0.5:  # force a coarse-to-fine block factor on this small photo
            w.document.multiscale = Multiscale(w.image, final_pixels=int(rng.integers(4, max(5, h * wd // 2) + 1)))
        return w

    # -- actions ---------------------------------------------------------------
    def _act(self, rng, w, notes):
        vp = w.viewport
        cw, ch = vp.canvas_width, vp.canvas_height
        r = rng.random()
        if r < 0.30:  # a realistic gesture: move, press, a few moves, release (or leave)
            n = int(rng.integers(1, 6))
            pts = [(float(rng.uniform(0, cw)), float(rng.uniform(0, ch))) for _ in range(n)]
            _canvas(w, {"event": "mouse_move", "x": pts[0][0], "y": pts[0][1]})
            _canvas(w, {"event": "mouse_down", "x": pts[0][0], "y": pts[0][1]})
            if rng.random() < 0.3:
                w.input.dom_events._handle_custom_msg({"type": "mousedown", "button": int(rng.choice([0, 1, 2]))}, [])
            for x, y in pts[1:]:
                _canvas(w, {"event": "mouse_move", "x": x, "y": y})
            end = "mouse_out" if rng.random() < 0.1 else "mouse_up"
            _canvas(w, {"event": end, "x": pts[-1][0], "y": pts[-1][1]})
            if w.tool in ("polygon", "livewire") and rng.random() < 0.3:
                _canvas(
                    w, {"event": "key_down", "key": "Enter", "shift_key": False, "ctrl_key": False, "meta_key": False}
                )
            return 4 + n
        if r < 0.42:  # a single raw canvas message, possibly malformed
            event = str(
                rng.choice(["mouse_move", "mouse_down", "mouse_up", "mouse_out", "mouse_wheel", "client_ready"])
            )
            content = {"event": event, "x": self._coord(rng, cw), "y": self._coord(rng, ch)}
            if rng.random() < 0.05:
                content.pop(str(rng.choice(["x", "y", "event"])))
            if rng.random() < 0.03:
                content = self._garbage(rng)
            _canvas(w, content)
            return 1
        if r < 0.52:  # a key
            key = str(rng.choice(KEYS)) if rng.random() < 0.8 else self._garbage(rng)
            if isinstance(key, str) and key.startswith("ctrl+"):
                parts = key.split("+")
                content = {"key": parts[-1], "shift_key": "shift" in parts, "ctrl_key": True, "meta_key": False}
            else:
                content = {"key": key, "shift_key": bool(rng.random() < 0.2), "ctrl_key": False, "meta_key": False}
            if rng.random() < 0.05:
                content["ctrl_key"] = self._garbage(rng)
            _canvas(w, {"event": "key_down", **content})
            return 1
        if r < 0.56:  # touch
            event = str(rng.choice(["touch_start", "touch_move", "touch_end", "touch_cancel"]))
            touches = [{"x": self._coord(rng, cw), "y": self._coord(rng, ch)} for _ in range(int(rng.integers(0, 3)))]
            _canvas(w, {"event": event, "touches": touches if rng.random() < 0.95 else self._garbage(rng)})
            return 1
        if r < 0.60:  # ipyevents report, maybe garbage
            ev = {"type": str(rng.choice(["mousedown", "contextmenu", "wheel"])), "button": int(rng.integers(-1, 4))}
            ev["shiftKey"] = bool(rng.random() < 0.2) if rng.random() < 0.9 else self._garbage(rng)
            w.input.dom_events._handle_custom_msg(ev if rng.random() < 0.95 else self._garbage(rng), [])
            return 1
        if r < 0.72:  # toolbar message from the page
            self._toolbar_message(rng, w)
            return 1
        if r < 0.92:
            self._call(rng, w, notes, valid=True)
            return 1
        self._call(rng, w, notes, valid=False)
        return 1

    def _toolbar_message(self, rng, w):
        c = w.controls
        name = str(rng.choice(sorted(c) + ["button"] * 3))
        if name == "button":
            _msg_click(w.buttons[str(rng.choice(sorted(w.buttons)))])
            return
        control = c[name]
        good = rng.random() < 0.7
        if hasattr(control, "index") and hasattr(control, "options"):
            n = len(control.options)
            index = int(rng.integers(0, max(1, n))) if good else rng.choice([None, -1, n, n + 5, "x", 1.5])
            _msg_update(control, index=index)
        elif name == "show_seeds":
            _msg_update(control, value=bool(rng.random() < 0.5) if good else self._garbage(rng))
        else:
            lo, hi = getattr(control, "min", 0), getattr(control, "max", 1)
            value = float(rng.uniform(lo, hi)) if good else self._garbage(rng)
            _msg_update(control, value=value)

    def _valid_params(self, rng, method):
        spec = {
            "click_graphcut": {
                "iterations": lambda: int(rng.integers(1, 5)),
                "smoothness": lambda: float(rng.uniform(0, 100)),
                "click_weight": lambda: float(rng.uniform(0, 8)),
                "click_sigma": lambda: float(rng.uniform(0.01, 0.2)),
                "clean": lambda: bool(rng.random() < 0.5),
            },
            "grabcut": {"iterations": lambda: int(rng.integers(1, 4)), "clean": lambda: bool(rng.random() < 0.5)},
            "watershed": {"blur": lambda: float(rng.uniform(0, 3)), "border_prior": lambda: bool(rng.random() < 0.5)},
        }.get(method, {})
        names = [k for k in spec if rng.random() < 0.4]
        return {k: spec[k]() for k in names}

    def _call(self, rng, w, notes, valid: bool):
        h, wd = w.image.shape[:2]
        objs = [o for o in w.objects() if o >= 1] or [1]
        label = int(rng.choice([BACKGROUND, FOREGROUND] + [o + 1 for o in objs]))
        if valid:
            choice = int(rng.integers(31))
            calls = {
                0: lambda: w.paint([self._point(rng, w) for _ in range(int(rng.integers(1, 4)))], label=label),
                1: lambda: w.click(*self._inside(rng, w), label=label),
                2: lambda: w.erase([self._point(rng, w)], radius=float(rng.uniform(0.5, 10))),
                3: w.undo,
                4: w.redo,
                5: w.clear,
                6: lambda: w.new_object() if len(objs) < 6 else None,
                7: lambda: w.paint_box(self._box(rng, w), obj=int(rng.choice(objs))),
                8: lambda: w.magic_wand(*self._inside(rng, w), label=label),
                9: lambda: w.polygon([self._point(rng, w) for _ in range(int(rng.integers(3, 6)))], label=label),
                10: lambda: w.livewire([self._inside(rng, w) for _ in range(int(rng.integers(2, 4)))]),
                11: lambda: w.fill(rng.random((h, wd)) < 0.05, label=label),
                12: lambda: w.load_mask(rng.random((h, wd)) < 0.3),
                13: lambda: w.zoom_by(float(rng.uniform(0.3, 4)), float(rng.uniform(0, 50)), float(rng.uniform(0, 50))),
                14: w.reset_view,
                15: lambda: setattr(w, "seeds", rng.choice([0, 0, 0, 1, 2], size=(h, wd)).astype(np.uint8)),
                16: lambda: self._switch_method(rng, w, notes),
                17: lambda: setattr(w, "params", self._valid_params(rng, w.method)),
                18: lambda: setattr(
                    w,
                    "tool",
                    str(rng.choice([t.value for t in ipyseg.ui.tools.Tool])),
                ),
                19: lambda: setattr(w, "label", label),
                20: lambda: setattr(w, "brush_size", float(rng.uniform(*w.brush_size_range))),
                21: lambda: setattr(w, "overlay_mode", str(rng.choice(["filled", "contour", "hidden"]))),
                22: lambda: w.editor.add_objects(rng.integers(0, 4, (h, wd)) * int(rng.choice([1, 300, 20000]))),
                23: lambda: w.editor.propose(
                    diameter=float(rng.uniform(1.5, max(2, h, wd))), dark=bool(rng.random() < 0.3)
                ),
                24: lambda: w.editor.delete(int(rng.choice(objs))),
                25: lambda: w.editor.merge(objs[0], objs[-1]) if len(objs) > 1 else None,
                26: lambda: w.editor.split(
                    int(rng.choice(objs)), np.array([self._point(rng, w)[::-1] for _ in range(2)], float)
                ),
                27: lambda: w.load_labels(rng.integers(0, 3, (h, wd)) * int(rng.choice([1, 70000, 2**40]))),
                28: lambda: w.editor.merge_into_current(*self._inside(rng, w)[::-1]),
                29: lambda: w.editor.split_where(np.array([self._point(rng, w)[::-1] for _ in range(3)], float)),
                30: lambda: w.editor.next_class(int(rng.choice(objs))),
            }
            try:
                calls[choice]()
            except Exception as err:  # a valid call must not raise
                notes.append(f"valid call #{choice} raised {type(err).__name__}: {err}")
            return
        seeds_before = w.seeds.copy()
        bad = int(rng.integers(16))
        g = self._garbage(rng)
        calls = {
            0: lambda: w.paint(g),
            1: lambda: w.click(self._GARBAGE[int(rng.integers(6, 9))], 3),  # never a number
            2: lambda: w.paint([(1, 1)], label="fg" if g is None else g),  # None: the current object (valid)
            3: lambda: w.paint_box((1, 1, 5, g)),
            4: lambda: w.paint_box((1, 1, 5, 5), obj=0),
            5: lambda: setattr(w, "brush_size", g),
            6: lambda: setattr(w, "opacity", g),
            7: lambda: setattr(w, "method", g),
            8: lambda: setattr(w, "seeds", np.zeros((h + 1, wd), np.uint8)),
            9: lambda: setattr(w, "tool", g),
            10: lambda: w.load_mask(np.zeros((h, wd + 2), bool)),
            11: lambda: setattr(w, "params", {"nonexistent_param": 1}),
            12: lambda: w.editor.add_objects(np.zeros((h + 1, wd), np.uint16)),
            13: lambda: w.editor.propose(diameter=g),
            14: lambda: w.load_labels(-np.ones((h, wd), np.int32)),
            15: lambda: w.editor.set_class(1, "no such class" if g is None else g),
        }
        try:
            calls[bad]()
        except CLEAN_ERRORS:
            pass
        except Exception as err:
            notes.append(f"invalid call #{bad} raised {type(err).__name__} (not a clean error): {err}")
        else:
            if bad in (4, 8, 10, 11, 12, 14):  # cannot be valid whatever the garbage
                notes.append(f"invalid call #{bad} did not raise")
        if not (w.seeds == seeds_before).all() and bad != 0:
            notes.append(f"invalid call #{bad} changed the seeds")

    def _switch_method(self, rng, w, notes):
        if rng.random() < 0.15:
            w.method = str(rng.choice(PLUGINS))
            notes.append("plugin")
        else:
            w.method = str(rng.choice(BUILTIN))

    # -- invariants ------------------------------------------------------------
    def check(self, w, notes) -> list[str]:
        bad = []
        if not w.wait(60):
            return ["wait() did not return within 60 s"]
        h, wd = w.image.shape[:2]
        seeds, labels = w.seeds, w.labels
        if seeds.shape != (h, wd) or labels.shape != (h, wd) or seeds.dtype != np.uint16 or labels.dtype != np.uint16:
            bad.append(f"shapes/dtypes: seeds {seeds.shape} {seeds.dtype}, labels {labels.shape} {labels.dtype}")
        if labels.max(initial=0) > MAX_OBJECTS:
            bad.append(f"label {labels.max()} out of range")
        if (w.last_error is None) == w.status.startswith("⚠"):
            bad.append(f"last_error {w.last_error!r} disagrees with status {w.status!r}")
        if w.engine.last_apply_error is not None:
            bad.append(f"an apply callback raised {w.engine.last_apply_error!r}")
        if w.method in BUILTIN:
            # a fresh programmatic segmentation with a built-in method never fails
            w.params = dict(w.params)
            if w.last_error is not None:
                bad.append(f"{w.method} failed: {type(w.last_error).__name__}: {w.last_error}")
            else:
                bad += self._same_seeds_same_labels(w)
                bad += self._undo_redo_restores(w)
        bad += self._toolbar_matches(w)
        return bad

    def _same_seeds_same_labels(self, w) -> list[str]:
        request = w.controller.request(ui=False)
        if request.prior is not None and not (request.seeds > 0).any():
            return []  # a loaded mask shown as it is
        fresh = Multiscale(w.image, final_pixels=_final_pixels(w.document.multiscale))
        func = segmenters.get(request.method)
        again = fresh.segment_staged(func, request.seeds, request.prior, request.params, boxes=request.boxes).labels
        if not np.array_equal(again, w.labels):
            n = int((again != w.labels).sum())
            return [f"same seeds, different labels ({n} pixels differ, method {w.method}, factor {fresh.final_factor})"]
        return []

    def _undo_redo_restores(self, w) -> list[str]:
        if not w.document.seed_state.can_undo:
            return []
        seeds, labels = w.seeds.copy(), w.labels.copy()
        w.undo()
        w.redo()
        if not np.array_equal(w.seeds, seeds):
            return ["undo + redo changed the seeds"]
        if not np.array_equal(w.labels, labels):
            return [f"undo + redo changed the labels ({int((w.labels != labels).sum())} pixels)"]
        return []

    def _toolbar_matches(self, w) -> list[str]:
        c = w.controls
        bad = []
        for name in ("tool", "brush_size", "opacity", "overlay_mode", "show_seeds", "wand_tolerance", "method"):
            if c[name].value != getattr(w, name):
                bad.append(f"toolbar {name} shows {c[name].value!r}, trait is {getattr(w, name)!r}")
        label = BACKGROUND if w.label == BACKGROUND else FOREGROUND
        if c["label"].value != label:
            bad.append(f"toolbar label shows {c['label'].value!r}, trait is {w.label!r}")
        return bad

    # -- running -----------------------------------------------------------------
    def run_one(self, index: int, report: Report, uncaught, thread_errors) -> None:
        rng = np.random.default_rng([self.seed, index])
        notes: list[str] = []
        n_uncaught = len(uncaught) + len(thread_errors)
        w = self.make_widget(rng)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for _ in range(int(rng.integers(1, self.max_actions + 1))):
                    report.events += self._act(rng, w, notes)
                problems = [n for n in notes if n != "plugin"] + self.check(w, notes)
            for warning in caught:  # a built-in method failing on a programmatic call
                text = str(warning.message)
                if issubclass(warning.category, SegmentationWarning) and text.split(" ")[0] in BUILTIN:
                    problems.append(f"SegmentationWarning: {text}")
                elif not issubclass(warning.category, SegmentationWarning):
                    problems.append(f"{warning.category.__name__}: {text}")
        finally:
            thread = w.engine.thread
            w.close()
        if thread is not None and thread.is_alive():
            problems.append("close() left the worker running")
        for p in problems:
            report.violations.append(f"sequence {index} (seed {self.seed}): {p}")
        if len(uncaught) + len(thread_errors) > n_uncaught:
            report.uncaught.append(f"sequence {index} (seed {self.seed}): {(uncaught + thread_errors)[n_uncaught:]}")
        report.sequences += 1

    def run(self, sequences: int, *, start: int = 0, progress: bool = False) -> Report:
        report = Report()
        t0 = time.perf_counter()
        with watching() as (uncaught, thread_errors):
            for i in range(start, start + sequences):
                self.run_one(i, report, uncaught, thread_errors)
                report.seconds = time.perf_counter() - t0
                if progress and (i - start + 1) % 100 == 0:
                    print(f"  {i - start + 1} / {sequences}: {report.summary()}", flush=True)
        report.seconds = time.perf_counter() - t0
        return report


def _final_pixels(ms: Multiscale) -> int:
    """The ``final_pixels`` a Multiscale was built with (same factor for a fresh one)."""
    return ms.final_pixels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args(argv)
    report = Fuzzer(args.seed).run(args.sequences, start=args.start, progress=True)
    print(report.summary())
    for line in (report.uncaught + report.violations)[:50]:
        print(" ", line)
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
