"""Multi-objective search on NB201 CIFAR-10: validation accuracy (max) vs FLOPs (min).

NSGA-II (Optuna), random search and REA, each under ``evaluator=multi``
(REA evolves on the primary objective, accuracy; its ledger holds both
objectives, so its Pareto set is measured the same way). Every run's Pareto
set is scored by its hypervolume against the true front of the whole table.

    python experiments/mo_nb201.py --data ../shared/data --out results/mo_nb201 --seeds 5 --queries 100
"""
from __future__ import annotations

import argparse
from pathlib import Path

from nasframe.analysis.pareto_report import main as pareto_main
from nasframe.api import search

STRATEGIES = {
    "nsgaii": ["strategy=optuna", "strategy/sampler=nsgaii"],
    "random": ["strategy=random"],
    "rea": ["strategy=rea"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default="results/mo_nb201")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--objectives", default="[flops:min]", help="cost objectives, e.g. [edgegpu_latency:min]")
    args = p.parse_args()
    out = Path(args.out)
    from tqdm.auto import tqdm

    jobs = [(name, seed) for name in STRATEGIES for seed in range(args.seeds)]
    for name, seed in tqdm(jobs, desc="runs"):
        run_dir = out / name / f"seed{seed}"
        if (run_dir / "summary.json").exists():
            continue
        search([*STRATEGIES[name], "evaluator=multi", f"evaluator.objectives={args.objectives}",
                f"data.root={args.data}", f"budget.queries={args.queries}", f"seed={seed}"],
               out_dir=run_dir, progress=False)
    pareto_main([str(out), "--by", "strategy,strategy.sampler"])


if __name__ == "__main__":
    main()
