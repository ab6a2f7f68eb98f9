"""Widget lifetimes: closing a tree of ipywidgets, and widgets left behind by a re-run cell.

ipywidgets keeps every widget in a kernel-wide registry until it is closed, so a notebook cell
that is re-run leaves the widgets of its earlier runs alive (with their photos) for the rest of
the session. :func:`track_cell` remembers which cell run created a widget and, when the same
cell runs again and creates a new one, closes the widgets of the earlier run: their output
was just replaced in the notebook, so nobody can see or use their views any more.
"""

from __future__ import annotations

import threading
import weakref

import ipywidgets as widgets

_lock = threading.Lock()
#: cell id -> (id of the execute request that ran it, [weak refs to widgets it created])
_by_cell: dict[str, tuple[str, list]] = {}


def close_tree(*roots: widgets.Widget, keep=()) -> None:
    """Close ``roots`` and every widget reachable through their synced traits (children, layout, ...).

    Widgets in ``keep`` (shared ones, such as ipycanvas' kernel-wide canvas manager) are
    neither closed nor searched.
    """
    seen: dict[int, widgets.Widget] = {}
    skip = {id(k) for k in keep}
    stack = list(roots)
    while stack:
        w = stack.pop()
        if id(w) in seen or id(w) in skip:
            continue
        seen[id(w)] = w
        for name in w.keys if hasattr(w, "keys") else ():
            try:
                value = getattr(w, name)
            except Exception:  # noqa: BLE001 - a trait without a value cannot hold a widget
                continue
            values = value if isinstance(value, (list, tuple)) else (value,)
            stack.extend(v for v in values if isinstance(v, widgets.Widget))
    for w in seen.values():
        if w.comm is not None:
            w.close()


def _current_run():
    """``(cell id, execute request id)`` of the notebook cell being executed, or ``None``."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:  # noqa: BLE001 - no kernel, or an older ipykernel: nothing to track
        return None
    if not isinstance(parent, dict) or parent.get("header", {}).get("msg_type") != "execute_request":
        return None
    cell_id = (parent.get("metadata") or {}).get("cellId")
    run_id = parent["header"].get("msg_id")
    if not isinstance(cell_id, str) or not run_id:
        return None
    return cell_id, run_id


def track_cell(widget) -> None:
    """Record that the current cell run created ``widget``; close those of the cell's earlier runs.

    ``widget`` must have a ``close()`` method. Outside a notebook cell (scripts, tests, widget
    callbacks), nothing happens.
    """
    run = _current_run()
    if run is None:
        return
    cell_id, run_id = run
    stale = []
    with _lock:
        entry = _by_cell.get(cell_id)
        if entry is not None and entry[0] != run_id:
            stale = [ref() for ref in entry[1]]
            entry = None
        if entry is None:
            entry = _by_cell[cell_id] = (run_id, [])
        entry[1].append(weakref.ref(widget))
    for old in stale:
        if old is not None and old is not widget:
            old.close()
