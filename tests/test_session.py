"""Sessions on disk: round trips, atomic writes under SIGKILL, corrupt files, the folder lock."""

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
from ipyseg.dataset.lock import FolderLock
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


def test_folder_lock(tmp_path):
    lock = FolderLock(tmp_path).acquire()
    info = json.loads((tmp_path / FolderLock.NAME).read_text())
    assert info["pid"] == os.getpid()
    with pytest.raises(RuntimeError, match="in use by another annotator"):
        FolderLock(tmp_path).acquire()
    lock.release()
    assert not (tmp_path / FolderLock.NAME).exists()
    # a stale lock (its process is gone) is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    stale = {"pid": int(dead.stdout), "host": socket.gethostname(), "start": None, "since": "then"}
    (tmp_path / FolderLock.NAME).write_text(json.dumps(stale))
    lock = FolderLock(tmp_path).acquire()
    assert json.loads((tmp_path / FolderLock.NAME).read_text())["pid"] == os.getpid()
    lock.release()
    # another host's lock is never taken over
    (tmp_path / FolderLock.NAME).write_text(json.dumps({**stale, "host": "elsewhere"}))
    with pytest.raises(RuntimeError, match="elsewhere"):
        FolderLock(tmp_path).acquire()


def _dead_lock(folder):
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    info = {"pid": int(dead.stdout), "host": socket.gethostname(), "start": None, "since": "then"}
    (folder / FolderLock.NAME).write_text(json.dumps(info))
    return info


def test_folder_lock_stale_takeover_has_one_winner(tmp_path, monkeypatch):
    # A judges the dead holder's lock stale; before A removes it, B takes it over (forced interleaving)
    _dead_lock(tmp_path)
    a, b = FolderLock(tmp_path), FolderLock(tmp_path)
    real = FolderLock.is_stale

    def a_is_stale(self, info):
        stale = real(self, info)
        if self is a and not b.held:
            b.acquire()
        return stale

    monkeypatch.setattr(FolderLock, "is_stale", a_is_stale)
    with pytest.raises(RuntimeError, match="in use by another annotator in this process"):
        a.acquire()
    assert b.held and not a.held
    assert json.loads((tmp_path / FolderLock.NAME).read_text())["pid"] == os.getpid()
    assert [p.name for p in tmp_path.iterdir()] == [FolderLock.NAME]  # nothing left aside
    b.release()
    assert not (tmp_path / FolderLock.NAME).exists()


def test_folder_lock_fresh_lock_renamed_aside_is_put_back(tmp_path, monkeypatch):
    # B's fresh lock replaces the stale one between A's judgement and A's rename: A puts it back
    _dead_lock(tmp_path)
    a, b = FolderLock(tmp_path), FolderLock(tmp_path)
    real_rename = os.rename

    def rename(src, dst):
        if not b.held:
            (tmp_path / FolderLock.NAME).unlink()
            b.acquire()
        return real_rename(src, dst)

    monkeypatch.setattr(session.os, "rename", rename)
    with pytest.raises(RuntimeError, match="in use by another annotator"):
        a.acquire()
    assert b.held and not a.held
    assert json.loads((tmp_path / FolderLock.NAME).read_text())["pid"] == os.getpid()
    assert [p.name for p in tmp_path.iterdir()] == [FolderLock.NAME]


def test_folder_lock_race_between_processes(tmp_path):
    # several processes take over the same stale lock at once: exactly one holds it
    _dead_lock(tmp_path)
    code = (
        "import sys, time; from ipyseg.dataset.lock import FolderLock\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "try:\n    FolderLock(sys.argv[1]).acquire(); print('won'); time.sleep(2)\n"
        "except RuntimeError as e:\n    print('refused', e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(session.__file__).parents[1])}
    start = str(time.time() + 1.5)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), start], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert sum(o.startswith("won") for o in outs) == 1, outs
    assert all(o.startswith(("won", "refused")) for o in outs), outs


def test_folder_lock_messages(tmp_path):
    (tmp_path / FolderLock.NAME).write_text("")  # fresh and empty: its writer may be writing it
    with pytest.raises(RuntimeError, match="a lock file that cannot be read") as err:
        FolderLock(tmp_path).acquire()
    assert "None" not in str(err.value)
    (tmp_path / FolderLock.NAME).write_text("[1, 2")
    with pytest.raises(RuntimeError, match="a lock file that cannot be read"):
        FolderLock(tmp_path).acquire()
    old = time.time() - 60  # an old corrupt lock: its writer died, taken over
    os.utime(tmp_path / FolderLock.NAME, (old, old))
    lock = FolderLock(tmp_path).acquire()
    # the same folder spelled differently in this process is named as such
    (tmp_path / "x").mkdir()
    (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
    for alias in (tmp_path / "x" / "..", tmp_path / "link"):
        with pytest.raises(RuntimeError, match="in use by another annotator in this process") as err:
            FolderLock(alias).acquire()
        assert f"opened as '{tmp_path}'" in str(err.value)
    lock.release()
    FolderLock(tmp_path / "link").acquire().release()
    assert not (tmp_path / FolderLock.NAME).exists()
