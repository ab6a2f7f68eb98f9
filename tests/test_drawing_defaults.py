"""Every drawing method marks the current object unless told otherwise, with one argument name."""

import numpy as np
import pytest
from conftest import disk_scene

from ipyseg import BACKGROUND, FOREGROUND, SegmentWidget

H, W = 121, 173  # odd sizes


@pytest.fixture
def w():
    img, _ = disk_scene(H, W)
    widget = SegmentWidget(img, method="watershed")
    widget.paint([(20, 20)], radius=3)  # object 1 exists
    yield widget
    widget.close()


def _marks(w, code):
    return int((w.seeds == code).sum())


DRAWERS = {
    "paint": lambda w, **kw: w.paint([(100, 60), (120, 70)], radius=3, **kw),
    "click": lambda w, **kw: w.click(140, 90, **kw),
    "fill": lambda w, **kw: w.fill(np.pad(np.ones((6, 6), bool), ((50, H - 56), (50, W - 56))), **kw),
    "magic_wand": lambda w, **kw: w.magic_wand(160, 110, **kw),
    "polygon": lambda w, **kw: w.polygon([(60, 10), (90, 10), (75, 30)], **kw),
    "livewire": lambda w, **kw: w.livewire([(40, 60), (70, 60), (55, 90)], **kw),
}


@pytest.mark.parametrize("name", sorted(DRAWERS))
def test_draws_the_current_object_after_new_object(w, name):
    k = w.new_object()
    assert k == 2 and w.object_code == 3
    before_1 = _marks(w, FOREGROUND)
    DRAWERS[name](w)
    assert _marks(w, k + 1) > 0, f"{name} did not mark the current object"
    assert _marks(w, FOREGROUND) == before_1, f"{name} marked object 1"


@pytest.mark.parametrize("name", sorted(DRAWERS))
def test_an_explicit_label_wins(w, name):
    w.new_object()
    DRAWERS[name](w, label=BACKGROUND)
    assert _marks(w, BACKGROUND) > 0 and _marks(w, 3) == 0


@pytest.mark.parametrize("name", sorted(DRAWERS))
def test_bad_labels_name_the_argument(w, name):
    with pytest.raises(ValueError, match=r"`label`.*got 70000"):
        DRAWERS[name](w, label=70000)
    with pytest.raises(TypeError, match=r"`label`.*integer"):
        DRAWERS[name](w, label="fg")


def test_the_toolbar_background_choice_does_not_change_the_default(w):
    w.new_object()
    w.label = BACKGROUND  # the user picked "background" for mouse gestures
    w.click(140, 90)
    assert _marks(w, 3) > 0


def test_paint_box_takes_label_or_the_older_obj(w):
    w.new_object()
    w.paint_box((100, 60, 150, 110))
    assert set(w.session_state().boxes) == {2}  # object ids
    w.paint_box((10, 10, 40, 40), label=FOREGROUND)
    w.paint_box((5, 5, 30, 30), obj=3)
    assert set(w.session_state().boxes) == {1, 2, 3}
    with pytest.raises(ValueError, match=r"`label`.*BACKGROUND"):
        w.paint_box((10, 10, 40, 40), label=BACKGROUND)
    with pytest.raises(TypeError, match=r"`label`.*`obj`.*not both"):
        w.paint_box((10, 10, 40, 40), label=FOREGROUND, obj=0)


def test_livewire_takes_the_older_obj(w):
    w.livewire([(40, 60), (70, 60), (55, 90)], obj=4)
    assert _marks(w, 5) > 0
