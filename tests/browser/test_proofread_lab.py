"""Proofreading 1,000 objects in JupyterLab with a real mouse (issue 18): the toolbar's Propose
button, then merge (pick tool, shift-click), split (split tool, a drag across a cell) and delete
(pick, then the Delete button), each undone with the Undo button; the page's canvas shows each
change where it happened."""

from __future__ import annotations

import time

import numpy as np
import pytest

from .conftest import open_notebook

N = 1024  # 1,000 synthetic nuclei of 14-20 px: the default diameter of the Propose button (20 px)

SCENE = (
    "import numpy as np\nimport ipyseg\nfrom benchmarks.many_cells import fluorescence\n\n"
    f"img, centres, radii = fluorescence({N}, 1000, seed=1)\n"
    "w = ipyseg.SegmentWidget(img, method='watershed')\nw"
)

#: Kernel code: the objects as {id: [centroid x, centroid y, bbox x0, y0, x1, y1, area]}.
OBJECTS = (
    "from ipyseg.objects import regions\nr = regions(w.labels)\n"
    "result = {int(k): [float(cx), float(cy), int(b[2]), int(b[0]), int(b[3]), int(b[1]), int(a)]"
    " for k, cy, cx, b, a in zip(r.ids, r.centroid[:, 0], r.centroid[:, 1], r.bbox, r.area)}"
)


@pytest.fixture(scope="module")
def nb(browser, lab_server, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(60_000)
    request.addfinalizer(ctx.close)
    nbp = open_notebook(lab_server, ctx, request, "proofread", [SCENE])
    nbp.wait_drawn()
    nbp.show()
    return nbp


def _canvas_xy(nb, x, y, g):
    return int((x + 0.5) / N * g["w"]), int((y + 0.5) / N * g["h"])


def _icon(nb, title):
    return nb.widget().locator(f'button[title^="{title}"]')


def _central(objs, n=4):
    """Ids of ``n`` large objects near the middle of the photo, far apart."""
    big = sorted(objs, key=lambda k: abs(objs[k][0] - N / 2) + abs(objs[k][1] - N / 2))
    chosen = []
    for k in big:
        if objs[k][6] > 150 and all(abs(objs[k][0] - objs[j][0]) + abs(objs[k][1] - objs[j][1]) > 150 for j in chosen):
            chosen.append(k)
        if len(chosen) == n:
            return chosen
    raise AssertionError("not enough large objects")


def test_propose_merge_split_delete_and_undo_with_the_mouse(nb):
    page = nb.page
    g = nb.geometry()
    nb.pointer_away()
    cx, cy = _canvas_xy(nb, *nb.kernel_json("result = [int(c) for c in centres[500][::-1]]"), g)
    before = nb.pixels()[cy, cx]
    t0 = time.perf_counter()
    _icon(nb, "Propose objects").click()
    nb.wait_pixel_change((cx, cy), before, timeout=120_000)  # the overlay reached the page
    shown = time.perf_counter() - t0
    n = nb.wait_kernel("assert w.wait(120)\nresult = int(len(np.unique(w.labels)) - 1)", lambda v: v >= 950)
    print(f"\n{n} proposals shown in the page {shown:.2f} s after the click")
    objs = nb.kernel_json(OBJECTS)
    objs = {int(k): v for k, v in objs.items()}
    a, b, c, d = _central(objs)
    undo = _icon(nb, "Undo")
    nb.show()
    g = nb.geometry()  # the toolbar may have changed height

    # ---- merge: pick A, shift-click B
    nb.button("Pick").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "pick")
    g = nb.geometry()  # a button press may scroll the page
    page.mouse.click(*nb.to_client(objs[a][0], objs[a][1], (N, N), g=g))
    nb.wait_kernel("result = w.label", lambda v: v == a + 1, what="the pick")
    bxy = _canvas_xy(nb, objs[b][0], objs[b][1], g)
    seen = nb.pixels()[bxy[1], bxy[0]]
    page.keyboard.down("Shift")
    page.mouse.click(*nb.to_client(objs[b][0], objs[b][1], (N, N), g=g))
    page.keyboard.up("Shift")
    nb.wait_kernel(f"assert w.wait(60)\nresult = bool({b} in w.labels)", lambda v: v is False, what="the merge")
    assert nb.kernel_json(f"result = int((w.labels == {a}).sum())") == objs[a][6] + objs[b][6]
    assert nb.kernel_json("result = w.zoom") == 1.0  # shift did not pan
    nb.wait_pixel_change(bxy, seen, tol=8)  # B now shows A's colour
    undo.click()
    g = nb.geometry()
    nb.wait_kernel(f"assert w.wait(60)\nresult = int((w.labels == {b}).sum())", lambda v: v == objs[b][6])

    # ---- split: drag across C
    nb.button("Split").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "split")
    g = nb.geometry()
    x0, y0, x1, y1 = objs[c][2:6]
    ymid = objs[c][1]
    nb.drag([nb.to_client(x0 - 3, ymid, (N, N), g=g), nb.to_client(x1 + 3, ymid, (N, N), g=g)], steps=12)
    parts = nb.wait_kernel(
        "assert w.wait(60)\nresult = int(w.labels.max())",
        lambda v: v > max(objs),
        what="the split's new object",
    )
    new = parts
    assert nb.kernel_json(f"result = int((w.labels == {new}).sum()) + int((w.labels == {c}).sum())") < objs[c][6]
    undo.click()
    nb.wait_kernel(f"assert w.wait(60)\nresult = int((w.labels == {c}).sum())", lambda v: v == objs[c][6])
    assert nb.kernel_json(f"result = bool({new} in w.labels)") is False

    # ---- delete: pick D, the Delete button
    nb.button("Pick").click()
    nb.wait_kernel("result = w.tool", lambda v: v == "pick")
    g = nb.geometry()
    page.mouse.click(*nb.to_client(objs[d][0], objs[d][1], (N, N), g=g))
    nb.wait_kernel("result = w.label", lambda v: v == d + 1, what="the pick")
    dxy = _canvas_xy(nb, objs[d][0], objs[d][1], g)
    seen = nb.pixels()[dxy[1], dxy[0]]
    t0 = time.perf_counter()
    _icon(nb, "Delete the current object").click()
    nb.wait_pixel_change(dxy, seen, tol=8)
    deleted = time.perf_counter() - t0
    assert nb.kernel_json(f"assert w.wait(60)\nresult = bool({d} in w.labels)") is False
    print(f"delete of one of {n} objects shown in the page {1000 * deleted:.0f} ms after the click")
    undo.click()
    nb.wait_kernel(f"assert w.wait(60)\nresult = int((w.labels == {d}).sum())", lambda v: v == objs[d][6])
    # everything is back: the same objects with the same areas as after the proposals
    back = {int(k): v for k, v in nb.kernel_json(OBJECTS).items()}
    assert {k: v[6] for k, v in back.items()} == {k: v[6] for k, v in objs.items()}
    assert np.all(nb.pixels()[..., 3] == 255)
    assert not nb.errors()
