"""PredNAS Table VIII: N (random training samples) and K (pool members queried), NB201 CIFAR-100.

    python experiments/prednas_ablation_nk.py --root /work/shared/data --seeds 15 [--ns 10,20,30,40,50] [--ks 10,20,30,40,50]

N varies at K=40 and K varies at N=30 (budget N+K), one in-process run per
(setting, seed) through ``nasframe.api.search`` with the prednas config. The
table gives mean ± std test accuracy of the recommended architecture next to
the paper's values, and the spread of each sweep (the paper: K matters more).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

from tqdm.auto import tqdm

from nasframe.api import search

PAPER_N = {10: "72.85 ± 0.70", 20: "72.85 ± 0.37", 30: "73.09 ± 0.48", 40: "72.66 ± 0.54", 50: "72.77 ± 0.71"}
PAPER_K = {10: "71.92 ± 0.71", 20: "72.56 ± 0.62", 30: "72.74 ± 0.48", 40: "73.09 ± 0.48", 50: "73.17 ± 0.27"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    ap.add_argument("--dataset", default="cifar100")
    ap.add_argument("--seeds", type=int, default=15)
    ap.add_argument("--ns", default="10,20,30,40,50")
    ap.add_argument("--ks", default="10,20,30,40,50")
    args = ap.parse_args(argv)
    settings = [(int(n), 40) for n in args.ns.split(",")] + [(30, int(k)) for k in args.ks.split(",")]
    settings = list(dict.fromkeys(settings))
    results = {}
    jobs = [(n, k, s) for n, k in settings for s in range(args.seeds)]
    for n, k, s in tqdm(jobs, desc="N/K ablation"):
        with tempfile.TemporaryDirectory() as d:
            r = search(["space=nb201", "strategy=prednas", f"strategy.n_init={n}", f"strategy.top_k={k}",
                        f"budget.queries={n + k}", f"benchmark.dataset={args.dataset}", f"data.root={args.root}",
                        f"seed={s}"], out_dir=d, progress=False, plot=False)
        results.setdefault((n, k), []).append(r.summary["report"]["test_acc"])

    def cell(v):
        return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"

    lines = [f"{args.dataset}, {args.seeds} seeds, test accuracy of the recommended architecture",
             "| sweep | N | K | queries | ours | paper |", "|---|---|---|---|---|---|"]
    spread = {}
    for (n, k), v in results.items():
        for sweep, fixed, var, paper in (("N", k == 40, n, PAPER_N), ("K", n == 30, k, PAPER_K)):
            if fixed and str(var) in (args.ns if sweep == "N" else args.ks).split(","):
                lines.append(f"| {sweep} | {n} | {k} | {n + k} | {cell(v)} | {paper.get(var, '–')} |")
                spread.setdefault(sweep, []).append(statistics.mean(v))
    lines.append("")
    for sweep, m in spread.items():
        lines.append(f"range of means over the {sweep} sweep: {max(m) - min(m):.2f} points")
    if len(spread) == 2:
        lines.append("K matters more than N" if max(spread["K"]) - min(spread["K"]) > max(spread["N"]) - min(spread["N"])
                     else "N matters at least as much as K here")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
