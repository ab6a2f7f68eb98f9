"""The core scenario in Notebook 7 (``jupyter notebook``), and the widget after a page reload."""

from __future__ import annotations

import time

import nbformat
import pytest

from .conftest import _start_server, open_notebook, scene_cell
from .scenario import check_overlay, segment_with_mouse

H, W = 2000, 3000


@pytest.fixture(scope="module")
def notebook_server(chromium_path, tmp_path_factory, request):
    return _start_server("notebook", tmp_path_factory, request)


def _saved_with_widget(path) -> bool:
    """Whether the notebook file on disk holds the widget's output (a file being written reads as invalid)."""
    try:
        cells = nbformat.read(path, as_version=4).cells
    except (OSError, ValueError):  # the server is still writing it (NotJSONError is a ValueError)
        return False
    return any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cells[0].get("outputs", []))


def test_segment_in_notebook7_and_after_reload(notebook_server, context, request):
    nb = open_notebook(notebook_server, context, request, "nb7", [scene_cell(H, W, method="watershed")])
    page = nb.page
    assert "/notebooks/" in page.url and page.locator("#jp-NotebookPanel, .jp-NotebookPanel").count()
    nb.wait_drawn()
    nb.show()
    photo = nb.pixels()
    segment_with_mouse(nb, H, W, photo)

    # Save with the keyboard (as a user does before closing a tab), then reload the page.
    page.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Control+s")
    path = notebook_server.root / nb.name
    deadline = time.monotonic() + 60
    while not _saved_with_widget(path):
        assert time.monotonic() < deadline, "the notebook was not saved with the widget's output"
        time.sleep(0.2)
    nb.console.clear()
    page.reload()
    nb.wait_idle()
    nb.wait_drawn()  # the models are restored from the kernel and the canvas asks it to redraw
    nb.show()
    nb.pointer_away()
    check_overlay(nb, H, W, photo)  # photo, overlay and seeds all back, from the kernel's state

    # still connected: the toolbar shows the kernel's state, a new stroke reaches the kernel
    assert "mod-active" in (nb.button("Background").get_attribute("class") or "")
    before = nb.kernel_json("result = int((w.seeds == 1).sum())")
    nb.drag([nb.to_client(W * 0.1, H * 0.5, (H, W)), nb.to_client(W * 0.1, H * 0.8, (H, W))])
    nb.wait_kernel("result = int((w.seeds == 1).sum())", lambda v: v > before, what="a stroke after the reload")
    assert not nb.errors(), nb.errors()
