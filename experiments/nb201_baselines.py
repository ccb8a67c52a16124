"""Random search and REA on NB201 (issue 2 acceptance): mean test accuracy of the
recommended architecture over many seeds, searching on validation accuracy.

    python experiments/nb201_baselines.py --data ../shared/data --seeds 100 --queries 70
    python experiments/nb201_baselines.py --data ../shared/data --seeds 100 --queries 70 \
        --strategies rea strategy.mutation=uniform     # REA with the edge drawn uniformly

Reference figures measured on the same table: random 93.70 (C10) / 71.27 (C100),
REA (P=10, S=3) 93.87 / 72.06.
"""
import argparse
import tempfile
import time

import numpy as np
from tqdm import tqdm

from nasframe.api import search

REFERENCE = {("random", "cifar10"): 93.70, ("random", "cifar100"): 71.27,
             ("rea", "cifar10"): 93.87, ("rea", "cifar100"): 72.06}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--queries", type=int, default=70)
    p.add_argument("--strategies", default="random,rea")
    p.add_argument("--datasets", default="cifar10,cifar100")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run, e.g. strategy.mutation=uniform")
    a = p.parse_args()
    jobs = [(s, d) for s in a.strategies.split(",") for d in a.datasets.split(",")]
    results = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, tqdm(total=len(jobs) * a.seeds, desc="runs") as bar:
        for s, d in jobs:
            tests = []
            for seed in range(a.seeds):
                r = search([f"strategy={s}", f"benchmark.dataset={d}", f"data.root={a.data}",
                            f"budget.queries={a.queries}", f"seed={seed}", *a.overrides],
                           out_dir=f"{tmp}/{s}-{d}-{seed}", progress=False, plot=False)
                tests.append(r.summary["report"]["test_acc"])
                bar.update()
            results[(s, d)] = np.array(tests)
    print(f"\nNB201, {a.queries} queries, {a.seeds} seeds; test accuracy of the recommended architecture")
    print("| strategy | dataset | mean | std | reference | diff |")
    print("|---|---|---|---|---|---|")
    for (s, d), t in results.items():
        ref = REFERENCE.get((s, d))
        diff = f"{t.mean() - ref:+.2f}" if ref else "-"
        print(f"| {s} | {d} | {t.mean():.2f} | {t.std(ddof=1):.2f} | {ref if ref else '-'} | {diff} |")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
