"""AIO-P transfer on TransNAS-Bench-101 micro (our analogue of the paper's Tables 3-5).

Pipeline: pre-train the GNN backbone on NB201 CIFAR-10 validation accuracy
graphs; per seed, train one K-adapter per knowledge task (default: micro
class_object) with the backbone frozen; for every other micro task, take a
fixed set of target architectures, use 20 of them only for the label-scaling
statistics (and fine-tuning), and evaluate on the rest:

* GNN            -- the pre-trained regressor, predictions in its own units (NB201 accuracy)
* GNN + Eqs 4&5  -- the same, de-standardised (and FLOPs-rescaled) with the target's 20 labels
* AIO-P          -- backbone + K-adapter(s), zero-shot (only the 20 labels' statistics)
* AIO-P FT       -- fine-tuned on the 20 (100 epochs, batch 1, backbone GNN layers + adapter head)
* FLOPs, synflow -- rank baselines; their MAE maps the score to task units by the same 20 labels

MAE is in task units (top-1 %, SSIM, negative L2 loss, pixel accuracy %).
Pre-training runs once (seed 0) and is cached in the output folder; seeds vary
adapter training, fine-tuning and the pre-training-free parts.

    python experiments/aiop_transfer.py --data /work/shared/data

writes ``experiments/aiop_transfer/{results.json,tables.md,scatter_<task>.png}``.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
import zipfile
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from nasframe.benchmarks import find_benchmark
from nasframe.graphs import GraphCache
from nasframe.predictors.adapters import AIOPPredictor
from nasframe.predictors.gnn import PackedGraphs
from nasframe.spaces.nb201 import NB201Space
from nasframe.spaces.transnas import TransNASMicroSpace

TASKS = ("class_object", "class_scene", "room_layout", "jigsaw", "autoencoder", "normal", "segmentsemantic")
UNITS = {"class_object": "top-1 %", "class_scene": "top-1 %", "jigsaw": "top-1 %", "autoencoder": "SSIM",
         "normal": "SSIM", "room_layout": "neg. L2 loss", "segmentsemantic": "pixel acc. %"}
SEEDS = (12345, 1, 2, 3, 4)
METHODS = ("GNN", "GNN + Eqs. 4&5", "AIO-P", "AIO-P FT", "FLOPs", "synflow")
OUT = Path(__file__).resolve().parent / "aiop_transfer"


def arch_sets(space, n_target: int, n_adapter: int, seed: int = 2023):
    """Disjoint random target and adapter-training architectures (fixed for all seeds)."""
    perm = np.random.default_rng(seed).permutation(len(space))
    targets = [space[int(i)] for i in perm[:n_target]]
    adapter = [space[int(i)] for i in perm[len(perm) - n_adapter:]]  # from the other end: independent of n_target
    return targets, adapter


def labels(space, task, archs, root) -> np.ndarray:
    b = find_benchmark(space, task, root=root)
    col = b.table.column(b.value_column)
    return np.array([col[space.index(a)] for a in archs], dtype=np.float64)


def synflow_scores(root: Path, task: str, archs) -> np.ndarray | None:
    """Synflow from the shared NASLib zip (micro, classification tasks only), else None."""
    path = root / "transnasbench101" / "tnb101_classification_synflow.zip"
    if not path.exists():
        return None
    scores = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if f"transbench101_micro--{task}--" in name and name.endswith(".json"):
                for rec in json.loads(z.read(name)):
                    ops = [int(t) for t in rec["arch"].strip("()").split(",")]
                    scores[f"64-41414-{ops[0]}_{ops[1]}{ops[2]}_{ops[3]}{ops[4]}{ops[5]}"] = rec["synflow"]["score"]
    if not scores:
        return None
    return np.array([scores.get(str(a), np.nan) for a in archs], dtype=np.float64)


def metrics(pred, true) -> dict:
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    ok = np.isfinite(pred) & np.isfinite(true)
    srcc = spearmanr(pred[ok], true[ok])[0] if ok.sum() > 2 else np.nan
    return {"mae": float(np.mean(np.abs(pred[ok] - true[ok]))), "srcc": float(np.nan_to_num(srcc, nan=-1.0))}


def score_to_units(score, calib_score, calib_y):
    """Map a rank score to task units by matching the 20 calibration labels' mean and std (Eq. 4)."""
    s_mu, s_sd = np.nanmean(calib_score), np.nanstd(calib_score) or 1.0
    return (score - s_mu) / s_sd * np.std(calib_y) + np.mean(calib_y)


def pretrained(args, root) -> AIOPPredictor:
    path = args.out / f"pretrained_nb201_n{args.n_pretrain}_e{args.pretrain_epochs}.pt"
    if path.exists() and not args.retrain:
        print(f"pre-trained backbone: {path} (cached; --retrain to redo)")
        return AIOPPredictor.load(path)
    space = NB201Space()
    archs = [space[i] for i in range(min(args.n_pretrain, len(space)))]  # a prefix of the official order
    graphs = GraphCache(space, "cifar10").many(archs, workers=args.workers)
    y = labels(space, "cifar10", archs, root)
    p = AIOPPredictor(scaling="stand_flops", epochs=args.pretrain_epochs, batch_size=32, seed=0, progress=True)
    start = time.time()
    p.pretrain(graphs, y)
    print(f"pre-trained on {len(graphs)} NB201 graphs, {args.pretrain_epochs} epochs, {time.time() - start:.0f} s")
    p.save(path)
    return p


def run(args) -> dict:
    root = Path(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    base = pretrained(args, root)
    space = TransNASMicroSpace()
    targets, adapter_archs = arch_sets(space, args.n_target, args.n_adapter)
    calib, test = slice(0, args.calib), slice(args.calib, None)
    knowledge = list(args.knowledge)
    target_tasks = [t for t in (args.targets or TASKS) if t not in knowledge]
    graphs = {t: GraphCache(space, t).many(targets, workers=args.workers) for t in target_tasks}
    truth = {t: labels(space, t, targets, root) for t in target_tasks}
    k_graphs = {k: GraphCache(space, k).many(adapter_archs, workers=args.workers) for k in knowledge}
    k_y = {k: labels(space, k, adapter_archs, root) for k in knowledge}

    results = {t: {m: [] for m in METHODS} for t in target_tasks}
    scatter = {}
    for t in target_tasks:  # seed-free baselines
        y = truth[t]
        flops = PackedGraphs(graphs[t]).gflops
        results[t]["FLOPs"].append(metrics(score_to_units(flops, flops[calib], y[calib])[test], y[test]))
        syn = synflow_scores(root, t, targets)
        if syn is not None:
            s = np.log(np.maximum(syn, 1e-30))
            results[t]["synflow"].append(metrics(score_to_units(s, s[calib], y[calib])[test], y[test]))
    for seed in args.seeds:
        p = AIOPPredictor.load(base.save(args.out / "_tmp_base.pt"))
        p.seed, p.adapter_epochs, p.finetune_epochs, p.progress = seed, args.adapter_epochs, args.finetune_epochs, True
        start = time.time()
        for k in knowledge:
            p.add_adapter(k, k_graphs[k], k_y[k])
        print(f"seed {seed}: adapters {knowledge} trained in {time.time() - start:.0f} s")
        for t in target_tasks:
            g, y = graphs[t], truth[t]
            gc, gt = g[calib], g[test]
            bare = copy.deepcopy(p)
            bare.use, bare.net.adapters = [], type(bare.net.adapters)()
            results[t]["GNN"].append(metrics(bare.predict(gt, scaler=bare.source_scaler), y[test]))
            bare.calibrate(gc, y[calib])
            results[t]["GNN + Eqs. 4&5"].append(metrics(bare.predict(gt), y[test]))
            aio = copy.deepcopy(p).calibrate(gc, y[calib], use=[k for k in knowledge if k != t])
            zero = aio.predict(gt)
            results[t]["AIO-P"].append(metrics(zero, y[test]))
            aio.finetune(gc, y[calib], mode=args.finetune_mode)
            ft = aio.predict(gt)
            results[t]["AIO-P FT"].append(metrics(ft, y[test]))
            if seed == args.seeds[0]:
                scatter[t] = (y[test], zero, ft)
                if args.save_model and t == args.save_task:
                    aio.save(args.save_model)
                    print(f"saved the {t}-calibrated, fine-tuned seed-{seed} model to {args.save_model}")
            print(f"seed {seed} {t}: AIO-P srcc {results[t]['AIO-P'][-1]['srcc']:.3f} "
                  f"FT {results[t]['AIO-P FT'][-1]['srcc']:.3f}  ({time.time() - start:.0f} s)")
    (args.out / "_tmp_base.pt").unlink(missing_ok=True)
    summary = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "results": results}
    (args.out / "results.json").write_text(json.dumps(summary, indent=1))
    write_tables(results, args, args.out / "tables.md")
    plot_scatter(scatter, args.plot_task if args.plot_task in scatter else next(iter(scatter)), args.out)
    return summary


def _cell(runs, key, fmt):
    if not runs:
        return "—"
    v = np.array([r[key] for r in runs])
    return f"{fmt.format(v.mean())} ± {fmt.format(v.std())}" if len(v) > 1 else fmt.format(v[0])


def write_tables(results, args, path: Path) -> None:
    lines = ["# AIO-P transfer on TransNAS-Bench-101 micro",
             "",
             f"Knowledge (adapter) task(s): {', '.join(args.knowledge)}; pre-training: {args.n_pretrain} NB201 "
             f"CIFAR-10 graphs, {args.pretrain_epochs} epochs; {args.n_target} target archs per task, "
             f"{args.calib} of them for scaling statistics / fine-tuning, {args.n_target - args.calib} evaluated; "
             f"adapter on {args.n_adapter} archs, {args.adapter_epochs} epochs; fine-tuning {args.finetune_epochs} "
             f"epochs ({args.finetune_mode}); seeds {list(args.seeds)} (mean ± std).",
             "FLOPs and synflow are seed-free (one value); synflow is NASLib's (shared data zip), classification "
             "tasks only.", ""]
    for key, title, fmt in (("mae", "MAE (task units, lower is better)", "{:.4g}"),
                            ("srcc", "SRCC (higher is better)", "{:.3f}")):
        lines += [f"## {title}", "", "| task | unit | " + " | ".join(METHODS) + " |",
                  "|---|---|" + "---|" * len(METHODS)]
        for t, per in results.items():
            lines.append(f"| {t} | {UNITS[t]} | " + " | ".join(_cell(per[m], key, fmt) for m in METHODS) + " |")
        means = {m: np.mean([np.mean([r["srcc"] for r in per[m]]) for per in results.values() if per[m]])
                 for m in METHODS if any(per[m] for per in results.values())}
        if key == "srcc":
            lines.append("| **mean** | | " + " | ".join(f"{means[m]:.3f}" if m in means else "—" for m in METHODS)
                         + " |")
        lines.append("")
    path.write_text("\n".join(lines))
    print("\n".join(lines))


def plot_scatter(scatter, task, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, zero, ft = scatter[task]
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.scatter(y, zero, s=10, alpha=0.7, label=f"AIO-P zero-shot (SRCC {spearmanr(zero, y)[0]:.2f})")
    ax.scatter(y, ft, s=10, alpha=0.7, label=f"AIO-P fine-tuned (SRCC {spearmanr(ft, y)[0]:.2f})")
    lo, hi = float(np.min(y)), float(np.max(y))
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel(f"true {task} ({UNITS[task]})")
    ax.set_ylabel("predicted")
    ax.set_title(f"TNB micro {task}: predicted vs true")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / f"scatter_{task}.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/shared/data", help="data root laid out like shared/data")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--knowledge", nargs="+", default=["class_object"], help="K-adapter tasks")
    ap.add_argument("--targets", nargs="+", default=None, help="target tasks (default: all non-knowledge)")
    ap.add_argument("--n-pretrain", type=int, default=15625, help="NB201 graphs for pre-training")
    ap.add_argument("--pretrain-epochs", type=int, default=40)
    ap.add_argument("--n-target", type=int, default=60, help="target archs per task (incl. the calibration set)")
    ap.add_argument("--n-adapter", type=int, default=100, help="archs the adapter trains on (disjoint from targets)")
    ap.add_argument("--calib", type=int, default=20)
    ap.add_argument("--adapter-epochs", type=int, default=100)
    ap.add_argument("--finetune-epochs", type=int, default=100)
    ap.add_argument("--finetune-mode", choices=("full", "adaproxy"), default="full")
    ap.add_argument("--workers", type=int, default=1, help="processes building graphs")
    ap.add_argument("--retrain", action="store_true", help="ignore a cached pre-trained backbone")
    ap.add_argument("--save-model", type=Path, default=None, help="save a calibrated model for evaluator=aiop")
    ap.add_argument("--save-task", default="class_scene")
    ap.add_argument("--plot-task", default="class_scene")
    args = ap.parse_args(argv)
    args.seeds = tuple(args.seeds)
    run(args)


if __name__ == "__main__":
    main()
