"""Benchmark table lookup: the search sees the validation metric, the report the test metric."""
from __future__ import annotations

import math
from typing import Sequence

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
        self.requires = b.requires  # Enumerable unless the benchmark finds rows itself (NB101: by cell hash)
        self.objectives = (b.objective,)
        self._name = b.objective.name
        # Python lists index faster than numpy arrays for single elements
        self._value = b.table.column(b.value_column).tolist()
        self._report = [(name, b.table.column(col).tolist()) for name, col in b.report_columns.items()]
        self._cost = b.table.column(b.cost_column).tolist() if b.cost_column else None

    def lookup(self, arch) -> Evaluation:
        i = self.benchmark.index_of(arch, self.space)
        if i is None:  # a table keyed by something else than the space index may lack the architecture
            return checked({self._name: math.nan}, self.objectives, {}, 0.0,
                           "architecture missing from the benchmark table")
        value = self._value[i]
        report = {k: v[i] for k, v in self._report}
        cost = self._cost[i] if self._cost is not None else 0.0
        if math.isfinite(value):
            return Evaluation({self._name: value}, report, cost)
        return checked({self._name: value}, self.objectives, report, cost,
                       "architecture missing from the benchmark table")

    def evaluate(self, archs: Sequence) -> list[Evaluation]:
        return [self.lookup(a) for a in archs]

    def describe(self) -> dict:
        return {"evaluator": "lookup", **self.benchmark.describe()}
