"""The runner's own cost per query as the history grows, against Optuna driving the same objective.

    python experiments/bench_runner.py [--data ../shared/data] [--queries 15625] [--small 1000]

Random search over NAS-Bench-201 (the lookup evaluator on the real CIFAR-10 table; ledger and
checkpoints on, progress bar and plot off), twice in one process: ``--small`` queries and
``--queries`` (default: all 15,625 cells). Prints

* the runner's per-query overhead (the loop's wall time minus the time inside ``evaluate``,
  ``ask`` and ``tell``) of both runs, their ratio (goal <= 1.5), and the same for the first and
  the last ``--small`` queries of the long run;
* the long run's total loop seconds (goal <= 5 s on a 2-core machine);
* the checkpoints of both runs: how many, the last one's size and write time;
* Optuna's ``RandomSampler`` with in-memory storage driving the same lookup through
  ``study.optimize`` for ``--queries`` trials, and the throughput ratio nasframe / Optuna
  (goal >= 1.0).

All figures come from one process on whatever else the machine is running: read the ratios.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nasframe.core.ledger import Ledger
from nasframe.core.runner import Budget, Runner
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.random import RandomSearch

INSIDE = [0.0]  # seconds spent in evaluate, ask and tell
PARTS = {"ask": 0.0, "evaluate": 0.0, "tell": 0.0}
MARKS: list[tuple[float, float]] = []  # (wall clock, INSIDE) after each tell
CHECKPOINTS: list[tuple[float, int]] = []  # (write seconds, bytes)


def timed(part: str, call, *args):
    t = time.perf_counter()
    out = call(*args)
    now = time.perf_counter()
    INSIDE[0] += now - t
    PARTS[part] += now - t
    return out


class TimedRandom(RandomSearch):
    def ask(self, n=1):
        return timed("ask", super().ask, n)

    def tell(self, archs, evaluations):
        timed("tell", super().tell, archs, evaluations)
        MARKS.append((time.perf_counter(), INSIDE[0]))


class TimedLookup(BenchmarkLookup):
    def evaluate(self, archs):
        return timed("evaluate", super().evaluate, archs)


class TimedLedger(Ledger):
    def save_checkpoint(self, state):
        t = time.perf_counter()
        super().save_checkpoint(state)
        CHECKPOINTS.append((time.perf_counter() - t, self.checkpoint_path.stat().st_size))


def nasframe_run(space, evaluator, queries: int, out: Path) -> dict:
    INSIDE[0] = 0.0
    PARTS.update(ask=0.0, evaluate=0.0, tell=0.0)
    MARKS.clear()
    CHECKPOINTS.clear()
    # max_tries: the last free cells of an exhausted space take ~15,625 draws each
    runner = Runner(space, evaluator, TimedRandom(max_tries=10**7), Budget(queries), out, seed=0)
    runner.ledger = TimedLedger(out)
    t = time.perf_counter()
    result = runner.run()
    total = time.perf_counter() - t
    assert result.summary["queries"] == queries, result.summary["queries"]
    return {"total": total, "overhead": (total - INSIDE[0]) / queries, "marks": list(MARKS),
            "checkpoints": list(CHECKPOINTS), "parts": dict(PARTS)}


def window_overhead(marks, lo: int, hi: int) -> tuple[float, float]:
    """Mean and median per-query overhead from the lo-th to the hi-th tell (the median is robust to
    the pre-emptions of a shared machine)."""
    import numpy as np

    wall, inside = np.array(marks[lo:hi]).T
    per_query = np.diff(wall) - np.diff(inside)
    return float(per_query.mean()), float(np.median(per_query))


def optuna_run(space, evaluator, queries: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    decisions = space.decisions()

    def objective(trial):
        choice = [trial.suggest_categorical(d.name, list(range(len(d.options)))) for d in decisions]
        return evaluator.evaluate([space.from_decisions(choice)])[0].values["val_acc"]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    t = time.perf_counter()
    study.optimize(objective, n_trials=queries)
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="folder laid out like shared/data")
    ap.add_argument("--queries", type=int, default=15625)
    ap.add_argument("--small", type=int, default=1000)
    args = ap.parse_args(argv)
    space = NB201Space()
    evaluator = TimedLookup(space, "cifar10", root=args.data)
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp:
        nasframe_run(space, evaluator, 50, Path(tmp) / "warm")  # imports, caches
        small = nasframe_run(space, evaluator, args.small, Path(tmp) / "small")
        big = nasframe_run(space, evaluator, args.queries, Path(tmp) / "big")
    optuna_seconds = optuna_run(space, evaluator, args.queries)

    us = 1e6
    print(f"per-query runner overhead: {small['overhead'] * us:.1f} us at {args.small} queries, "
          f"{big['overhead'] * us:.1f} us at {args.queries}; ratio {big['overhead'] / small['overhead']:.2f} "
          "(goal <= 1.5)")
    (first, first_med) = window_overhead(big["marks"], 0, args.small)
    (last, last_med) = window_overhead(big["marks"], args.queries - args.small, args.queries)
    print(f"  within the {args.queries}-query run, first vs last {args.small} queries: mean {first * us:.1f} vs "
          f"{last * us:.1f} us (ratio {last / first:.2f}), median {first_med * us:.1f} vs {last_med * us:.1f} us "
          f"(ratio {last_med / first_med:.2f})")
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in big["parts"].items())
    print(f"total loop seconds for {args.queries} queries: {big['total']:.2f} s (goal <= 5 s): runner "
          f"{big['overhead'] * args.queries:.2f} s, {parts}")
    for name, run, n in (("small", small, args.small), ("big", big, args.queries)):
        cks = run["checkpoints"]
        print(f"checkpoints at {n} queries: {len(cks)} written, {sum(c[0] for c in cks):.3f} s in all; "
              f"last {cks[-1][1] / 1024:.1f} KiB in {cks[-1][0] * 1000:.1f} ms")
    print(f"Optuna RandomSampler (in-memory) study.optimize, {args.queries} trials: {optuna_seconds:.2f} s; "
          f"throughput nasframe / Optuna {optuna_seconds / big['total']:.2f} (goal >= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
