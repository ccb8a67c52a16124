"""Rank correlation and the fixed architecture samples it is measured on.

Below both the evaluators (``dps_fitness`` scores a genome by a rank
correlation on a fixed sample) and the offline analysis
(``nasframe.analysis.correlate``), so neither imports the other.
"""
from __future__ import annotations

import math

import numpy as np

from nasframe.core.space import Enumerable
from nasframe.errors import ConfigError


def choose_archs(space, n: int, seed: int, candidates=None, exclude=()) -> list:
    """``n`` distinct architectures drawn with ``seed``, none in ``exclude``, in a fixed order.

    From ``candidates`` when given, else from the whole space when it is
    ``Enumerable`` (sorted by index), else by sampling until ``n`` are distinct.
    """
    rng = np.random.default_rng(seed)
    exclude = {str(a) for a in exclude}
    if candidates is not None:
        cands = list(candidates)
    elif isinstance(space, Enumerable):
        cands = list(space)
    else:
        out, seen = [], set()
        while len(out) < n:
            a = space.sample(rng)
            if str(a) not in seen and str(a) not in exclude:
                seen.add(str(a))
                out.append(a)
        return out
    cands = list({str(a): a for a in cands if str(a) not in exclude}.values())
    if n > len(cands):
        raise ConfigError(f"sample={n} but only {len(cands)} architectures are available; lower sample")
    idx = rng.choice(len(cands), size=n, replace=False)
    return [cands[i] for i in sorted(idx)]


def rank_correlations(x, y) -> dict:
    """Spearman ρ and Kendall τ-b over the pairs where both values are finite (NaN below 3 pairs)."""
    from scipy.stats import kendalltau, spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return {"spearman": math.nan, "kendall": math.nan, "n": int(ok.sum())}
    return {"spearman": float(spearmanr(x[ok], y[ok])[0]), "kendall": float(kendalltau(x[ok], y[ok])[0]),
            "n": int(ok.sum())}
