"""Review: mode="review" walks everyone's done items; accept / reject (with a comment); rejected
items go back to whoever finished them, first."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import ipyseg
from ipyseg.dataset.records import ItemRecords
from ipyseg.dataset.walks import ItemWalk


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(5):
        Image.fromarray(np.full((50, 70, 3), 30 * i, np.uint8)).save(d / f"p{i}.png")
    return d


def annotate(photos, out, user, mode="annotate"):
    return ipyseg.Annotator(photos, out=out, user=user, mode=mode, method="watershed")


def test_review_accept_reject_and_rejected_items_go_back_to_their_annotator_first(photos, tmp_path):
    out = tmp_path / "out"
    a = annotate(photos, out, "ann")
    for _ in range(3):  # ann finishes 0, 1, 2; 3 and 4 stay untouched
        a.widget.click(20, 20)
        a.mark_done()
    assert a.index == 3
    a.close()

    r = annotate(photos, out, "rev", mode="review")
    assert r.mode == "review" and r.index == 0  # the first done item
    assert set(r.buttons) == {"previous", "next", "accept", "reject"}
    r.accept()
    assert r.index == 1 and r.status[0] == "reviewed"
    with pytest.raises(ValueError, match="`comment`"):
        r.reject("  ")
    r.header.comment.value = "the tail is missing"
    r.buttons["reject"].click()  # the header's button rejects with its comment
    assert r.status[1] == "rejected" and r.index == 2 and r.header.comment.value == ""
    r.next()
    assert r.index == 2  # a reviewer's arrows stay on finished items (3 and 4 are not)
    r.previous()
    assert r.index == 1
    r.index = 3
    with pytest.raises(ValueError, match="only a finished item"):
        r.accept()
    r.index = 2
    r.accept()
    assert r.index == 2 and "nothing is waiting for review" in r.header.message.value
    assert "2 reviewed" in r.header.title.value and "1 rejected" in r.header.title.value
    assert r.progress == (2, 5)  # reviewed items count as done
    r.close()

    doc = json.loads((out / "p1.png.json").read_text())  # readable without ipyseg
    prov = doc["provenance"]
    assert doc["status"] == "rejected"
    assert prov["finished_by"] == "ann" and prov["modified_by"] == "ann"  # a verdict is no edit
    assert prov["reviewed_by"] == "rev" and prov["comment"] == "the tail is missing"
    assert prov["events"][-1] == {
        "at": prov["reviewed"],
        "by": "rev",
        "what": "rejected",
        "comment": "the tail is missing",
    }
    assert json.loads((out / "p0.png.json").read_text())["provenance"]["reviewed_by"] == "rev"

    # someone else is given the untouched items first; the rejected one waits for ann
    c = annotate(photos, out, "cy")
    assert c.index == 3
    c.widget.click(20, 20)
    c.mark_done()
    assert c.index == 4
    c.close()
    a = annotate(photos, out, "ann")
    assert a.index == 1 and a.status[1] == "rejected"
    assert "rejected by rev: the tail is missing" in a.header.message.value
    a.widget.click(40, 30)  # the fix
    a.mark_done()
    assert a.index == 4  # then the work that is left
    a.close()

    r = annotate(photos, out, "rev", mode="review")
    assert r.index == 1  # done again: waiting for review again (3 too)
    r.accept()
    assert r.index == 3
    r.close()


def test_review_keys(photos, tmp_path):
    from conftest import send

    out = tmp_path / "out"
    a = annotate(photos, out, "ann")
    for _ in range(2):
        a.widget.click(20, 20)
        a.mark_done()
    a.close()
    r = annotate(photos, out, "rev", mode="review")

    def press(key):
        send(r.widget, "key_down", key=key, shift_key=False, ctrl_key=False, meta_key=False)

    press("a")
    assert r.status[0] == "reviewed" and r.index == 1
    press("x")  # no comment typed: refused, shown in the header
    assert r.status[1] == "done"
    r.header.comment.value = "too coarse"
    press("x")
    assert r.status[1] == "rejected"
    r.close()


def test_mode_is_checked(photos, tmp_path):
    with pytest.raises(ValueError, match=r"`mode` must be one of \['annotate', 'review'\]; got 'reviewer'"):
        annotate(photos, tmp_path / "out", "x", mode="reviewer")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))


def test_walk_order(tmp_path):
    records = ItemRecords(tmp_path, [f"k{i}" for i in range(6)], ["object"])
    states = ["done", "rejected", "untouched", "rejected", "in progress", "skipped"]
    for rec, st, by in zip(records, states, ["ann", "ann", None, "bob", "ann", "ann"], strict=True):
        rec.status, rec.finished_by = st, by
    assert ItemWalk(records, "annotate", "ann").order() == [1, 2, 4, 3]
    assert ItemWalk(records, "annotate", "bob").order(after=1) == [3, 2, 4, 1]
    assert ItemWalk(records, "review", "rev").order() == [0]
    assert ItemWalk(records, "review", "rev").steps(5, -1) == [3, 1, 0]
    records[2].unreadable = "broken"
    assert ItemWalk(records, "annotate", "cy").order() == [4, 1, 3]
    assert not ItemWalk(records, "review", "rev").finished()


def test_records_refresh_reads_what_others_saved_and_costs_nothing_otherwise(tmp_path, monkeypatch):
    import os

    from ipyseg.dataset import records as R

    keys = [f"k{i}" for i in range(4)]
    (tmp_path / "k1.json").write_text(json.dumps({"status": "done", "provenance": {"finished_by": "ann"}}))
    recs = ItemRecords(tmp_path, keys, ["object"])
    assert recs[1].status == "done" and recs[1].finished_by == "ann"
    scans = []
    real = R.scan_jsons
    monkeypatch.setattr(R, "scan_jsons", lambda out, folders=None: scans.append(1) or real(out, folders))
    assert recs.refresh() is False and scans == []  # no folder changed: no scan
    tmp = tmp_path / "x.tmp"  # another annotator saves item 2 (atomically: a rename into the folder)
    tmp.write_text(json.dumps({"status": "rejected", "provenance": {"finished_by": "bob"}}))
    os.replace(tmp, tmp_path / "k2.json")
    assert recs.refresh(skip=0) is True and scans == [1]
    assert recs[2].status == "rejected" and recs[2].finished_by == "bob"
    monkeypatch.setattr(R, "RESCAN_AFTER", 0.0)  # a coarse folder time: scanned again after a while
    assert recs.refresh() is False and scans == [1, 1]


def test_walk_next_is_the_first_of_its_order(tmp_path):
    """next() takes one pass (it runs on every "next"); a seeded comparison with order()."""
    import random

    rng = random.Random(1)
    statuses = ["untouched", "in progress", "done", "skipped", "reviewed", "rejected"]
    for _ in range(300):
        n = rng.randint(1, 12)
        records = ItemRecords(tmp_path, [f"k{i}" for i in range(n)], ["object"])
        for rec in records:
            rec.status, rec.finished_by = rng.choice(statuses), rng.choice(["ann", "bob", None])
            rec.unreadable = rng.choice([None, None, "broken"])
        for mode in ("annotate", "review"):
            walk = ItemWalk(records, mode, "ann")
            for after in range(n):
                assert walk.next(after) == next((i for i in walk.order(after) if i != after), None)
