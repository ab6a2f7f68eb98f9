"""Segment-Anything logits to full-resolution labels, and strokes as hard constraints.

* :func:`work_logits`: the decoder's low-resolution logits to the work grid (SAM's
  postprocessing up to its last resize: bilinear to ``S x S``, crop the photo's part).
* :func:`upsample_labels`: the last resize, to full resolution: labels are the arg-max of the
  bilinearly interpolated logits (``cv2.resize(..., INTER_LINEAR)`` =
  ``torch.nn.functional.interpolate(..., "bilinear", align_corners=False)``). One object: one
  ``cv2.resize`` into a reused buffer. Several: no full-size float images; a pixel whose four
  source cells agree takes their label, and only pixels next to a label change are
  interpolated, so the cost follows the boundaries' length.
* :func:`refine_with_seeds`: where seeds contradict the model (a stroke across a leak, a
  stroke over a missed part), a graph cut around the contradiction decides, with the model's
  logits as the unary term, a contrast-sensitive boundary term, and the seeds hard.
* :func:`enforce_seeds`: every seeded pixel takes its seed's label, at full resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

from ipyseg._util.arrays import nonzero_rect
from ipyseg.segmenters.graphcut import edge_weights, min_cut


def work_logits(low_res: np.ndarray, frame) -> np.ndarray:
    """(M, M) low-resolution logits -> (new_h, new_w) float32 logits on the work grid."""
    low = np.ascontiguousarray(low_res, dtype=np.float32)
    s = frame.size
    full = low if low.shape == (s, s) else cv2.resize(low, (s, s), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(full[: frame.new_h, : frame.new_w])


def labels_from_logits(logits: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Arg-max over objects; background where no logit is positive.

    Parameters
    ----------
    logits : (n, h, w) ndarray of float32
    values : (n,) ndarray of int
        The label of each object (``code - 1``).

    Returns
    -------
    (h, w) ndarray of uint16
    """
    if len(logits) == 1:
        return np.where(logits[0] > 0, np.uint16(values[0]), np.uint16(0)).astype(np.uint16)
    best = np.argmax(logits, axis=0)
    top = np.take_along_axis(logits, best[None], axis=0)[0]
    lut = np.asarray(values, np.uint16)
    return np.where(top > 0, lut[best], 0).astype(np.uint16)


def _axis(n_in: int, n_out: int):
    """Bilinear source indices and weights along one axis (half-pixel centres, edges clamped)."""
    src = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


def upsample_labels(
    logits: np.ndarray, values: np.ndarray, shape: tuple, labels: np.ndarray | None = None, scratch=None
):
    """Labels at ``shape`` = arg-max of the bilinearly resized ``logits`` (see module docstring).

    Parameters
    ----------
    logits : (n, h, w) ndarray of float32
    values : (n,) ndarray of int
        Label of each object.
    shape : tuple
        ``(H, W)`` of the output.
    labels : (h, w) ndarray of uint16, optional
        ``labels_from_logits(logits, values)`` if already computed.
    scratch : callable, optional
        ``scratch(shape)`` returns a reusable float32 buffer of that shape (saves a 48 MB
        allocation, and its page faults, per call at 12 MP).

    Returns
    -------
    (H, W) ndarray of uint16
    """
    n, h, w = logits.shape
    big_h, big_w = shape
    if n == 1:
        buf = scratch((big_h, big_w)) if scratch is not None else None
        full = cv2.resize(logits[0], (big_w, big_h), dst=buf, interpolation=cv2.INTER_LINEAR)
        out = (full > 0).astype(np.uint16)  # 1 where positive
        return np.multiply(out, np.uint16(values[0]), out=out)
    lab = labels_from_logits(logits, values) if labels is None else labels
    y0, y1, wy = _axis(h, big_h)
    x0, x1, wx = _axis(w, big_w)
    out = np.take(np.take(lab, x0, axis=1), y0, axis=0)
    # cells whose 2 x 2 neighbourhood (edges replicated) holds one label need no interpolation
    pad = np.pad(lab, ((0, 1), (0, 1)), mode="edge")
    mixed = (lab != pad[1:, :-1]) | (lab != pad[:-1, 1:]) | (lab != pad[1:, 1:])
    ci, cj = np.nonzero(mixed)
    if ci.size == 0:
        return out
    rs, re = np.searchsorted(y0, ci, "left"), np.searchsorted(y0, ci, "right")
    cs, ce = np.searchsorted(x0, cj, "left"), np.searchsorted(x0, cj, "right")
    nr, nc = re - rs, ce - cs
    counts = nr * nc
    keep = counts > 0
    rs, cs, nc, counts = rs[keep], cs[keep], nc[keep], counts[keep]
    total = int(counts.sum())
    if total == 0:
        return out
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    t = np.arange(total) - starts
    ncr = np.repeat(nc, counts)
    rows = np.repeat(rs, counts) + t // ncr
    cols = np.repeat(cs, counts) + t % ncr
    ay, by, fy = y0[rows], y1[rows], wy[rows]
    ax, bx, fx = x0[cols], x1[cols], wx[cols]
    best = None
    for k in range(n):
        g = logits[k]
        top = g[ay, ax] + fx * (g[ay, bx] - g[ay, ax])
        bottom = g[by, ax] + fx * (g[by, bx] - g[by, ax])
        v = top + fy * (bottom - top)
        if best is None:
            best, arg = v, np.zeros(v.shape, np.intp)
        else:
            win = v > best
            arg[win] = k
            best = np.where(win, v, best)
    lut = np.asarray(values, np.uint16)
    out[rows, cols] = np.where(best > 0, lut[arg], 0)
    return out


def enforce_seeds(labels: np.ndarray, seeds: np.ndarray, bbox: tuple | None = None) -> np.ndarray:
    """Give every seeded pixel its seed's label, in place (only the seeds' bounding box is touched).

    ``bbox`` is ``cv2.boundingRect(seeds)`` if already known.
    """
    x, y, w, h = nonzero_rect(seeds) if bbox is None else bbox
    if w == 0 or h == 0:
        return labels
    sub, lab = seeds[y : y + h, x : x + w], labels[y : y + h, x : x + w]
    lab[sub == 1] = 0
    obj = sub >= 2
    lab[obj] = sub[obj] - 1
    return labels


def _window(mask: np.ndarray, margin: int) -> tuple:
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    hh, ww = mask.shape
    return max(0, y - margin), min(hh, y + h + margin), max(0, x - margin), min(ww, x + w + margin)


def refine_with_seeds(
    logits: np.ndarray,
    values: np.ndarray,
    ws: np.ndarray,
    small_lab: np.ndarray,
    *,
    smoothness: float,
    reach: float = 0.05,
) -> tuple[np.ndarray, list[int]]:
    """Make the work-grid result obey the seeds where the model contradicts them.

    For each object whose seeds disagree with the arg-max labels (its own seeds outside it,
    background or other objects' seeds inside it), pixels within ``reach`` (a fraction of the
    grid's longer side) of the disagreement are decided by a min-cut: unary ``softplus(-l)`` /
    ``softplus(l)`` from the object's logit ``l`` (the negative log-probabilities SAM's sigmoid
    gives), ``smoothness`` times GrabCut's contrast-sensitive boundary term on the work-grid
    photo, seeds hard, pixels beyond the reach fixed to the model's decision. A part of the
    object cut off from its own seeds that touches a background (or other object's) seed is
    dropped. Where the outcome differs from the model, the object's logits are set to +1 / -1.

    Parameters
    ----------
    logits : (n, h, w) ndarray of float32
        Modified in place.
    values : (n,) ndarray of int
        Label of each object (its seed code minus one).
    ws : (h, w) ndarray of uint16
        Seeds on the work grid.
    small_lab : (h, w, 3) ndarray of uint8
        The photo on the work grid in OpenCV's 8-bit Lab.

    Returns
    -------
    logits, refined
        The (modified) logits and the labels of the objects that were refined.
    """
    refined = []
    lab = labels_from_logits(logits, values)
    h, w = lab.shape
    margin = max(2, int(round(reach * max(h, w))))
    for k, value in enumerate(values):
        code = int(value) + 1
        fg = ws == code
        bg = (ws > 0) & ~fg
        cur = lab == value
        bad = (fg & ~cur) | (bg & cur)
        if not bad.any():
            continue
        r0, r1, c0, c1 = _window(bad, margin)
        # within `margin` of a contradiction (a distance transform costs the same for any margin)
        far = (~bad[r0:r1, c0:c1]).view(np.uint8)
        near = cv2.distanceTransform(far, cv2.DIST_L2, cv2.DIST_MASK_3) <= margin
        f, b, c = fg[r0:r1, c0:c1], bg[r0:r1, c0:c1], cur[r0:r1, c0:c1]
        g = logits[k, r0:r1, c0:c1]
        cost_fg = np.logaddexp(0.0, -g)  # -log sigmoid(l)
        cost_bg = np.logaddexp(0.0, g)  # -log (1 - sigmoid(l))
        cut = min_cut(
            cost_fg,
            cost_bg,
            edge_weights(small_lab[r0:r1, c0:c1].astype(np.float32)),
            smoothness,
            f | (~near & c),
            b | (~near & ~c),
        )
        mask = cur.copy()
        mask[r0:r1, c0:c1] = cut & ~b
        mask = _drop_cut_off(mask, fg, bg)
        logits[k][mask & (logits[k] <= 0)] = 1.0
        logits[k][~mask & (logits[k] > 0)] = -1.0
        lab = labels_from_logits(logits, values)
        refined.append(int(value))
    return logits, refined


def _drop_cut_off(mask: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Drop components of ``mask`` holding none of the object's seeds that touch other seeds.

    Without any seed of the object (a box prompt only), its largest component is its anchor.
    """
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))  # work only where the object is
    sub, f, b = (
        mask[y : y + h, x : x + w],
        fg[y : y + h, x : x + w],
        bg[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1],
    )
    n, comp, stats, _ = cv2.connectedComponentsWithStats(sub.view(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    anchor = np.zeros(n, bool)
    anchor[np.unique(comp[f & sub])] = True
    anchor[0] = False
    if not anchor.any():
        anchor[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] = True
    touching = np.zeros(n, bool)
    near_bg = cv2.dilate(b.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    near_bg = near_bg[int(y > 0) : int(y > 0) + h, int(x > 0) : int(x > 0) + w]
    touching[np.unique(comp[near_bg & sub])] = True
    drop = touching & ~anchor
    drop[0] = False
    if not drop.any():
        return mask
    out = mask.copy()
    out[y : y + h, x : x + w] &= ~drop[comp]
    return out
