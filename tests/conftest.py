import numpy as np
import pytest


def disk_scene(h=240, w=320, center=None, radius=None, seed=0):
    """A coloured disk on a textured background; returns (rgb uint8 image, bool ground truth)."""
    rng = np.random.default_rng(seed)
    cy, cx = center if center is not None else (h * 0.5, w * 0.55)
    r = radius if radius is not None else min(h, w) * 0.28
    yy, xx = np.mgrid[:h, :w]
    gt = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    # textured background: blue-grey stripes plus noise; object: orange with noise
    bg = np.stack([60 + 30 * np.sin(xx / 7.0), 90 + 25 * np.cos(yy / 5.0), 140 + 0 * xx], axis=-1)
    img = np.where(gt[..., None], np.array([230, 140, 40]), bg)
    img = img + rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), gt


def iou(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return (a & b).sum() / max(1, (a | b).sum())


def send(widget, event, x=None, y=None, **extra):
    """Deliver a message exactly as the ipycanvas front end sends it to the canvas widget."""
    content = {"event": event}
    if x is not None:
        content.update(x=float(x), y=float(y))
    content.update(extra)
    widget.view.canvas._handle_custom_msg(content, [])


def overlay_send(widget, **content):
    """Deliver a message exactly as the canvas overlay's front end (overlay.js) sends it."""
    widget.overlay._handle_custom_msg(content, [])


def drag(widget, points, moves_between=4):
    """A real-looking drag in canvas coordinates: move to the start, press, move, release."""
    pts = np.asarray(points, float)
    send(widget, "mouse_move", *pts[0])
    send(widget, "mouse_down", *pts[0])
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        for t in np.linspace(0, 1, moves_between + 1)[1:]:
            send(widget, "mouse_move", *(a + t * (b - a)))
    send(widget, "mouse_up", *pts[-1])


@pytest.fixture
def scene():
    return disk_scene()


@pytest.fixture(autouse=True)
def _restore_method_registry():
    """Plug-ins registered by a test do not outlive it (tests that loop over ``ipyseg.methods()``)."""
    from ipyseg import segmenters

    saved = segmenters.snapshot()
    yield
    segmenters.restore(saved)


@pytest.fixture
def annotators():
    """Annotators opened by a test (closed at its end: their saver and prefetch threads stop)."""
    made = []
    yield made
    for a in made:
        a.close()


def open_annotator(annotators, *args, **kw):
    import ipyseg

    a = ipyseg.Annotator(*args, **kw)
    annotators.append(a)
    return a


def box_scene(kind="bird", h=300, w=400, seed=0):
    """A striped object (some stripes close to the background's colours) on a colourful texture.

    ``"bird"``: a wide body with a thin neck and a head reaching the top of its bounding box;
    ``"small"``: a small ellipse. Both are hard for a box alone: the object touches every side
    of its tight box, and its colour evidence is weak. Returns (rgb uint8 image, bool ground truth).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    sy, sx = h / 300.0, w / 400.0
    if kind == "bird":
        body = ((yy - 190 * sy) / (45 * sy)) ** 2 + ((xx - 170 * sx) / (90 * sx)) ** 2 <= 1
        neck = (np.abs(xx - 245 * sx) <= 7 * sx) & (yy >= 80 * sy) & (yy <= 190 * sy)
        head = ((yy - 80 * sy) / sy) ** 2 + ((xx - 252 * sx) / sx) ** 2 <= 15**2
        gt = body | neck | head
    elif kind == "small":
        gt = ((yy - 150 * sy) / (18 * sy)) ** 2 + ((xx - 200 * sx) / (30 * sx)) ** 2 <= 1
    else:
        raise ValueError(f"`kind` must be 'bird' or 'small'; got {kind!r}")
    bg = np.stack(
        [90 + 40 * np.sin(xx / 11.0 + yy / 17.0), 110 + 30 * np.cos(yy / 9.0), 80 + 20 * np.sin(xx / 5.0)], axis=-1
    )
    stripes = (np.sin(xx / 3.0) > 0.3)[..., None]
    obj = np.where(stripes, np.array([150, 110, 70]), np.array([95, 100, 80]))
    img = np.where(gt[..., None], obj, bg) + rng.normal(0, 10, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8), gt


def tight_box(gt):
    """The ground truth's tight bounding box as inclusive ``(x0, y0, x1, y1)`` image corners."""
    rows, cols = np.flatnonzero(gt.any(axis=1)), np.flatnonzero(gt.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])
