"""AIO-P transfer on TransNAS-Bench-101 micro (our analogue of the paper's Tables 3-5).

Pipeline: pre-train the GNN backbone on NB201 CIFAR-10 validation accuracy
graphs; per seed, train one K-adapter per knowledge task (default: micro
class_object) with the backbone frozen; for every other micro task, take a
fixed set of target architectures, use 20 of them only for the label-scaling
statistics (and fine-tuning), and evaluate on the rest:

* GNN            -- the pre-trained regressor, predictions in its own units (NB201 accuracy)
* GNN + Eqs 4&5  -- the same, de-standardised (and FLOPs-rescaled) with the target's 20 labels
* AIO-P          -- backbone + K-adapter(s), zero-shot (only the 20 labels' statistics)
* AIO-P FT       -- fine-tuned on the 20 (batch 1, backbone GNN layers + adapter head; up to 100
                    epochs, the length chosen by 5-fold cross-validation on the same 20, 0 allowed)

AIO-P's label scaling (adapters and target) defaults to Eq. 4 (``--scaling stand``);
``--scaling stand_flops --finetune-select-folds 0`` is the paper's exact protocol
(Eqs. 4&5, always 100 fine-tuning epochs). Why the defaults differ: on TransNAS micro,
Eq. 5 ties the unitless label to FLOPs with a sign that flips for negative metrics
(room_layout), and 100 epochs at batch 1 on 20 graphs often undo the zero-shot ranking;
both measured in ``experiments/aiop_transfer/README.md``.
* FLOPs, synflow -- rank baselines; their MAE maps the score to task units by the same 20 labels

MAE is in task units (top-1 %, SSIM, negative L2 loss, pixel accuracy %).
Pre-training runs once (seed 0) and is cached in the output folder; seeds vary
adapter training, fine-tuning and the pre-training-free parts.

Cross-space row: the same micro-trained models (pre-trained backbone + micro
K-adapters) evaluated on TransNAS-Bench-101 *macro* graphs, with the same 20-label
calibration / fine-tuning protocol, when a macro table is given (``--macro-table``:
the official ``transnas-bench_v10141024.pth`` or ``tnb101_macro_final_val.csv``;
by default one found under ``--data`` is used).

Defaults are the full protocol: all 15,625 NB201 graphs for 40 pre-training
epochs, 5 seeds, 520 target archs per task (20 calibration + 500 evaluated: a
stable SRCC) and 1,000 adapter archs. Graphs to build for TNB micro: 520 per
target task (6 tasks) + 1,000 for the knowledge task = 4,120, cached across runs.

    python experiments/aiop_transfer.py --data ../shared/data --jobs 2

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
from nasframe.errors import ConfigError, DataError
from nasframe.graphs import GraphCache
from nasframe.predictors.adapters import AIOPPredictor
from nasframe.predictors.gnn import PackedGraphs
from nasframe.spaces.nb201 import NB201Space
from nasframe.spaces.transnas import TransNASMacroSpace, TransNASMicroSpace

TASKS = ("class_object", "class_scene", "room_layout", "jigsaw", "autoencoder", "normal", "segmentsemantic")
UNITS = {"class_object": "top-1 %", "class_scene": "top-1 %", "jigsaw": "top-1 %", "autoencoder": "SSIM",
         "normal": "SSIM", "room_layout": "neg. L2 loss", "segmentsemantic": "pixel acc. %"}
SEEDS = (12345, 1, 2, 3, 4)
METHODS = ("GNN", "GNN + Eqs. 4&5", "AIO-P", "AIO-P FT", "FLOPs", "synflow")
OUT = Path(__file__).resolve().parent / "aiop_transfer"
SCALING_NAMES = {"stand": "Eq. 4", "stand_flops": "Eqs. 4&5", "none": "raw labels"}


def arch_sets(space, n_target: int, n_adapter: int, seed: int = 2023):
    """Disjoint random target and adapter-training architectures (fixed for all seeds)."""
    if n_target + n_adapter > len(space):
        raise ConfigError(f"--n-target {n_target} + --n-adapter {n_adapter} exceed the {len(space)} archs of "
                          f"{space.name}; the two sets must be disjoint")
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


def base_path(args) -> Path:
    if args.base is not None:
        return Path(args.base).expanduser()
    size = "_size" if getattr(args, "size_input", False) else ""  # Namespaces built before the flag existed
    return args.out / f"pretrained_nb201_n{args.n_pretrain}_e{args.pretrain_epochs}{size}.pt"


def pretrained(args, root) -> AIOPPredictor:
    path = base_path(args)
    if path.exists() and not args.retrain:
        print(f"pre-trained backbone: {path} (cached; --retrain to redo)")
        return AIOPPredictor.load(path)
    space = NB201Space()
    archs = [space[i] for i in range(min(args.n_pretrain, len(space)))]  # a prefix of the official order
    graphs = GraphCache(space, "cifar10").many(archs, workers=args.workers)
    y = labels(space, "cifar10", archs, root)
    p = AIOPPredictor(scaling="stand_flops", epochs=args.pretrain_epochs, batch_size=32, seed=0, progress=True,
                      size_input=getattr(args, "size_input", False))
    start = time.time()
    p.pretrain(graphs, y)
    print(f"pre-trained on {len(graphs)} NB201 graphs, {args.pretrain_epochs} epochs, {time.time() - start:.0f} s")
    p.save(path)
    return p


def baselines(g, y, calib, test, syn=None) -> dict:
    """Seed-free rank baselines mapped to task units by the calibration labels."""
    out = {}
    flops = PackedGraphs(g).gflops
    out["FLOPs"] = metrics(score_to_units(flops, flops[calib], y[calib])[test], y[test])
    if syn is not None:
        s = np.log(np.maximum(syn, 1e-30))
        out["synflow"] = metrics(score_to_units(s, s[calib], y[calib])[test], y[test])
    return out


def transfer(p: AIOPPredictor, task, knowledge, g, y, calib, test, finetune_mode, select_folds=0) -> tuple:
    """GNN, GNN + Eqs. 4&5, AIO-P zero-shot and fine-tuned on one target; ``p`` is left untouched.

    Returns (metrics per method, with the fine-tuned model under ``_model``), zero-shot and
    fine-tuned predictions on the evaluated archs.
    """
    gc, gt = g[calib], g[test]
    out = {}
    bare = copy.deepcopy(p)
    bare.use, bare.net.adapters = [], type(bare.net.adapters)()
    out["GNN"] = metrics(bare.predict(gt, scaler=bare.source_scaler), y[test])
    bare.calibrate(gc, y[calib], scaling="stand_flops")
    out["GNN + Eqs. 4&5"] = metrics(bare.predict(gt), y[test])
    aio = copy.deepcopy(p).calibrate(gc, y[calib], use=[k for k in knowledge if k != task])
    zero = aio.predict(gt)
    out["AIO-P"] = metrics(zero, y[test])
    aio.finetune(gc, y[calib], mode=finetune_mode, select_folds=select_folds)
    ft = aio.predict(gt)
    out["AIO-P FT"] = metrics(ft, y[test]) | {"epochs": aio.log["finetune"]["epochs"]}
    out["_model"] = aio
    return out, zero, ft


def macro_source(args) -> Path | None:
    """The macro table: --macro-table, else one under --data (official .pth or the tabular CSV)."""
    from nasframe.benchmarks.transnas import locate

    if args.macro_table is not None:
        path = Path(args.macro_table).expanduser()
        if not path.exists():
            raise ConfigError(f"--macro-table {path} does not exist; point it at transnas-bench_v10141024.pth "
                              f"or tnb101_macro_final_val.csv")
        return path
    return locate(Path(args.data), TransNASMacroSpace())


def macro_targets(path: Path, tasks, n_target: int, calib: int, seed: int = 2023) -> tuple[dict, dict]:
    """Per task: (archs, labels) of up to ``n_target`` labelled macro archs; and why a task is skipped."""
    space = TransNASMacroSpace()
    out, skipped = {}, {}
    for t in tasks:
        try:
            col = find_benchmark(space, t, path=path).table.column(f"{t}_val")
        except DataError as e:  # a table covering only some tasks
            skipped[t] = str(e).split(";")[0]
            continue
        have = np.flatnonzero(np.isfinite(col))
        if len(have) < calib + 3:
            skipped[t] = f"{len(have)} labelled macro archs, need at least {calib + 3}"
            continue
        pick = np.random.default_rng(seed).permutation(have)[:n_target]
        out[t] = ([space[int(i)] for i in pick], col[pick].astype(np.float64))
    return out, skipped


def prepare(args) -> dict:
    """Graphs and labels of every set the recipe uses (graphs come from the on-disk cache)."""
    root = Path(args.data)
    knowledge = list(args.knowledge)
    target_tasks = [t for t in (args.targets or TASKS) if t not in knowledge]
    space = TransNASMicroSpace()
    targets, adapter_archs = arch_sets(space, args.n_target, args.n_adapter)
    d = {"target_tasks": target_tasks, "targets": targets,
         "graphs": {t: GraphCache(space, t).many(targets, workers=args.workers) for t in target_tasks},
         "truth": {t: labels(space, t, targets, root) for t in target_tasks},
         "k_graphs": {k: GraphCache(space, k).many(adapter_archs, workers=args.workers) for k in knowledge},
         "k_y": {k: labels(space, k, adapter_archs, root) for k in knowledge}, "macro": {}, "macro_skipped": {}}
    if args.macro_path is not None:
        sets, d["macro_skipped"] = macro_targets(args.macro_path, target_tasks, args.n_target, args.calib)
        mspace = TransNASMacroSpace()
        d["macro"] = {t: (GraphCache(mspace, t).many(a, workers=args.workers), y) for t, (a, y) in sets.items()}
    return d


def run_seed(args, seed: int, d: dict | None = None) -> dict:
    """Adapters, zero-shot and fine-tuned transfer for one seed (``d`` from ``prepare``, else built here)."""
    import torch

    torch.set_num_threads(1)
    d = d or prepare(args)
    calib, test = slice(0, args.calib), slice(args.calib, None)
    p = AIOPPredictor.load(args.base_file)
    p.scaling = args.scaling  # adapters and target calibration; the backbone keeps its pre-training scaler
    p.seed, p.adapter_epochs, p.finetune_epochs, p.progress = seed, args.adapter_epochs, args.finetune_epochs, True
    start = time.time()
    for k in args.knowledge:
        p.add_adapter(k, d["k_graphs"][k], d["k_y"][k])
    print(f"seed {seed}: adapters {list(args.knowledge)} trained in {time.time() - start:.0f} s", flush=True)
    res = {"micro": {}, "macro": {}, "scatter": {}}
    for t in d["target_tasks"]:
        out, zero, ft = transfer(p, t, args.knowledge, d["graphs"][t], d["truth"][t], calib, test,
                                 args.finetune_mode, args.finetune_select_folds)
        aio = out.pop("_model")
        res["micro"][t] = out
        res["scatter"][t] = (zero.tolist(), ft.tolist())
        if seed == args.seeds[0] and args.save_model and t == args.save_task:
            aio.save(args.save_model)
            print(f"saved the {t}-calibrated, fine-tuned seed-{seed} model to {args.save_model}")
        print(f"seed {seed} {t}: AIO-P srcc {out['AIO-P']['srcc']:.3f} FT {out['AIO-P FT']['srcc']:.3f} "
              f"({out['AIO-P FT']['epochs']} epochs)  ({time.time() - start:.0f} s)", flush=True)
    for t, (g, y) in d["macro"].items():
        out, _, _ = transfer(p, t, args.knowledge, g, y, calib, test, args.finetune_mode, args.finetune_select_folds)
        out.pop("_model")
        res["macro"][t] = out
        print(f"seed {seed} macro {t}: AIO-P srcc {out['AIO-P']['srcc']:.3f} FT {out['AIO-P FT']['srcc']:.3f}  "
              f"({time.time() - start:.0f} s)", flush=True)
    return res


def run(args) -> dict:
    root = Path(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    args.macro_path = macro_source(args)
    pretrained(args, root)  # trains and saves the backbone when the file is missing
    args.base_file = str(base_path(args))
    d = prepare(args)
    target_tasks, calib, test = d["target_tasks"], slice(0, args.calib), slice(args.calib, None)
    results = {t: {m: [] for m in METHODS} for t in target_tasks}
    mresults = {t: {m: [] for m in METHODS} for t in d["macro"]}
    for t in target_tasks:  # seed-free baselines
        syn = synflow_scores(root, t, d["targets"])
        for m, r in baselines(d["graphs"][t], d["truth"][t], calib, test, syn).items():
            results[t][m].append(r)
    for t, (g, y) in d["macro"].items():
        for m, r in baselines(g, y, calib, test).items():
            mresults[t][m].append(r)
    if args.jobs > 1:  # one process per seed; each rebuilds its inputs from the graph cache
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            per_seed = list(pool.map(run_seed, [args] * len(args.seeds), args.seeds))
    else:
        per_seed = [run_seed(args, seed, d) for seed in args.seeds]
    for res in per_seed:  # in seed order whatever the process layout
        for t, out in res["micro"].items():
            for m, r in out.items():
                results[t][m].append(r)
        for t, out in res["macro"].items():
            for m, r in out.items():
                mresults[t][m].append(r)
    scatter = {t: (d["truth"][t][test], *map(np.asarray, per_seed[0]["scatter"][t])) for t in target_tasks}
    cross = {"table": None if args.macro_path is None else str(args.macro_path), "results": mresults,
             "n_target": {t: len(y) for t, (_, y) in d["macro"].items()}, "skipped": d["macro_skipped"]}
    summary = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "results": results, "cross_space": cross}
    (args.out / "results.json").write_text(json.dumps(summary, indent=1))
    write_tables(results, args, args.out / "tables.md", cross)
    if scatter:
        plot_scatter(scatter, args.plot_task if args.plot_task in scatter else next(iter(scatter)), args.out)
    return summary


def _cell(runs, key, fmt):
    if not runs:
        return "—"
    v = np.array([r[key] for r in runs])
    return f"{fmt.format(v.mean())} ± {fmt.format(v.std())}" if len(v) > 1 else fmt.format(v[0])


def _metric_tables(rows: dict, missing: dict, label) -> list[str]:
    """MAE and SRCC tables; ``missing`` rows (task -> reason) are listed, not dropped."""
    lines = []
    for key, title, fmt in (("mae", "MAE (task units, lower is better)", "{:.4g}"),
                            ("srcc", "SRCC (higher is better)", "{:.3f}")):
        lines += [f"### {title}", "", "| task | unit | " + " | ".join(METHODS) + " |",
                  "|---|---|" + "---|" * len(METHODS)]
        for t in [t for t in TASKS if t in rows or t in missing]:
            if t in rows:
                cells = " | ".join(_cell(rows[t][m], key, fmt) for m in METHODS)
            else:
                cells = " | ".join([missing[t]] + ["—"] * (len(METHODS) - 1))
            lines.append(f"| {label(t)} | {UNITS[t]} | {cells} |")
        if key == "srcc" and rows:
            means = {m: np.mean([np.mean([r["srcc"] for r in per[m]]) for per in rows.values() if per[m]])
                     for m in METHODS if any(per[m] for per in rows.values())}
            lines.append(f"| **mean ({len(rows)} task{'s' * (len(rows) > 1)})** | | "
                         + " | ".join(f"{means[m]:.3f}" if m in means else "—" for m in METHODS) + " |")
        lines.append("")
    return lines


def write_tables(results, args, path: Path, cross: dict | None = None) -> None:
    lines = ["# AIO-P transfer on TransNAS-Bench-101 micro",
             "",
             f"Knowledge (adapter) task(s): {', '.join(args.knowledge)}; pre-training: {args.n_pretrain} NB201 "
             f"CIFAR-10 graphs, {args.pretrain_epochs} epochs; {args.n_target} target archs per task, "
             f"{args.calib} of them for scaling statistics / fine-tuning, {args.n_target - args.calib} evaluated; "
             f"adapter on {args.n_adapter} archs, {args.adapter_epochs} epochs; fine-tuning {args.finetune_epochs} "
             + (f"epochs at most ({args.finetune_mode}; length chosen by {args.finetune_select_folds}-fold CV on "
                "the calibration archs)" if args.finetune_select_folds > 1 else f"epochs ({args.finetune_mode})")
             + f"; label scaling of AIO-P: {args.scaling}"
             f" ({SCALING_NAMES[args.scaling]}); seeds {list(args.seeds)} (mean ± std).",
             "FLOPs and synflow are seed-free (one value); synflow is NASLib's (shared data zip), classification "
             "tasks only.", "", "## Micro targets (every non-knowledge task)", ""]
    not_run = {t: "not run (left out by --targets)" for t in TASKS
               if t not in args.knowledge and t not in results}
    lines += _metric_tables(results, not_run, lambda t: t)
    if args.finetune_select_folds > 1 and results:
        lines += ["Fine-tuning epochs chosen by cross-validation (per seed): "
                  + "; ".join(f"{t} {[r.get('epochs') for r in results[t]['AIO-P FT']]}" for t in results), ""]
    lines += ["## Cross-space: trained on micro, evaluated on macro graphs", ""]
    if not cross or cross.get("table") is None:
        lines += ["Needs a TransNAS-Bench-101 macro table: pass --macro-table PATH "
                  "(transnas-bench_v10141024.pth or tnb101_macro_final_val.csv) or put one under --data "
                  "transnasbench101/. None was given or found, so this row is empty.", ""]
    else:
        n = cross["n_target"]
        lines += [f"Macro table {cross['table']}; per task up to {args.n_target} labelled macro archs "
                  f"({', '.join(f'{t}: {k}' for t, k in n.items()) or 'none'}), the first {args.calib} for "
                  "scaling statistics / fine-tuning; same models as the micro table (no macro training).", ""]
        lines += _metric_tables(cross["results"], {t: f"skipped: {why}" for t, why in cross["skipped"].items()},
                                lambda t: f"macro {t}")
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
    ap.add_argument("--data", default="../shared/data", help="data root laid out like shared/data")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--knowledge", nargs="+", default=["class_object"], help="K-adapter tasks")
    ap.add_argument("--targets", nargs="+", default=None, help="target tasks (default: all non-knowledge)")
    ap.add_argument("--n-pretrain", type=int, default=15625, help="NB201 graphs for pre-training")
    ap.add_argument("--pretrain-epochs", type=int, default=40)
    ap.add_argument("--n-target", type=int, default=520,
                    help="target archs per task, incl. the calibration set (520 = 20 + 500 evaluated)")
    ap.add_argument("--n-adapter", type=int, default=1000,
                    help="knowledge-task archs the adapter trains on (disjoint from targets)")
    ap.add_argument("--calib", type=int, default=20)
    ap.add_argument("--adapter-epochs", type=int, default=100)
    ap.add_argument("--finetune-epochs", type=int, default=100)
    ap.add_argument("--finetune-mode", choices=("full", "adaproxy"), default="full")
    ap.add_argument("--finetune-select-folds", type=int, default=5,
                    help="choose the fine-tuning length (0..--finetune-epochs) by k-fold CV on the 20 calibration "
                         "archs; 0 = always the full --finetune-epochs (the paper)")
    ap.add_argument("--scaling", choices=("stand", "stand_flops", "none"), default="stand",
                    help="label scaling of the adapters and the target: Eq. 4 (stand) or Eqs. 4&5 (stand_flops, "
                         "the paper); the backbone keeps its pre-training scaling")
    ap.add_argument("--base", type=Path, default=None,
                    help="pre-trained backbone file (default: OUT/pretrained_nb201_n<N>_e<E>.pt, trained if missing)")
    ap.add_argument("--jobs", type=int, default=1, help="processes, one seed each")
    ap.add_argument("--size-input", action="store_true",
                    help="graph-level size input (log-FLOPs standardised per family): without it a backbone "
                         "pre-trained on NB201 alone ranks families that vary in size with an arbitrary sign "
                         "(issue 23; experiments/aiop_families/README.md)")
    ap.add_argument("--macro-table", type=Path, default=None,
                    help="TransNAS macro table (official .pth or tnb101_macro_final_val.csv) for the cross-space "
                         "row; default: one found under --data")
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
