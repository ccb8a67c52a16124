"""Gradient ascent vs random shooting with the same predictor and predictor-query budget (PredNAS Fig. 4).

For each seed: N random NB201 architectures are "trained" (looked up on the
validation column), one GCN predictor is fitted, then
* gradient: ``starts`` random starts x ``steps`` ascent steps, pool = every projection;
* random shooting: ``starts x steps`` random architectures scored by the same predictor.
Both pools are ranked by predicted score; the table gives the true validation
accuracy of each pool's top-k (mean and best) and the pool sizes.

    python experiments/prednas_grad_vs_random.py --root /work/shared/data --dataset cifar100 --seeds 5
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.prednas import encoding_for, gradient_pool, random_pool


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    ap.add_argument("--dataset", default="cifar100")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--n", type=int, default=30, help="training samples")
    ap.add_argument("--starts", default="5,20,100", help="comma list: ascent starts (each a predictor budget)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--top", default="1,15,40", help="pool top-k sizes to report")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    space = NB201Space()
    enc = encoding_for(space)
    ev = BenchmarkLookup(space, dataset=args.dataset, root=args.root)
    val = lambda archs: np.array([e.values["val_acc"] for e in ev.evaluate(archs)])  # noqa: E731
    tops = [int(k) for k in args.top.split(",")]
    budgets = [int(s) for s in args.starts.split(",")]
    methods = [(m, b) for b in budgets for m in ("gradient", "random")]
    res = {mb: {k: [] for k in tops} for mb in methods}
    best = {mb: {k: [] for k in tops} for mb in methods}
    sizes = {mb: [] for mb in methods}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        train = list(dict.fromkeys(space.sample(rng) for _ in range(args.n)))
        pred = enc.predictor({"epochs": 300}, seed).fit(enc.exact(train).numpy(), val(train))
        line = [f"seed {seed}:"]
        for b in budgets:
            starts = [space.sample(rng) for _ in range(b)]
            pools = {("gradient", b): gradient_pool(enc, pred, starts, args.steps, 0.02, (1 / 3, 2 / 3), 0.5, 0.9),
                     ("random", b): random_pool(enc, pred, space, rng, b * args.steps)}
            for mb, pool in pools.items():
                ranked = sorted(pool, key=lambda a: -pool[a])
                sizes[mb].append(len(pool))
                for k in tops:
                    v = val(ranked[:k])
                    res[mb][k].append(v.mean())
                    best[mb][k].append(v.max())
                line.append(f"{mb[0]}@{b * args.steps}: pool {len(pool)}, top-{tops[-1]} {res[mb][tops[-1]][-1]:.2f}")
        print("  ".join(line), flush=True)
    print(f"\n{args.dataset}, {args.seeds} seeds, N={args.n}; predictor queries = starts x {args.steps} steps for "
          "both methods; true validation accuracy of the pool members ranked by the predictor")
    print("| method | predictor queries | pool size (distinct) | "
          + " | ".join(f"top-{k} mean | top-{k} best" for k in tops) + " |")
    print("|---|---|---|" + "---|---|" * len(tops))
    for m, b in methods:
        cells = [f"{statistics.mean(res[m, b][k]):.2f} | {statistics.mean(best[m, b][k]):.2f}" for k in tops]
        print(f"| {m} | {b * args.steps} | {statistics.mean(sizes[m, b]):.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
