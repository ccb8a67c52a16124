"""Our zero-cost proxies on NB201 (CIFAR-10) vs the published NAS-Bench-Suite-Zero values.

    nice -n 5 python experiments/zc_nb201.py --proxies synflow,params,flops --n 1000 \
        --data ../shared/data --out results/zc_nb201

For ``n`` architectures drawn (seed ``--seed``) from those listed in
``nasbench201/nb201_zc_proxies.csv`` it computes each proxy with
``ZeroCostEvaluator`` (zero-cost reference network, seed 42, batch 64; CIFAR
images when ``--data`` holds them, else synthetic) and prints, per proxy:
Spearman of ours vs the published column, ours vs CIFAR-10 test and
validation accuracy, and the published column vs the same accuracies on the
same archs. ``--nwot-relu-match both`` scores NASWOT under both ReLU tests
from one forward pass per arch (columns ``nwot_module`` and ``nwot_name``).
Progress is saved every ``--save-every`` archs to ``OUT/raw.csv``
and a rerun continues from it, so a partial run still yields figures.
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
from scipy.stats import spearmanr
from tqdm import tqdm

from nasframe.analysis.correlate import choose_archs, read_column_by_arch
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.evaluators.zerocost import ZeroCostEvaluator
from nasframe.proxies.nwot import RELU_MATCHES, nwot_by_match
from nasframe.spaces.nb201 import NB201Space

REF_COLUMN = {"synflow": "synflow", "params": "params", "flops": "flops", "nwot": "nwot", "jacob_cov": "jacov",
              "snip": "snip", "grad_norm": "grad_norm", "grasp": "grasp", "fisher": "fisher", "zen": "zen"}


def rho(x, y) -> tuple[float, int]:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    return (float(spearmanr(x[ok], y[ok])[0]) if ok.sum() > 2 else math.nan), int(ok.sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxies", default="synflow,params,flops")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="results/zc_nb201")
    ap.add_argument("--save-every", type=int, default=20)
    ap.add_argument("--first", type=int, default=None,
                    help="only the first K of the n chosen archs (a common prefix of runs stopped early)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--nwot-relu-match", default=None, choices=(*RELU_MATCHES, "both"),
                    help="NASWOT's ReLU test (default: the evaluator's); both: one column per test, one pass")
    ap.add_argument("--zen-repeat", type=int, default=None, help="Zen-score re-inits (default: the evaluator's)")
    ap.add_argument("--summary-only", action="store_true",
                    help="only summarise the archs already in OUT/raw.csv (a partial run)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = args.proxies.split(",")
    both = args.nwot_relu_match == "both"
    # output columns: proxy name -> the published column it is compared with
    columns = {}
    for n in names:
        columns.update({f"nwot_{m}": "nwot" for m in RELU_MATCHES} if n == "nwot" and both else {n: REF_COLUMN[n]})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ref_csv = Path(args.data) / "nasbench201" / "nb201_zc_proxies.csv"
    space = NB201Space()
    knobs = {k: v for k, v in (("nwot_relu_match", None if both else args.nwot_relu_match),
                               ("zen_repeat", args.zen_repeat)) if v is not None}
    ev = ZeroCostEvaluator(space, proxy=names, dataset="cifar10", root=args.data, **knobs)
    truth = BenchmarkLookup(space, dataset="cifar10", root=args.data)
    archs = choose_archs(space, args.n, args.seed, ref_csv)[:args.first]
    raw_path = out / "raw.csv"
    done = {}
    if raw_path.exists():
        with open(raw_path) as f:
            done = {r["arch"]: r for r in csv.DictReader(f)}
    rows = []
    fields = ["arch", "val", "test", *columns, *[f"{n}_s" for n in columns], "failure"]
    f = open(raw_path, "a", newline="")
    w = csv.DictWriter(f, fieldnames=fields)
    if not done:
        w.writeheader()
    for i, a in enumerate(tqdm(archs, desc="+".join(names), file=sys.stderr)):
        if str(a) in done:
            rows.append(done[str(a)])
            continue
        if args.summary_only:
            continue
        t = truth.evaluate([a])[0]
        row = {"arch": str(a), "val": t.values["val_acc"], "test": t.report["test_acc"]}
        fails = []
        for n in names:
            if n == "nwot" and both:
                t0 = time.perf_counter()
                try:
                    with ev.network_and_batch(a, n) as (net, batch):
                        values = nwot_by_match(net, batch)
                except Exception as e:  # recorded like the evaluator's failures
                    values = {m: math.nan for m in RELU_MATCHES}
                    fails.append(f"nwot failed: {type(e).__name__}: {e}")
                for m, v in values.items():
                    row[f"nwot_{m}"], row[f"nwot_{m}_s"] = v, time.perf_counter() - t0
                continue
            v, s, err = ev.raw(a, n)
            row[n], row[f"{n}_s"] = v, s
            if err:
                fails.append(err)
        row["failure"] = "; ".join(fails)
        w.writerow(row)
        rows.append(row)
        if i % args.save_every == 0:
            f.flush()
    f.close()
    col = lambda k: np.array([float(r[k]) if r[k] not in ("", None) else math.nan for r in rows])  # noqa: E731
    val, test = col("val"), col("test")
    result = {"n_archs": len(rows), "inputs": ev.describe().get("inputs"), "proxies": {}}
    print(f"{len(rows)} NB201 archs (CIFAR-10); inputs: {result['inputs']}")
    print(f"{'proxy':10s} {'ours~ref':>9s} {'ours~test':>9s} {'ref~test':>9s} {'gap':>7s} "
          f"{'ours~val':>9s} {'ref~val':>9s} {'fail':>5s} {'s/arch':>7s}")
    for n, ref_name in columns.items():
        ref = read_column_by_arch(ref_csv, ref_name)
        refv = np.array([ref[r["arch"]] for r in rows])
        ours = col(n)
        r_ref, m = rho(ours, refv)
        r_test, _ = rho(ours, test)
        rr_test, _ = rho(refv, test)
        r_val, _ = rho(ours, val)
        rr_val, _ = rho(refv, val)
        fails = int(np.sum(~np.isfinite(ours)))
        cost = float(np.nanmean(col(f"{n}_s")))
        result["proxies"][n] = {"ours_vs_reference": r_ref, "n": m, "ours_vs_test": r_test,
                                "reference_vs_test": rr_test, "test_gap": r_test - rr_test,
                                "ours_vs_val": r_val, "reference_vs_val": rr_val, "failures": fails,
                                "seconds_per_arch": cost}
        print(f"{n:10s} {r_ref:9.4f} {r_test:9.4f} {rr_test:9.4f} {r_test - rr_test:+7.4f} "
              f"{r_val:9.4f} {rr_val:9.4f} {fails:5d} {cost:7.3f}")
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    print(f"-> {out}/summary.json")


if __name__ == "__main__":
    main()
