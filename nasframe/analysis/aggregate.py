"""Collect finished runs under a folder and aggregate them into tables.

A group is what a reader means by "one method": the config choices that vary
(``default_keys``) and always what the run measured — the evaluator the run
resolved to (``auto`` becomes ``lookup`` or ``zc:synflow``) and its objectives —
so a proxy run and a table run are never averaged. The workers of one shared
study (same ``storage`` and ``study`` in their config) are one run whose history
is the workers' ledgers merged in the study's query order.
"""
from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasframe.core.ledger import read_history

# config keys a sweep usually varies; used for the default grouping
CANDIDATE_KEYS = ("strategy", "space", "evaluator", "benchmark.dataset", "benchmark.task", "budget.queries")
# what a run measured: runs that differ here are never averaged, whatever --by says
IDENTITY_KEYS = ("measured_by", "objective")


def measured_by(summary: dict) -> str:
    """The evaluator a run resolved to, e.g. ``lookup`` or ``zc:synflow`` (``auto`` is not an answer)."""
    described = summary.get("evaluator") or {}
    name = described.get("evaluator") or (summary.get("config", {}).get("names") or {}).get("evaluator") or "?"
    proxy = described.get("proxy")
    if proxy:
        name += ":" + (proxy if isinstance(proxy, str) else "+".join(map(str, proxy)))
    return str(name)


def objective_label(summary: dict) -> str:
    return ", ".join(f"{o['name']} ({o.get('direction', 'max')})" for o in summary.get("objectives", []))


@dataclass
class RunRecord:
    path: Path
    summary: dict
    workers: tuple = ()  # run folders of a shared study's workers (empty for a plain run)
    merged: list | None = None  # the history, once read (a shared study's: merged from its workers)

    @property
    def config(self) -> dict:
        return self.summary.get("config", {})

    def key(self, name: str):
        """A grouping key: a component name (strategy/space/evaluator) or a dotted config path."""
        if name == "measured_by":
            return measured_by(self.summary)
        if name == "objective":
            return objective_label(self.summary)
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
        if self.merged is None:  # read once: the report draws several curves from it
            self.merged = read_history(self.path / "history.jsonl")
        return self.merged

    @property
    def study(self) -> tuple[str, str] | None:
        """(storage, study) of a shared-study worker, else None."""
        storage = self.config.get("storage")
        if storage in (None, "", "null"):
            return None
        return str(storage), str(self.config.get("study") or "nasframe")


def find_runs(root: str | Path) -> tuple[list[RunRecord], list[Path]]:
    """Finished runs (with summary.json) and unfinished run folders under ``root``; the
    workers of one shared study come back as one run (``merge_studies``)."""
    root = Path(root)
    done, unfinished = [], []
    for hist in sorted(root.rglob("history.jsonl")):
        summ = hist.parent / "summary.json"
        if summ.exists():
            done.append(RunRecord(hist.parent, json.loads(summ.read_text())))
        else:
            unfinished.append(hist.parent)
    return merge_studies(done), unfinished


def merge_studies(runs: list[RunRecord]) -> list[RunRecord]:
    """Replace the workers of each shared study by one run (in the place of its first worker)."""
    studies: dict[tuple, list[RunRecord]] = defaultdict(list)
    for r in runs:
        if r.study is not None:
            studies[r.study].append(r)
    out, placed = [], set()
    for r in runs:
        if r.study is None:
            out.append(r)
        elif r.study not in placed:
            placed.add(r.study)
            out.append(merge_workers(studies[r.study]))
    return out


def merge_workers(workers: list[RunRecord]) -> RunRecord:
    """One run of a shared study: the best worker's recommendation, the study's queries and costs."""
    from nasframe.core.evaluator import Objective

    primary = Objective(**workers[0].summary["objectives"][0])
    best = max(workers, key=lambda w: primary.utility((w.summary.get("values") or {}).get(primary.name)))
    summary = dict(best.summary)
    summary.update(queries=sum(w.summary.get("queries", 0) for w in workers),
                   sim_seconds=sum(w.summary.get("sim_seconds", 0.0) for w in workers),
                   wall_seconds=max(w.summary.get("wall_seconds", 0.0) for w in workers),  # in parallel
                   seeds=[w.summary.get("seed") for w in workers], workers=len(workers))
    history = merge_histories([w.history() for w in workers])
    return RunRecord(best.path, summary, tuple(w.path for w in workers), history)


def merge_histories(histories: list[list[dict]]) -> list[dict]:
    """The search queries of a study's workers in study order.

    A worker's ledger does not name the Optuna trial of its own queries, but the
    other workers' ledgers do (``phase: shared`` lines carry the trial they were
    told); trials are numbered as the study hands out its budget. Each query
    whose trial is known sorts by it; one no other worker heard of sorts after
    the latest trial its worker had seen by then (its own previous query or a
    result it was told before asking). Lines gain ``worker`` (position in the list).
    """
    trial_of: dict[str, int] = {}
    for h in histories:
        for r in h:
            if r.get("phase") == "shared" and r.get("trial") is not None:
                trial_of.setdefault(r["arch"], int(r["trial"]))
    keyed = []
    for w, h in enumerate(histories):
        floor, after = -1, 0  # the latest trial this worker knew of, queries of its own since
        for r in h:  # ledger order: results told before an ask precede the query's line
            phase = r.get("phase", "search")
            trial = None if r.get("repeat") else trial_of.get(r["arch"])
            if phase == "shared" and r.get("trial") is not None:
                trial = int(r["trial"])
            if trial is not None and trial > floor:
                floor, after = trial, 0
            if phase != "search":
                continue
            if trial is None or trial < floor:
                after += 1
            keyed.append(((floor if trial is None else trial, after if trial is None else 0, w), r))
    keyed.sort(key=lambda kr: kr[0])
    return [dict(r, index=i, worker=k[2]) for i, (k, r) in enumerate(keyed)]


def default_keys(runs: list[RunRecord]) -> list[str]:
    keys = [k for k in CANDIDATE_KEYS if len({json.dumps(r.key(k), default=str) for r in runs}) > 1]
    return grouping_keys(runs, keys or ["strategy"])


def grouping_keys(runs: list[RunRecord], keys: list[str]) -> list[str]:
    """``keys`` plus what the runs measured (evaluator, objectives) wherever that varies."""
    extra = [k for k in IDENTITY_KEYS if k not in keys and len({r.key(k) for r in runs}) > 1]
    return [*keys, *extra]


def metric_names(runs: list[RunRecord]) -> list[str]:
    seen = []
    for r in runs:
        for section in ("values", "report"):
            for k, v in (r.summary.get(section) or {}).items():
                if not isinstance(v, (int, float)) and v is not None:
                    continue  # a per-epoch curve or other structure: drawn, not averaged
                name = f"{section}.{k}"
                if name not in seen:
                    seen.append(name)
    return seen


def metric(run: RunRecord, name: str) -> float:
    section, key = name.split(".", 1)
    v = (run.summary.get(section) or {}).get(key)
    return float("nan") if v is None else float(v)


def group(runs: list[RunRecord], keys: list[str]) -> dict[tuple, list[RunRecord]]:
    """Runs by ``grouping_keys(runs, keys)`` (the key tuples have that length)."""
    keys = grouping_keys(runs, keys)
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
    keys = grouping_keys(runs, keys)
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


def incumbent_curve(run: RunRecord, report_key: str | None = None) -> list[float]:
    """Per search query: the best primary value so far, or ``report_key`` of that incumbent."""
    from nasframe.analysis.plots import best_so_far
    from nasframe.core.evaluator import Objective

    obj = Objective(**run.summary["objectives"][0])
    return [float("nan") if (x := (v if report_key is None else rep.get(report_key))) is None else float(x)
            for v, rep in best_so_far(run.history(), obj)]


def _mean_std_columns(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns where no run has a value yet
        return np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)


def anytime(runs: list[RunRecord], report_key: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over runs of the best-so-far primary value (or ``report_key`` of the incumbent), per query."""
    curves = [incumbent_curve(r, report_key) for r in runs]
    n = max((len(c) for c in curves), default=0)
    arr = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        arr[i, : len(c)] = c
        if c:
            arr[i, len(c):] = c[-1]  # a finished run keeps its best
    return (np.arange(1, n + 1), *_mean_std_columns(arr))


def clock(run: RunRecord, which: str) -> np.ndarray:
    """Cumulative seconds at each search query: ``sim`` (evaluation cost) or ``wall`` (recorded wall time)."""
    field_name = {"sim": "cost", "wall": "wall_time"}[which]
    return np.cumsum([float(r.get(field_name) or 0.0) for r in run.history() if r.get("phase", "search") == "search"])


def anytime_seconds(runs: list[RunRecord], which: str, points: int = 120, report_key: str | None = None):
    """``(grid, mean, std)`` of the best-so-far value against seconds on a log grid, or None when the
    runs did not spend any of that clock (a table lookup costs no simulated second)."""
    clocks = [clock(r, which) for r in runs]
    ends = [c[-1] for c in clocks if len(c) and c[-1] > 0]
    starts = [c[c > 0][0] for c in clocks if len(c) and c[-1] > 0]
    if not ends:
        return None
    grid = np.geomspace(min(starts), max(ends), points)
    arr = np.full((len(runs), points), np.nan)
    for i, (r, c) in enumerate(zip(runs, clocks)):
        curve = np.asarray(incumbent_curve(r, report_key), dtype=float)
        if len(curve):
            done = np.searchsorted(c, grid, side="right")  # queries finished by each grid time
            arr[i] = np.where(done > 0, curve[np.maximum(done - 1, 0)], np.nan)
    return (grid, *_mean_std_columns(arr))
