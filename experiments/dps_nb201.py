"""DPS on NB201 CIFAR-10: search Eproxy genomes, then compare the best with the base genome on held-out archs.

    nice -n 5 python experiments/dps_nb201.py --seeds 0 1 2 --data /work/shared/data --out results/dps_nb201

Per seed it runs the normal runner (resumable: rerunning continues each run)::

    python -m nasframe space=eproxy_config strategy=dps evaluator=dps_fitness budget.queries=200 \
        seed=S data.root=DATA hydra.run.dir=OUT/seedS resume=true

(population 40, tournament 10, mutation rate 0.2, 20 fitness archs drawn with
the seed), then scores the best genome and the base genome on ``--heldout``
NB201 archs and prints both Spearman correlations with CIFAR-10 validation
accuracy. The held-out set is one set for all seeds, drawn outside every
seed's fitness archs (pitfall P9), so the base genome is scored once; held-out
scores are appended to ``OUT/heldout.csv`` and a rerun continues from it. ``--queries``,
``--population``, ``--tournament`` and ``--fitness-archs`` shrink the
protocol when the full one does not fit the time available; the printout says
what ran.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from tqdm import tqdm

from nasframe.analysis.correlate import choose_archs
from nasframe.evaluators.eproxy import EproxyEvaluator
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.spaces.eproxy_config import BASE_GENOME, load_genome
from nasframe.spaces.nb201 import NB201Space


def heldout_spearman(genome, archs, ev, truth, store: Path) -> float:
    """Spearman of ``genome``'s Eproxy scores vs validation accuracy on ``archs``; scores are
    appended to ``store`` (genome, arch, score, seconds) so an interrupted run resumes."""
    done = {}
    if store.exists():
        with open(store) as f:
            done = {(r["genome"], r["arch"]): float(r["score"]) for r in csv.DictReader(f)}
    new = not store.exists()
    with open(store, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["genome", "arch", "score", "seconds"])
        if new:
            w.writeheader()
        for a in tqdm(archs, desc="held-out", file=sys.stderr):
            if (str(genome), str(a)) not in done:
                value, seconds, _ = ev.score(a, genome)
                w.writerow({"genome": str(genome), "arch": str(a), "score": value, "seconds": seconds})
                f.flush()
                done[(str(genome), str(a))] = value
    s = np.array([done[(str(genome), str(a))] for a in archs])
    acc = np.array([truth.evaluate([a])[0].values["val_acc"] for a in archs])
    ok = np.isfinite(s)
    return float(spearmanr(s[ok], acc[ok])[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default="results/dps_nb201")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--population", type=int, default=40)
    ap.add_argument("--tournament", type=int, default=10)
    ap.add_argument("--fitness-archs", type=int, default=20)
    ap.add_argument("--heldout", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out).resolve()
    space = NB201Space()
    truth = BenchmarkLookup(space, dataset="cifar10", root=args.data)
    fitness_sets = {seed: choose_archs(space, args.fitness_archs, seed) for seed in args.seeds}  # as dps_fitness draws them
    archs = choose_archs(space, args.heldout, 10_000, exclude=[a for s in fitness_sets.values() for a in s])
    ev = EproxyEvaluator(space, root=args.data)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "heldout.csv"
    results = []
    for seed in args.seeds:
        run_dir = out / f"seed{seed}"
        cmd = [sys.executable, "-m", "nasframe", "space=eproxy_config", "strategy=dps", "evaluator=dps_fitness",
               f"budget.queries={args.queries}", f"seed={seed}", f"data.root={args.data}",
               f"strategy.population_size={args.population}", f"strategy.tournament_size={args.tournament}",
               f"evaluator.n_archs={args.fitness_archs}", f"evaluator.arch_seed={seed}",
               f"hydra.run.dir={run_dir}", "resume=true", "plot=true"]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        summary = json.loads((run_dir / "summary.json").read_text())
        best = load_genome(str(run_dir / "summary.json"))
        if set(summary["evaluator"]["fitness_archs"]) != {str(a) for a in fitness_sets[seed]}:
            raise RuntimeError(f"{run_dir}: the run's fitness archs are not the ones the held-out set excludes")
        history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
        base_fit = next((h["values"]["fitness"] for h in history if h["arch"] == str(BASE_GENOME)), None)
        r_best = heldout_spearman(best, archs, ev, truth, store)
        r_base = heldout_spearman(BASE_GENOME, archs, ev, truth, store)
        row = {"seed": seed, "evaluations": len(history), "best_fitness": summary["values"]["fitness"],
               "base_fitness_if_evaluated": base_fit, "best_genome": str(best),
               "heldout_n": len(archs), "heldout_spearman_best": r_best, "heldout_spearman_base": r_base}
        results.append(row)
        print(json.dumps(row), flush=True)
    (out / "summary.json").write_text(json.dumps({"args": vars(args), "runs": results}, indent=2))
    print(f"\nDPS on NB201 CIFAR-10: {args.queries} genomes (population {args.population}, tournament "
          f"{args.tournament}), {args.fitness_archs} fitness archs, {args.heldout} held-out archs")
    for r in results:
        print(f"  seed {r['seed']}: fitness {r['best_fitness']:.3f}  held-out ρ best {r['heldout_spearman_best']:.4f}"
              f"  base {r['heldout_spearman_base']:.4f}")


if __name__ == "__main__":
    main()
