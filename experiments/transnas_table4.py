"""TransNAS-Bench-101 Table 4: RS, REA-tfs, REA-transfer, PPO-tfs, PPO-transfer and CATCH.

    nice -n 5 python experiments/transnas_table4.py --data ../shared/data --space micro \
        --trials 50 --queries 50 --workers 2

Every trial is one ``Runner`` search (in-process, temporary run folder, no
progress bar or plot of its own) with the strategy config of ``conf/strategy``:

==============  ==================  =========================================================
row             config              sources (never the target: leave-one-out)
==============  ==================  =========================================================
RS              random              -
REA-tfs         rea_tnb (P=S=10)    -
REA-transfer    rea_transfer        jigsaw (50-query REA; its top 10 seed the target)
PPO-tfs         ppo                 -
PPO-transfer    ppo_transfer        jigsaw (50 queries of pre-training)
CATCH           catch               jigsaw, class_object, class_scene minus the target
==============  ==================  =========================================================

The cell of a (row, task) is the mean +- std over trials of the best
validation value found in ``--queries`` target queries, in the paper's units
(classification and jigsaw %, SSIM x100, room layout L2 loss x100, lower is
better). "Perc." is, per trial, 100 x the share of all architectures whose
validation value is no better than the found one, averaged over trials and
then over the six target tasks (all but jigsaw). The shared tables hold
final-epoch validation values (the paper used the best epoch) and pixel
accuracy for segmentation (the paper: mIoU), so compare percentiles rather
than absolute values; the segmentation column is never comparable.

Extra Hydra overrides after the options apply to every row's strategy, e.g.
PPO under the other reading of "memory size 100" (episodes, not decision steps):

    python experiments/transnas_table4.py --data ../shared/data --rows PPO-tfs,PPO-transfer \
        --trials 50 --workers 2 --out runs/table4_episodes strategy.memory_unit=episodes

Writes ``table4_<space>.json`` and ``table4_<space>.md`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TASKS = ("class_object", "class_scene", "autoencoder", "normal", "segmentsemantic", "room_layout", "jigsaw")
TARGETS = TASKS[:-1]
ROWS = {  # row -> (strategy config, sources before leave-one-out, runs on jigsaw too)
    "RS": ("random", (), True),
    "REA-tfs": ("rea_tnb", (), True),
    "REA-transfer": ("rea_transfer", ("jigsaw",), False),
    "PPO-tfs": ("ppo", (), True),
    "PPO-transfer": ("ppo_transfer", ("jigsaw",), False),
    "CATCH": ("catch", ("jigsaw", "class_object", "class_scene"), False),
}
HEADERS = {"class_object": "Cls. Object", "class_scene": "Cls. Scene", "autoencoder": "Autoenc. (SSIM)",
           "normal": "Surf. Normal (SSIM)", "segmentsemantic": "Sem. Seg.*", "room_layout": "Room L2 (x100)",
           "jigsaw": "Jigsaw"}

# TransNAS-Bench-101 Table 4 (best epoch; segmentation in mIoU), for comparison
PAPER = {
    "micro": {
        "RS": (45.16, 54.41, 55.94, 56.85, 25.21, 61.48, 94.47, 97.91),
        "REA-tfs": (45.39, 54.62, 56.96, 57.22, 25.52, 61.75, 94.62, 99.06),
        "REA-transfer": (45.51, 54.61, 56.52, 57.20, 25.46, 61.04, None, 99.02),
        "PPO-tfs": (45.19, 54.37, 55.83, 56.90, 25.24, 61.38, 94.46, 98.07),
        "PPO-transfer": (44.81, 54.15, 55.70, 56.60, 24.89, 62.01, None, 94.94),
        "CATCH": (45.27, 54.38, 56.13, 56.99, 25.38, 60.70, None, 98.45),
        "Global best": (46.32, 54.94, 57.72, 59.62, 26.27, 59.38, 95.37, 100.0),
    },
    "macro": {
        "RS": (46.85, 56.50, 70.06, 60.70, 28.37, 59.35, 96.78, 98.18),
        "REA-tfs": (47.09, 56.57, 69.98, 60.88, 28.87, 58.73, 96.88, 98.74),
        "REA-transfer": (46.98, 56.60, 73.41, 61.02, 28.90, 58.18, None, 99.11),
        "PPO-tfs": (46.84, 56.48, 70.92, 60.82, 28.31, 58.84, 96.76, 98.33),
        "PPO-transfer": (46.76, 56.47, 70.54, 60.80, 28.31, 59.17, None, 97.79),
        "CATCH": (47.29, 56.49, 70.36, 60.85, 28.71, 59.37, None, 98.78),
        "Global best": (47.96, 57.48, 76.88, 64.35, 29.66, 56.28, 97.02, 100.0),
    },
}


def paper_units(task: str, value: float) -> float:
    """Our visible value -> the unit of the paper's table."""
    if task in ("autoencoder", "normal"):
        return 100.0 * value
    if task == "room_layout":
        return -100.0 * value  # negative L2 loss -> L2 loss x100
    return value


def sources_for(row: str, task: str) -> list[str]:
    return [s for s in ROWS[row][1] if s != task]


def jobs_for(rows, tasks, trials):
    jobs = []
    for row in rows:
        for task in tasks:
            if task == "jigsaw" and not ROWS[row][2]:
                continue
            jobs += [(row, task, t) for t in range(trials)]
    return jobs


# ---------------------------------------------------------------- worker side

_W: dict = {}


def _init(space_name: str, data: str, tmp: str, overrides: tuple = ()):
    import torch

    torch.set_num_threads(1)
    from nasframe.api import compose
    from nasframe.compose import instantiate
    from nasframe.evaluators.lookup import BenchmarkLookup

    cfg, _ = compose([f"space={space_name}"])
    space = instantiate(cfg.space, "space")
    _W.update(space=space, tmp=tmp, lookups={t: BenchmarkLookup(space, t, root=data) for t in TASKS},
              strategies={row: compose([f"strategy={ROWS[row][0]}", *_applicable(row, overrides)])[0].strategy
                          for row in ROWS})


def _applicable(row: str, overrides) -> list:
    """Strategy overrides a row's config knows (strategy.memory_unit applies to the PPO rows only)."""
    from nasframe.api import compose

    known = compose([f"strategy={ROWS[row][0]}"])[0].strategy
    return [o for o in overrides if not o.startswith("strategy.") or o.split("=", 1)[0].split(".", 1)[1] in known]


def run_trial(job) -> tuple:
    from nasframe.compose import instantiate
    from nasframe.core.runner import Budget, Runner, Source

    row, task, trial, queries = job
    sources = sources_for(row, task)
    strategy = instantiate(_W["strategies"][row], "strategy")
    out = tempfile.mkdtemp(prefix=f"{row}-{task}-{trial}-", dir=_W["tmp"])
    try:
        runner = Runner(_W["space"], _W["lookups"][task], strategy, Budget(queries), out, seed=trial,
                        progress=False, plot=False, sources=[Source(s, _W["lookups"][s]) for s in sources])
        t, cpu = time.perf_counter(), time.process_time()
        summary = runner.run().summary
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    finally:
        shutil.rmtree(out, ignore_errors=True)
    lookup = _W["lookups"][task]
    value = summary["values"][lookup.primary.name]
    from nasframe.analysis.percentile import benchmark_percentile

    return (row, task, trial, value, benchmark_percentile(lookup.benchmark, value), wall, cpu,
            summary["pretrain_queries"])


# ---------------------------------------------------------------- table


def aggregate(results: list, rows, tasks) -> dict:
    out = {}
    for row in rows:
        for task in tasks:
            rs = [r for r in results if r[0] == row and r[1] == task]
            if not rs:
                continue
            vals = np.array([paper_units(task, r[3]) for r in rs])
            perc = np.array([r[4] for r in rs])
            out[f"{row}|{task}"] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1
                                    else 0.0, "percentile": float(perc.mean()), "trials": len(rs),
                                    "wall_seconds_per_trial": float(np.mean([r[5] for r in rs])),
                                    "cpu_seconds_per_trial": float(np.mean([r[6] for r in rs]))}
    return out


def render(cells: dict, rows, tasks, space: str, queries: int, trials: int, seconds: float, cpu: float) -> str:
    paper = PAPER[space]
    lines = [f"TransNAS-Bench-101 {space}, {queries} queries, {trials} trials per cell: best validation value "
             f"found (mean +- std), ours / paper. Perc. = mean percentile over the six target tasks.", ""]
    head = "| method | " + " | ".join(HEADERS[t] for t in tasks) + " | Perc. | paper Perc. |"
    lines += [head, "|" + "---|" * (len(tasks) + 3)]
    for row in rows:
        cellstr, percs = [], []
        for i, task in enumerate(tasks):
            c = cells.get(f"{row}|{task}")
            ref = paper.get(row, (None,) * 8)[TASKS.index(task)]
            refs = "-" if ref is None else f"{ref:.2f}"
            if c is None:
                cellstr.append(f"- / {refs}")
                continue
            cellstr.append(f"{c['mean']:.2f}±{c['std']:.2f} / {refs}")
            if task in TARGETS:
                percs.append(c["percentile"])
        perc = f"{np.mean(percs):.2f}" if len(percs) == len(TARGETS) else "-"
        lines.append(f"| {row} | " + " | ".join(cellstr) + f" | {perc} | {paper[row][7]:.2f} |")
    lines.append("| Global best (paper) | " + " | ".join(f"{paper['Global best'][TASKS.index(t)]:.2f}"
                                                        for t in tasks) + " | 100 | 100 |")
    lines += ["", "Per-task percentiles (mean over trials):", "",
              "| method | " + " | ".join(HEADERS[t] for t in tasks) + " |", "|" + "---|" * (len(tasks) + 1)]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(
            f"{cells[f'{row}|{t}']['percentile']:.2f}" if f"{row}|{t}" in cells else "-" for t in tasks) + " |")
    lines += ["", "* Sem. Seg.: the shared table holds pixel accuracy (%), the paper mIoU: not comparable.",
              "Absolute values: ours are final-epoch validation values, the paper's best-epoch ones.",
              f"Wall time {seconds:.0f} s; CPU time inside the searches {cpu:.0f} s "
              f"(summed over workers; the wall time depends on what else runs on the machine)."]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("NASFRAME_DATA", "../shared/data"))
    p.add_argument("--space", choices=("micro", "macro"), default="micro")
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rows", default=",".join(ROWS), help="comma-separated subset of " + ",".join(ROWS))
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--out", default="results/transnas_table4")
    p.add_argument("overrides", nargs="*", help="Hydra overrides for every row, e.g. strategy.memory_unit=episodes")
    p.add_argument("--render-only", action="store_true",
                   help="print the table from the trials finished so far (the .trials.jsonl in --out)")
    a = p.parse_args(argv)
    rows = [r for r in a.rows.split(",") if r]
    tasks = [t for t in a.tasks.split(",") if t]
    bad = [r for r in rows if r not in ROWS] + [t for t in tasks if t not in TASKS]
    if bad:
        sys.exit(f"error: unknown row/task {', '.join(bad)}; rows are {', '.join(ROWS)}, tasks {', '.join(TASKS)}")
    space = f"transnas_{a.space}"
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f"table4_{a.space}.trials.jsonl"  # one line per finished trial, as they finish
    if a.render_only:
        results = [tuple(json.loads(line)) for line in partial.read_text().splitlines()]
        text = render(aggregate(results, rows, tasks), rows, tasks, a.space, a.queries,
                      max(r[2] for r in results) + 1, math.nan, float(sum(r[6] for r in results)))
        print(text)
        return
    jobs = [(r, t, i, a.queries) for r, t, i in jobs_for(rows, tasks, a.trials)]
    # run folders on tmpfs where there is one: the runner fsyncs its ledger after every query
    tmp_root = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="table4-", dir=tmp_root)
    from tqdm import tqdm

    t0 = time.perf_counter()
    results = []
    try:
        if a.workers > 1:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            # trial by trial, every row in each: an interrupted run still has comparable cells
            order = sorted(jobs, key=lambda j: (j[2], list(ROWS).index(j[0]), j[1]))
            with ctx.Pool(a.workers, initializer=_init, initargs=(space, a.data, tmp, tuple(a.overrides))) as pool, \
                    tqdm(total=len(jobs), desc=f"Table 4 ({a.space})", unit="trial") as bar, \
                    open(partial, "w") as log:
                for r in pool.imap_unordered(run_trial, order):
                    results.append(r)
                    log.write(json.dumps(r) + "\n")
                    log.flush()
                    bar.update()
        else:
            _init(space, a.data, tmp, tuple(a.overrides))
            with open(partial, "w") as log:
                for job in tqdm(jobs, desc=f"Table 4 ({a.space})", unit="trial"):
                    results.append(run_trial(job))
                    log.write(json.dumps(results[-1]) + "\n")
                    log.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - t0
    cells = aggregate(results, rows, tasks)
    cpu = float(sum(r[6] for r in results))
    text = render(cells, rows, tasks, a.space, a.queries, a.trials, seconds, cpu)
    print(text)
    (out / f"table4_{a.space}.md").write_text(text + "\n")
    (out / f"table4_{a.space}.json").write_text(json.dumps({
        "space": a.space, "queries": a.queries, "trials": a.trials, "workers": a.workers, "seconds": seconds, "cpu_seconds": cpu,
        "cells": cells, "paper": PAPER[a.space],
        "trials_raw": [dict(zip(("row", "task", "trial", "value", "percentile", "wall", "cpu", "pretrain"), r))
                       for r in results]}, indent=1))
    return cells


if __name__ == "__main__":
    main()
