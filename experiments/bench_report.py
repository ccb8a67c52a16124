"""Time the HTML report of a large sweep: 100 synthetic runs x 200 queries (goal: <= 5 s).

    python experiments/bench_report.py [--runs 100] [--queries 200]

Writes the run folders (NB201 cells, 4 strategies x 25 seeds, a val_acc
objective with a test_acc report value and simulated costs) to a temporary
folder, then times, in the same process, ``html_report`` against the text
report as it was before (markdown table plus ``anytime.png``,
``python -m nasframe.report DIR``), and prints both and their ratio.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
STRATEGIES = ("random", "rea", "prednas", "optuna")


def cell(code: int) -> str:
    ops = []
    for _ in range(6):
        code, r = divmod(code, 5)
        ops.append(OPS[r])
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)


def write_sweep(root: Path, runs: int, queries: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(runs):
        strategy = STRATEGIES[i % len(STRATEGIES)]
        codes = rng.choice(15625, size=queries, replace=False)
        val = 70 + 20 * rng.beta(5, 2, size=queries) + 0.3 * STRATEGIES.index(strategy)
        lines = [{"phase": "search", "index": q, "arch": cell(int(c)), "values": {"val_acc": float(v)},
                  "report": {"test_acc": float(v + rng.normal(2, 0.5))}, "cost": float(rng.uniform(500, 2000)),
                  "failure": None, "repeat": False, "wall_time": 1e-5} for q, (c, v) in enumerate(zip(codes, val))]
        best = max(lines, key=lambda r: r["values"]["val_acc"])
        config = {"names": {"strategy": strategy, "space": "nb201", "evaluator": "lookup"}, "seed": i,
                  "space": {"_target_": "nasframe.spaces.nb201.NB201Space"}, "storage": None, "study": None,
                  "benchmark": {"dataset": "cifar10", "task": None, "path": None, "epoch_mode": "final"},
                  "data": {"root": None}, "budget": {"queries": queries, "seconds": None}}
        summary = {"status": "complete", "recommended": best["arch"], "values": best["values"],
                   "report": best["report"], "queries": queries, "seed": i, "config": config,
                   "objectives": [{"name": "val_acc", "direction": "max", "unit": "%", "description": ""}],
                   "sim_seconds": sum(r["cost"] for r in lines), "wall_seconds": 0.01,
                   "evaluator": {"evaluator": "lookup", "benchmark": "nb201", "objective": "val_acc"}}
        folder = root / f"{strategy}-{i:03d}"
        folder.mkdir(parents=True)
        (folder / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        (folder / "summary.json").write_text(json.dumps(summary))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--queries", type=int, default=200)
    args = p.parse_args()
    from nasframe import report
    from nasframe.analysis.html import html_report

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_sweep(root, args.runs, args.queries)
        html_report(root, out=root / "warmup.html")  # imports, fonts and caches: not what a second report pays

        def text_report():
            with contextlib.redirect_stdout(io.StringIO()):
                assert report.main([str(root)]) == 0

        text = timed(text_report)
        page = timed(lambda: html_report(root))
        size = (root / "report.html").stat().st_size
    print(f"{args.runs} runs x {args.queries} queries")
    print(f"text report + anytime.png (before):  {text:6.2f} s")
    print(f"html report (report.html, {size / 1e3:.0f} kB):  {page:6.2f} s   goal <= 5 s: "
          f"{'met' if page <= 5 else 'NOT met'}")
    print(f"ratio html / text: {page / text:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
