import numpy as np

from ipyseg.geometry import Viewport, polygon_footprint, stroke_footprint
from ipyseg.seeds import SeedState


def test_disk_footprint_is_exact():
    (r0, r1, c0, c1), fp = stroke_footprint(np.array([[10.0, 20.0]]), 3, (40, 50))
    yy, xx = np.mgrid[r0:r1, c0:c1]
    expected = (yy - 10) ** 2 + (xx - 20) ** 2 <= 9
    assert (fp == expected).all()
    assert fp.sum() == 29  # integer points within radius 3


def test_stroke_has_no_gaps_and_is_clipped():
    pts = np.array([[5.0, -10.0], [5.0, 200.0]])  # runs off both sides
    (r0, r1, c0, c1), fp = stroke_footprint(pts, 1, (20, 100))
    assert (c0, c1) == (0, 100)
    assert fp[5 - r0].all()  # the centre row is continuous
    assert stroke_footprint(np.array([[-50.0, -50.0]]), 3, (20, 20)) == (None, None)


def test_thin_diagonal_line_is_8_connected():
    import cv2

    _, fp = stroke_footprint(np.array([[0.0, 0.0], [30.0, 45.0]]), 0, (50, 50))
    n, _ = cv2.connectedComponents(fp.astype(np.uint8), connectivity=8)
    assert n == 2


def test_polygon_footprint():
    window, fp = polygon_footprint(np.array([[2, 2], [2, 8], [8, 8], [8, 2]], float), (20, 20))
    assert window == (2, 9, 2, 9) and fp.all()


def test_undo_redo_history():
    st = SeedState((30, 40))
    w, fp = stroke_footprint(np.array([[10.0, 10.0], [10.0, 30.0]]), 2, (30, 40))
    assert st.apply(w, fp, 2) is not None
    first = st.array.copy()
    w2, fp2 = stroke_footprint(np.array([[10.0, 20.0]]), 4, (30, 40))
    st.apply(w2, fp2, 1)
    second = st.array.copy()
    assert st.apply(w2, fp2, 1) is None  # no change, no history item
    st.undo()
    assert (st.array == first).all()
    st.redo()
    assert (st.array == second).all()
    st.undo()
    st.undo()
    assert not st.array.any() and not st.can_undo and st.undo() is None
    st.redo()
    # a new edit clears redo
    st.apply(w2, fp2, 3)
    assert not st.can_redo and st.redo() is None


def test_preserve_protects_codes():
    st = SeedState((10, 10))
    st.apply((0, 10, 0, 5), np.ones((10, 5), bool), 2)
    st.apply((0, 10, 0, 10), np.ones((10, 10), bool), 3, protect=(2,))
    assert (st.array[:, :5] == 2).all() and (st.array[:, 5:] == 3).all()


def test_history_is_bounded_in_steps_and_bytes():
    st = SeedState((100, 100), history_size=5)
    for i in range(20):
        st.apply((i, i + 1, 0, 100), np.ones((1, 100), bool), 2)
    assert len(st._undo) == 5
    st = SeedState((100, 100), history_bytes=25_000)
    for i in range(10):
        st.replace(np.full((100, 100), i + 1, np.uint8))  # dense: 20 kB per step
    assert len(st._undo) == 1
    st.undo()
    assert (st.array == 9).all()


def test_replace_and_clear():
    st = SeedState((8, 8))
    new = np.zeros((8, 8), np.uint8)
    new[2:4, 3:6] = 1
    assert st.replace(new) == (2, 4, 3, 6)
    assert st.clear() == (2, 4, 3, 6) and not st.array.any()
    st.undo()
    assert (st.array == new).all()


def test_viewport_round_trip_and_fit():
    vp = Viewport((3000, 4000, 3), max_display_pixels=1_200_000)
    assert vp.canvas_width * vp.canvas_height <= 1_200_000
    assert abs(vp.canvas_width / vp.canvas_height - 4 / 3) < 0.01
    # canvas pixel centre (x + .5, y + .5) maps into the image and back
    r, c = vp.canvas_to_image(100.5, 50.5)
    x, y = vp.image_to_canvas(r, c)
    assert np.allclose((x, y), (100.5, 50.5))
    # canvas edges map to image edges
    r, c = vp.canvas_to_image(vp.canvas_width, vp.canvas_height)
    assert np.allclose((r, c), (2999.5, 3999.5))
    rows, cols = vp.canvas_pixel_sources()
    assert rows.shape == (vp.canvas_height,) and cols.max() <= 3999 and rows.max() <= 2999
    small = Viewport((100, 200))
    assert (small.canvas_width, small.canvas_height) == (200, 100) and small.scale == 1.0


def test_codes_present():
    from ipyseg.seeds import codes_present

    a = np.zeros((50, 60), np.uint8)
    a[3, 4], a[10:12, 10:12], a[-1, -1] = 255, 7, 2
    assert codes_present(a).tolist() == [0, 2, 7, 255]
    assert codes_present(np.full((3, 3), 9, np.uint8)[:, ::2]).tolist() == [9]  # non-contiguous input
