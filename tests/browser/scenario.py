"""The core scenario, shared by the JupyterLab and Notebook 7 tests: segment with the mouse."""

from __future__ import annotations

import numpy as np

from ipyseg.ui.render import BACKGROUND_COLOR, object_color

from .conftest import display_gt, display_seeds, grow, tinted, unchanged
from .scenes import disk_geometry

GREEN = object_color(1)
MARGIN = 90  # the background stroke runs this far inside the image border


def segment_with_mouse(nb, H, W, photo):
    """Foreground drag inside the object, the Background button, a background drag around it.

    Asserts the kernel's ``w.mask`` matches the object and the page shows it; returns the
    canvas geometry used.
    """
    g = nb.geometry()
    gt_d = display_gt(H, W, g["h"], g["w"])
    assert photo[gt_d][:, 0].mean() > 170 and photo[~gt_d][:, 2].mean() > 110  # the photo is in the page
    cy, cx, r = disk_geometry(H, W)
    fg = [nb.to_client(x, cy, (H, W), g=g) for x in (cx - 0.6 * r, cx - 0.2 * r, cx + 0.3 * r, cx + 0.6 * r)]
    nb.drag(fg)
    nb.button("Background").click()
    m = MARGIN
    bg = [nb.to_client(x, y, (H, W), g=g) for x, y in [(m, m), (W - m, m), (W - m, H - m), (m, H - m), (m, m + 200)]]
    nb.drag(bg, steps=25)
    nb.pointer_away()

    res = nb.wait_kernel(
        "s = w.seeds\nresult = dict(fg=int((s == 2).sum()), bg=int((s == 1).sum()), label=w.label,"
        " undo=len(w.document.seed_state._undo), status=w.status, err=repr(w.last_error))",
        lambda v: v["fg"] > 0 and v["bg"] > 0,
        what="both strokes to reach the kernel",
    )
    assert res["label"] == 1  # the Background button switched the brush
    res = nb.kernel_json(
        "assert w.wait(180)\nm = w.mask\n"
        "result = dict(iou=float((m & gt).sum() / (m | gt).sum()), status=w.status, err=repr(w.last_error))"
    )
    print(f"\nIoU of w.mask with the drawn object: {res['iou']:.3f} ({res['status']})")
    assert res["iou"] >= 0.8, res
    check_overlay(nb, H, W, photo, g)
    return g


def check_overlay(nb, H, W, photo, g=None, opacity=0.5):
    """The page shows the overlay colour over the object and nowhere else, and the seed strokes."""
    g = g or nb.geometry()
    cy, cx, r = disk_geometry(H, W)
    probe = (int((cx + 0.1 * r + 0.5) * g["w"] / W), int((cy - 0.5 * r + 0.5) * g["h"] / H))
    nb.wait_pixel_change(probe, photo[probe[1], probe[0]])
    after = nb.pixels()
    gt_d = display_gt(H, W, g["h"], g["w"])
    seeds_d = grow(display_seeds(nb, g, H, W), 2)  # seed strokes are drawn over the overlay
    inside = ~grow(~gt_d, 3) & ~seeds_d
    outside = ~grow(gt_d, 3) & ~seeds_d
    t = tinted(photo, after, GREEN, round(255 * opacity) / 255)
    frac_in, frac_out = t[inside].mean(), t[outside].mean()
    same_out = unchanged(photo, after)[outside].mean()
    print(
        f"overlay in page: {frac_in:.3f} of the object tinted, {frac_out:.4f} of the rest; rest unchanged {same_out:.4f}"
    )
    assert frac_in >= 0.95 and frac_out <= 0.01 and same_out >= 0.98
    # the background stroke is drawn in the background seed colour (top edge, middle)
    red = np.abs(after[..., :3].astype(int) - BACKGROUND_COLOR).max(axis=-1) < 40
    by, bx = int((MARGIN + 0.5) * g["h"] / H), int((W / 2) * g["w"] / W)
    assert red[by - 1 : by + 2, bx - 1 : bx + 2].all()
