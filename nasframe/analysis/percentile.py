"""Percentile of a found architecture within its benchmark (TransNAS-Bench-101 Table 4, "Perc.").

The percentile of a value is 100 x the share of all architectures in the space
whose validation value for the task is at most as good as it, in the
higher-is-better sense (so the global best scores 100, and ties count as
beaten). Architectures without a value (NaN) are left out. "Perc." in the
paper is this percentile averaged over the six target tasks, i.e. all tasks
but jigsaw.

API:
* ``percentile(value, population, direction="max")`` - the number itself;
* ``benchmark_percentile(benchmark, value)`` - against a loaded ``Benchmark``
  (its value column and objective direction);
* ``average_percentile(per_task)`` - the mean over the six target tasks of a
  ``{task: percentile}`` mapping (jigsaw and anything else ignored; a missing
  target task is an error).
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from scipy.stats import percentileofscore

from nasframe.errors import ConfigError

TARGET_TASKS = ("class_object", "class_scene", "autoencoder", "normal", "segmentsemantic", "room_layout")


def percentile(value: float, population, direction: str = "max") -> float:
    """100 x share of ``population`` (NaNs dropped) that is no better than ``value``."""
    if direction not in ("max", "min"):
        raise ValueError(f"direction must be 'max' or 'min', not {direction!r}")
    pop = np.asarray(population, dtype=np.float64).ravel()
    pop = pop[~np.isnan(pop)]
    if pop.size == 0:
        raise ValueError("percentile of an empty population")
    if value is None or math.isnan(value):
        return math.nan
    sign = 1.0 if direction == "max" else -1.0
    # kind="weak": the share of values <= the score, i.e. ties count as beaten
    return float(percentileofscore(sign * pop, sign * value, kind="weak"))


def benchmark_percentile(benchmark, value: float) -> float:
    """``percentile`` of ``value`` among all architectures of a ``nasframe.benchmarks.Benchmark``."""
    return percentile(value, benchmark.table.column(benchmark.value_column), benchmark.objective.direction)


def average_percentile(per_task: Mapping[str, float], tasks=TARGET_TASKS) -> float:
    """Mean percentile over ``tasks`` (default: the six TransNAS-Bench-101 target tasks)."""
    missing = [t for t in tasks if t not in per_task]
    if missing:
        raise ConfigError(f"the average percentile needs all of {', '.join(tasks)}; missing {', '.join(missing)}")
    return float(np.mean([per_task[t] for t in tasks]))


__all__ = ["TARGET_TASKS", "percentile", "benchmark_percentile", "average_percentile"]
