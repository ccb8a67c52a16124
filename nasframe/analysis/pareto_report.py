"""Pareto fronts of multi-objective runs against the true front of the benchmark table.

    python -m nasframe.analysis.pareto_report DIR [--plot pareto.png]

For every finished run under DIR: the non-dominated set of the architectures
it queried (search phase, failures left out) and its hypervolume, next to the
hypervolume of the true front of the whole (enumerable) space, which is
computed by evaluating every architecture with the run's own evaluator
config (a table lookup: fast). Objectives are mapped to 'higher is better'
and scaled to [0, 1] by their range over the whole space, with the reference
point at the worst value of each (0), so hypervolumes are fractions of the
unit box and comparable across objective units. The plot draws the first two
objectives: all architectures, the true front, and each group's fronts.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from nasframe.analysis.aggregate import find_runs, group, mean_std
from nasframe.analysis.pareto import hypervolume, pareto_mask
from nasframe.core.evaluator import Objective


class TrueFront:
    """Every architecture of an enumerable space scored by one evaluator config."""

    def __init__(self, config: dict):
        from hydra.utils import instantiate

        from nasframe.compose import register_resolvers

        register_resolvers()
        self.space = instantiate(config["space"], _convert_="all")
        evaluator = instantiate(config["evaluator"], space=self.space, _convert_="all")
        self.objectives = list(evaluator.objectives)
        archs = list(self.space)
        evals = evaluator.evaluate(archs)
        ok = [i for i, e in enumerate(evals) if not e.failed]
        self.values = np.array([[evals[i].values[o.name] for o in self.objectives] for i in ok], dtype=float)
        self.archs = [str(archs[i]) for i in ok]
        u = self.utility(self.values)
        self.lo, self.hi = u.min(axis=0), u.max(axis=0)
        self.front = pareto_mask(u)

    def utility(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=float).reshape(-1, len(self.objectives))
        return np.where([o.direction == "max" for o in self.objectives], v, -v)

    def scaled(self, values) -> np.ndarray:
        return (self.utility(values) - self.lo) / np.where(self.hi > self.lo, self.hi - self.lo, 1.0)

    def hypervolume(self, values) -> float:
        pts = self.scaled(values)
        return hypervolume(pts, np.zeros(pts.shape[1]) - 1e-12) if len(pts) else 0.0

    @property
    def best_hypervolume(self) -> float:
        return self.hypervolume(self.values[self.front])


def run_points(run, objectives) -> np.ndarray:
    pts = [[r["values"][o.name] for o in objectives] for r in run.history()
           if r.get("phase", "search") == "search" and not r.get("failure")]
    return np.array(pts, dtype=float).reshape(-1, len(objectives))


def report(root: Path, plot: Path | None, keys=("strategy",)) -> dict:
    runs, _ = find_runs(root)
    runs = [r for r in runs if len(r.summary.get("objectives", [])) > 1]
    if not runs:
        raise SystemExit(f"error: no finished multi-objective runs under {root}")
    truth = TrueFront(runs[0].config)
    objectives = [Objective(**o) for o in runs[0].summary["objectives"]]
    best = truth.best_hypervolume
    rows = []
    for gkey, members in group(runs, list(keys)).items():
        hvs = [truth.hypervolume(run_points(r, objectives)) for r in members]
        m, s = mean_std(hvs)
        rows.append({"group": ", ".join(str(v) for v in gkey if v is not None), "runs": len(members), "hv_mean": m, "hv_std": s,
                     "hv_ratio": m / best if best else float("nan")})
    out = {"objectives": [f"{o.name}:{o.direction}" for o in objectives], "true_front_size": int(truth.front.sum()),
           "true_hypervolume": best, "groups": rows}
    if plot is not None:
        draw(truth, runs, objectives, keys, plot)
        out["plot"] = str(plot)
    return out


def draw(truth, runs, objectives, keys, path: Path) -> None:
    from nasframe.analysis.plots import _pyplot, finish_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    x, y = 1, 0  # cost on x, accuracy on y
    ax.scatter(truth.values[:, x], truth.values[:, y], s=2, c="0.85", label="all architectures", rasterized=True)
    f = truth.values[truth.front]
    f = f[np.argsort(f[:, x])]
    ax.step(f[:, x], f[:, y], where="post", c="k", lw=1.2, label=f"true front ({len(f)})")
    for gkey, members in group(runs, list(keys)).items():
        pts = np.vstack([run_points(r, objectives) for r in members])
        mask = pareto_mask(truth.utility(pts)) if len(pts) else []
        front = pts[mask]
        front = front[np.argsort(front[:, x])]
        line = ax.step(front[:, x], front[:, y], where="post", lw=1, label=f"{', '.join(str(v) for v in gkey if v is not None)} "
                       f"(front of {len(members)} runs)")[0]
        ax.scatter(pts[:, x], pts[:, y], s=6, alpha=0.35, color=line.get_color())
    ax.set_xlabel(f"{objectives[x].name} ({objectives[x].direction})")
    ax.set_ylabel(f"{objectives[y].name} ({objectives[y].direction})")
    finish_figure(fig, ax, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nasframe.analysis.pareto_report", description=__doc__.split("\n\n")[0])
    p.add_argument("dir")
    p.add_argument("--plot", default=None, help="plot path (default DIR/pareto.png; 'none' to skip)")
    p.add_argument("--by", default="strategy", help="comma-separated grouping keys (default: strategy)")
    args = p.parse_args(argv)
    root = Path(args.dir)
    if not root.is_dir():
        print(f"error: {root} is not a folder; give the run or sweep folder to report on", file=sys.stderr)
        return 2
    plot = None if args.plot == "none" else Path(args.plot) if args.plot else root / "pareto.png"
    out = report(root, plot, tuple(k.strip() for k in args.by.split(",")))
    print(f"objectives: {', '.join(out['objectives'])}; true front: {out['true_front_size']} architectures, "
          f"hypervolume {out['true_hypervolume']:.4f} (normalised)")
    print("| group | runs | hypervolume | of true front |\n|---|---|---|---|")
    for r in out["groups"]:
        print(f"| {r['group']} | {r['runs']} | {r['hv_mean']:.4f} ± {r['hv_std']:.4f} | {100 * r['hv_ratio']:.1f}% |")
    if plot is not None:
        print(f"plot: {plot}")
    (root / "pareto.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
