"""Aggregate the runs under a folder into one table and anytime plots.

    python -m nasframe.report multirun/2026-11-23/10-00-00
    python -m nasframe.report DIR --by strategy,benchmark.dataset --format csv
    python -m nasframe.report DIR --percentile        # TransNAS Perc. column

Mean and sample std over runs of the recommended architecture's values (what
the search saw) and report-only values (test metrics); anytime curves of the
mean best-so-far value go to ``anytime.png`` in DIR.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

from nasframe.analysis.aggregate import RunRecord, anytime, default_keys, find_runs, group, table


def fmt(x) -> str:
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.4g}" if abs(x) < 1e4 else f"{x:.6g}"
    return "-" if x is None else str(x)


def render(header, rows, style: str) -> str:
    if style == "json":
        return json.dumps([dict(zip(header, r)) for r in rows], indent=2, default=str)
    if style == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue()
    # markdown: fold "x mean"/"x std" into "x (mean ± std)"
    cols, cells = [], [[] for _ in rows]
    i = 0
    while i < len(header):
        h = header[i]
        if h.endswith(" mean") and i + 1 < len(header) and header[i + 1] == h[:-5] + " std":
            cols.append(h[:-5])
            for c, r in zip(cells, rows):
                both_nan = all(isinstance(v, float) and math.isnan(v) for v in (r[i], r[i + 1]))
                c.append("–" if both_nan else f"{fmt(r[i])} ± {fmt(r[i + 1])}")
            i += 2
        else:
            cols.append(h)
            for c, r in zip(cells, rows):
                c.append(fmt(r[i]))
            i += 1
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    return "\n".join(lines)


def percentile_column(runs: list[RunRecord]):
    """Percentile of each run's recommended architecture among all architectures of its
    benchmark table (the "Perc." of TransNAS-Bench-101's Table 4, per task)."""
    from nasframe.analysis.percentile import benchmark_percentile
    from nasframe.benchmarks import find_benchmark
    from nasframe.compose import instantiate, register_resolvers
    from omegaconf import OmegaConf

    register_resolvers()
    loaded = {}

    def run_percentile(run: RunRecord) -> float:
        cfg = run.config
        bench = cfg.get("benchmark", {})
        key = json.dumps([cfg.get("space"), bench, cfg.get("data")], sort_keys=True, default=str)
        if key not in loaded:
            space = instantiate(OmegaConf.create(cfg["space"]), "space")
            loaded[key] = find_benchmark(space, bench.get("task") or bench.get("dataset"),
                                         root=(cfg.get("data") or {}).get("root"), path=bench.get("path"),
                                         epoch_mode=bench.get("epoch_mode", "final"))
        b = loaded[key]
        value = (run.summary.get("values") or {}).get(b.objective.name)
        return math.nan if value is None else benchmark_percentile(b, value)

    return {"percentile": run_percentile}


def plot_anytime(runs, keys, path: Path) -> None:
    from nasframe.analysis.plots import _pyplot, finish_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for gkey, members in group(runs, keys).items():
        xs, mean, std = anytime(members)
        if len(xs) == 0:
            continue
        label = ", ".join(f"{fmt(v)}" for v in gkey) + f" (n={len(members)})"
        ax.plot(xs, mean, label=label)
        ax.fill_between(xs, mean - std, mean + std, alpha=0.15)
    obj = runs[0].summary["objectives"][0]
    ax.set_xlabel("queries")
    ax.set_ylabel(f"best {obj['name']} so far (mean ± std)")
    finish_figure(fig, ax, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nasframe.report", description=__doc__.split("\n\n")[0])
    p.add_argument("dir", help="a run folder or a folder of runs (e.g. a multirun sweep)")
    p.add_argument("--format", choices=("markdown", "csv", "json"), default="markdown")
    p.add_argument("--by", default=None, help="comma-separated grouping keys: strategy, space, evaluator "
                   "or dotted config paths (default: the keys that vary across the runs)")
    p.add_argument("--percentile", action="store_true",
                   help="add the percentile of the recommended architecture in its benchmark table")
    p.add_argument("--plot", default=None, help="anytime plot path (default DIR/anytime.png; 'none' to skip)")
    args = p.parse_args(argv)
    root = Path(args.dir)
    if not root.is_dir():
        print(f"error: {root} is not a folder; give the run or sweep folder to report on", file=sys.stderr)
        return 2
    runs, unfinished = find_runs(root)
    if not runs:
        print(f"error: no finished runs (summary.json) under {root}", file=sys.stderr)
        return 2
    keys = [k.strip() for k in args.by.split(",")] if args.by else default_keys(runs)
    extra = percentile_column(runs) if args.percentile else None
    try:
        header, rows = table(runs, keys, extra)
    except Exception as e:  # e.g. the percentile's benchmark table is not available
        from nasframe.errors import NasframeError

        if isinstance(e, NasframeError):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise
    print(render(header, rows, args.format))
    if unfinished and args.format == "markdown":
        print(f"\n{len(unfinished)} unfinished run(s) left out (no summary.json), e.g. {unfinished[0]}")
    if args.plot != "none":
        path = Path(args.plot) if args.plot else root / "anytime.png"
        try:
            plot_anytime(runs, keys, path)
        except OSError as e:
            print(f"warning: could not write the plot {path}: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
