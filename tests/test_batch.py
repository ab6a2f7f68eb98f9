"""Annotator.run: batch work on dask.distributed (segment, embed, propose), next to annotators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ipyseg
from ipyseg import session
from ipyseg.dataset.leases import ItemLeases
from ipyseg.display import as_picture

distributed = pytest.importorskip("distributed")
sys.path.insert(0, str(Path(__file__).parent))
import tiny_sam as T  # noqa: E402

SIZES = [(61, 83), (97, 55), (80, 80), (33, 121), (64, 90)]  # odd sizes


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    rng = np.random.default_rng(5)
    for i, (h, w) in enumerate(SIZES):
        yy, xx = np.mgrid[:h, :w]
        img = 800 + 200 * rng.random((h, w))  # 16-bit microscopy-like: bright discs on a dim field
        for cy, cx in ((h // 3, w // 3), (2 * h // 3, 2 * w // 3)):
            img[(yy - cy) ** 2 + (xx - cx) ** 2 < (min(h, w) // 7) ** 2] += 20000
        tifffile.imwrite(d / f"p{i}.tif", img.astype(np.uint16))
    return d


def seeded(photos, out, n, user="ann"):
    a = ipyseg.Annotator(photos, out=out, user=user, method="watershed")
    for i in range(n):
        a.index = i
        h, w = SIZES[i]
        a.widget.click(w // 3, h // 3, label=ipyseg.FOREGROUND)
        a.widget.click(2, 2, label=ipyseg.BACKGROUND)
        assert a.widget.wait(30)
    a.flush()
    return a


def test_segment_again_passes_over_open_items_and_resumes(photos, tmp_path, client, capsys):
    out = tmp_path / "out"
    a = seeded(photos, out, 4)
    a.index = 3  # this annotator has item 3 open
    bob = ItemLeases(out, user="bob", heartbeat=False)
    assert bob.claim("p2.tif")  # and bob has item 2 open
    before = {k: (out / f"{k}.json").stat().st_mtime_ns for k in ("p2.tif", "p3.tif")}

    report = a.run("segment", client=client, items=[0, 1], method="grabcut", iterations=2)
    assert sorted(report.done) == ["p0.tif", "p1.tif"] and not report.failed
    assert "ipyseg segment" in capsys.readouterr().err  # the progress bar (a terminal: text)
    # interrupted after two items and started again: only what is left
    report = a.run("segment", client=client, method="grabcut", iterations=2)
    assert report.done == [] and not report.failed
    assert report.passed_over["p0.tif"] == "up to date" and report.passed_over["p4.tif"] == "no saved work"
    assert set(report.held) == {"p2.tif", "p3.tif"}
    assert report.held["p2.tif"].startswith("bob") and report.held["p3.tif"].startswith("ann")
    assert {k: (out / f"{k}.json").stat().st_mtime_ns for k in before} == before  # never touched
    bob.release("p2.tif")
    report = a.run("segment", client=client, method="grabcut", iterations=2, progress=False)
    assert report.done == ["p2.tif"], report
    bob.close()

    for i in range(3):  # what was written is the widget's final stage of the new method, from the saved seeds
        key = f"p{i}.tif"
        state = session.load(out / f"{key}.json")
        img = tifffile.imread(photos / key)
        want = ipyseg.segment(img, state.seeds, "grabcut", iterations=2)
        assert state.method == "grabcut" and state.params["iterations"] == 2 and state.labels_current
        assert np.array_equal(state.labels, want), key
        doc = json.loads((out / f"{key}.json").read_text())
        assert doc["provenance"]["events"][-1]["what"] == "segment"
        assert doc["provenance"]["events"][-1]["by"] == "ann (batch)"
        assert doc["provenance"]["modified_by"] == "ann"  # a batch is no person's edit
    a.index = 1  # the annotator reads the new files
    assert a.widget.wait(30)
    assert a.widget.method == "grabcut" and np.array_equal(a.widget.labels, session.load(out / "p1.tif.json").labels)
    a.close()


def test_a_failing_item_is_reported_and_the_others_go_on(photos, tmp_path, client):
    out = tmp_path / "out"
    a = seeded(photos, out, 3)
    a.index = 4
    a.flush()
    (out / "p1.tif.json").write_text("{ not json")
    report = a.run("segment", client=client, method="grabcut", progress=False)
    assert sorted(report.done) == ["p0.tif", "p2.tif"] and list(report.failed) == ["p1.tif"], report.passed_over
    assert "p1.tif" in report.failed["p1.tif"] or "json" in report.failed["p1.tif"].lower()
    assert (out / "p1.tif.json").read_text() == "{ not json"  # left as it was
    assert "1 failed" in repr(report)
    a.close()


def test_propose_fills_only_items_without_work(photos, tmp_path, client):
    out = tmp_path / "out"
    a = seeded(photos, out, 1)
    a.index = 1
    report = a.run("propose", client=client, proposer="blobs", diameter=12, progress=False)
    assert sorted(report.done) == ["p2.tif", "p3.tif", "p4.tif"], report
    assert report.passed_over["p0.tif"] == "has saved work" and report.held["p1.tif"].startswith("ann")
    state = session.load(out / "p3.tif.json")
    assert state.status == "in progress" and len(np.unique(state.labels)) == 3  # two discs + background
    assert state.provenance["created_by"] == "ann (batch)"
    a.index = 3
    assert a.widget.wait(30)
    assert np.array_equal(a.widget.labels, state.labels) and a.status[3] == "in progress"
    a.close()


def test_embed_fills_the_disk_cache_the_widget_reads(photos, tmp_path, client):
    enc, dec = T.build_encoder(tmp_path / "enc.onnx"), T.build_decoder(tmp_path / "dec.onnx")
    cache = tmp_path / "cache"
    model = ipyseg.sam.SamModel(enc, dec, backend="opencv", cache_dir=cache)
    out = tmp_path / "out"
    a = ipyseg.Annotator(photos, out=out, user="ann", method="watershed")
    a.index = 4
    report = a.run("embed", client=client, items=[0, 1, 2, 3], model=model, progress=False)
    assert sorted(report.done) == ["p0.tif", "p1.tif", "p2.tif", "p3.tif"] and not report.failed
    assert len(list(cache.glob("*.npz"))) == 4
    again = a.run("embed", client=client, items=[0, 1], model=model, progress=False)
    assert again.done == [] and all(v.startswith("cached") for v in again.passed_over.values())
    a.close()
    fresh = ipyseg.sam.SamModel(enc, dec, backend="opencv", cache_dir=cache)  # another kernel
    b = ipyseg.Annotator(photos, out=tmp_path / "out2", method="sam", model=fresh)
    b.index = 2
    assert b.wait(60)
    b.widget.click(30, 30, label=ipyseg.FOREGROUND)
    assert b.widget.wait(60) and b.widget.labels.any()
    assert fresh.timings["encoder"] is None  # the widget's image is the batch's: the encoder never ran
    b.close()


def test_run_arguments_are_checked(photos, tmp_path):
    a = ipyseg.Annotator(photos, out=tmp_path / "out", method="watershed")
    with pytest.raises(ValueError, match=r"`task` must be one of \['segment', 'embed', 'propose'\]; got 'train'"):
        a.run("train")
    with pytest.raises(ValueError, match=r"`items` must be indices in \[0, 4\].*got \[9\]"):
        a.run("segment", items=[0, 9])
    with pytest.raises(TypeError, match="`items` must be None or a list"):
        a.run("segment", items=3)
    with pytest.raises(ValueError, match="`method` must be one of"):
        a.run("segment", method="nope")
    with pytest.raises(ValueError, match="`iterations`"):
        a.run("segment", method="grabcut", iterations=-1)
    with pytest.raises(TypeError, match="`model` must be a SamModel"):
        a.run("embed")
    with pytest.raises(ValueError, match="`proposer` must be"):
        a.run("propose", proposer="cellpose")
    with pytest.raises(ValueError, match="`diameter`"):
        a.run("propose", proposer="blobs", diameter=-3)
    with pytest.raises(TypeError, match="`client` must be a distributed.Client"):
        a.run("segment", client="tcp://127.0.0.1:8786")
    a.close()


def test_default_local_cluster(photos, tmp_path):
    out = tmp_path / "out"
    a = seeded(photos, out, 2)
    a.index = 4
    report = a.run("segment", method="grabcut", progress=False)  # a LocalCluster of its own, closed after
    assert sorted(report.done) == ["p0.tif", "p1.tif"]
    a.close()


def test_segmentation_image_of_a_16_bit_item_follows_the_display_settings(photos, tmp_path, client):
    """The batch sees an item as the annotator shows it: its display settings travel with the job."""
    out = tmp_path / "out"
    a = ipyseg.Annotator(photos, out=out, method="watershed", display_range=(0, 1000))
    a.widget.click(20, 20, label=ipyseg.FOREGROUND)
    a.widget.click(2, 2, label=ipyseg.BACKGROUND)
    assert a.widget.wait(30)
    a.index = 4
    report = a.run("segment", client=client, method="grabcut", progress=False)
    assert report.done == ["p0.tif"]
    state = session.load(out / "p0.tif.json")
    pic = as_picture(photos / "p0.tif", display_range=(0, 1000))
    seg = ipyseg.segmenters.get("grabcut")
    want = ipyseg.segmentation.run_segmenter(seg, pic.segmentation_image(), state.seeds, None, {})
    assert np.array_equal(state.labels, want)
    a.close()


def test_a_cluster_of_separate_processes(photos, tmp_path):
    """dask scheduler + dask worker started as their own processes, as on a real cluster; the same code."""
    out = tmp_path / "out"
    a = seeded(photos, out, 3)
    a.index = 4
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0", "--dashboard-address", ":0"]
    scheduler = subprocess.Popen([*cmd, "--scheduler-file", str(sched_file)], env=env, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        wcmd = [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file)]
        worker = subprocess.Popen([*wcmd, "--nthreads", "1", "--nworkers", "2"], env=env, stderr=subprocess.DEVNULL)
        client = distributed.Client(scheduler_file=str(sched_file), timeout=60)
        client.wait_for_workers(2, timeout=60)
        report = a.run("segment", client=client, method="grabcut", progress=False)
        client.close()
        assert sorted(report.done) == ["p0.tif", "p1.tif", "p2.tif"], report
        assert session.load(out / "p1.tif.json").method == "grabcut"
    finally:
        for p in (worker, scheduler):
            if p is not None:
                p.terminate()
                p.wait(30)
        a.close()
