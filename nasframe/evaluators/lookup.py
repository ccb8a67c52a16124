"""Benchmark table lookup: the search sees the validation metric, the report the test metric."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from nasframe.benchmarks import Benchmark, find_benchmark
from nasframe.core.evaluator import Evaluation, Evaluator, checked
from nasframe.core.space import Enumerable


class BenchmarkLookup(Evaluator):
    requires = (Enumerable,)

    def __init__(self, space, dataset: str | None = None, root=None, path=None, benchmark: Benchmark | None = None,
                 **options):
        self.space = space
        self.benchmark = benchmark or find_benchmark(space, dataset, root=root, path=path, **options)
        b = self.benchmark
        self.objectives = (b.objective,)
        self._value = b.table.column(b.value_column)
        self._report = {name: b.table.column(col) for name, col in b.report_columns.items()}
        self._cost = b.table.column(b.cost_column) if b.cost_column else None

    def lookup(self, arch) -> Evaluation:
        i = self.space.index(arch)
        value = float(self._value[i])
        report = {k: float(v[i]) for k, v in self._report.items()}
        cost = float(self._cost[i]) if self._cost is not None else 0.0
        failure = "architecture missing from the benchmark table" if np.isnan(value) else None
        return checked({self.objectives[0].name: value}, self.objectives, report, cost, failure)

    def evaluate(self, archs: Sequence) -> list[Evaluation]:
        return [self.lookup(a) for a in archs]

    def describe(self) -> dict:
        return {"evaluator": "lookup", **self.benchmark.describe()}
