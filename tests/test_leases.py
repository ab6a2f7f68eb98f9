"""Per-item leases (issue 19): claim, heartbeat, takeover judged by the observer's own clock,
compare-and-swap by rename, and several processes with kill -9 never holding one item twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ipyseg.dataset.leases import LEASE_DIR, ItemLeases, default_user

REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_claim_release_and_the_lease_file(tmp_path):
    a = ItemLeases(tmp_path, user="ann", heartbeat=False)
    assert a.claim("img/01.png#0003") and a.claim("img/01.png#0003")  # twice: still one lease
    path = a.path("img/01.png#0003")
    assert path.parent == tmp_path / LEASE_DIR and path.name.endswith(".lease") and "/" not in path.name
    info = json.loads(path.read_text())
    assert info["user"] == "ann" and info["pid"] == os.getpid() and info["format"] == "ipyseg-lease"
    assert a.held == ["img/01.png#0003"] and a.holder("img/01.png#0003").user == "ann"
    assert a.held_by_others("img/01.png#0003") is None
    a.release("img/01.png#0003")
    assert not path.exists() and a.held == [] and a.holder("img/01.png#0003") is None
    assert not list((tmp_path / LEASE_DIR).iterdir())  # no temporary file left behind
    assert isinstance(default_user(), str) and default_user()


def test_a_live_lease_is_refused_and_a_silent_one_taken_over_after_ttl_of_the_observers_clock(tmp_path):
    ca, cb = FakeClock(), FakeClock()
    cb.t = -5e6  # another machine's clock: nothing is compared across clocks
    a = ItemLeases(tmp_path, user="ann", ttl=10, heartbeat=False, clock=ca)
    b = ItemLeases(tmp_path, user="bob", ttl=10, heartbeat=False, clock=cb)
    assert a.claim("k")
    assert not b.claim("k") and str(b.held_by_others("k")).startswith("ann (")
    cb.t += 8
    a.beat()  # a is alive: its bytes change
    cb.t += 8
    assert not b.claim("k")  # 16 s since b first looked, but only 8 s since the bytes changed
    cb.t += 10.5
    assert b.claim("k")  # silent for more than ttl by b's clock: taken over
    assert b.holder("k").user == "bob"
    assert a.beat() == ["k"] and a.lost("k") and not a.check("k") and a.held == []
    assert b.check("k")
    a.release("k")  # a lost it: releasing leaves b's lease alone
    assert b.check("k")


def test_a_lease_written_with_a_far_off_clock_is_not_expired(tmp_path):
    b = ItemLeases(tmp_path, user="bob", ttl=10, heartbeat=False, clock=FakeClock())
    path = b.path("k")
    info = {
        "user": "ann",
        "host": "another-host",
        "pid": 1,
        "token": "x",
        "beat": 0,
        "since": "1970-01-01T00:00:00+00:00",
        "ttl_seconds": 10,
    }
    path.write_text(json.dumps(info))
    assert not b.claim("k") and b.holder("k").host == "another-host"


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    p = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead = int(p.stdout)
    b = ItemLeases(tmp_path, user="bob", heartbeat=False)
    import socket

    b.path("k").write_text(json.dumps({"user": "ann", "host": socket.gethostname(), "pid": dead, "token": "x"}))
    assert b.claim("k") and b.holder("k").user == "bob"


def test_heartbeat_thread_keeps_the_lease_and_close_stops_it(tmp_path):
    a = ItemLeases(tmp_path, user="ann", ttl=0.5)
    b = ItemLeases(tmp_path, user="bob", ttl=0.5, heartbeat=False)
    assert a.claim("k")
    lease, first = a.path("k").read_bytes(), a.beat_path("k").read_bytes()
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert not b.claim("k")
        time.sleep(0.05)
    # the lease file stays as it was (never absent); its beat file is rewritten
    assert a.path("k").read_bytes() == lease and a.beat_path("k").read_bytes() != first and a.check("k")
    a.close()
    assert not a._thread.is_alive() and not a.path("k").exists() and not a.beat_path("k").exists()
    assert b.claim("k")


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "10", True])
def test_bad_ttl_and_user_are_named(tmp_path, bad):
    with pytest.raises(ValueError, match="`ttl`"):
        ItemLeases(tmp_path, ttl=bad, heartbeat=False)
    with pytest.raises(ValueError, match="`user`"):
        ItemLeases(tmp_path, user="  ", heartbeat=False)


WORKER = r"""
import os, random, sys, time
sys.path.insert(0, {repo!r})
from ipyseg.dataset.leases import ItemLeases
out, journal, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
leases = ItemLeases(out, user=f"w{{seed}}", ttl={ttl})
keys = [f"item{{i:02d}}" for i in range({keys})]
with open(journal, "a", buffering=1) as log:
    while True:
        key = rng.choice(keys)
        if not leases.claim(key):
            time.sleep(rng.uniform(0, 0.01))
            continue
        token = leases._held[key].token
        for _ in range(rng.randint(1, 5)):  # edits: each saved only after the lease is checked
            time.sleep(rng.uniform(0, 0.03))
            if not leases.check(key):  # a live holder's lease taken over: must never happen here
                log.write(f"LOST {{key}} {{token}} {{time.time():.6f}}\n")
                break
            log.write(f"{{key}} {{token}} {{time.time():.6f}}\n")
        leases.release(key)
"""


def test_processes_racing_with_kill_9_never_edit_one_item_at_once(tmp_path):
    out, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(repo=str(REPO), ttl=3.0, keys=6))
    rng = np.random.default_rng(19)
    procs, seed, kills = {}, 0, 0

    def start():
        nonlocal seed
        seed += 1
        procs[seed] = subprocess.Popen([sys.executable, str(script), str(out), str(logs / f"{seed}.log"), str(seed)])

    for _ in range(6):
        start()
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        time.sleep(float(rng.uniform(0.2, 0.8)))
        victim = procs.pop(int(rng.choice(list(procs))))
        victim.send_signal(signal.SIGKILL)  # kill -9, leases and temporaries left behind
        victim.wait()
        kills += 1
        start()
    for p in procs.values():
        p.send_signal(signal.SIGKILL)
    for p in procs.values():
        p.wait()
    edits, lost = [], []
    for f in logs.iterdir():
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == "LOST":
                lost.append(line)
            elif len(parts) == 3:  # a line cut by the kill is not an edit
                edits.append((float(parts[2]), parts[0], parts[1]))
    assert lost == []  # live holders (heartbeat every ttl / 4) never lose an item
    edits.sort()
    assert kills >= 10 and len(edits) > 200
    # per item, each holder's (token's) edits form one run: no two holders edit it in turn
    by_key = {}
    for _t, key, token in edits:
        by_key.setdefault(key, []).append(token)
    for key, tokens in by_key.items():
        runs = [tok for i, tok in enumerate(tokens) if i == 0 or tok != tokens[i - 1]]
        assert len(runs) == len(set(runs)), f"{key}: holders interleaved"
    assert len(by_key) == 6 and len({tok for _, _, tok in edits}) > 20
    for f in (out / LEASE_DIR).glob("*.lease"):
        json.loads(f.read_text())  # every lease left by a kill is whole


def test_stray_temporaries_of_live_writers_are_kept(tmp_path):
    from ipyseg._util.files import TMP_MARK, remove_stray_temporaries, temp_tag

    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(p.stdout)
    live = tmp_path / f".a.json{TMP_MARK}{temp_tag()}-1"  # this process: another annotator writing now
    gone = tmp_path / f".b.json{TMP_MARK}{temp_tag().rsplit('-', 1)[0]}-{dead}-1"  # killed mid-write
    other = tmp_path / f".c.json{TMP_MARK}0badc0de-{os.getpid()}-1"  # another host's writer
    old = tmp_path / f".d.json{TMP_MARK}0badc0de-1-1"
    for f in (live, gone, other, old):
        f.write_text("x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert remove_stray_temporaries(tmp_path) == 2
    assert live.exists() and other.exists() and not gone.exists() and not old.exists()


def test_seeded_fuzz_of_claims_beats_and_releases_keeps_one_holder(tmp_path):
    """Random claim / check / beat / release / clock jumps over 4 annotators and 3 items (fake
    clocks, no threads): whenever one believes it holds an item (``check``), nobody else does,
    and an item is taken over only after its holder was silent for ttl on the taker's clock."""
    rng = np.random.default_rng(2026)
    clocks = [FakeClock() for _ in range(4)]
    ann = [ItemLeases(tmp_path, user=f"u{n}", ttl=10, heartbeat=False, clock=clocks[n]) for n in range(4)]
    keys = ["a", "b", "c"]
    beats = {}  # (annotator, key) -> how often it claimed or renewed that item (its visible changes)
    watch = {}  # (observer, key) -> (holder, its beats, observer's clock) when the observer saw that state first
    for _step in range(3000):
        n, key = int(rng.integers(4)), str(rng.choice(keys))
        op = rng.random()
        if op < 0.35:
            holder = next((m for m in range(4) if m != n and ann[m].check(key)), None)
            if holder is not None:
                seen = (holder, beats.get((holder, key), 0))
                if watch.get((n, key), (None, None))[:2] != seen:
                    watch[(n, key)] = (*seen, clocks[n].t)
            had = ann[n].check(key)
            if ann[n].claim(key) and not had:  # a new claim (holding it already changes nothing)
                if holder is not None:  # a takeover: the holder was silent for ttl on the taker's clock
                    assert watch[(n, key)][:2] == (holder, beats.get((holder, key), 0))
                    assert clocks[n].t - watch[(n, key)][2] > 10
                    assert not ann[holder].check(key)
                beats[(n, key)] = beats.get((n, key), 0) + 1
        elif op < 0.55:
            for k in ann[n].held:
                beats[(n, k)] = beats.get((n, k), 0) + 1
            ann[n].beat()
        elif op < 0.7:
            ann[n].release(key)
        else:
            clocks[n].t += float(rng.uniform(0, 6))  # time passes for one observer only
        holders = [m for m in range(4) if ann[m].check(key)]
        assert len(holders) <= 1, (key, holders)
        for f in (tmp_path / LEASE_DIR).glob("*.lease"):
            json.loads(f.read_text())
    assert not [f for f in (tmp_path / LEASE_DIR).iterdir() if ".ipyseg-tmp-" in f.name]
