"""ASHA with workers sharing a study vs Hyperband in one process, training NB201 networks on digits.

    nice -n 10 python experiments/asha_digits.py [--seeds 3] [--queries 30] [--workers 2] [--epochs 9]

Data: scikit-learn's bundled 8x8 digits as an ImageFolder (as ``train_digits_hyperband.py``). Per
seed, ``--workers`` processes run ``strategy=asha evaluator=train`` as one study in a fresh SQLite
file (``budget.queries=--queries`` for the whole study; one torch thread each, and one shared
``evaluator.state_dir`` so a promotion continues the weights another worker saved). Then Hyperband
runs alone (one torch thread) with ``budget.epochs`` = the epochs the study spent, so both spend
the same training epochs; the workers use ``--workers`` cores, Hyperband one. Reported per strategy: wall seconds, epochs, and the test accuracy of
the recommendation (ASHA: the best validation accuracy at the highest rung the study reached, over
all workers' trials; Hyperband: its run's recommendation). Writes ``results.json`` into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nasframe.api import search
from nasframe.datasets import write_digits

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def run_study(seed: int, data: Path, work: Path, a) -> dict:
    """``a.workers`` processes of one ASHA study; its recommendation from the study's trials."""
    import optuna

    url, study = f"sqlite:///{work / f'asha-seed{seed}.db'}", f"asha{seed}"
    common = ["strategy=asha", "evaluator=train", "benchmark.dataset=digits", f"data.root={data}",
              f"evaluator.epochs={a.epochs}", f"evaluator.batch_size={a.batch}", "evaluator.threads=1",
              f"evaluator.seed={seed}", f"evaluator.state_dir={work / f'asha-seed{seed}-state'}",
              f"budget.queries={a.queries}", f"storage={url}", f"study={study}", "progress=false", "plot=false"]
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "nasframe", *common, f"seed={a.workers * seed + i}",
                               f"hydra.run.dir={work / f'asha-seed{seed}-w{i}'}"], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(a.workers)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"an ASHA worker failed:\n{err[-2000:]}")
    seconds = time.perf_counter() - t0
    trials = [t for t in optuna.load_study(study_name=study, storage=url).get_trials()
              if t.state.name == "COMPLETE"]
    top = max(t.user_attrs["fidelity"] for t in trials)
    best = max((t for t in trials if t.user_attrs["fidelity"] == top), key=lambda t: t.values[0])
    return {"strategy": f"asha x{a.workers}", "seed": seed, "recommended": best.user_attrs["arch"],
            "val_acc": best.values[0], "test_acc": best.user_attrs["evaluation"]["report"]["test_acc"],
            "queries": len(trials), "epochs_spent": sum(t.user_attrs["fidelity"] for t in trials),
            "full_fidelity_trained": sum(t.user_attrs["fidelity"] == a.epochs for t in trials),
            "seconds": seconds}


def run_hyperband(seed: int, data: Path, work: Path, epochs_budget: float, a) -> dict:
    """Hyperband in one process (one torch thread) under ``budget.epochs=epochs_budget``."""
    out = work / f"hyperband-seed{seed}"
    t0 = time.perf_counter()
    res = search(["strategy=hyperband", "evaluator=train", "benchmark.dataset=digits", f"data.root={data}",
                  f"evaluator.epochs={a.epochs}", f"evaluator.batch_size={a.batch}", "evaluator.threads=1",
                  f"evaluator.seed={seed}", f"evaluator.state_dir={out / 'train_state'}", f"seed={seed}",
                  f"budget.epochs={epochs_budget}", "budget.queries=10000"], out_dir=out, progress=False, plot=False)
    s, rows = res.summary, [r for r in res.history if r["phase"] == "search"]
    return {"strategy": "hyperband", "seed": seed, "recommended": s["recommended"], "val_acc": s["values"]["val_acc"],
            "test_acc": s["report"]["test_acc"], "queries": s["queries"], "epochs_spent": s["epochs_spent"],
            "full_fidelity_trained": sum(r["fidelity"] == a.epochs for r in rows),
            "seconds": time.perf_counter() - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--queries", type=int, default=30, help="budget.queries of each ASHA study")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=9, help="full fidelity (evaluator.epochs)")
    p.add_argument("--side", type=int, default=8, help="image size the digits are written at")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--out", type=Path, default=HERE / "asha_digits")
    a = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_digits(data / "digits", side=a.side)
        for seed in range(a.seeds):
            asha = run_study(seed, data, Path(tmp), a)
            hb = run_hyperband(seed, data, Path(tmp), asha["epochs_spent"], a)
            for r in (asha, hb):
                results.append(r)
                print(f"{r['strategy']:9s} seed {seed}: test {r['test_acc']:.2f}  ({r['queries']} queries, "
                      f"{r['epochs_spent']:.0f} epochs, {r['full_fidelity_trained']} at {a.epochs}, "
                      f"{r['seconds']:.0f} s)", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    print(f"\n{'strategy':10s} {'test_acc':>14s} {'epochs':>7s} {'seconds':>8s}   ({a.seeds} seeds)")
    table = {}
    for name in dict.fromkeys(r["strategy"] for r in results):
        rs = [r for r in results if r["strategy"] == name]
        t = np.array([r["test_acc"] for r in rs])
        table[name] = {"test_mean": t.mean(), "test_std": t.std(ddof=1) if len(t) > 1 else 0.0,
                       "epochs_mean": float(np.mean([r["epochs_spent"] for r in rs])),
                       "seconds_mean": float(np.mean([r["seconds"] for r in rs]))}
        row = table[name]
        print(f"{name:10s} {row['test_mean']:7.2f} ± {row['test_std']:4.2f} {row['epochs_mean']:7.1f} "
              f"{row['seconds_mean']:8.1f}")
    speed = [h["seconds"] / s["seconds"] for s, h in zip(results[::2], results[1::2])]
    print(f"wall-time ratio hyperband / asha, same seed and epochs: {np.mean(speed):.2f} (per seed "
          f"{', '.join(f'{x:.2f}' for x in speed)})")
    args = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items() if k != "out"}
    (a.out / "results.json").write_text(json.dumps({"args": args, "table": table, "wall_ratio": speed,
                                                    "runs": results}, indent=1) + "\n")
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()
