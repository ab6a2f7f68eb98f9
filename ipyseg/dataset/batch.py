"""Batch work on a dataset's items with ``dask.distributed``: :func:`run_batch` (``Annotator.run``).

The slow per-item jobs, one Dask task per item:

``"segment"``
    Segment the item again from its saved seeds (and boxes, loaded mask) with a method or
    parameters, as the widget's final stage does; the labels, ``method`` and ``params`` are
    written back. Items without saved seeds are passed over; items whose saved labels were made
    with this method and these parameters are up to date and passed over too.
``"embed"``
    Segment-Anything's image embedding of each item (``model=``, a :class:`~ipyseg.sam.SamModel`
    with a ``cache_dir``) into the on-disk cache, so that opening the item does not wait for the
    encoder. Items whose embedding is cached are passed over.
``"propose"``
    Object proposals (:func:`ipyseg.propose`; ``proposer=`` and its parameters) as the start of
    each item with no saved work, written as its saved work (status ``"in progress"``).

Every task claims its item first (a lease, :mod:`ipyseg.dataset.leases`, as an annotator
does): an item someone has open is passed over and reported, and nobody can open it while the
task writes. Files are written atomically. A task only writes what is missing or out of date,
so a batch interrupted and started again does only what is left. Tasks run in Dask workers
(other processes, other machines sharing the folder): what they need travels as plain data
(:class:`ItemJob`); a ``SamModel`` pickles as its files and options and is opened once per
worker process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ipyseg import segmenters, session
from ipyseg.dataset.leases import ItemLeases
from ipyseg.display import as_picture
from ipyseg.seeds import exact_seeds
from ipyseg.segmentation.multiscale import Multiscale
from ipyseg.segmentation.propose import PROPOSERS, check_propose_params, propose
from ipyseg.session import SessionState

#: What :func:`run_batch` can do.
TASKS = ("segment", "embed", "propose")


@dataclass(frozen=True)
class ItemJob:
    """What a worker needs for one item (plain data: it is pickled to the worker).

    Attributes
    ----------
    key : str
        The item's key (its files are ``out/<key>.json`` ...).
    source : path, TiffPlane or ndarray
        The item's image, as :meth:`~ipyseg.dataset.sources.Items.source` gives it.
    out : str
        The output folder.
    display : dict
        The annotator's display settings (``channel_axis`` ... ``gamma``).
    user : str
        Who runs the batch: its claims and provenance events name ``"<user> (batch)"``.
    method : str
        The annotator's method (a proposal's item is saved with it).
    """

    key: str
    source: object
    out: str
    display: dict
    user: str
    method: str


@dataclass
class BatchReport:
    """What a batch did, item by item (keys).

    Attributes
    ----------
    task : str
    done : list of str
        Items written.
    passed_over : dict
        ``{key: why}``: up to date, nothing to work on, or open by someone (then named).
    failed : dict
        ``{key: error}``: the task raised (the item's files are as they were).
    seconds : float
        Wall time.
    """

    task: str
    done: list = field(default_factory=list)
    passed_over: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def held(self) -> dict:
        """``{key: holder}`` of the items passed over because someone had them open."""
        return {k: why[len("open by ") :] for k, why in self.passed_over.items() if why.startswith("open by ")}

    def add(self, key: str, outcome: str, detail: str) -> None:
        """Record one item's outcome (``"done"``, ``"passed over"`` or ``"failed"``)."""
        if outcome == "done":
            self.done.append(key)
        elif outcome == "failed":
            self.failed[key] = detail
        else:
            self.passed_over[key] = detail

    def __repr__(self) -> str:
        held = len(self.held)
        return (
            f"BatchReport({self.task!r}: {len(self.done)} done, {len(self.passed_over)} passed over "
            f"({held} open by someone), {len(self.failed)} failed, {self.seconds:.1f} s)"
        )


def jobs_for(items, chosen: list[int], out, display: dict, user: str, method: str) -> list[ItemJob]:
    """One :class:`ItemJob` per item of ``items`` (an annotator's) numbered in ``chosen``."""
    return [ItemJob(items.keys[i], items.source(i), str(out), dict(display), user, method) for i in chosen]


def check_task(task, params: dict) -> None:
    """``task`` and its parameters, checked before anything runs."""
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {list(TASKS)}; got {task!r}")
    if task == "embed":
        model = params.get("model")
        if model is None or not hasattr(model, "embed"):
            raise TypeError(f"`model` must be a SamModel for task 'embed'; got {model!r}")
        if getattr(model, "cache_dir", None) is None:
            raise ValueError("`model` must have a `cache_dir` for task 'embed' (the embeddings go there); got None")
        extra = set(params) - {"model"}
        if extra:
            raise TypeError(f"task 'embed' takes `model` only; got {sorted(extra)}")
    elif task == "segment":
        method = params.get("method")
        if method is not None:
            segmenters.get(method)  # an unknown name raises, naming the methods
            rest = {k: v for k, v in params.items() if k != "method"}
            segmenters.check_params(method, rest)
    else:
        rest = dict(params)
        proposer = rest.pop("proposer", None)
        if proposer is not None and proposer not in PROPOSERS:
            raise ValueError(f"`proposer` must be one of {sorted(PROPOSERS)} or None; got {proposer!r}")
        check_propose_params(proposer, **rest)  # values too, before any task runs


def run_job(task: str, job: ItemJob, params: dict, ttl: float = 30.0) -> tuple[str, str, str]:
    """One item's task (in a Dask worker): ``(key, outcome, detail)``, ``outcome`` one of
    ``"done"``, ``"passed over"``, ``"failed"``. Never raises for one item's trouble.
    """
    _tune_allocator()
    try:
        leases = ItemLeases(job.out, user=f"{job.user} (batch)", ttl=ttl)
    except Exception as err:  # the folder cannot be written: every item fails the same way
        return job.key, "failed", f"{type(err).__name__}: {err}"
    try:
        if not leases.claim(job.key):
            return job.key, "passed over", f"open by {leases.held_by_others(job.key) or 'another annotator'}"
        try:
            return (job.key, *_JOBS[task](job, dict(params)))
        except Exception as err:
            return job.key, "failed", f"{type(err).__name__}: {err}"
        finally:
            leases.release(job.key)
    finally:
        leases.close()


_TUNED: list = []  # once per process


def _tune_allocator() -> None:
    """In a Dask worker process, give glibc's allocator back its usual large-block thresholds.

    Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (memory goes back to the system
    sooner); glibc then stops raising its mmap threshold, so every image-sized array is a fresh
    ``mmap`` whose pages are faulted in again: a 4 MP re-segmentation took 492 ms instead of
    254 ms (one process, with and without the variable), and 2 workers were slower than one
    process. ``mallopt`` sets the thresholds glibc would reach by itself (32 MB blocks from the
    heap, 64 MB kept before trimming), on any cluster, for this worker process only. Elsewhere
    (not a worker, not glibc) nothing is done.
    """
    if _TUNED:
        return
    _TUNED.append(True)
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return  # not in a Dask worker: the process's own settings stay
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)
        libc.mallopt(M_TRIM_THRESHOLD, 64 * 2**20)
    except (OSError, AttributeError):
        pass  # not glibc


#: glibc's ``mallopt`` parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def _picture(job: ItemJob):
    return as_picture(job.source, **job.display)


def _event(job: ItemJob, what: str, **more) -> dict:
    return {"at": session.now_iso(), "by": f"{job.user} (batch)", "what": what, **more}


def _segment(job: ItemJob, params: dict) -> tuple[str, str]:
    path = Path(job.out) / (job.key + ".json")
    if not path.exists():
        return "passed over", "no saved work"
    state = session.load(path)
    if not (state.seeds >= 2).any() and not state.boxes and (state.prior is None or not state.prior.any()):
        return "passed over", "no seeds"
    method = params.pop("method", None) or state.method or segmenters.DEFAULT_METHOD
    func = segmenters.get(method)
    wanted = {**(state.params if method == state.method else {}), **params}
    wanted = segmenters.check_params(method, wanted)
    if method == state.method and _jsonable(wanted) == _jsonable(state.params) and state.labels_current:
        return "passed over", "up to date"
    img = _picture(job).segmentation_image()
    ms = Multiscale(img)  # the widget's final stage
    labels = ms.segment(func, state.seeds, state.prior, wanted, boxes=state.boxes or None).labels
    state.labels = np.asarray(labels, np.uint16).copy()
    state.labels_current = True
    state.method, state.params = method, wanted
    state.modified = session.now_iso()
    prov = dict(state.provenance)
    prov["events"] = [*(prov.get("events") or []), _event(job, "segment", method=method)][-session.MAX_EVENTS :]
    state.provenance = prov
    session.save(state, path)
    return "done", method


def _embed(job: ItemJob, params: dict) -> tuple[str, str]:
    model = params["model"]
    img = segmenters.adapt_image(segmenters.get("sam"), _picture(job).segmentation_image())
    emb = model.embed(img)
    if emb.source != "encoder":
        return "passed over", f"cached ({emb.source})"
    return "done", f"encoder {emb.seconds:.2f} s"


def _propose(job: ItemJob, params: dict) -> tuple[str, str]:
    path = Path(job.out) / (job.key + ".json")
    if path.exists():
        return "passed over", "has saved work"
    proposer = params.pop("proposer", None)
    pic = _picture(job)
    labels = propose(pic.data if proposer != "sam" else pic.segmentation_image(), proposer, **params)
    n = int(labels.max()) if labels.size else 0
    if n == 0:
        return "passed over", "nothing proposed"
    now = session.now_iso()
    state = SessionState(shape=labels.shape, seeds=exact_seeds(labels), labels=labels, method=job.method)
    state.status, state.created, state.modified = "in progress", now, now
    who = f"{job.user} (batch)"
    state.provenance = {
        "created_by": who,
        "modified_by": who,
        "status": "in progress",
        "events": [_event(job, "propose", proposer=proposer or "blobs")],
    }
    session.save(state, path)
    return "done", f"{n} objects"


_JOBS = {"segment": _segment, "embed": _embed, "propose": _propose}


def _jsonable(params: dict) -> dict:
    """The parameters a session file keeps (Python objects such as a model are not compared)."""
    out = {}
    for k, v in params.items():
        if v is None or isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif isinstance(v, (list, tuple)):
            out[k] = list(v)
    return out


def run_batch(task: str, jobs: list[ItemJob], params: dict, *, client=None, progress: bool = True) -> BatchReport:
    """Run ``task`` on every job with ``dask.distributed``; the report.

    Parameters
    ----------
    task : {"segment", "embed", "propose"}
    jobs : list of ItemJob
    params : dict
        The task's parameters (see the module docstring).
    client : distributed.Client, optional
        A client of any cluster (its workers must see the folder and the images); default: a
        ``LocalCluster`` of one single-threaded worker process per core, closed at the end.
    progress : bool
        A progress bar (tqdm: a widget in a notebook, text in a terminal).

    Returns
    -------
    BatchReport
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as err:
        raise ImportError(
            "Annotator.run needs dask.distributed: pip install 'ipyseg[dask]' (or 'dask[distributed]' tqdm)"
        ) from err
    report = BatchReport(task)
    t0 = time.perf_counter()
    own = None
    if client is None:
        cluster = LocalCluster(threads_per_worker=1, processes=True, dashboard_address=":0")
        own = client = Client(cluster)
    elif not isinstance(client, Client):
        raise TypeError(f"`client` must be a distributed.Client or None; got {type(client).__name__}")
    futures = []
    try:
        futures = client.map(run_job, [task] * len(jobs), jobs, [params] * len(jobs), pure=False)
        bar = _bar(len(jobs), task) if progress else None
        try:
            for fut in as_completed(futures):
                report.add(*fut.result())
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    except BaseException:
        client.cancel(futures)  # interrupted: what was written stays, a new run does the rest
        raise
    finally:
        if own is not None:
            cluster = own.cluster
            own.close()
            cluster.close()
    report.seconds = time.perf_counter() - t0
    return report


def _bar(total: int, task: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=f"ipyseg {task}", unit="item")
