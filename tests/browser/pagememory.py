"""Browser memory of a page: JS heap after a forced GC, Chromium's processes, live blob URLs.

Read through the Chrome DevTools Protocol (``HeapProfiler.collectGarbage``,
``Performance.getMetrics``, ``SystemInfo.getProcessInfo``) and ``/proc/<pid>``: resident
(``VmRSS``) and proportional (``Pss``, shared pages divided among their users) memory of the
browser process and its renderers. The live blob URLs (created and not revoked) come from
:mod:`pagetiming`'s init script, which must be installed in the page's context.
"""

from __future__ import annotations

import time
from pathlib import Path

MB = 1024 * 1024


def _proc_kb(pid: int, path: str, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class MemoryProbe:
    """Snapshots of one page's memory (``page`` of a Playwright ``browser``)."""

    def __init__(self, browser, page):
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")
        try:
            self.browser_cdp = browser.new_browser_cdp_session()
        except Exception:  # noqa: BLE001 - process memory is optional (e.g. a remote browser)
            self.browser_cdp = None

    def processes(self) -> list[dict]:
        if self.browser_cdp is None:
            return []
        info = self.browser_cdp.send("SystemInfo.getProcessInfo")["processInfo"]
        return [{"type": p["type"], "pid": int(p["id"])} for p in info]

    def snapshot(self, gc: bool = True) -> dict:
        """Memory now, in MB, after a full garbage collection (twice: weak references clear late)."""
        if gc:
            for _ in range(2):
                self.cdp.send("HeapProfiler.collectGarbage")
            time.sleep(0.2)
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        out = {
            "js_heap": metrics.get("JSHeapUsedSize", float("nan")) / MB,
            "js_heap_total": metrics.get("JSHeapTotalSize", float("nan")) / MB,
        }
        blobs = self.page.evaluate("window.__pt ? [window.__pt.nblobs, window.__pt.blobBytes] : [null, null]")
        out["blob_urls"], out["blob_mb"] = blobs[0], (blobs[1] / MB if blobs[1] is not None else None)
        rss = {"browser": 0.0, "renderer": 0.0, "other": 0.0}
        pss = 0.0
        for p in self.processes():
            kind = p["type"] if p["type"] in rss else "other"
            rss[kind] += (_proc_kb(p["pid"], "status", "VmRSS") or 0) / 1024
            pss += (_proc_kb(p["pid"], "smaps_rollup", "Pss") or 0) / 1024
        out.update(rss_browser=rss["browser"], rss_renderer=rss["renderer"], rss_other=rss["other"], pss_total=pss)
        return out


def growth(a: dict, b: dict) -> dict:
    """``b - a`` for every numeric entry."""
    return {k: b[k] - a[k] for k in a if isinstance(a.get(k), (int, float)) and isinstance(b.get(k), (int, float))}
