"""Building blocks of the click-aware graph cut: colour models, edge weights, min-cut."""

from __future__ import annotations

import cv2
import numpy as np

#: Variance added to each channel of every colour-model component (OpenCV's 8-bit Lab units:
#: about one quantisation level), so that a flat cluster stays invertible. It used to be 6.5
#: (a standard deviation of 2.5 levels), which blurred the a/b chroma channels, whose clusters
#: in photos are often only a few levels wide, and so weakened the colour term.
COVARIANCE_FLOOR = 1.0


def fit_gmm(
    samples: np.ndarray,
    *,
    components: int = 5,
    max_samples: int = 20000,
    seed: int = 0,
    floor: float = COVARIANCE_FLOOR,
):
    """Fit a full-covariance Gaussian mixture like GrabCut does (k-means, then one M-step).

    Parameters
    ----------
    samples : (N, 3) ndarray of float32
        Colours.

    Returns
    -------
    tuple
        ``(log_weights (K,), means (K, 3), inverse covariances (K, 3, 3), log_norms (K,))``.
    """
    if len(samples) > max_samples:
        rng = np.random.default_rng(seed)
        samples = samples[rng.choice(len(samples), max_samples, replace=False)]
    k = int(min(components, max(1, len(samples) // 10)))
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if k > 1:
        cv2.setRNGSeed(seed)
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 0.5)
        _, assign, _ = cv2.kmeans(samples, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
        assign = assign.ravel()
    else:
        assign = np.zeros(len(samples), np.int32)
    logw, means, icovs, lognorms = [], [], [], []
    eye = np.eye(3) * floor
    if len(samples) == 0:
        raise ValueError("`samples` must hold at least one colour; got none")
    for j in range(k):
        x = samples[assign == j].astype(np.float64)
        if len(x) == 0:
            continue
        mu = x.mean(axis=0)
        cov = (np.cov(x, rowvar=False) if len(x) > 1 else np.zeros((3, 3))) + eye
        logw.append(np.log(len(x) / len(samples)))
        means.append(mu)
        icovs.append(np.linalg.inv(cov))
        lognorms.append(-0.5 * np.linalg.slogdet(cov)[1])
    return np.array(logw), np.array(means), np.array(icovs), np.array(lognorms)


def gmm_loglik(pixels: np.ndarray, gmm) -> np.ndarray:
    """Log-likelihood (up to a constant) of (N, 3) ``pixels`` under ``gmm``; returns (N,) float32."""
    logw, means, icovs, lognorms = gmm
    best = None
    for j in range(len(logw)):
        chol = np.linalg.cholesky(icovs[j]).astype(np.float32)  # icov = L L^T
        z = (pixels - means[j].astype(np.float32)) @ chol
        term = np.float32(logw[j] + lognorms[j]) - 0.5 * np.einsum("ni,ni->n", z, z)
        best = term if best is None else np.logaddexp(best, term)
    return best


def _windows(shape, offset):
    """Slices of the pixels ``p`` that have a neighbour ``q = p + offset``, and of those ``q``."""
    (h, w), (dr, dc) = shape, offset
    src = (slice(0, h - dr), slice(max(0, -dc), w - max(0, dc)))
    dst = (slice(dr, h), slice(max(0, dc), w + min(0, dc)))
    return src, dst


OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))  # (drow, dcol): 8-connectivity, each pair once


def edge_weights(image: np.ndarray):
    """Contrast-sensitive pairwise weights ``exp(-beta |dI|^2) / dist`` (GrabCut's boundary term).

    Parameters
    ----------
    image : (H, W, C) ndarray of float32

    Returns
    -------
    list of ((drow, dcol), (H - drow, W - |dcol|) ndarray of float32)
        One entry per direction of :data:`OFFSETS`.
    """
    sq = []
    for offset in OFFSETS:
        src, dst = _windows(image.shape[:2], offset)
        sq.append(((image[src] - image[dst]) ** 2).sum(axis=-1))
    flat = np.concatenate([d.ravel() for d in sq])  # empty for a 1 x 1 image (a tiny coarse level)
    beta = 1.0 / (2.0 * max(float(np.mean(flat)) if flat.size else 0.0, 1e-6))
    return [(off, (np.exp(-beta * d) / np.hypot(*off)).astype(np.float32)) for off, d in zip(OFFSETS, sq, strict=True)]


def min_cut(cost_fg, cost_bg, edges, smoothness: float, fixed_fg, fixed_bg) -> np.ndarray:
    """Minimise ``sum cost(label) + smoothness * sum_edges w [labels differ]``; returns the fg mask.

    Only pixels that are in neither ``fixed_*`` mask are graph nodes, so a cut restricted to a
    thin band costs in proportion to the band.

    Parameters
    ----------
    cost_fg, cost_bg : (H, W) ndarray of float
        Cost of labelling each pixel foreground / background.
    edges : list
        From :func:`edge_weights`.
    smoothness : float
        Weight of the pairwise term.
    fixed_fg, fixed_bg : (H, W) ndarray of bool
        Pixels whose label is imposed (seeds, or pixels outside a band).

    Returns
    -------
    (H, W) ndarray of bool
    """
    import maxflow

    h, w = cost_fg.shape
    fixed_bg = fixed_bg & ~fixed_fg
    free = ~(fixed_fg | fixed_bg)
    out = fixed_fg.copy()
    n = int(free.sum())
    if n == 0:
        return out
    index = np.full((h, w), -1, np.int64)
    index[free] = np.arange(n)
    extra_fg = np.zeros((h, w))  # boundary costs towards fixed neighbours
    extra_bg = np.zeros((h, w))
    g = maxflow.Graph[float](n, 4 * n)
    g.add_nodes(n)
    for offset, wgt in edges:
        src, dst = _windows((h, w), offset)
        cap = smoothness * wgt.astype(np.float64)
        fp, fq = free[src], free[dst]
        both = fp & fq
        g.add_edges(index[src][both], index[dst][both], cap[both], cap[both])
        extra_bg[src] += np.where(fp & fixed_fg[dst], cap, 0.0)
        extra_fg[src] += np.where(fp & fixed_bg[dst], cap, 0.0)
        extra_bg[dst] += np.where(fq & fixed_fg[src], cap, 0.0)
        extra_fg[dst] += np.where(fq & fixed_bg[src], cap, 0.0)
    diff = (cost_bg + extra_bg - cost_fg - extra_fg)[free].astype(np.float64)
    nodes = np.arange(n)
    # source side = foreground: a source link is cut (paid) when the pixel ends up background
    g.add_grid_tedges(nodes, np.maximum(diff, 0), np.maximum(-diff, 0))
    g.maxflow()
    out[free] = ~g.get_grid_segments(nodes)
    return out
