"""Sessions on disk: round trips, atomic writes under SIGKILL, corrupt files (the claims of a shared folder: test_leases.py)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import disk_scene
from PIL import Image

import ipyseg
from ipyseg import session
from ipyseg.session import SessionError

REPO = Path(__file__).resolve().parents[1]


def edited_widget(img, **kw):
    w = ipyseg.SegmentWidget(img, **kw)
    w.click(170, 120)
    w.paint([(20, 20), (60, 30)], label=ipyseg.BACKGROUND, radius=3)
    w.new_object()
    w.click(40, 200)
    w.paint_box((100, 50, 250, 200), obj=1)
    w.object_names = {1: "cup", 2: "spot"}
    w.object_classes = {1: "cat", 2: "dog"}
    return w


@pytest.mark.parametrize("method", ipyseg.methods())
def test_round_trip_every_field(tmp_path, method):
    img, _ = disk_scene(241, 317)  # odd sizes
    w = edited_widget(img, method=method)
    if method == "watershed":
        w.params = {"blur": 2.0, "border_prior": False}
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[10:40, 10:50] = 1
    w.load_mask(mask)
    path = w.save_session(tmp_path / "s.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.labels.png", "s.prior.png", "s.seeds.png"]
    doc = json.loads(path.read_text())
    assert doc["format"] == "ipyseg-session" and doc["version"] == session.VERSION
    assert doc["size"] == {"height": 241, "width": 317}
    # readable without ipyseg: plain PNGs
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s.seeds.png")), w.seeds)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s.labels.png")), w.labels)

    w2 = ipyseg.SegmentWidget.load_session(path, image=img)
    assert np.array_equal(w2.seeds, w.seeds)
    assert np.array_equal(w2.labels, w.labels)
    assert w2.object_names == {1: "cup", 2: "spot"}
    assert w2.object_classes == {1: "cat", 2: "dog"}
    assert w2.method == method and w2.params == w.params
    assert w2.session_state().boxes == w.session_state().boxes == {1: (100, 50, 251, 201)}
    assert np.array_equal(w2.session_state().prior, mask)
    # restored state keeps working: a stroke refines it, undo goes back to the restored seeds
    before = w2.seeds
    w2.click(10, 230, label=ipyseg.BACKGROUND)
    assert not np.array_equal(w2.seeds, before)
    assert w2.undo() and np.array_equal(w2.seeds, before)
    assert not w2.undo()  # the restored state is the start of the history


def test_load_session_from_recorded_path_and_hash_check(tmp_path):
    img, _ = disk_scene()
    Image.fromarray(img).save(tmp_path / "photo.png")
    w = edited_widget(tmp_path / "photo.png")
    assert w.image_path == (tmp_path / "photo.png").resolve()
    path = w.save_session(tmp_path / "photo.json")
    w2 = ipyseg.SegmentWidget.load_session(path)  # image from the recorded path
    assert np.array_equal(w2.labels, w.labels) and w2.image_path == w.image_path
    other = img.copy()
    other[0, 0] ^= 1
    with pytest.raises(SessionError, match="pixel hash differs"):
        ipyseg.SegmentWidget.load_session(path, image=other)
    Image.fromarray(other).save(tmp_path / "photo.png")  # the file changed under the session
    with pytest.raises(SessionError, match="file hash differs"):
        ipyseg.SegmentWidget.load_session(path)
    with pytest.raises(SessionError, match="320 x 240"):
        ipyseg.SegmentWidget.load_session(path, image=np.zeros((10, 10, 3), np.uint8))
    w3 = ipyseg.SegmentWidget(img)
    w3.click(100, 100)
    p3 = w3.save_session(tmp_path / "arr.json")
    with pytest.raises(SessionError, match="pass the photo as `image=`"):
        ipyseg.SegmentWidget.load_session(p3)


def test_labels_saved_mid_segmentation_are_recomputed(tmp_path):
    img, _ = disk_scene()
    w = ipyseg.SegmentWidget(img)
    w.click(170, 120)
    state = w.session_state()
    state.labels = np.zeros_like(state.labels)
    state.labels_current = False
    session.save(state, tmp_path / "x.json")
    w2 = ipyseg.SegmentWidget.load_session(tmp_path / "x.json", image=img)
    assert w2.wait(60)
    assert np.array_equal(w2.labels, w.labels) and w2.labels.any()


def test_bad_session_inputs(tmp_path):
    img, _ = disk_scene()
    w = edited_widget(img)
    with pytest.raises(ValueError, match="must end in .json"):
        w.save_session(tmp_path / "x.png")
    with pytest.raises(TypeError, match="`path`"):
        w.save_session(42)
    with pytest.raises(ValueError, match="`object_classes` keys"):
        w.object_classes = {0: "cat"}
    with pytest.raises(ValueError, match="`object_classes` values"):
        w.object_classes = {1: ""}
    with pytest.raises(ValueError, match="`classes`"):
        w.classes = ["a", "a"]
    state = w.session_state()
    state.params = {"blur": float("nan")}
    with pytest.raises(ValueError, match="finite"):
        session.save(state, tmp_path / "y.json")
    assert not (tmp_path / "y.json").exists() and not (tmp_path / "y.seeds.png").exists()
    state = w.session_state()
    state.shape = (10, 10)
    with pytest.raises(ValueError, match="`state`"):
        w.restore_session(state)


@pytest.mark.parametrize(
    "damage",
    ["truncate_json", "garbage_json", "truncate_png", "missing_png", "wrong_shape_png", "newer_version", "not_ours"],
)
def test_corrupt_files_give_errors_naming_the_file(tmp_path, damage):
    img, _ = disk_scene()
    w = edited_widget(img)
    path = w.save_session(tmp_path / "s.json")
    seeds = tmp_path / "s.seeds.png"
    if damage == "truncate_json":
        path.write_bytes(path.read_bytes()[:40])
        culprit = path
    elif damage == "garbage_json":
        path.write_bytes(b"\x00\xff" * 10)
        culprit = path
    elif damage == "truncate_png":
        seeds.write_bytes(seeds.read_bytes()[:-30])
        culprit = seeds
    elif damage == "missing_png":
        seeds.unlink()
        culprit = seeds
    elif damage == "wrong_shape_png":
        Image.fromarray(np.zeros((5, 5), np.uint8)).save(seeds)
        culprit = seeds
    elif damage == "newer_version":
        doc = json.loads(path.read_text())
        doc["version"] = 99
        path.write_text(json.dumps(doc))
        culprit = path
    else:
        path.write_text(json.dumps({"format": "something else"}))
        culprit = path
    with pytest.raises(SessionError) as info:
        session.load(path)
    assert str(culprit) in str(info.value) or f"'{culprit}'" in str(info.value)


def test_atomic_write_leaves_old_file_when_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    session.atomic_write(target, b"old")

    def boom(a, b):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk gone"):
        session.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary left behind


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    sys.path.insert(0, {repo!r})
    from ipyseg import session
    from ipyseg.session import SessionState
    out = {out!r}
    i = 0
    while True:
        i += 1
        v = i % 200 + 1
        seeds = np.full((60, 80), v, np.uint8)
        labels = np.full((60, 80), v % 7, np.uint8)
        st = SessionState(shape=(60, 80), seeds=seeds, labels=labels, method="watershed", status="in progress",
                          object_names={{1: "n" * (v % 50)}})
        session.save(st, out + "/item.json")
        print(i, flush=True)
    """
)


def test_kill_during_write_leaves_old_or_new_complete_files(tmp_path):
    """A writer is SIGKILLed at random moments, also while it sleeps between write and rename."""
    rng = np.random.default_rng(1)
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(repo=str(REPO), out=str(tmp_path)))
    kills_in_pause = 0
    for round_ in range(12):
        env = dict(os.environ)
        pause = round_ % 2 == 0
        if pause:  # most of the time is spent between write and rename
            env[session.PAUSE_ENV] = "0.05"
        proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
        try:
            proc.stdout.readline()  # at least one complete save
            time.sleep(float(rng.uniform(0.0, 0.3)))
            if pause:
                kills_in_pause += any(".ipyseg-tmp-" in p.name for p in tmp_path.iterdir())
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(30)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        state = session.load(tmp_path / "item.json")  # every file complete and readable
        seeds_v = int(state.seeds[0, 0])
        assert (state.seeds == seeds_v).all() and 1 <= seeds_v <= 200
        assert set(np.unique(state.labels)) <= set(range(7))
    assert kills_in_pause >= 1  # some kills hit a writer holding a written, not yet renamed file
    assert session.remove_stray_temporaries(tmp_path) >= 0
    assert not any(".ipyseg-tmp-" in p.name for p in tmp_path.iterdir())
