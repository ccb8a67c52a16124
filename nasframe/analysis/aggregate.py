"""Collect finished runs under a folder and aggregate them into tables."""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasframe.core.ledger import read_history

# config keys a sweep usually varies; used for the default grouping
CANDIDATE_KEYS = ("strategy", "space", "evaluator", "benchmark.dataset", "benchmark.task", "budget.queries")


@dataclass
class RunRecord:
    path: Path
    summary: dict

    @property
    def config(self) -> dict:
        return self.summary.get("config", {})

    def key(self, name: str):
        """A grouping key: a component name (strategy/space/evaluator) or a dotted config path."""
        names = self.config.get("names", {})
        if name in names and names[name] is not None:
            return names[name]
        node = self.config
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, dict):
            return node.get("_target_", "").rsplit(".", 1)[-1] or json.dumps(node, sort_keys=True)
        return node

    def history(self) -> list[dict]:
        return read_history(self.path / "history.jsonl")


def find_runs(root: str | Path) -> tuple[list[RunRecord], list[Path]]:
    """Finished runs (with summary.json) and unfinished run folders under ``root``."""
    root = Path(root)
    done, unfinished = [], []
    for hist in sorted(root.rglob("history.jsonl")):
        summ = hist.parent / "summary.json"
        if summ.exists():
            done.append(RunRecord(hist.parent, json.loads(summ.read_text())))
        else:
            unfinished.append(hist.parent)
    return done, unfinished


def default_keys(runs: list[RunRecord]) -> list[str]:
    keys = [k for k in CANDIDATE_KEYS if len({json.dumps(r.key(k), default=str) for r in runs}) > 1]
    return keys or ["strategy"]


def metric_names(runs: list[RunRecord]) -> list[str]:
    seen = []
    for r in runs:
        for section in ("values", "report"):
            for k in (r.summary.get(section) or {}):
                name = f"{section}.{k}"
                if name not in seen:
                    seen.append(name)
    return seen


def metric(run: RunRecord, name: str) -> float:
    section, key = name.split(".", 1)
    v = (run.summary.get(section) or {}).get(key)
    return float("nan") if v is None else float(v)


def group(runs: list[RunRecord], keys: list[str]) -> dict[tuple, list[RunRecord]]:
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for r in runs:
        groups[tuple(r.key(k) for k in keys)].append(r)
    return dict(sorted(groups.items(), key=lambda kv: [str(x) for x in kv[0]]))


def mean_std(xs) -> tuple[float, float]:
    xs = np.asarray([x for x in xs if not math.isnan(x)], dtype=float)
    if xs.size == 0:
        return float("nan"), float("nan")
    return float(xs.mean()), float(xs.std(ddof=1)) if xs.size > 1 else 0.0


def table(runs: list[RunRecord], keys: list[str], extra: dict | None = None) -> tuple[list[str], list[list]]:
    """Header and rows: group keys, runs, then mean and std of every metric.

    ``extra`` maps a column name to a function ``run -> float`` (e.g. a percentile).
    """
    extra = extra or {}
    metrics = metric_names(runs)
    header = [*keys, "runs"]
    for m in [*metrics, *extra]:
        header += [f"{m} mean", f"{m} std"]
    rows = []
    for gkey, members in group(runs, keys).items():
        row = [*gkey, len(members)]
        for m in metrics:
            row += list(mean_std(metric(r, m) for r in members))
        for fn in extra.values():
            row += list(mean_std(fn(r) for r in members))
        rows.append(row)
    return header, rows


def anytime(runs: list[RunRecord]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over runs of the best-so-far primary value, per query."""
    from nasframe.analysis.plots import best_so_far
    from nasframe.core.evaluator import Objective

    curves = []
    for r in runs:
        obj = Objective(**r.summary["objectives"][0])
        curves.append([v for v, _ in best_so_far(r.history(), obj)])
    n = max((len(c) for c in curves), default=0)
    arr = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        arr[i, : len(c)] = c
        if c:
            arr[i, len(c):] = c[-1]  # a finished run keeps its best
    with np.errstate(all="ignore"):
        return np.arange(1, n + 1), np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)
