"""Gradient ascent vs random shooting with the same predictor (PredNAS Sec. V-A, Fig. 4), on the real NB201 table.

Per dataset and seed: N random architectures are looked up (validation
accuracy), one GCN predictor is fitted, then for each gradient configuration
(``starts`` x ``steps``) three pools are built, all without the N training
architectures, and ranked by the same predictor:

* ``gradient``: every distinct projection met during the ascent (the model pool of Alg. 1);
* ``random, same models`` (the paper's protocol): as many distinct random
  architectures as the gradient pool holds ("we randomly sample 100000 models
  following the number of models explored in gradient search");
* ``random, same forward passes``: ``starts x steps`` random draws (one
  predictor forward pass each, as many as the ascent makes; duplicates
  dropped). At 300 x 200 this enumerates NB201 (15,625 archs), so it equals
  the predictor's own top-k over the whole space -- the upper bound of any
  pool ranked by this predictor -- and is shown as that reference.

Reported: true validation accuracy of each pool's top-k (mean of the k and
best of the k), mean ± std over seeds, and how often (paired by seed)
gradient's top-k mean beats random's.

    python experiments/prednas_grad_vs_random.py --root ../shared/data --seeds 10 --out results/prednas_helper/grad_vs_random
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.prednas import encoding_for, gradient_pool, random_pool, score_pool

METHODS = ("gradient", "random, same models", "random, same forward passes")


def draws_pool(enc, pred, space, rng, n, exclude):
    """``n`` random draws with replacement (one forward pass each), duplicates and training archs dropped."""
    return score_pool(enc, pred, {a for a in (space.sample(rng) for _ in range(n)) if a not in exclude})


def top_stats(pool, val, tops):
    ranked = sorted(pool, key=lambda a: -pool[a])
    out = {}
    for k in tops:
        v = val(ranked[:k]) if ranked else np.array([np.nan])
        out[k] = (float(v.mean()), float(v.max()))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    ap.add_argument("--datasets", default="cifar10,cifar100")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--n", type=int, default=30, help="training samples (N)")
    ap.add_argument("--starts", type=int, default=300, help="starts of the full configuration (strategy default)")
    ap.add_argument("--steps", type=int, default=200, help="ascent steps of the full configuration (paper: 200)")
    ap.add_argument("--budgets", default="100,500,2000", help="small predictor budgets (starts x budget-steps)")
    ap.add_argument("--budget-steps", type=int, default=50, help="ascent steps per start at the small budgets")
    ap.add_argument("--top", default="1,15,40", help="pool top-k sizes to report")
    ap.add_argument("--epochs", type=int, default=300, help="predictor epochs")
    ap.add_argument("--out", default=None, help="folder for grad_vs_random.md, grad_vs_random.json and grad_vs_random.png")
    ap.add_argument("--replot", action="store_true", help="only re-render grad_vs_random.md and the png from --out/grad_vs_random.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    space = NB201Space()
    enc = encoding_for(space)
    tops = [int(k) for k in args.top.split(",")]
    configs = [(b // args.budget_steps, args.budget_steps) for b in map(int, args.budgets.split(","))]
    configs.append((args.starts, args.steps))
    if any(s < 1 for s, _ in configs):
        raise SystemExit(f"every budget must be at least --budget-steps ({args.budget_steps})")
    if args.replot:
        saved = json.loads((Path(args.out) / "grad_vs_random.json").read_text())
        rows = saved["rows"]
        for r in rows:
            r["top"] = {int(k): v for k, v in r["top"].items()}
        return write(rows, args, tops, configs, saved["wall_s"])
    t0 = time.perf_counter()
    rows = []  # one per (dataset, seed, config, method)
    for dataset in args.datasets.split(","):
        ev = BenchmarkLookup(space, dataset=dataset, root=args.root)
        val = lambda archs: np.array([e.values["val_acc"] for e in ev.evaluate(archs)])  # noqa: E731
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            train = list(dict.fromkeys(space.sample(rng) for _ in range(args.n)))
            pred = enc.predictor({"epochs": args.epochs}, seed).fit(enc.exact(train).numpy(), val(train))
            seen = set(train)
            for starts, steps in configs:
                g = gradient_pool(enc, pred, [space.sample(rng) for _ in range(starts)], steps, 0.02,
                                  (1 / 3, 2 / 3), 0.5, 0.9)
                g = {a: s for a, s in g.items() if a not in seen}
                pools = {"gradient": g,
                         "random, same models": random_pool(enc, pred, space, rng, len(g), exclude=seen),
                         "random, same forward passes": draws_pool(enc, pred, space, rng, starts * steps, seen)}
                for method, pool in pools.items():
                    rows.append({"dataset": dataset, "seed": seed, "starts": starts, "steps": steps,
                                 "forward_passes": starts * steps, "method": method, "pool": len(pool),
                                 "top": {k: v for k, v in top_stats(pool, val, tops).items()}})
            done = [r for r in rows if r["dataset"] == dataset and r["seed"] == seed]
            full = {r["method"]: r for r in done if r["starts"] == args.starts}
            k = tops[len(tops) // 2]
            print(f"{dataset} seed {seed}: full config pools "
                  + ", ".join(f"{m} {full[m]['pool']} (top-{k} mean {full[m]['top'][k][0]:.2f})" for m in METHODS)
                  + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    write(rows, args, tops, configs, time.perf_counter() - t0)


def write(rows, args, tops, configs, wall):
    table = render(rows, args, tops, configs, wall)
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "grad_vs_random.md").write_text(table + "\n")
        (out / "grad_vs_random.json").write_text(json.dumps({"args": vars(args), "wall_s": wall, "rows": rows}, indent=1))
        plot(rows, args, tops, configs, out / "grad_vs_random.png")
        print(f"wrote {out}/grad_vs_random.md, grad_vs_random.json, grad_vs_random.png")


def _cells(rows, k, which):
    v = [r["top"][k][which] for r in rows]
    return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"


def render(rows, args, tops, configs, wall) -> str:
    lines = [f"NB201, {args.seeds} seeds per dataset, N={args.n} training archs, one GCN predictor per seed "
             f"({args.epochs} epochs); true **validation** accuracy of each pool's top-k by predicted score "
             f"(pools exclude the N training archs); mean ± std over seeds. Where a pool holds fewer than k archs "
             f"its top-k is the whole pool. Wall time {wall:.0f} s.", ""]
    head = "| dataset | starts x steps | method | pool (distinct) | " + " | ".join(
        f"top-{k} mean | top-{k} best" for k in tops) + " |"
    lines += [head, "|" + "---|" * (4 + 2 * len(tops))]
    wins = []
    for dataset in args.datasets.split(","):
        for starts, steps in configs:
            sel = [r for r in rows if r["dataset"] == dataset and r["starts"] == starts and r["steps"] == steps]
            for m in METHODS:
                rs = [r for r in sel if r["method"] == m]
                name = m + (" (≈ whole space)" if m == METHODS[2] and starts * steps >= 2 * len(NB201Space()) else "")
                pool = statistics.mean(r["pool"] for r in rs)
                lines.append(f"| {dataset} | {starts} x {steps} | {name} | {pool:.0f} | "
                             + " | ".join(f"{_cells(rs, k, 0)} | {_cells(rs, k, 1)}" for k in tops) + " |")
            g = {r["seed"]: r for r in sel if r["method"] == METHODS[0]}
            for m in METHODS[1:]:
                for k in tops:
                    pairs = [(g[r["seed"]]["top"][k][0], r["top"][k][0]) for r in sel if r["method"] == m]
                    wins.append((dataset, f"{starts} x {steps}", m, k, sum(a > b for a, b in pairs),
                                 sum(a == b for a, b in pairs), len(pairs)))
    lines += ["", "Paired by seed: gradient's top-k mean vs random's (wins / ties / seeds)", "",
              "| dataset | starts x steps | vs | " + " | ".join(f"top-{k}" for k in tops) + " |",
              "|" + "---|" * (3 + len(tops))]
    for i in range(0, len(wins), len(tops)):
        d, c, m, *_ = wins[i]
        lines.append(f"| {d} | {c} | {m} | " + " | ".join(f"{w}/{t}/{n}" for *_, w, t, n in wins[i:i + len(tops)])
                     + " |")
    return "\n".join(lines)


def plot(rows, args, tops, configs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = args.datasets.split(",")
    fig, axes = plt.subplots(len(datasets), len(tops), figsize=(4.2 * len(tops), 3.4 * len(datasets)), squeeze=False)
    styles = {METHODS[0]: ("C0", "o"), METHODS[1]: ("C1", "s"), METHODS[2]: ("C2", "^")}
    for i, dataset in enumerate(datasets):
        for j, k in enumerate(tops):
            ax = axes[i][j]
            for m in METHODS:
                xs, ys, es = [], [], []
                for starts, steps in configs:
                    v = [r["top"][k][0] for r in rows if r["dataset"] == dataset and r["method"] == m
                         and r["starts"] == starts and r["steps"] == steps]
                    xs.append(starts * steps)
                    ys.append(statistics.mean(v))
                    es.append(statistics.stdev(v) / len(v) ** 0.5 if len(v) > 1 else 0.0)
                c, mk = styles[m]
                ax.errorbar(xs, ys, yerr=es, color=c, marker=mk, capsize=3, label=m)
            ax.set_xscale("log")
            ax.set_title(f"{dataset}: top-{k} mean")
            ax.set_xlabel("predictor forward passes (starts x steps)")
            ax.set_ylabel("true validation accuracy (%)")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"PredNAS: gradient ascent vs random shooting, NB201, {args.seeds} seeds (± s.e.)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
