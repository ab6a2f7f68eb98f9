"""In-page latency instrumentation: mouse-up -> overlay drawn, timed inside the page.

A check that the measurement works (every timestamp found, in order, in a sane range), not a
speed threshold: the numbers come from ``benchmarks/page_latency.py`` on an idle machine
(docs/benchmarks.md, "In-page latency").
"""

from __future__ import annotations

import pytest

from . import pagetiming
from .conftest import open_notebook, scene_cell
from .scenes import disk_geometry

H, W = 866, 1155  # 1 MP: a preview stage and a final stage for the default method


@pytest.fixture(scope="module")
def nb(browser, lab_server, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(120_000)
    ctx.add_init_script(pagetiming.INIT_SCRIPT)
    request.addfinalizer(ctx.close)
    nbp = open_notebook(lab_server, ctx, request, "latency", [scene_cell(H, W)])
    nbp.show()
    nbp.wait_drawn()
    pagetiming.install(nbp, "w")
    return nbp


@pytest.mark.parametrize("method", ["click_graphcut", "grabcut", "watershed"])
def test_in_page_timeline(nb, method):
    cy, cx, r = disk_geometry(H, W)
    finals = []
    for k in range(2):
        nb.kernel(f"w.clear(); w.method = {method!r}; w.params = {{}}; assert w.wait(120)")
        nb.show()
        pagetiming.settle(nb)
        g = nb.geometry()
        y = cy + (k - 0.5) * 0.3 * r
        stroke = pagetiming.measure_stroke(
            nb, 0, "w", [nb.to_client(x, y, (H, W), g=g) for x in (cx - 0.4 * r, cx + 0.4 * r)]
        )
        assert stroke["matched"], stroke  # the page drew exactly the overlay images the kernel sent
        stages = stroke["stages"]
        assert 1 <= len(stages) <= 2, stroke
        assert stages[-1]["final"] and all(not s["final"] for s in stages[:-1]), stages
        for s in stages:
            b = pagetiming.breakdown(stroke, s)
            print(method, k, {n: round(v, 1) for n, v in b.items()})
            # every part found, none negative beyond clock granularity, the whole under a minute
            assert all(v is not None and v > -2.0 for v in b.values()), f"{b} {stroke}"
            assert 0 < b["visible"] < 60_000 and b["frame"] >= b["visible"] - 1.0, b
            parts = sum(v for name, v in b.items() if name not in ("visible", "frame"))
            assert abs(parts - b["visible"]) < 2.0, (parts, b)  # the parts add up to the whole
        finals.append(pagetiming.breakdown(stroke, stages[-1])["visible"])
    assert not nb.errors(), nb.errors()
