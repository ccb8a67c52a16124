"""PredNAS Table VIII: N (random training samples) and K (pool members queried), NB201 CIFAR-100.

    python experiments/prednas_ablation_nk.py --root ../shared/data --seeds 6 --out results/prednas_helper/ablation_nk

The paper's grid: N in {10..50} at K=40, and K in {10..50} at N=30 (budget
N+K, 15 repeats). One in-process run per (N, seed) through
``nasframe.api.search`` with the prednas config. The K sweep costs one run
per seed: with N=30 the single round fits the same predictor on the same 30
archs and ranks the same pool whatever K is (K does not touch the random
stream), so the run with K=max(ks) queries, in order, the top-K pool for
every smaller K, and K's result is the best validation architecture among
the first 30+K queries (``--check-prefix`` re-runs K=40 and checks this).
The table gives mean ± std test accuracy of the recommended architecture
(search on validation) next to the paper's values, and the spread of each sweep.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from nasframe.api import search

PAPER_N = {10: "72.85 ± 0.70", 20: "72.85 ± 0.37", 30: "73.09 ± 0.48", 40: "72.66 ± 0.54", 50: "72.77 ± 0.71"}
PAPER_K = {10: "71.92 ± 0.71", 20: "72.56 ± 0.62", 30: "72.74 ± 0.48", 40: "73.09 ± 0.48", 50: "73.17 ± 0.27"}


def run(args, n, k, seed):
    """History [(val, test)] of one PredNAS run with N=n, K=k (budget n+k)."""
    with tempfile.TemporaryDirectory() as d:
        search(["space=nb201", "strategy=prednas", f"strategy.n_init={n}", f"strategy.top_k={k}",
                f"budget.queries={n + k}", f"benchmark.dataset={args.dataset}", f"data.root={args.root}",
                f"seed={seed}", *args.override], out_dir=d, progress=False, plot=False)
        hist = [json.loads(x) for x in (Path(d) / "history.jsonl").read_text().splitlines()]
    return [(h["values"]["val_acc"], h["report"]["test_acc"]) for h in hist]


def recommended_test(hist) -> float:
    """Test accuracy of the first architecture with the best validation accuracy."""
    best = max(range(len(hist)), key=lambda i: (hist[i][0], -i))
    return hist[best][1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    ap.add_argument("--dataset", default="cifar100")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--seed-start", type=int, default=0)
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="only render the table from ablation_nk.json files of earlier runs (disjoint seeds)")
    ap.add_argument("--ns", default="10,20,30,40,50", help="N sweep (at K=40)")
    ap.add_argument("--ks", default="10,20,30,40,50", help="K sweep (at N=30)")
    ap.add_argument("--check-prefix", action="store_true", help="also run N=30, K=40 and check it equals the prefix")
    ap.add_argument("--out", default=None, help="folder for ablation_nk.md")
    ap.add_argument("override", nargs="*", help="extra Hydra overrides, e.g. strategy.starts=100")
    args = ap.parse_args(argv)
    ns, ks = [int(x) for x in args.ns.split(",")], [int(x) for x in args.ks.split(",")]
    kmax = max(ks + [40])
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        n_sweep = {n: [v for p in parts for v in p["n_sweep"][str(n)]] for n in ns}
        k_sweep = {k: [v for p in parts for v in p["k_sweep"][str(k)]] for k in ks}
        seeds = sorted(s for p in parts for s in p.get("seed_list", []))
        if len(seeds) != len(set(seeds)):
            raise SystemExit(f"the merged files share seeds: {seeds}")
        args.seeds = len(seeds)
        return report(args, ns, ks, n_sweep, k_sweep, sum(p["runs"] for p in parts),
                      sum(p["wall_s"] for p in parts), sum(p["cpu_s"] for p in parts), seeds)
    t0, c0 = time.perf_counter(), time.process_time()
    n_sweep: dict[int, list] = {n: [] for n in ns}
    k_sweep: dict[int, list] = {k: [] for k in ks}
    runs = 0
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    for seed in seeds:
        for n in sorted(set(ns) | {30}):
            hist = run(args, n, kmax if n == 30 else 40, seed)
            runs += 1
            if n == 30:
                for k in ks:
                    k_sweep[k].append(recommended_test(hist[:30 + k]))
                if args.check_prefix and seed == seeds[0]:
                    direct = run(args, 30, 40, seed)
                    runs += 1
                    assert direct == hist[:70], "K=40 run differs from the first 70 queries of the K=max run"
                    print("prefix check: the N=30, K=40 run equals the first 70 queries of the K=max run")
            if n in n_sweep:
                n_sweep[n].append(recommended_test(hist[:n + 40]))
        print(f"seed {seed} done: {runs} runs, {time.perf_counter() - t0:.0f} s wall, "
              f"{time.process_time() - c0:.0f} s CPU", flush=True)
    report(args, ns, ks, n_sweep, k_sweep, runs, time.perf_counter() - t0, time.process_time() - c0, seeds)


def report(args, ns, ks, n_sweep, k_sweep, runs, wall, cpu, seeds):
    def cell(v):
        return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"

    extra = f", overrides {' '.join(args.override)}" if args.override else ""
    lines = [f"PredNAS N/K ablation, NB201 {args.dataset}, {args.seeds} seeds per cell (seeds "
             f"{seeds[0]}..{seeds[-1]}){extra}: test accuracy "
             f"of the recommended architecture (best validation among the N+K queries), mean ± std. "
             f"{runs} runs, {wall:.0f} s wall, {cpu:.0f} s CPU.", "",
             "| sweep | N | K | queries | ours | paper (15 repeats) |", "|---|---|---|---|---|---|"]
    for n in ns:
        lines.append(f"| N | {n} | 40 | {n + 40} | {cell(n_sweep[n])} | {PAPER_N.get(n, '–')} |")
    for k in ks:
        lines.append(f"| K | 30 | {k} | {30 + k} | {cell(k_sweep[k])} | {PAPER_K.get(k, '–')} |")
    rn = max(statistics.mean(v) for v in n_sweep.values()) - min(statistics.mean(v) for v in n_sweep.values())
    rk = max(statistics.mean(v) for v in k_sweep.values()) - min(statistics.mean(v) for v in k_sweep.values())
    lines += ["", f"range of means over the N sweep: {rn:.2f} points (paper 0.43); over the K sweep: {rk:.2f} "
              f"points (paper 1.25)",
              "K matters more than N" if rk > rn else "N matters at least as much as K here"]
    table = "\n".join(lines)
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "ablation_nk.md").write_text(table + "\n")
        (out / "ablation_nk.json").write_text(json.dumps({"n_sweep": n_sweep, "k_sweep": k_sweep, "wall_s": wall,
                                                           "cpu_s": cpu, "runs": runs, "seed_list": seeds},
                                                          indent=1))
        print(f"wrote {out}/ablation_nk.md")


if __name__ == "__main__":
    main()
