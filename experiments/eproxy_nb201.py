"""Eproxy (base genome, or ``--genome FILE``) on NB201 CIFAR-10 next to the params and flops baselines.

    nice -n 5 python experiments/eproxy_nb201.py --n 1000 --data ../shared/data --out results/eproxy_nb201

Scores ``n`` architectures drawn with ``--seed`` from the whole space
(excluding ``--exclude``, e.g. a DPS run's fitness set), and prints Spearman
and Kendall τ of Eproxy, params and flops against CIFAR-10 validation and test
accuracy on the same archs, and Eproxy's cost per architecture. Progress is
appended to ``OUT/raw.csv`` and a rerun continues from it, so a partial run
(``--minutes``) still yields figures over the archs it finished.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from nasframe.analysis.correlate import choose_archs, rank_correlations
from nasframe.evaluators.eproxy import EproxyEvaluator
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.spaces.nb201 import NB201Space


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--genome", default=None)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="results/eproxy_nb201")
    ap.add_argument("--exclude", default=None, help="a file with one arch string per line to leave out")
    ap.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    ap.add_argument("--first", type=int, default=None, help="only the first K of the n chosen archs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--macs-norm", default=None,
                    help="M MACs dividing the MACs term, or space_max (default: the evaluator's, 187.17)")
    ap.add_argument("--summary-only", action="store_true",
                    help="only summarise the archs already in OUT/raw.csv (a partial run)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    space = NB201Space()
    norm = {} if args.macs_norm is None else {
        "macs_norm": args.macs_norm if args.macs_norm == "space_max" else float(args.macs_norm)}
    ev = EproxyEvaluator(space, genome=args.genome, root=args.data, **norm)
    other = EproxyEvaluator(space, macs_norm="space_max" if ev.macs_norm == 187.17 else 187.17)
    truth = BenchmarkLookup(space, dataset="cifar10", root=args.data)
    exclude = Path(args.exclude).read_text().split() if args.exclude else ()
    archs = choose_archs(space, args.n, args.seed, exclude=exclude)[:args.first]
    raw = out / "raw.csv"
    done = {}
    if raw.exists():
        with open(raw) as f:
            done = {r["arch"]: r for r in csv.DictReader(f)}
    fields = ["arch", "val", "test", "eproxy", "seconds", "params", "flops", "macs", "failure"]
    f = open(raw, "a", newline="")
    w = csv.DictWriter(f, fieldnames=fields)
    if not done:
        w.writeheader()
    rows, t0 = [], time.time()
    for a in tqdm(archs, desc="eproxy", file=sys.stderr):
        if str(a) in done:
            rows.append(done[str(a)])
            continue
        if args.summary_only or (args.minutes and time.time() - t0 > 60 * args.minutes):
            break
        t = truth.evaluate([a])[0]
        value, seconds, err = ev.score(a)
        row = {"arch": str(a), "val": t.values["val_acc"], "test": t.report["test_acc"], "eproxy": value,
               "seconds": seconds, "params": space.params(a), "flops": space.flops(a), "macs": ev.macs(a),
               "failure": err or ""}
        w.writerow(row)
        f.flush()
        rows.append(row)
    f.close()
    col = lambda k: np.array([float(r[k]) for r in rows])  # noqa: E731
    result = {"n_archs": len(rows), "genome": str(ev.genome), "evaluator": ev.describe(),
              "seconds_per_arch": float(np.mean(col("seconds"))) if rows else math.nan}
    print(f"{len(rows)} NB201 archs (CIFAR-10); genome {ev.genome}; inputs: {ev.describe()['inputs']}")
    # the same losses under the other MACs divisor: score = -loss * (1 - alpha * macs / norm)
    alpha = ev.genome.alpha
    loss = -col("eproxy") / (1 - alpha * col("macs") / ev.macs_norm)
    alt = f"eproxy(macs_norm={other.macs_norm:.2f})"
    cols = {"eproxy": col("eproxy"), alt: -loss * (1 - alpha * col("macs") / other.macs_norm)}
    result["macs_norm"] = ev.macs_norm
    print(f"MACs term divided by {ev.macs_norm:.2f} M (alpha={alpha:g}); {alt}: the same losses, other divisor")
    for name in ("eproxy", alt, "params", "flops"):
        x = cols[name] if name in cols else col(name)
        result[name] = {"val": rank_correlations(x, col("val")), "test": rank_correlations(x, col("test"))}
        r = result[name]
        print(f"{name:7s} val ρ={r['val']['spearman']:.4f} τ={r['val']['kendall']:.4f}   "
              f"test ρ={r['test']['spearman']:.4f} τ={r['test']['kendall']:.4f}  (n={r['val']['n']})")
    print(f"eproxy cost: {result['seconds_per_arch']:.2f} s/arch (torch threads {args.threads})")
    (out / "summary.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
