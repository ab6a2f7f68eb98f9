import time

import numpy as np

import ipyseg
import ipyseg.ui.canvas_view as cv
from ipyseg.geometry import Viewport
from ipyseg.ui import render


def _view(h=40, w=60):
    return cv.CanvasView(Viewport((h, w)))


def test_sent_log_records_each_image_after_its_message():
    view = _view()
    t0 = time.time()
    index = np.zeros((40, 60), np.uint8)
    index[5:15, 10:30] = 1
    with view.batch():
        view.show_index(view.overlay_layer, index, render.label_lut(0.5), (5, 15, 10, 30))
        view.show_index(view.seeds_layer, index, render.seed_lut(), None)
    t1 = time.time()
    assert [(layer, n > 0) for _, layer, n in view.sent] == [(1, True), (2, True)]
    assert all(t0 <= t <= t1 for t, _, _ in view.sent)
    assert sum(n for _, _, n in view.sent) == view.bytes_sent
    # one message: both images carry the same send time
    assert view.sent[0][0] == view.sent[1][0]
    view.put_png(view.image_layer, render.encode_png(np.zeros((4, 4, 3), np.uint8)))  # unbatched
    assert view.sent[-1][1] == 0 and view.sent[-1][0] >= t1


def test_sent_log_is_bounded():
    view = _view()
    lut = render.label_lut(0.5)
    for k in range(300):
        view.show_index(view.overlay_layer, np.full((40, 60), k % 2, np.uint8), lut)
    assert len(view.sent) == 256


def test_image_release_widget_targets_ipycanvas_and_closes_with_the_view():
    view = _view()
    rel = view.image_release
    assert rel is not None and rel.canvases == [view.image_layer] and rel.active is False
    assert "createImageBitmap" in rel._esm and "putImageData" in rel._esm and "bitmap.close()" in rel._esm
    view.close()
    assert rel.comm is None


def test_image_release_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(cv, "RELEASE_IMAGES", False)
    assert _view().image_release is None
    w = ipyseg.SegmentWidget(np.zeros((30, 40, 3), np.uint8))
    assert w.view.image_release is None
    w.close()
