"""Annotator.run on dask.distributed: 1,000 items (16-bit, 1-4 MP), re-segment from saved seeds and
SAM embeddings with the tiny test model; one process vs a LocalCluster of 2 workers vs a cluster
started as separate processes (dask scheduler + dask worker), all in one run.

    python -m benchmarks.batch               # 1,000 items (about 25 min on the 2-core test machine)
    python -m benchmarks.batch --items 40    # a smoke run

Images and seeds are generated (no downloads) into a temporary folder: four base images (1.0,
1.9, 3.0, 4.0 MP, uint16, a bright disc on a smooth background), each item a copy with its own
index written into its first row as bright and dark pixels (so every item has its own pixels,
also once shown, and its own embedding).
"one process" is the same per-item task (``ipyseg.dataset.batch.run_job``) called in a plain
loop in this process: no Dask at all. Every configuration starts from the same saved seeds (a
fresh copy of the output folder) and an empty embedding cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

import ipyseg
from ipyseg import session
from ipyseg.dataset.batch import ItemJob, run_job
from ipyseg.session import SessionState

SIZES = [(1000, 1000), (1200, 1600), (1500, 2000), (1728, 2304)]  # 1.0, 1.9, 3.0, 4.0 MP
REPO = Path(__file__).resolve().parents[1]


def make_dataset(root: Path, n: int) -> tuple[Path, Path]:
    photos, out = root / "photos", root / "seeds"
    photos.mkdir()
    bases = []
    for h, w in SIZES:
        yy, xx = np.mgrid[:h, :w].astype(np.float32)
        img = 1000 + 300 * np.sin(xx / 50) + 200 * np.cos(yy / 40)
        img[(yy - h // 2) ** 2 + (xx - w // 2) ** 2 < (h // 4) ** 2] += 20000
        bases.append(img.astype(np.uint16))
    for i in range(n):
        img = bases[i % len(bases)].copy()
        h, w = img.shape
        img[0, :16] = [1000 + 30000 * ((i >> b) & 1) for b in range(16)]  # its own pixels, also as shown
        key = f"item{i:04d}.tif"
        tifffile.imwrite(photos / key, img)
        seeds = np.zeros((h, w), np.uint16)
        seeds[h // 2 - 5 : h // 2 + 5, w // 2 - 40 : w // 2 + 40] = 2  # a stroke on the disc
        seeds[:4, :] = 1  # background along the top
        st = SessionState(shape=(h, w), seeds=seeds, labels=np.zeros((h, w), np.uint16), method="watershed")
        st.status, st.labels_current = "in progress", True
        session.save(st, out / f"{key}.json")
    return photos, out


def fresh(out: Path, name: str) -> Path:
    dst = out.parent / name
    shutil.copytree(out, dst)
    return dst


def tiny_model(root: Path, cache: Path):
    sys.path.insert(0, str(REPO / "tests"))
    import tiny_sam as T

    enc = root / "enc.onnx"
    dec = root / "dec.onnx"
    if not enc.exists():
        T.build_encoder(enc, size=1024)
        T.build_decoder(dec, size=1024)
    return ipyseg.sam.SamModel(enc, dec, backend="opencv", cache_dir=cache)


def one_process(photos: Path, out: Path, task: str, params: dict) -> tuple[float, int]:
    a = ipyseg.Annotator(photos, out=out, user="bench", method="watershed")
    a.index = len(a) - 1  # as with a.run: the annotator holds one item
    a.flush()
    display = a.display_settings
    jobs = [ItemJob(key, photos / key, str(out), display, "bench", "watershed") for key in a.item_keys[:-1]]
    t0 = time.perf_counter()
    done = sum(run_job(task, job, params)[1] == "done" for job in jobs)
    seconds = time.perf_counter() - t0
    a.close()
    return seconds, done


def with_client(photos: Path, out: Path, task: str, params: dict, client) -> tuple[float, int]:
    a = ipyseg.Annotator(photos, out=out, user="bench", method="watershed")
    a.index = len(a) - 1
    report = a.run(task, client=client, progress=False, **params)
    a.close()
    assert not report.failed, list(report.failed.items())[:3]
    return report.seconds, len(report.done)


def separate_cluster(root: Path, workers: int):
    from distributed import Client

    sched_file = root / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0", "--dashboard-address", ":0"]
        + ["--scheduler-file", str(sched_file)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    while not sched_file.exists():
        time.sleep(0.1)
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file)]
        + ["--nthreads", "1", "--nworkers", str(workers)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    client = Client(scheduler_file=str(sched_file), timeout=60)
    client.wait_for_workers(workers, timeout=120)
    return client, (worker, scheduler)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    root = Path(tempfile.mkdtemp(prefix="ipyseg-batch-"))
    t0 = time.perf_counter()
    photos, seeds = make_dataset(root, args.items)
    print(f"{args.items} items generated in {time.perf_counter() - t0:.0f} s ({root})", flush=True)
    n = args.items - 1
    rows = []

    def report(config, task, seconds, done):
        rows.append((config, task, seconds, done))
        print(f"{config:<34} {task:<8} {done:>5} items  {seconds:7.1f} s  {done / seconds:6.2f} items/s", flush=True)

    seg = {"method": "click_graphcut"}
    for task in ("segment", "embed"):
        k = len(rows)
        params = seg if task == "segment" else {"model": tiny_model(root, root / f"cache-{task}-1")}
        report("one process (no Dask)", task, *one_process(photos, fresh(seeds, f"o1-{task}"), task, params))
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        if task == "embed":
            params = {"model": tiny_model(root, root / f"cache-{task}-2")}
        report("LocalCluster(2 workers)", task, *with_client(photos, fresh(seeds, f"o2-{task}"), task, params, client))
        client.close()
        cluster.close()
        client, procs = separate_cluster(root, 2)
        if task == "embed":
            params = {"model": tiny_model(root, root / f"cache-{task}-3")}
        try:
            out = fresh(seeds, f"o3-{task}")
            report("dask scheduler + dask worker (2)", task, *with_client(photos, out, task, params, client))
        finally:
            client.close()
            for p in procs:
                p.terminate()
                p.wait(30)
        base = rows[k][2]
        print(
            f"  {task}: speed-up LocalCluster(2) {base / rows[k + 1][2]:.2f}x, separate processes "
            f"{base / rows[k + 2][2]:.2f}x (items each: {n})",
            flush=True,
        )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
