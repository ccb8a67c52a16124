"""NAS-Bench-201 searches under the NATS-Bench protocol, so the curves sit next to NATS-Bench's.

The NATS-Bench algorithms (AutoDL-Projects ``exps/NATS-algos``) search on the 12-epoch validation
accuracy of one randomly drawn seed (``hp='12'``, ``is_random=True``), charge each query its recorded
training time, and stop at a simulated time budget; the reported figure is the 200-epoch seed-mean
test accuracy of the architecture found. Here that is

    benchmark.epochs=12 benchmark.seed_mode=random budget.seconds=<budget> evaluator=lookup

with the official NB201 ``.pth`` or NATS-Bench topology file under ``--data`` (or ``--path FILE``).
The shared tabular CSV has final values only, so this recipe cannot run on it and says so.

    python experiments/nats_protocol.py --data DIR [--seeds 20] [--strategies random,rea,reinforce,hyperband]
"""
import argparse
import sys
import tempfile
import time

import numpy as np
from tqdm import tqdm

from nasframe.api import search
from nasframe.errors import NasframeError

BUDGETS = {"cifar10": 20_000, "cifar100": 40_000, "imagenet16-120": 120_000}  # simulated seconds (NATS-Bench)


def overrides(strategy, dataset, args, seed):
    out = [f"strategy={strategy}", "evaluator=lookup", f"benchmark.dataset={dataset}",
           "benchmark.epochs=12", "benchmark.seed_mode=random", f"seed={seed}",
           f"budget.seconds={BUDGETS[dataset] * args.budget_scale}", "budget.queries=100000"]
    if args.path:
        out.append(f"benchmark.path={args.path}")
    else:
        out.append(f"data.root={args.data}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="../shared/data", help="data root holding an official NB201/NATS file")
    p.add_argument("--path", default=None, help="the official file itself (overrides --data)")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--strategies", default="random,rea,reinforce,hyperband")
    p.add_argument("--datasets", default="cifar10,cifar100,imagenet16-120")
    p.add_argument("--budget-scale", type=float, default=1.0, help="multiply the time budgets (tests use < 1)")
    a = p.parse_args(argv)
    jobs = [(s, d) for d in a.datasets.split(",") for s in a.strategies.split(",")]
    results, queries = {}, {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, tqdm(total=len(jobs) * a.seeds, desc="runs", disable=None) as bar:
        for s, d in jobs:
            tests, counts = [], []
            for seed in range(a.seeds):
                try:
                    r = search(overrides(s, d, a, seed), out_dir=f"{tmp}/{s}-{d}-{seed}", progress=False, plot=False)
                except NasframeError as e:
                    print(f"error: {s} on {d}: {e}", file=sys.stderr)
                    return 2
                tests.append(r.summary["report"]["test_acc"])
                counts.append(r.summary["queries"])
                bar.update()
            results[(s, d)], queries[(s, d)] = np.array(tests), np.array(counts)
    print(f"\nNATS-Bench protocol (12-epoch random-seed validation, simulated time budget), {a.seeds} seeds; "
          "200-epoch test accuracy of the recommended architecture")
    print("| dataset | budget (s) | strategy | test acc mean ± std | queries (mean) |")
    print("|---|---|---|---|---|")
    for (s, d), t in results.items():
        std = t.std(ddof=1) if len(t) > 1 else 0.0
        print(f"| {d} | {BUDGETS[d] * a.budget_scale:,.0f} | {s} | {t.mean():.2f} ± {std:.2f} | "
              f"{queries[(s, d)].mean():.0f} |")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
