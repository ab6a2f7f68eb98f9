"""Robot-user NoC benchmark (the RITM / f-BRS / SimpleClick protocol) for ipyseg methods.

A simulated user clicks at the centre of the largest error region, one disk of radius 5 per
click, until the IoU reaches 0.90 or 20 clicks were made. We report NoC@85 / NoC@90 (mean
number of clicks to reach the IoU, 20 when never reached), how many instances never reached 0.90
(">=20"), the mean IoU after 1, 3 and 5 clicks (an instance that stopped keeps its last IoU) and
the median seconds per ``ipyseg.segment`` call.

    PYTHONPATH=$PWD python benchmarks/noc.py --methods all --datasets grabcut berkeley \
        --json benchmarks/results/noc.json --plot docs/noc_curves.png

``--protocol box`` first draws the object's tight ground-truth bounding box, exactly as the
widget's box tool applies it (:func:`ipyseg.segmentation.run.box_inputs`: unmarked pixels outside the box
become background seeds, the box is the object's prior), records the IoU of the box alone
("IoU@0") and then runs the same robot clicks; NoC counts the clicks after the box (0 when the
box alone reaches the IoU).

``--limit N`` runs only the first N instances of each set (quick iteration). Results written
with ``--json`` are merged into the file (one entry per method and set), and ``--plot`` draws
every entry of that file. Data are read from ``../shared/datasets`` (never copied here).

Segment-Anything weights you have (ONNX exports, see the README's "SAM" section)::

    PYTHONPATH=$PWD python benchmarks/noc.py --method sam --encoder enc.onnx --decoder dec.onnx \
        [--backend onnxruntime] [--sam-option normalize=minmax]

Each click disk of the robot is one point prompt (its centre), the previous mask's logits are
fed back (SAM's interactive protocol). The model is loaded once per worker process.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread per worker process
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import ast  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ipyseg  # noqa: E402
from ipyseg import BACKGROUND, FOREGROUND  # noqa: E402
from ipyseg.segmentation.run import box_inputs  # noqa: E402

DATA = ROOT / ".." / "shared" / "datasets"
MAX_CLICKS = 20
STOP_IOU = 0.90
RADIUS = 5
REPORT_AT = (1, 3, 5)


# --------------------------------------------------------------------------- data


def list_instances(dataset: str, data: Path = DATA) -> list[tuple[str, Path, Path]]:
    """``(stem, image path, mask path)`` for every instance of ``dataset``, sorted by stem."""
    data = Path(data)
    if dataset == "grabcut":
        images, masks = data / "GrabCut" / "data_GT", data / "GrabCut" / "boundary_GT"
    elif dataset == "berkeley":
        images, masks = data / "Berkeley" / "images", data / "Berkeley" / "masks"
    else:
        raise ValueError(f"`dataset` must be 'grabcut' or 'berkeley'; got {dataset!r}")
    if not images.is_dir():
        raise FileNotFoundError(f"`data`: no folder '{images}' (pass --data)")
    by_stem = {p.stem: p for p in masks.iterdir() if p.is_file()}
    out = [(p.stem, p, by_stem[p.stem]) for p in sorted(images.iterdir()) if p.stem in by_stem]
    return sorted(out)


def load_instance(dataset: str, image_path: Path, mask_path: Path):
    """Return ``(image, gt, valid)``: (H, W, 3) uint8 RGB, (H, W) bool object, (H, W) bool valid."""
    image = ipyseg._validation.as_image(image_path)[:, :, :3]
    mask = ipyseg._validation.read_image_file(mask_path, "mask")
    if mask.ndim == 3:
        mask = mask[:, :, 0]
    if dataset == "grabcut":
        gt, valid = mask == 255, mask != 128
    else:
        gt, valid = mask > 128, np.ones(mask.shape, bool)
    if gt.shape != image.shape[:2]:
        raise ValueError(f"mask {mask_path.name} has shape {gt.shape}; image has {image.shape[:2]}")
    return image, gt, valid


# --------------------------------------------------------------------------- protocol


def iou(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool masks, over ``valid`` pixels only."""
    union = ((pred | gt) & valid).sum()
    return float((pred & gt & valid).sum() / union) if union else 1.0


def _padded_dt(region: np.ndarray) -> np.ndarray:
    """L2 distance to the nearest pixel outside ``region``, the image border counting as outside."""
    padded = np.pad(region, 1, constant_values=False).astype(np.uint8)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 0)[1:-1, 1:-1]


def next_click(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, clicked: np.ndarray):
    """The robot user's next click.

    Parameters
    ----------
    pred, gt, valid, clicked : (H, W) ndarray of bool
        Current prediction, ground truth, pixels that count, pixels already clicked.

    Returns
    -------
    (row, col, positive) or None
        ``positive`` is True for a foreground click. ``None`` when no error pixel is left
        unclicked.
    """
    fn = _padded_dt(gt & ~pred & valid)
    fp = _padded_dt(~gt & pred & valid)
    fn[clicked] = 0
    fp[clicked] = 0
    fn_max, fp_max = float(fn.max()), float(fp.max())
    if fn_max == 0 and fp_max == 0:
        return None
    positive = fn_max > fp_max  # ties go negative
    dist = fn if positive else fp
    row, col = np.unravel_index(int(np.argmax(dist)), dist.shape)  # first row-major maximum
    return int(row), int(col), positive


def add_disk(seeds: np.ndarray, row: int, col: int, code: int, radius: int = RADIUS) -> None:
    """Paint a filled disk of ``code`` (in place) centred on (row, col)."""
    cv2.circle(seeds, (col, row), radius, int(code), thickness=-1)


def gt_box(gt: np.ndarray) -> tuple[int, int, int, int]:
    """Tight bounding box of the ground truth as an image window ``(r0, r1, c0, c1)`` (no margin).

    As in the box evaluations of RITM-style and SAM-style benchmarks: the smallest rectangle
    holding every object pixel, so the object touches all four sides.
    """
    rows, cols = np.flatnonzero(gt.any(axis=1)), np.flatnonzero(gt.any(axis=0))
    if rows.size == 0:
        raise ValueError("`gt` must hold at least one object pixel; got none")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def run_robot(
    image,
    gt,
    valid,
    method=None,
    *,
    params=None,
    max_clicks=MAX_CLICKS,
    stop_iou=STOP_IOU,
    radius=RADIUS,
    fast=False,
    box=None,
):
    """Run the robot user on one instance.

    ``fast=True`` segments through the widget's coarse-to-fine path
    (:func:`ipyseg.segmentation.multiscale.segment_fast`, one pyramid reused across the clicks, as the widget
    does) instead of the full-resolution :func:`ipyseg.segment`.

    ``box`` (an image window ``(r0, r1, c0, c1)``, e.g. :func:`gt_box`) is drawn before the
    first click and segmented on its own; it stays in force during the clicks. It reaches the
    method as the widget's box tool sends it (:func:`ipyseg.segmentation.run.box_inputs`): a box
    prompt for ``sam``, else GrabCut's rectangle (unmarked pixels outside the box become
    background seeds, the box the object's prior).

    Returns
    -------
    dict
        ``ious`` (one per click made), ``seconds`` (wall) and ``cpu_seconds`` (this process's CPU
        time, which a loaded machine does not inflate) per segmentation, ``clicks``
        (row, col, positive). With a box, also ``iou_box`` (the IoU of the box alone), and the
        timings start with the box's segmentation.
    """
    seeds = np.zeros(gt.shape, np.uint8)  # the clicks only; the box is applied on top
    pred = np.zeros(gt.shape, bool)
    boxes = {} if box is None else {FOREGROUND: tuple(int(v) for v in box)}
    ious, seconds, cpu, clicks = [], [], [], []
    func = ipyseg.segmenters.get(method)
    if fast:
        from ipyseg.segmentation.multiscale import Multiscale

        cache = Multiscale(image)  # the widget's final stage, one pyramid reused across clicks

        def segment(seeds, prior, windows):
            return cache.segment(func, seeds, prior, params or {}, boxes=windows).labels
    else:

        def segment(seeds, prior, windows):
            corners = None if not windows else {k: (c0, r0, c1 - 1, r1 - 1) for k, (r0, r1, c0, c1) in windows.items()}
            return ipyseg.segment(image, seeds, method=method, prior=prior, boxes=corners, **(params or {}))

    def run():
        request, prior, windows = box_inputs(func, seeds.copy(), None, boxes)  # as the widget decides
        t0, c0 = time.perf_counter(), time.process_time()
        labels = segment(request, prior, windows)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        return labels > 0

    out = {}
    if box is not None:
        pred = run()
        out["iou_box"] = iou(pred, gt, valid)
    for _ in range(max_clicks):
        if out.get("iou_box", 0.0) >= stop_iou:
            break
        click = next_click(pred, gt, valid, seeds > 0)
        if click is None:
            break
        row, col, positive = click
        add_disk(seeds, row, col, FOREGROUND if positive else BACKGROUND, radius)
        pred = run()
        ious.append(iou(pred, gt, valid))
        clicks.append(click)
        if ious[-1] >= stop_iou:
            break
    return {**out, "ious": ious, "seconds": seconds, "cpu_seconds": cpu, "clicks": clicks}


def noc(ious: list[float], threshold: float, max_clicks: int = MAX_CLICKS, iou_box: float | None = None) -> int:
    """First click count whose IoU reaches ``threshold``, else ``max_clicks``.

    With ``iou_box`` (box protocol) the count is 0 when the box alone reaches ``threshold``.
    """
    if iou_box is not None and iou_box >= threshold:
        return 0
    for k, value in enumerate(ious, start=1):
        if value >= threshold:
            return k
    return max_clicks


def iou_curve(ious: list[float], max_clicks: int = MAX_CLICKS, iou_box: float | None = None) -> list[float]:
    """IoU after 1..max_clicks clicks; an instance that stopped keeps its last IoU.

    With ``iou_box`` the curve starts with it (IoU after 0..max_clicks clicks, ``max_clicks + 1``
    values).
    """
    start = [] if iou_box is None else [iou_box]
    values = start + list(ious)
    size = len(start) + max_clicks
    if not values:
        return [0.0] * size
    return values + [values[-1]] * (size - len(values))


def summarize(results: list[dict]) -> dict:
    """NoC@85, NoC@90, count >= 20, IoU@1/3/5 (and IoU@0 = box) and the median s/click over instances."""
    box = all("iou_box" in r for r in results) and bool(results)
    curves = np.array([iou_curve(r["ious"], iou_box=r.get("iou_box")) for r in results])
    offset = 0 if box else 1  # curve index of k clicks
    seconds = [s for r in results for s in r["seconds"]]
    cpu = [s for r in results for s in r["cpu_seconds"]]
    best = [max([r.get("iou_box", 0.0), *r["ious"]]) for r in results]
    return {
        "instances": len(results),
        "protocol": "box" if box else "click",
        "noc85": float(np.mean([noc(r["ious"], 0.85, iou_box=r.get("iou_box")) for r in results])),
        "noc90": float(np.mean([noc(r["ious"], 0.90, iou_box=r.get("iou_box")) for r in results])),
        "fail90": int(sum(b < 0.90 for b in best)),
        **({"iou@0": float(curves[:, 0].mean())} if box else {}),
        **{f"iou@{k}": float(curves[:, k - offset].mean()) for k in REPORT_AT},
        "median_s": float(np.median(seconds)) if seconds else float("nan"),
        "median_cpu_s": float(np.median(cpu)) if cpu else float("nan"),
        "curve": curves.mean(axis=0).tolist(),
    }


# --------------------------------------------------------------------------- driver


def _init_worker():
    cv2.setNumThreads(1)


def scale_instance(image, gt, valid, scale: float):
    """Upscale an instance (bicubic photo, nearest masks), as a stand-in for a camera photo."""
    h, w = gt.shape
    size = (int(round(w * scale)), int(round(h * scale)))
    near = cv2.INTER_NEAREST
    return (
        cv2.resize(image, size, interpolation=cv2.INTER_CUBIC),
        cv2.resize(gt.astype(np.uint8), size, interpolation=near).astype(bool),
        cv2.resize(valid.astype(np.uint8), size, interpolation=near).astype(bool),
    )


_SAM_MODELS: dict = {}


def sam_model(spec: dict):
    """A :class:`ipyseg.sam.SamModel` for ``spec`` (``encoder``, ``decoder`` and options), one per process."""
    key = json.dumps(spec, sort_keys=True)
    if key not in _SAM_MODELS:
        from ipyseg.sam import SamModel

        opts = {k: v for k, v in spec.items() if k not in ("encoder", "decoder")}
        _SAM_MODELS[key] = SamModel(spec["encoder"], spec["decoder"], **opts)
    return _SAM_MODELS[key]


def _run_one(job):
    dataset, stem, image_path, mask_path, method, params, scale, fast, protocol = job
    if isinstance(params, dict) and isinstance(params.get("model"), dict):  # a SamModel spec
        params = {**params, "model": sam_model(params["model"])}
    image, gt, valid = load_instance(dataset, Path(image_path), Path(mask_path))
    if scale != 1:
        image, gt, valid = scale_instance(image, gt, valid, scale)
    box = gt_box(gt) if protocol == "box" else None
    out = run_robot(image, gt, valid, method, params=params, radius=int(round(RADIUS * scale)), fast=fast, box=box)
    if box is not None:
        out["box"] = list(box)
    out["name"] = stem
    out["pixels"] = int(gt.size)
    return out


def run_benchmark(
    method, dataset, *, data=DATA, limit=None, workers=2, params=None, scale=1.0, fast=False, protocol="click"
) -> dict:
    """Run ``method`` on every instance of ``dataset``; returns the summary plus per-instance results.

    ``scale`` upscales every instance (and the click radius); ``fast`` uses the widget's
    coarse-to-fine path (see :func:`run_robot`); ``protocol`` is ``"click"`` or ``"box"`` (the
    tight ground-truth box first, see :func:`gt_box`).
    """
    if protocol not in ("click", "box"):
        raise ValueError(f"`protocol` must be 'click' or 'box'; got {protocol!r}")
    instances = list_instances(dataset, data)[:limit]
    jobs = [(dataset, s, str(i), str(m), method, params, scale, fast, protocol) for s, i, m in instances]
    if workers > 1:
        with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
            results = pool.map(_run_one, jobs, chunksize=1)
    else:
        results = [_run_one(j) for j in jobs]
    summary = summarize(results)
    keys = ("name", "pixels", "box", "iou_box", "ious", "seconds", "cpu_seconds")
    summary["per_instance"] = [{k: r[k] for k in keys if k in r} for r in results]
    return summary


def environment() -> dict:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
    }


def format_table(rows: list[tuple[str, str, dict]]) -> str:
    """A markdown table of summaries; an ``IoU box`` column when any row ran the box protocol."""
    box = any("iou@0" in s for _, _, s in rows)
    head = "| method | set | n | " + ("IoU box | " if box else "")
    head += "NoC@85 | NoC@90 | ≥20 | IoU@1 | IoU@3 | IoU@5 | s/click (CPU) | s/click (wall) |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for method, dataset, s in rows:
        first = (f"{s['iou@0']:.3f} | " if "iou@0" in s else "– | ") if box else ""
        lines.append(
            f"| `{method}` | {dataset} | {s['instances']} | {first}{s['noc85']:.2f} | {s['noc90']:.2f} | "
            f"{s['fail90']} | {s['iou@1']:.3f} | {s['iou@3']:.3f} | {s['iou@5']:.3f} | {s['median_cpu_s']:.3f} | "
            f"{s['median_s']:.3f} |"
        )
    return "\n".join(lines)


def _merge_json(path: Path, name: str, dataset: str, summary: dict) -> None:
    store = json.loads(path.read_text()) if path.is_file() else {"results": {}}
    store["environment"] = environment()
    store["results"][f"{name}/{dataset}"] = {"method": name, "dataset": dataset, **summary}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(store, separators=(",", ":")))
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods", "--method", nargs="+", default=[None], help="method names, or 'all' (default: the default method)"
    )
    parser.add_argument("--datasets", nargs="+", default=["grabcut", "berkeley"], choices=["grabcut", "berkeley"])
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding GrabCut/ and Berkeley/")
    parser.add_argument("--limit", type=int, default=None, help="only the first N instances of each set")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="method parameter")
    parser.add_argument("--json", type=Path, default=None, help="merge results into this JSON file")
    parser.add_argument("--plot", type=Path, default=None, help="draw IoU-vs-clicks curves of the JSON file's entries")
    parser.add_argument("--scale", type=float, default=1.0, help="upscale the photos (and click radius) by this factor")
    parser.add_argument(
        "--compare-fast", action="store_true", help="run each method twice: full resolution and the widget's fast path"
    )
    parser.add_argument("--encoder", type=Path, help="method sam: the ONNX image encoder")
    parser.add_argument("--decoder", type=Path, help="method sam: the ONNX prompt decoder")
    parser.add_argument("--backend", default="auto", help="method sam: auto, opencv or onnxruntime")
    parser.add_argument(
        "--sam-option", action="append", default=[], metavar="NAME=VALUE", help="method sam: SamModel option"
    )
    parser.add_argument(
        "--protocol",
        choices=["click", "box"],
        default="click",
        help="'box': the tight ground-truth box first (as the widget's box tool), then the clicks",
    )
    args = parser.parse_args(argv)

    methods = ipyseg.methods() if args.methods == ["all"] else args.methods
    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.param)}
    if "sam" in methods:
        if args.encoder is None or args.decoder is None:
            parser.error("--method sam needs --encoder and --decoder")
        spec = {"encoder": str(args.encoder), "decoder": str(args.decoder), "backend": args.backend}
        if args.workers > 1:
            spec["threads"] = 1  # one runtime thread per worker process
        for opt in args.sam_option:
            name, value = opt.split("=", 1)
            try:
                spec[name] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                spec[name] = value
        sam_model(spec)  # fail early on a wrong file
        sam_params = {"model": spec}
    else:
        sam_params = {}
    rows = []
    for method in methods:
        for fast in (False, True) if args.compare_fast else (False,):
            name = (method or ipyseg.segmenters.DEFAULT_METHOD) + (" (fast path)" if fast else "")
            if args.scale != 1:
                name += f" x{args.scale:g}"
            if args.protocol == "box":
                name += " [box]"
            for dataset in args.datasets:
                t0 = time.perf_counter()
                summary = run_benchmark(
                    method,
                    dataset,
                    data=args.data,
                    limit=args.limit,
                    workers=args.workers,
                    params={**params, **(sam_params if method == "sam" else {})},
                    scale=args.scale,
                    fast=fast,
                    protocol=args.protocol,
                )
                print(f"{name} on {dataset}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
                rows.append((name, dataset, summary))
                if args.json is not None:  # after every set, so that a long run keeps what it measured
                    _merge_json(args.json, name, dataset, summary)
    print(format_table(rows))

    if args.plot is not None:
        from benchmarks.noc_plot import plot_curves

        entries = (
            json.loads(args.json.read_text())["results"].values()
            if args.json
            else [{"method": n, "dataset": d, **s} for n, d, s in rows]
        )
        plot_curves(list(entries), args.plot)


if __name__ == "__main__":
    main()
