"""The documentation notebooks open and run in JupyterLab without errors anywhere."""

from __future__ import annotations

import re
import shutil

import pytest

from .conftest import PANEL, REPO, WIDGET, NotebookPage

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_in_lab(path, lab_server, context, request):
    name = f"docs-{path.name}"
    shutil.copy(path, lab_server.root / name)
    log_start = lab_server.log_path.stat().st_size  # kernel stderr (e.g. widget callback errors) lands here
    nb = NotebookPage(lab_server, context.new_page(), name)
    request.addfinalizer(nb.close)
    nb.page.goto(lab_server.page_url(name))
    nb.wait_idle()
    nb.run_all()
    page = nb.page
    # no error or stderr output in any cell
    stderr = page.locator(PANEL).locator("[data-mime-type='application/vnd.jupyter.stderr']")
    assert stderr.count() == 0, stderr.all_inner_texts()
    # every widget rendered: no ipywidgets error box, every SegmentWidget canvas drawn
    assert page.get_by_text("Error displaying widget").count() == 0
    n = page.locator(PANEL).locator(WIDGET).count()
    assert n >= 1
    for i in range(n):
        nb.widget(i).scroll_into_view_if_needed()
        nb.wait_drawn(i)
    assert not nb.errors(), nb.errors()
    with open(lab_server.log_path, "rb") as f:
        f.seek(log_start)
        log = f.read().decode(errors="replace")
    assert not re.search(r"Traceback|Exception in|\bERROR\b", log), log[-3000:]
