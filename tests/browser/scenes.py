"""Synthetic photos for the browser tests, importable both here and inside the Jupyter kernel.

No pytest or ipyseg imports: notebooks written by the tests run ``from scenes import ...``.
"""

import numpy as np


def disk_geometry(h, w):
    """Centre ``(cy, cx)`` and radius of the object in an ``h`` x ``w`` scene (image pixels)."""
    return h * 0.5, w * 0.55, min(h, w) * 0.28


def disk_gt(h, w, rows=None, cols=None):
    """Ground truth at pixel centres ``rows`` x ``cols`` (defaults: every image pixel)."""
    cy, cx, r = disk_geometry(h, w)
    rows = np.arange(h) if rows is None else np.asarray(rows, float)
    cols = np.arange(w) if cols is None else np.asarray(cols, float)
    return (rows[:, None] - cy) ** 2 + (cols[None, :] - cx) ** 2 <= r * r


def disk_scene(h, w, seed=0):
    """An orange disk on a blue-grey striped, noisy background; ``(rgb uint8, bool gt)``."""
    rng = np.random.default_rng(seed)
    gt = disk_gt(h, w)
    yy, xx = np.ogrid[:h, :w]
    s = max(h, w) / 320.0  # stripes scale with the image, as in a real photo
    bg = np.empty((h, w, 3), np.float32)
    bg[..., 0] = 60 + 30 * np.sin(xx / (7.0 * s))
    bg[..., 1] = 90 + 25 * np.cos(yy / (5.0 * s))
    bg[..., 2] = 140
    img = np.where(gt[..., None], np.array([230, 140, 40], np.float32), bg)
    img += 12 * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), gt
