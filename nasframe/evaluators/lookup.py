"""Benchmark table lookup: the search sees the validation metric, the report the test metric."""
from __future__ import annotations

import math
import sys
from typing import Sequence

import numpy as np

from nasframe.benchmarks import Benchmark, find_benchmark
from nasframe.core.evaluator import Evaluation, Evaluator, checked
from nasframe.core.space import Enumerable


def present_rows(table) -> list[bool]:
    """Rows the source has at all (any finite column): a NaN value there is a NaN cell, not a missing row."""
    present = np.zeros(table.size, dtype=bool)
    for values in table.columns.values():
        if np.issubdtype(np.asarray(values).dtype, np.floating):  # metric columns (NB101 also keeps hashes)
            present |= np.isfinite(values)
    return present.tolist()


def warn_nan_values(benchmark: Benchmark, present: list[bool]) -> None:
    values = benchmark.table.column(benchmark.value_column)
    nan = int((np.isnan(values) & np.asarray(present)).sum())
    if nan:
        print(f"nasframe: warning: {nan:,} of the {sum(present):,} architectures in "
              f"{benchmark.table.meta.get('source', benchmark.table.name)} have no {benchmark.value_column} "
              "value (NaN); querying one is recorded as a failure", file=sys.stderr)


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
        self._present = present_rows(b.table)
        warn_nan_values(b, self._present)

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
        why = (f"the benchmark table's {self.benchmark.value_column} value for this architecture is NaN "
               f"(an empty or NaN cell in {self.benchmark.table.meta.get('source', 'the source file')})"
               if self._present[i] else "architecture missing from the benchmark table")
        return checked({self._name: value}, self.objectives, report, cost, why)

    def evaluate(self, archs: Sequence) -> list[Evaluation]:
        return [self.lookup(a) for a in archs]

    def describe(self) -> dict:
        return {"evaluator": "lookup", **self.benchmark.describe()}
