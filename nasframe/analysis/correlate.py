"""Rank correlation of any evaluator with a benchmark's validation and test values.

    python -m nasframe.correlate space=nb201 evaluator=zc proxy=synflow sample=1000 data.root=../shared/data

(the command lives in ``nasframe.correlate``; this module is the library it calls).

Draws
``sample`` architectures (seeded; optionally only those listed in ``pool``, a
CSV with an architecture-string column), scores them with the evaluator one
at a time, looks their validation and test values up in the benchmark table,
and writes to the run folder: ``scores.csv`` (one row per architecture),
``correlation.json`` (Spearman ρ and Kendall τ-b of the evaluator's
higher-is-better value against validation and test, the number of failures,
the cost per architecture) and ``scatter.png``. For an ensemble evaluator the
member proxies' raw values are correlated too, and the exact rank average
over the evaluated set is reported next to the evaluator's own value.
``reference=FILE:COLUMN`` also correlates the value with a column of a CSV
(e.g. a published proxy table), matched by architecture string.
"""
from __future__ import annotations

import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from nasframe import ranking
from nasframe.errors import DataError
from nasframe.ranking import rank_correlations  # noqa: F401  (part of this module's API)

ARCH_COLUMNS = ("arch_str", "net_str", "arch", "ArchitectureString")


def read_column_by_arch(path, column: str | None = None) -> dict[str, float] | list[str]:
    """``{arch string: value}`` of ``column`` of a CSV, or the list of arch strings when column is None."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; give an existing CSV file")
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        key = next((c for c in ARCH_COLUMNS if c in (rows.fieldnames or [])), None)
        if key is None:
            raise DataError(f"{path} has no architecture column (one of {', '.join(ARCH_COLUMNS)})")
        if column is not None and column not in rows.fieldnames:
            raise DataError(f"{path} has no column '{column}'; it has {', '.join(rows.fieldnames)}")
        if column is None:
            return [r[key] for r in rows]
        return {r[key]: float(r[column]) if r[column] not in ("", "nan") else math.nan for r in rows}


def choose_archs(space, n: int, seed: int, pool=None, exclude=()) -> list:
    """``nasframe.ranking.choose_archs``, optionally among the architectures listed in the CSV ``pool``."""
    cands = None if pool is None else [space.parse(s) for s in read_column_by_arch(pool)]
    return ranking.choose_archs(space, n, seed, cands, exclude)


def correlate(space, evaluator, truth, archs, reference: dict | None = None, out_dir=None,
              progress: bool = True, label: str = "") -> dict:
    """Score ``archs`` with ``evaluator`` and correlate with ``truth`` (a BenchmarkLookup)."""
    from tqdm import tqdm

    obj = evaluator.primary
    rows = []
    t_all = time.perf_counter()
    for a in tqdm(archs, desc=f"correlate {label}", disable=not progress, file=sys.stderr):
        t0 = time.perf_counter()
        ev = evaluator.evaluate([a])[0]
        wall = time.perf_counter() - t0
        tr = truth.evaluate([a])[0]
        row = {"arch": str(a), "score": obj.utility(ev.values.get(obj.name)) if not ev.failed else math.nan,
               "cost": ev.cost, "wall": wall, "failure": ev.failure or "",
               "val": tr.values.get(truth.primary.name, math.nan),
               **{f"report.{k}": v for k, v in tr.report.items()},
               **{k: v for k, v in ev.report.items() if k.startswith("proxy.")}}
        if reference is not None:
            row["reference"] = reference.get(str(a), math.nan)
        rows.append(row)
    wall_total = time.perf_counter() - t_all
    test_key = next((k for k in rows[0] if k.startswith("report.")), None) if rows else None
    col = lambda k: np.array([r.get(k, math.nan) for r in rows], dtype=float)  # noqa: E731
    scores = col("score")
    result = {"label": label, "n": len(rows), "failures": int(sum(bool(r["failure"]) for r in rows)),
              "objective": obj.name, "direction": obj.direction,
              "val": rank_correlations(scores, col("val")),
              "cost_per_arch_s": float(np.mean(col("cost"))) if rows else math.nan,
              "wall_per_arch_s": wall_total / max(len(rows), 1),
              "evaluator": evaluator.describe(), "truth": truth.describe()}
    if test_key:
        result["test"] = rank_correlations(scores, col(test_key))
    if reference is not None:
        result["vs_reference"] = rank_correlations(scores, col("reference"))
        result["reference_vs_val"] = rank_correlations(col("reference"), col("val"))
        if test_key:
            result["reference_vs_test"] = rank_correlations(col("reference"), col(test_key))
    members = sorted(k for k in (rows[0] if rows else {}) if k.startswith("proxy."))
    if members:
        from nasframe.evaluators.zerocost import exact_rank_average

        result["members"] = {}
        for k in members:
            m = {"val": rank_correlations(col(k), col("val"))}
            if test_key:
                m["test"] = rank_correlations(col(k), col(test_key))
            result["members"][k[len("proxy."):]] = m
        exact = exact_rank_average(np.column_stack([col(k) for k in members]))
        result["exact_rank_average"] = {"val": rank_correlations(exact, col("val"))}
        if test_key:
            result["exact_rank_average"]["test"] = rank_correlations(exact, col(test_key))
    if out_dir is not None:
        write_outputs(Path(out_dir), rows, result, test_key)
    return result


def write_outputs(out: Path, rows: list[dict], result: dict, test_key: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "scores.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    (out / "correlation.json").write_text(json.dumps(result, indent=2, default=str))
    from nasframe.analysis.plots import _pyplot

    plt = _pyplot()
    targets = [("val", "validation")] + ([(test_key, "test")] if test_key else [])
    fig, axes = plt.subplots(1, len(targets), figsize=(5 * len(targets), 4), squeeze=False)
    s = np.array([r["score"] for r in rows], float)
    for ax, (key, name) in zip(axes[0], targets):
        y = np.array([r.get(key, math.nan) for r in rows], float)
        ax.scatter(s, y, s=4, alpha=0.5)
        c = result["val" if key == "val" else "test"]
        ax.set_title(f"{name}: ρ={c['spearman']:.3f}  τ={c['kendall']:.3f}  (n={c['n']})")
        ax.set_xlabel(f"{result['label']} ({result['objective']}, higher = better)")
        ax.set_ylabel(f"{name} value")
        if np.nanmin(s) > 0 and np.nanmax(s) / max(np.nanmin(s), 1e-300) > 1e3:
            ax.set_xscale("log")
    fig.tight_layout()
    fig.savefig(out / "scatter.png", dpi=110)
    plt.close(fig)


def _summary_line(r: dict) -> str:
    parts = [f"{r['label']}: n={r['n']} failures={r['failures']}",
             f"val ρ={r['val']['spearman']:.4f} τ={r['val']['kendall']:.4f}"]
    if "test" in r:
        parts.append(f"test ρ={r['test']['spearman']:.4f} τ={r['test']['kendall']:.4f}")
    if "vs_reference" in r:
        parts.append(f"vs reference ρ={r['vs_reference']['spearman']:.4f} "
                     f"(reference vs test ρ={r.get('reference_vs_test', {}).get('spearman', math.nan):.4f})")
    parts.append(f"cost {r['cost_per_arch_s']:.3f} s/arch")
    lines = ["  ".join(parts)]
    for name, m in r.get("members", {}).items():
        lines.append(f"  {name}: val ρ={m['val']['spearman']:.4f}" +
                     (f" test ρ={m['test']['spearman']:.4f}" if "test" in m else ""))
    if "exact_rank_average" in r:
        e = r["exact_rank_average"]
        lines.append(f"  exact rank average over the set: val ρ={e['val']['spearman']:.4f}" +
                     (f" test ρ={e['test']['spearman']:.4f}" if "test" in e else ""))
    return "\n".join(lines)
