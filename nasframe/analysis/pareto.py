"""Pareto fronts and hypervolume, in 'higher is better' (utility) coordinates."""
from __future__ import annotations

import numpy as np


def pareto_mask(points) -> np.ndarray:
    """True for points no other point dominates (all >=, one >)."""
    p = np.asarray(points, dtype=float)
    n = len(p)
    keep = np.ones(n, dtype=bool)
    order = np.lexsort(p.T[::-1])[::-1]  # best on the first coordinate first
    for i in order:
        if not keep[i]:
            continue
        dominated = np.all(p <= p[i], axis=1) & np.any(p < p[i], axis=1)
        keep &= ~dominated
    return keep


def hypervolume(points, reference) -> float:
    """Volume dominated by ``points`` and bounded below by ``reference`` (exact, slicing in the last
    coordinate; fine for the few hundred points of a search)."""
    p = np.asarray(points, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if p.size == 0:
        return 0.0
    p = p[np.all(p > ref, axis=1)]
    if len(p) == 0:
        return 0.0
    p = p[pareto_mask(p)]
    if p.shape[1] == 1:
        return float(p[:, 0].max() - ref[0])
    # sweep the last coordinate from the top: each slab is the (d-1)-volume of the points above it
    levels = np.sort(np.unique(p[:, -1]))[::-1]
    total = 0.0
    for k, level in enumerate(levels):
        below = levels[k + 1] if k + 1 < len(levels) else ref[-1]
        active = p[p[:, -1] >= level][:, :-1]
        total += hypervolume(active, ref[:-1]) * (level - below)
    return float(total)
