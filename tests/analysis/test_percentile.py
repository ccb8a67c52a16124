"""The benchmark percentile (scipy's percentileofscore, kind="weak") against its definition."""
import math

import numpy as np
import pytest

from nasframe.analysis.percentile import percentile


def by_definition(value, population, direction):
    """100 x share of the (non-NaN) population no better than ``value`` (the former hand-written count)."""
    pop = np.asarray(population, float).ravel()
    pop = pop[~np.isnan(pop)]
    sign = 1.0 if direction == "max" else -1.0
    return 100.0 * np.count_nonzero(sign * pop <= sign * value) / pop.size


def test_known_answers_ties_count_as_beaten():
    pop = [1.0, 2.0, 2.0, 3.0, np.nan]
    assert percentile(2.0, pop) == pytest.approx(75.0)
    assert percentile(2.0, pop, "min") == pytest.approx(75.0)
    assert percentile(3.0, pop) == pytest.approx(100.0) and percentile(0.5, pop) == 0.0
    assert percentile(1.0, pop, "min") == pytest.approx(100.0)
    assert math.isnan(percentile(math.nan, pop))
    with pytest.raises(ValueError):
        percentile(1.0, [np.nan])
    with pytest.raises(ValueError):
        percentile(1.0, pop, "up")


def test_equals_the_definition_on_many_populations():
    rng = np.random.default_rng(0)
    for i in range(2000):
        pop = rng.integers(0, 20, size=int(rng.integers(1, 60))).astype(float)
        if i % 3 == 0:
            pop[rng.random(pop.size) < 0.2] = np.nan
        if np.isnan(pop).all():
            continue
        value = float(rng.choice(pop[~np.isnan(pop)])) if i % 2 else float(rng.integers(-2, 22))
        for d in ("max", "min"):
            assert percentile(value, pop, d) == pytest.approx(by_definition(value, pop, d), abs=1e-9)
