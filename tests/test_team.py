"""Several annotator processes on one folder, killed with kill -9 at random (issue 19): no item is
edited by two holders at once, no edit older than a second before a kill is lost, every file loads."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ipyseg import session

REPO = Path(__file__).resolve().parents[1]
N_ITEMS = 8

WORKER = r"""
import json, os, random, sys, time
sys.path.insert(0, {repo!r})
import ipyseg
photos, out, journal, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(seed)
review = seed % 3 == 0  # every third process is a reviewer
a = ipyseg.Annotator(photos, out=out, user=f"w{{seed}}", method="watershed", mode="review" if review else "annotate")
log = open(journal, "a", buffering=1)
n = 0
while True:
    r = rng.random()
    key = a.item_keys[a.index]
    finished = a.status[a.index] in ("done", "reviewed", "rejected")
    if r < (0.3 if review else 0.6):  # an edit: a dot no other edit makes (worker, number) -> its own pixel
        n += 1
        x, y = 4 + 6 * (seed % 16), 4 + 2 * (n % 60)
        a.widget.click(x, y, label=ipyseg.FOREGROUND)
        log.write(json.dumps({{"key": key, "x": x, "y": y, "t": time.time(), "token": a._claims.leases._held[key].token}}) + "\n")
    elif review and r < 0.55 and finished:
        a.accept()
    elif review and r < 0.7 and finished:
        a.reject(f"redo, says w{{seed}}")
    elif not review and r < 0.7:
        a.mark_done()
    elif not review and r < 0.75:
        a.skip()
    elif r < 0.9:
        a.next()
    else:
        a.previous()
    time.sleep(rng.uniform(0, 0.05))
"""

#: A batch re-segmenting every item over and over beside the annotators: the task Annotator.run
#: sends to each Dask worker (run_job), called in a loop (no cluster needed to test the files).
BATCH = r"""
import sys, time
sys.path.insert(0, {repo!r})
from ipyseg.dataset.batch import ItemJob, run_job
photos, out, journal = sys.argv[1], sys.argv[2], sys.argv[3]
keys = [f"p{{i}}.png" for i in range({n})]
log = open(journal, "a", buffering=1)
rounds = 0
while True:
    method = ("grabcut", "watershed")[rounds % 2]  # always something to do
    for key in keys:
        job = ItemJob(key, f"{{photos}}/{{key}}", out, {{}}, "batch", "watershed")
        log.write(" ".join(run_job("segment", job, {{"method": method, }}, ttl=3.0)[:2]) + "\n")
    rounds += 1
"""


def test_annotator_and_reviewer_processes_with_kill_9(tmp_path):
    photos, out, logs = tmp_path / "photos", tmp_path / "out", tmp_path / "logs"
    for d in (photos, logs):
        d.mkdir()
    rng = np.random.default_rng(7)
    for i in range(N_ITEMS):
        Image.fromarray(rng.integers(0, 255, (130, 110, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(repo=str(REPO)))
    procs, killed_at, seed, errs = {}, {}, 0, []

    def start():
        nonlocal seed
        seed += 1
        errs.append(open(logs / f"{seed}.err", "w"))
        procs[seed] = subprocess.Popen(
            [sys.executable, str(script), str(photos), str(out), str(logs / f"{seed}.log"), str(seed)], stderr=errs[-1]
        )

    (tmp_path / "batch.py").write_text(BATCH.format(repo=str(REPO), n=N_ITEMS))
    batch = subprocess.Popen(
        [sys.executable, str(tmp_path / "batch.py"), str(photos), str(out), str(logs / "batch.txt")]
    )
    for _ in range(6):  # four annotators and two reviewers
        start()
    time.sleep(6)  # let them open
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        time.sleep(float(rng.uniform(0.8, 2.0)))
        victim = int(rng.choice(list(procs)))
        p = procs.pop(victim)
        p.send_signal(signal.SIGKILL)
        p.wait()
        killed_at[victim] = time.time()
        start()
    for victim, p in procs.items():
        p.send_signal(signal.SIGKILL)
        p.wait()
        killed_at[victim] = time.time()
    batch.send_signal(signal.SIGKILL)
    batch.wait()
    batch_log = (logs / "batch.txt").read_text().splitlines()
    assert sum(" done" in line for line in batch_log) >= 10, batch_log[-20:]  # it wrote, beside them
    for f in errs:
        f.close()
    crashed = [f.read_text() for f in logs.glob("*.err") if "Traceback" in f.read_text()]
    assert crashed == [], crashed[0][-3000:]
    edits = []
    for f in logs.glob("*.log"):
        worker = int(f.stem)
        for line in f.read_text().splitlines():
            try:
                edits.append({**json.loads(line), "worker": worker})
            except ValueError:
                pass  # the line the kill cut
    assert len(edits) > 100 and len(killed_at) >= 12
    # no two holders edit one item in turn: each claim's (token's) edits form one run
    by_key = {}
    for e in sorted(edits, key=lambda e: e["t"]):
        by_key.setdefault(e["key"], []).append(e["token"])
    for key, tokens in by_key.items():
        runs = [tok for i, tok in enumerate(tokens) if i == 0 or tok != tokens[i - 1]]
        assert len(runs) == len(set(runs)), f"{key}: two holders edited it in turn"
    # every file loads, and every edit made more than a second before its worker's kill is there
    saved = {}
    for key in by_key:
        saved[key] = session.load(out / f"{key}.json").seeds
    verdicts = set()
    for f in out.glob("*.json"):
        if f.name != "index.json":
            state = session.load(f)
            if state.status in ("reviewed", "rejected"):
                verdicts.add(state.status)
                assert int(state.provenance["reviewed_by"][1:]) % 3 == 0  # only reviewers review
    assert verdicts, "no item was reviewed"
    events = [
        e["what"]
        for f in out.glob("*.json")
        if f.name != "index.json"
        for e in session.load(f).provenance.get("events", [])
    ]
    print(
        f"team: {len(edits)} edits, {len(killed_at)} kills, {events.count('reviewed')} accepted, {events.count('rejected')} rejected, {events.count('done')} done"
    )
    lost = [e for e in edits if e["t"] < killed_at[e["worker"]] - 1.0 and saved[e["key"]][e["y"], e["x"]] == 0]
    assert lost == [], f"{len(lost)} of {len(edits)} edits lost, e.g. {lost[:3]}"


def test_provenance_who_created_edited_and_finished_each_item(tmp_path):
    import ipyseg

    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(np.full((60, 80, 3), 40 * i, np.uint8)).save(photos / f"p{i}.png")
    a = ipyseg.Annotator(photos, out=out, user="ann", method="watershed")
    a.widget.click(20, 20)
    a.mark_done()  # -> item 1
    a.close()
    b = ipyseg.Annotator(photos, out=out, user="bob", method="watershed")
    b.index = 0
    b.widget.click(40, 30)
    b.flush()
    b.close()
    doc = json.loads((out / "p0.png.json").read_text())  # readable without ipyseg
    prov = doc["provenance"]
    assert prov["created_by"] == "ann" and prov["finished_by"] == "ann" and prov["modified_by"] == "bob"
    assert [(e["by"], e["what"]) for e in prov["events"]] == [("ann", "edit"), ("ann", "done"), ("bob", "edit")]
    assert doc["status"] == "done" and prov["finished"] <= doc["modified"]
    assert doc["method"] == "watershed" and isinstance(doc["params"], dict)  # what made its labels
    assert session.load(out / "p0.png.json").provenance == prov
    # the COCO export names the annotator and status of every annotation
    c = ipyseg.Annotator(photos, out=out, user="cy", method="watershed")
    c.index = 1
    c.widget.click(30, 30)
    c.skip(advance=False)
    coco = json.loads(c.export_coco(tmp_path / "coco.json", statuses=("done", "skipped")).read_text())
    c.close()
    by_image = {im["id"]: im["file_name"] for im in coco["images"]}
    attrs = {by_image[a["image_id"]]: a["attributes"] for a in coco["annotations"]}
    assert attrs == {
        "p0.png": {"annotator": "ann", "status": "done"},
        "p1.png": {"annotator": "cy", "status": "skipped"},
    }
    from pycocotools.coco import COCO

    COCO(str(tmp_path / "coco.json"))  # still a valid COCO file


def test_coco_export_import_export_round_trip_and_import_never_replaces_work(tmp_path):
    import ipyseg

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (61, 83, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    a = ipyseg.Annotator(photos, out=tmp_path / "a", user="ann", classes=["cell", "debris"], method="watershed")
    a.widget.click(20, 20)
    a.widget.new_object()
    a.widget.click(60, 40)
    a.widget.object_classes = {2: "debris"}
    a.mark_done()
    a.widget.click(30, 30)
    a.skip()
    first = a.export_coco(tmp_path / "one.json", statuses=("done", "skipped")).read_bytes()
    a.close()
    b = ipyseg.Annotator(photos, out=tmp_path / "b", user="bob", classes=["cell", "debris"], method="watershed")
    b.index = 2
    b.widget.click(40, 30)  # bob's own work on item 2: never replaced by an import
    b.flush()
    assert b.import_coco(tmp_path / "one.json") == [0, 1]
    assert b.status[:2] == ["done", "skipped"] and b.object_classes(0) == {1: "cell", 2: "debris"}
    b.index = 0
    assert b.widget.wait(30) and np.array_equal(b.widget.labels, b.labels(0))
    again = b.export_coco(tmp_path / "two.json", statuses=("done", "skipped")).read_bytes()
    assert again == first  # export, import, export: the same file
    assert b.import_coco(tmp_path / "one.json") == []  # saved work now: nothing is replaced
    b.close()
    bad = json.loads(first)
    bad["categories"][0]["name"] = "nucleus"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    c = ipyseg.Annotator(photos, out=tmp_path / "c", classes=["cell", "debris"])
    import pytest

    with pytest.raises(ValueError, match="nucleus"):
        c.import_coco(tmp_path / "bad.json")
    c.close()
