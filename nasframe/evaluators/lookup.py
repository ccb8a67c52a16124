"""Benchmark table lookup: the search sees the validation metric, the report the test metric.

By default the search sees the table's final-epoch value averaged over the seeds the source has
(NB201: 200 epochs). With an official NB201 ``.pth`` or NATS-Bench file, which hold learning curves
per seed, two more protocols are available:

* ``benchmark.epochs=12|200`` picks NB201's 12- or 200-epoch training schedule and
  ``benchmark.seed_mode=random`` answers each architecture with one of its seeds drawn at random
  (``mean``: the seed average). ``epochs=12, seed_mode=random`` is the NATS-Bench search protocol
  (``hp='12'``, ``is_random=True``); each query then costs the recorded seconds of that training run
  (``train-all-time + valid-per-time``), which ``budget.seconds`` charges.
* Multi-fidelity strategies (``strategy=hyperband``) ask for an epoch of the chosen schedule's
  learning curve (fidelity 1..12 or 1..200, the 200-epoch one unless ``benchmark.epochs`` says 12).

The drawn seed depends only on the run's seed and the architecture, so a resumed run draws the same
ones, and an architecture keeps one training run across fidelities, as a real one would.
Test accuracy (report only) is always the 200-epoch seed mean, as NATS-Bench reports it.
"""
from __future__ import annotations

import math
from dataclasses import replace
import sys
from typing import Sequence

import numpy as np

from nasframe.benchmarks import Benchmark, find_benchmark
from nasframe.core.evaluator import Evaluation, Evaluator, MultiFidelity, checked
from nasframe.core.space import Enumerable
from nasframe.errors import ConfigError, DataError

SCHEDULES = {12: "12", 200: "200"}


def present_rows(table) -> list[bool]:
    """Rows the source has at all (any finite column): a NaN value there is a NaN cell, not a missing row."""
    present = np.zeros(table.size, dtype=bool)
    for values in table.columns.values():
        # metric columns (NB101 also keeps hashes; NB201 official files add 3-D learning curves)
        if np.ndim(values) == 1 and np.issubdtype(np.asarray(values).dtype, np.floating):
            present |= np.isfinite(values)
    return present.tolist()


def warn_nan_values(benchmark: Benchmark, present: list[bool]) -> None:
    values = benchmark.table.column(benchmark.value_column)
    nan = int((np.isnan(values) & np.asarray(present)).sum())
    if nan:
        print(f"nasframe: warning: {nan:,} of the {sum(present):,} architectures in "
              f"{benchmark.table.meta.get('source', benchmark.table.name)} have no {benchmark.value_column} "
              "value (NaN); querying one is recorded as a failure", file=sys.stderr)


class BenchmarkLookup(MultiFidelity, Evaluator):
    requires = (Enumerable,)

    def __init__(self, space, dataset: str | None = None, root=None, path=None, benchmark: Benchmark | None = None,
                 epochs: int | None = None, seed_mode: str = "mean", seed: int = 0, **options):
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
        self._curves(epochs, seed_mode, seed)

    def _curves(self, epochs, seed_mode, seed) -> None:
        """Choose the learning curves answered at a fidelity (and by the NATS-Bench protocol)."""
        if seed_mode not in ("mean", "random"):
            raise ConfigError(f"benchmark.seed_mode must be 'mean' or 'random', got {seed_mode!r}")
        if epochs is not None and epochs not in SCHEDULES:
            raise ConfigError(f"benchmark.epochs must be 12 or 200 (NB201's two training schedules) or null, "
                              f"got {epochs!r}")
        self.seed_mode, self.seed = seed_mode, int(seed)
        # the protocol applies to plain evaluate() too when asked for; else only to fidelity asks
        self.protocol = epochs is not None or seed_mode == "random"
        schedule = SCHEDULES[epochs] if epochs is not None else "200"
        cols = self.benchmark.curves.get(schedule)
        if cols is None:
            if self.protocol:
                have = ", ".join(f"{k} epochs" for k in sorted(self.benchmark.curves, key=int)) or "final values only"
                raise DataError(f"benchmark.epochs={schedule} and seed_mode={seed_mode} need per-epoch, per-seed "
                                f"results; {self.benchmark.table.meta.get('source', 'the table')} has {have}: use an "
                                "official NB201 .pth or NATS-Bench topology file (benchmark.path=FILE)")
            self.schedule, self.max_fidelity = None, None
            return
        self.schedule = schedule
        self._val_curve, self._time_curve = (self.benchmark.table.column(c) for c in cols)
        self.max_fidelity = int(self._val_curve.shape[2])

    def _seed_slot(self, i: int, valid: np.ndarray) -> int:
        """The seed answering architecture ``i``: drawn from (run seed, architecture) alone."""
        slots = np.flatnonzero(valid)
        return int(slots[np.random.default_rng([self.seed % 2**32, i]).integers(len(slots))])

    def evaluate_at(self, archs: Sequence, fidelity: int) -> list[Evaluation]:
        if self.schedule is None:
            raise ConfigError("this benchmark table has no learning curves to answer at a fidelity")
        return [self._at(a, self.check_fidelity(fidelity), fidelity) for a in archs]

    def _at(self, arch, epoch: int, fidelity) -> Evaluation:
        return replace(self._measure(arch, epoch), fidelity=fidelity)

    def _measure(self, arch, epoch: int) -> Evaluation:
        i = self.benchmark.index_of(arch, self.space)
        if i is None:
            return checked({self._name: math.nan}, self.objectives, {}, 0.0,
                           "architecture missing from the benchmark table")
        report = {k: v[i] for k, v in self._report}
        vals, times = self._val_curve[i, :, epoch - 1], self._time_curve[i, :, epoch - 1]
        valid = np.isfinite(vals)
        if not valid.any():
            return checked({self._name: math.nan}, self.objectives, report, 0.0,
                           f"no {self.schedule}-epoch learning curve for this architecture in the benchmark file")
        if self.seed_mode == "random":
            # one seed per architecture at every fidelity: drawn among the seeds with any recorded epoch
            s = self._seed_slot(i, np.isfinite(self._val_curve[i]).any(axis=1))
            value, cost = float(vals[s]), float(times[s])
            report["bench_seed_slot"] = s
        else:
            value, cost = float(np.mean(vals[valid])), float(np.mean(times[valid]))
        cost = cost if math.isfinite(cost) else 0.0
        return checked({self._name: value}, self.objectives, report, cost)

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
        if self.protocol:  # e.g. NATS-Bench: the last epoch of the 12-epoch schedule, one random seed
            return [self._at(a, self.max_fidelity, None) for a in archs]
        return [self.lookup(a) for a in archs]

    def describe(self) -> dict:
        out = {"evaluator": "lookup", **self.benchmark.describe()}
        if self.schedule is not None:
            out.update(schedule_epochs=int(self.schedule), seed_mode=self.seed_mode,
                       protocol="nats-bench" if self.protocol else "final seed mean (curves for fidelity asks)")
        return out
