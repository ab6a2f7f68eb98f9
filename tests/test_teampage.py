"""The team page (notebooks/annotate.ipynb): who the visitor is, then an Annotator as them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ipyseg.dataset.leases import ItemLeases
from ipyseg.dataset.teampage import TeamPage, checked_name, visitor_name


def test_visitor_name_from_the_request():
    voila = {"SERVER_SOFTWARE": "voila/0.5.13"}
    assert visitor_name({**voila, "QUERY_STRING": "user=ann&mode=review"}) == ("ann", "review")
    assert visitor_name({**voila, "QUERY_STRING": "user=Ann+Lee"}) == ("Ann Lee", None)
    assert visitor_name({**voila, "QUERY_STRING": "mode=boss", "HTTP_X_FORWARDED_USER": "bob@lab"}) == ("bob@lab", None)
    assert visitor_name({**voila, "JUPYTERHUB_USER": "cy"}) == ("cy", None)
    assert visitor_name({**voila, "QUERY_STRING": "user=../../etc", "JUPYTERHUB_USER": "cy"}) == ("cy", None)
    assert visitor_name(voila) == (None, None)  # a team page: the visitor types their name
    from ipyseg.dataset.leases import default_user

    assert visitor_name({}) == (default_user(), None)  # one's own Jupyter: the OS user
    with pytest.raises(ValueError, match="`user` must be 1-64 letters.*got 'a/b'"):
        checked_name("a/b")
    assert checked_name("  dee ") == "dee"


def test_the_page_asks_the_name_then_annotates_beside_the_others(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 50, 3), 60 * i, np.uint8)).save(photos / f"p{i}.png")
    out = tmp_path / "out"
    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("SERVER_SOFTWARE", "voila/0.5.13")
    other = ItemLeases(out, user="ann", heartbeat=False)
    assert other.claim("p0.png")  # another visitor has the first item
    page = TeamPage(photos, out=out, method="watershed")
    assert page.annotator is None and page.name_box in page.children[0].children
    page.name_box.value = "no/slash"  # typed, then Enter
    assert page.annotator is None and "`user` must be" in page.message.value
    page.name_box.value = "bob"
    page.start_button.click()
    a = page.annotator
    assert a is not None and a.user == "bob" and a.index == 1  # never the item ann has
    assert "annotating as <b>bob</b>" in page.children[0].value
    title = a.header.title.value
    assert "1 claimed by others" in title and "3 left" in title and "0 done" in title
    a.close()
    other.close()
    monkeypatch.setenv("QUERY_STRING", "user=rev&mode=review")
    page = TeamPage(photos, out=out, method="watershed")
    assert page.annotator.mode == "review" and page.annotator.user == "rev"
    page.annotator.close()
