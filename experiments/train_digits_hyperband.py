"""Hyperband vs random search at the same total epoch budget, training NB201 networks on digits.

    nice -n 10 python experiments/train_digits_hyperband.py [--seeds 5] [--budget 54] [--epochs 9] [--side 8]

Data: scikit-learn's bundled 8x8 digits as an ImageFolder (``nasframe.datasets.write_digits``;
``--side`` pixels, 8 = the native size, which keeps the experiment to minutes on a CPU). Both
strategies run ``evaluator=train`` (NB201's recipe, cosine over ``--epochs`` = Hyperband's maximum
fidelity) under ``budget.epochs=--budget``: random search trains ``budget / epochs`` architectures
to the end; Hyperband (eta 3) spends the same epochs on brackets of successive halving. Each run's
recommendation is the architecture with the best validation accuracy at full fidelity; its test
accuracy is reported (test figures never reach the strategies). Writes ``results.json`` and
``hyperband_vs_random.png`` (best full-fidelity validation accuracy so far against epochs spent,
mean over seeds) into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from nasframe.api import search
from nasframe.datasets import write_digits

HERE = Path(__file__).resolve().parent


def run(strategy: str, seed: int, data: Path, work: Path, a) -> dict:
    out = work / f"{strategy}-seed{seed}"
    t0 = time.perf_counter()
    result = search([f"strategy={strategy}", "evaluator=train", "benchmark.dataset=digits", f"data.root={data}",
                     f"evaluator.epochs={a.epochs}", f"evaluator.batch_size={a.batch}", f"seed={seed}",
                     f"evaluator.seed={seed}", f"evaluator.state_dir={out / 'train_state'}",
                     f"++budget.epochs={a.budget}", "budget.queries=10000"],
                    out_dir=out, progress=False, plot=False)
    spent, curve, best = 0, [], -np.inf
    for r in result.history:
        if r["phase"] != "search":
            continue
        spent += r["fidelity"]
        if r["fidelity"] == a.epochs and not r.get("failure"):
            best = max(best, r["values"]["val_acc"])
        curve.append((spent, best))
    s = result.summary
    return {"strategy": strategy, "seed": seed, "recommended": s["recommended"], "val_acc": s["values"]["val_acc"],
            "test_acc": s["report"]["test_acc"], "queries": s["queries"], "epochs_spent": s["epochs_spent"],
            "full_fidelity_trained": sum(r["fidelity"] == a.epochs for r in result.history if r["phase"] == "search"),
            "seconds": time.perf_counter() - t0, "curve": curve}


def plot(results: list[dict], a, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    grid = np.arange(1, a.budget + 1)
    for strategy in ("random", "hyperband"):
        rows = []
        for r in (r for r in results if r["strategy"] == strategy):
            xs, ys = zip(*r["curve"])
            idx = np.searchsorted(np.asarray(xs), grid, side="right") - 1
            rows.append(np.where(idx >= 0, np.asarray(ys)[np.clip(idx, 0, None)], np.nan))
        m = np.nanmean(np.where(np.isinf(rows), np.nan, rows), axis=0)
        ax.step(grid, m, where="post", label=f"{strategy} (mean of {len(rows)} seeds)")
    ax.set_xlabel("training epochs spent")
    ax.set_ylabel("best validation accuracy at full fidelity (%)")
    ax.set_title(f"NB201 on digits {a.side}x{a.side}: budget {a.budget} epochs, full fidelity {a.epochs}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=int, default=54, help="budget.epochs of every run")
    p.add_argument("--epochs", type=int, default=9, help="full fidelity (evaluator.epochs)")
    p.add_argument("--side", type=int, default=8, help="image size the digits are written at")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--out", type=Path, default=HERE / "train_digits_hyperband")
    a = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_digits(data / "digits", side=a.side)
        for seed in range(a.seeds):
            for strategy in ("random", "hyperband"):
                r = run(strategy, seed, data, Path(tmp), a)
                results.append(r)
                print(f"{strategy:9s} seed {seed}: val {r['val_acc']:.2f}  test {r['test_acc']:.2f}  "
                      f"({r['queries']} queries, {r['full_fidelity_trained']} at {a.epochs} epochs, "
                      f"{r['seconds']:.0f} s)", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    print(f"\n{'strategy':10s} {'val_acc':>14s} {'test_acc':>14s} {'queries':>8s}   ({a.seeds} seeds, "
          f"budget {a.budget} epochs)")
    table = {}
    for strategy in ("random", "hyperband"):
        rs = [r for r in results if r["strategy"] == strategy]
        v, t = np.array([r["val_acc"] for r in rs]), np.array([r["test_acc"] for r in rs])
        table[strategy] = {"val_mean": v.mean(), "val_std": v.std(ddof=1) if len(v) > 1 else 0.0,
                           "test_mean": t.mean(), "test_std": t.std(ddof=1) if len(t) > 1 else 0.0}
        print(f"{strategy:10s} {v.mean():7.2f} ± {table[strategy]['val_std']:4.2f} "
              f"{t.mean():7.2f} ± {table[strategy]['test_std']:4.2f} {np.mean([r['queries'] for r in rs]):8.1f}")
    args = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items() if k != "out"}
    (a.out / "results.json").write_text(json.dumps({"args": args, "table": table, "runs": results}, indent=1) + "\n")
    plot(results, a, a.out / "hyperband_vs_random.png")
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()
