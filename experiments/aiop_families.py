"""AIO-P leave-one-family-out: pre-train on every family but one, transfer to the one left out.

Families (each a space the framework builds and traces, each with real labels):

* ``nb201``  -- NAS-Bench-201 CIFAR-10 validation accuracy (15,625 cells)
* ``micro``  -- TransNAS-Bench-101 micro, ``--micro-task`` (default class_object; 4,096 cells)
* ``nb101``  -- NAS-Bench-101 CIFAR-10 validation accuracy, the cells of NASLib's zc_nasbench101.json
* ``darts``  -- DARTS cells with NAS-Bench-301 *surrogate* accuracy (NASLib's zc_nasbench301.json, 725)

Per held-out family and seed: the base GNN is pre-trained on the other three families
together, each family's labels standardised on their own (Eq. 4 per family: one unitless
target for metrics of different ranges); then on the held-out family

* zero-shot   -- the network's output standardised on 20 calibration archs, whose label
                 mean/std turn predictions into units;
* FT (CV)     -- fine-tuned on those 20 (batch 1, GNN layers + head), length 0..100 epochs
                 chosen by 5-fold CV on the 20 (out-of-fold SRCC at 0/10/25/50/100, each fold
                 model centred on the 20; "FT (CV, pooled SRCC)" is the earlier uncentred rule);
* FT (early stop) -- the paper's fixed 100-epoch schedule, stopped at the epoch with the
                 lowest pooled out-of-fold MSE on the same 5 calibration folds;
* FLOPs, params, synflow -- rank baselines on the same evaluated archs (MAE after mapping
                 the score to units with the same 20 labels).

The 20 calibration archs are the same for every seed (as in the paper); seeds change the
pre-training (initialisation, batches, dev split) and fine-tuning. Graphs are built once
per family and cached on disk (``$NASFRAME_CACHE/graphs``), shared by all folds and seeds;
folds run in parallel with ``--jobs``.

Defaults are the full protocol (every labelled arch of each family for pre-training,
40 epochs, 520 target archs, 3 seeds). The committed tables used a scaled protocol; its
flags are in ``experiments/aiop_families/README.md``.

    python experiments/aiop_families.py --data ../shared/data --jobs 2
"""
from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

FAMILIES = ("nb201", "micro", "nb101", "darts")
TITLES = {"nb201": "NB201 (CIFAR-10 val acc %)", "micro": "TransNAS micro", "nb101": "NB101 (CIFAR-10 val acc %)",
          "darts": "DARTS / NB301 surrogate (val acc %)"}
SEEDS = (0, 1, 2)
METHODS = ("AIO-P zero-shot", "AIO-P FT (CV)", "AIO-P FT (early stop)", "FT (CV, pooled SRCC)",
           "no size input, zero-shot", "FLOPs", "params", "synflow")
TRAINED = METHODS[:5]
# fine-tuned columns and the cross-validation score that picks each one's length
FINETUNED = {"AIO-P FT (CV)": "centred", "AIO-P FT (early stop)": "loss", "FT (CV, pooled SRCC)": "srcc"}
OUT = Path(__file__).resolve().parent / "aiop_families"
_DATA: dict = {}  # prepare()'s result, inherited by forked fold processes


# ---------------------------------------------------------------- families


def _space(family: str):
    from nasframe.spaces.darts import DartsSpace
    from nasframe.spaces.nb101 import NB101Space
    from nasframe.spaces.nb201 import NB201Space
    from nasframe.spaces.transnas import TransNASMicroSpace

    return {"nb201": NB201Space, "micro": TransNASMicroSpace, "nb101": NB101Space, "darts": DartsSpace}[family]()


def _task(family: str, args) -> str:
    return args.micro_task if family == "micro" else "cifar10"


def family_data(family: str, args, n: int, seed: int = 2023) -> dict:
    """Up to ``n`` labelled archs of a family (a fixed random subset), their labels and synflow."""
    from nasframe.benchmarks import find_benchmark

    root = Path(args.data)
    space, task = _space(family), _task(family, args)
    b = find_benchmark(space, task, root=root)
    col = b.table.column(b.value_column)
    if family in ("nb201", "micro"):
        pool = list(range(len(space)))
        pick = np.random.default_rng(seed).permutation(len(pool))[:n]
        archs = [space[int(i)] for i in pick]
        rows = [space.index(a) for a in archs]
    else:
        if family == "nb101":
            from nasframe.benchmarks.nb101 import locate

            keys = json.loads(locate(root).read_text())["nasbench101"]["cifar10"]
            cells = {}
            for k in keys:
                a = space.from_naslib(ast.literal_eval(k))
                cells.setdefault(a.module_hash, a)
            pool = list(cells.values())
        else:
            pool = [space.parse(k.decode() if isinstance(k, bytes) else str(k)) for k in b.table.column("arch")]
        pick = np.random.default_rng(seed).permutation(len(pool))[:n]
        archs = [pool[int(i)] for i in pick]
        rows = [b.index_of(a, space) for a in archs]
    y = np.array([col[r] for r in rows], dtype=np.float64)
    return {"space": space, "task": task, "archs": archs, "y": y, "synflow": _synflow(family, b, rows, archs, root,
                                                                                        task)}


def _synflow(family, b, rows, archs, root: Path, task: str):
    if "synflow" in b.table.columns:  # NB101 / NB301: NASLib's zero-cost file is the table
        return np.array([b.table.column("synflow")[r] for r in rows], dtype=np.float64)
    if family == "nb201":
        path = root / "nasbench201" / "nb201_zc_proxies.csv"
        if not path.exists():
            return None
        import csv

        with open(path, newline="") as f:
            by_str = {r["net_str"]: float(r["synflow"]) for r in csv.DictReader(f) if r.get("synflow")}
        return np.array([by_str.get(str(a), np.nan) for a in archs], dtype=np.float64)
    from aiop_transfer import synflow_scores  # the micro classification synflow zip reader

    return synflow_scores(root, task, archs)


def graphs_of(d: dict, workers: int = 1):
    from nasframe.graphs import GraphCache

    return GraphCache(d["space"], d["task"]).many(d["archs"], progress=False, workers=workers)


def params_of(d: dict) -> np.ndarray:
    return np.array([d["space"].params(a, d["task"]) for a in d["archs"]], dtype=np.float64)


# ---------------------------------------------------------------- metrics


def metrics(pred, true) -> dict:
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    ok = np.isfinite(pred) & np.isfinite(true)
    srcc = spearmanr(pred[ok], true[ok])[0] if ok.sum() > 2 else np.nan
    return {"mae": float(np.mean(np.abs(pred[ok] - true[ok]))), "srcc": float(np.nan_to_num(srcc, nan=-1.0)),
            "n": int(ok.sum())}


def score_to_units(score, calib_score, calib_y):
    """A rank score in task units: match the calibration labels' mean and std (Eq. 4)."""
    s_mu, s_sd = np.nanmean(calib_score), np.nanstd(calib_score) or 1.0
    return (score - s_mu) / s_sd * np.std(calib_y) + np.mean(calib_y)


# ---------------------------------------------------------------- one fold


def prepare(args) -> dict:
    """Every family's pre-training and target sets (graphs from the cache, built here if missing)."""
    data = {}
    for fam in FAMILIES:
        n = max(args.n_pretrain, args.n_target)
        d = family_data(fam, args, n)
        t0 = time.time()
        d["graphs"] = graphs_of(d, args.workers)
        print(f"{fam}: {len(d['archs'])} labelled archs, graphs ready in {time.time() - t0:.0f} s", flush=True)
        data[fam] = d
    return data


def run_fold(args, held: str, seed: int, data: dict | None = None) -> dict:
    import torch

    torch.set_num_threads(1)
    data = data or _DATA or prepare(args)
    graphs, y, groups = [], [], []
    for fam in FAMILIES:
        if fam == held:
            continue
        d = data[fam]
        k = min(args.n_pretrain, len(d["archs"]))
        graphs += d["graphs"][:k]
        y.append(d["y"][:k])
        groups += [fam] * k
    y = np.concatenate(y)
    t = data[held]
    n = min(args.n_target, len(t["archs"]))
    gt, yt = t["graphs"][:n], t["y"][:n]
    calib, test = slice(0, args.calib), slice(args.calib, n)
    start = time.time()
    p = pretrained(args, held, seed, args.size_input, graphs, y, groups)
    p.lr, p.finetune_epochs = args.finetune_lr, args.finetune_epochs
    t_pre = time.time() - start
    out = {"pretrain_graphs": len(graphs), "pretrain_seconds": t_pre}
    if args.compare_no_size_input:  # the same pipeline without the size input (the state issue 23 measured)
        bare = pretrained(args, held, seed, False, graphs, y, groups).calibrate(gt[calib], yt[calib])
        out["no size input, zero-shot"] = metrics(bare.predict(gt[test]), yt[test])
    zero = copy.deepcopy(p).calibrate(gt[calib], yt[calib], standardise_output=args.standardise_output)
    z_pred = zero.predict(gt[test])
    out["AIO-P zero-shot"] = metrics(z_pred, yt[test])
    preds = {"zero": z_pred}
    # one 5-fold cross-validation on the 20 records the out-of-fold predictions after every epoch;
    # every length comes from it (SRCC at the checkpoints, centred or pooled; MSE at every epoch)
    ft = copy.deepcopy(zero).finetune(gt[calib], yt[calib], select_folds=args.select_folds, select="centred",
                                      l2sp=args.l2sp)
    cv = ft.log.get("finetune_cv", {})
    out["cv"] = {k: cv.get(k) for k in ("srcc", "srcc_centred", "within_fold_srcc", "choices")}
    out["cv"]["mse"] = {e: v for e, v in cv.get("mse", {}).items() if e in cv.get("srcc", {})}
    models = {"centred": ft}
    for key in ("loss", "srcc"):
        models[key] = copy.deepcopy(zero).finetune(gt[calib], yt[calib], epochs=cv.get("choices", {}).get(key, 0),
                                                   l2sp=args.l2sp)
    for name, key in FINETUNED.items():
        preds[key] = models[key].predict(gt[test])
        out[name] = metrics(preds[key], yt[test]) | {"epochs": models[key].log["finetune"]["epochs"],
                                                      "why": cv.get("why", {}).get(key, "")}
    if args.save_model and held == args.save_family and seed == args.seeds[0]:
        ft.save(args.save_model)
    out["_pred"] = {k: v.tolist() for k, v in preds.items()}
    print(f"held-out {held} seed {seed}: zero-shot srcc {out['AIO-P zero-shot']['srcc']:.3f}, "
          f"FT(CV) {out['AIO-P FT (CV)']['srcc']:.3f} ({out['AIO-P FT (CV)']['epochs']} ep), "
          f"FT(early stop) {out['AIO-P FT (early stop)']['srcc']:.3f} ({out['AIO-P FT (early stop)']['epochs']} ep), "
          f"FT(pooled) {out['FT (CV, pooled SRCC)']['srcc']:.3f} ({out['FT (CV, pooled SRCC)']['epochs']} ep)"
          f"  [pre-train {t_pre:.0f} s, total {time.time() - start:.0f} s]", flush=True)
    return out


def pretrained(args, held: str, seed: int, size_input: bool, graphs, y, groups):
    """The fold's pre-trained predictor, from ``$NASFRAME_CACHE/aiop_pretrained`` when the same
    pre-training (families, sizes, epochs, rate, scaling, seed) ran before: pre-training is seeded,
    so a cached model is the one this call would train, and fine-tuning variants need not repeat it."""
    from nasframe.benchmarks.table import cache_dir
    from nasframe.predictors.adapters import AIOPPredictor

    key = {"held": held, "seed": seed, "size_input": size_input, "n_pretrain": args.n_pretrain,
           "epochs": args.pretrain_epochs, "lr": args.pretrain_lr, "scaling": args.scaling,
           "micro_task": args.micro_task, "graphs": len(graphs), "labels": float(np.sum(y))}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / "aiop_pretrained" / f"{held}-seed{seed}-{digest}.pt"
    if path.exists() and not args.fresh:
        return AIOPPredictor.load(path)
    p = AIOPPredictor(scaling=args.scaling, epochs=args.pretrain_epochs, seed=seed, size_input=size_input,
                      lr=args.pretrain_lr).pretrain(graphs, y, groups=groups)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    p.save(tmp)
    os.replace(tmp, path)  # atomic: a killed run leaves no half-written model
    return p


def baselines(args, held: str, data: dict) -> dict:
    from nasframe.predictors.gnn import PackedGraphs

    t = data[held]
    n = min(args.n_target, len(t["archs"]))
    yt = t["y"][:n]
    calib, test = slice(0, args.calib), slice(args.calib, n)
    scores = {"FLOPs": PackedGraphs(t["graphs"][:n]).gflops,
              "params": params_of({**t, "archs": t["archs"][:n]})}
    if t["synflow"] is not None:
        scores["synflow"] = np.log(np.maximum(t["synflow"][:n], 1e-30))
    return {m: metrics(score_to_units(s, s[calib], yt[calib])[test], yt[test]) for m, s in scores.items()}


def _job(a):
    args, held, seed = a
    out = run_fold(args, held, seed)
    _fold_file(args, held, seed).write_text(json.dumps(out))  # a finished fold survives a kill
    return held, seed, out


def _fold_file(args, held: str, seed: int) -> Path:
    d = args.out / "folds"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{held}_seed{seed}.json"


# ---------------------------------------------------------------- tables


def _cell(runs, key, fmt):
    if not runs:
        return "—"
    v = np.array([r[key] for r in runs])
    return f"{fmt.format(v.mean())} ± {fmt.format(v.std())}" if len(v) > 1 else fmt.format(v[0])


def write_tables(results: dict, args, path: Path, raw: dict | None = None) -> None:
    from nasframe.predictors.adapters import FINETUNE_CHECKPOINTS

    checkpoints = [e for e in FINETUNE_CHECKPOINTS if e < args.finetune_epochs] + [args.finetune_epochs]
    lines = ["# AIO-P leave-one-family-out", "",
             f"Pre-training: the other three families, up to {args.n_pretrain} archs each, {args.pretrain_epochs} "
             f"epochs at lr {args.pretrain_lr:g}, labels standardised per family ({args.scaling}); held-out family: up to {args.n_target} "
             f"archs, {args.calib} for calibration / fine-tuning (the same for every seed), the rest evaluated; "
             f"zero-shot output standardised on the {args.calib}: {'yes' if args.standardise_output else 'no'}; "
             f"fine-tuning at most {args.finetune_epochs} epochs, batch 1, L2-SP {args.l2sp:g}, length by "
             f"{args.select_folds}-fold CV on the {args.calib} (CV: out-of-fold SRCC at "
             f"{'/'.join(map(str, checkpoints))} after centring each fold model on the {args.calib}, 0 epochs "
             "allowed; early stop: every epoch, pooled out-of-fold MSE; pooled SRCC: the earlier rule, which "
             "favours 0 epochs); graph-level size input (log-FLOPs standardised per family): "
             f"{'yes' if args.size_input else 'no'}; seeds {list(args.seeds)} (mean ± std). FLOPs, params, synflow "
             "are seed-free; \"no size input\" is the same pre-training without that input.", ""]
    for metric, key, fmt, better in (("SRCC", "srcc", "{:.3f}", "higher"), ("MAE", "mae", "{:.3g}", "lower")):
        lines += [f"## {metric} ({better} is better)", "",
                  "| held-out family | evaluated archs | " + " | ".join(METHODS) + " |",
                  "|---|---|" + "---|" * len(METHODS)]
        for fam in FAMILIES:
            if fam not in results:
                continue
            r = results[fam]
            n = r["FLOPs"][0]["n"] if r.get("FLOPs") else "?"
            seeds = len(r["AIO-P zero-shot"])
            lines.append(f"| {TITLES[fam]} | {n} ({seeds} seed{'s' if seeds != 1 else ''}) | "
                         + " | ".join(_cell(r.get(m, []), key, fmt) for m in METHODS)
                         + " |")
        lines.append("")
    lines += ["## Verdict per family (zero-shot SRCC)", ""]
    for fam in FAMILIES:
        if fam not in results:
            continue
        r = results[fam]
        zs = np.mean([x["srcc"] for x in r["AIO-P zero-shot"]])
        ft = np.mean([x["srcc"] for x in r["AIO-P FT (CV)"]])
        fl = r["FLOPs"][0]["srcc"]
        wins = sum(f["srcc"] >= z["srcc"] for f, z in zip(r["AIO-P FT (CV)"], r["AIO-P zero-shot"]))
        lines.append(f"* {TITLES[fam]}: zero-shot {zs:.3f} ({'>' if zs > 0.5 else '<='} 0.5), "
                     f"{'beats' if zs > fl else 'does not beat'} FLOPs ({fl:.3f}); fine-tuned (CV) {ft:.3f} "
                     f"({'>=' if ft >= zs else '<'} zero-shot; >= in {wins} of {len(r['AIO-P zero-shot'])} seeds).")
    if raw:
        lines += ["", "## What the calibration folds saw (mean over seeds; only the 20 calibration archs)", "",
                  "5-fold CV on the 20: out-of-fold SRCC with each fold model centred on the 20 (the rule), "
                  "pooled out-of-fold SRCC (the earlier rule) and pooled out-of-fold MSE in standardised units, "
                  "after 0 / 10 / 25 / 50 fine-tuning epochs.", "",
                  "| held-out family | centred SRCC | pooled SRCC | MSE |", "|---|---|---|---|"]
        for fam in FAMILIES:
            folds = [x["cv"] for x in raw.get(fam, {}).values() if x.get("cv")]
            if not folds:
                continue
            cells = []
            for key, fmt in (("srcc_centred", "{:.3f}"), ("srcc", "{:.3f}"), ("mse", "{:.2f}")):
                eps = sorted(folds[0][key], key=int)
                cells.append(" / ".join(fmt.format(np.mean([f[key][e] for f in folds])) for e in eps))
            lines.append(f"| {TITLES[fam]} | " + " | ".join(cells) + " |")
    lines += ["", "## Fine-tuning lengths chosen (per seed) and why", ""]
    for fam in FAMILIES:
        if fam not in results:
            continue
        for m in FINETUNED:
            runs = results[fam][m]
            lines.append(f"* {fam}, {m}: epochs {[x['epochs'] for x in runs]}")
            for seed, x in zip(args.seeds, runs):
                if x.get("why"):
                    lines.append(f"  * seed {seed}: {x['why']}")
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def plot_scatter(fam: str, y, preds: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for key, label in (("zero", "zero-shot"), ("centred", "FT (CV)"), ("loss", "FT (early stop)")):
        p = np.asarray(preds[key])
        ax.scatter(y, p, s=9, alpha=0.6, label=f"{label} (SRCC {spearmanr(p, y)[0]:.2f})")
    lo, hi = float(np.min(y)), float(np.max(y))
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel(f"true ({TITLES[fam]})")
    ax.set_ylabel("AIO-P predicted")
    ax.set_title(f"held-out {fam}: pre-trained on the other 3 families", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / f"scatter_{fam}.png", dpi=120)
    plt.close(fig)


def run(args) -> dict:
    args.out.mkdir(parents=True, exist_ok=True)
    data = prepare(args)  # builds and caches every graph once, before any fold starts
    _DATA.update(data)
    held_out = args.held_out or list(FAMILIES)
    jobs = [(args, h, s) for s in args.seeds for h in held_out]  # seed-major: a cut-short run covers every family
    todo = [j for j in jobs if args.fresh or not _fold_file(args, j[1], j[2]).exists()]
    if args.tables_only:  # tables from the folds finished so far
        jobs, todo = [j for j in jobs if _fold_file(args, j[1], j[2]).exists()], []
        held_out = list(dict.fromkeys(h for _, h, _ in jobs))
    if len(todo) < len(jobs):
        print(f"{len(jobs) - len(todo)} folds already finished in {args.out / 'folds'} (--fresh to redo them)")
    if args.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            list(pool.map(_job, todo))
    else:
        for j in todo:
            _job(j)
    done = [(h, s, json.loads(_fold_file(args, h, s).read_text())) for _, h, s in jobs]
    results = {h: {m: [] for m in METHODS} for h in held_out}
    raw = {h: {} for h in held_out}
    done.sort(key=lambda d: (FAMILIES.index(d[0]), d[1]))
    for h, s, out in done:  # (family, seed) order whatever the process layout
        preds = out.pop("_pred")
        raw[h][s] = out
        for m in TRAINED:
            if m in out:
                results[h][m].append(out[m])
        if s == min(x for g, x, _ in done if g == h):  # one scatter per family: its first seed
            n = min(args.n_target, len(data[h]["archs"]))
            plot_scatter(h, data[h]["y"][args.calib:n], preds, args.out)
    for h in held_out:
        for m, r in baselines(args, h, data).items():
            results[h][m].append(r)
    summary = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                          if k not in ("data", "out", "save_model")},
               "results": results, "per_seed": raw}
    (args.out / "results.json").write_text(json.dumps(summary, indent=1))
    write_tables(results, args, args.out / "tables.md", raw)
    return summary


# ---------------------------------------------------------------- issue 23's symptom


def macro_check(args) -> str:
    """Issue 23's backwards zero-shot ranking, reproduced without a TransNAS macro table.

    TransNAS macro networks vary depth, width and where they downsample; their labels are
    not in the shared data, so this check gives 520 macro graphs labels that follow FLOPs
    (log10 MFLOPs plus Gaussian noise of half its spread) and asks each pre-trained backbone
    for a zero-shot ranking (20 labels calibrate, 500 evaluated). Pre-training: NB201 alone
    (the recipe's) and NB201 + TransNAS micro with per-family labels, each with and without
    the size input. The "Eq. 5 de-scaled" column is what the transfer recipe's "GNN" column
    reports: the backbone's unitless output times Eq. 5's FLOPs factor.
    """
    from nasframe.graphs import GraphCache
    from nasframe.predictors.adapters import AIOPPredictor
    from nasframe.predictors.gnn import PackedGraphs
    from nasframe.spaces.transnas import TransNASMacroSpace

    n = args.macro_check_n
    nb201, micro = family_data("nb201", args, n), family_data("micro", args, n)
    g201, gmi = graphs_of(nb201, args.workers), graphs_of(micro, args.workers)
    space = TransNASMacroSpace()
    rng = np.random.default_rng(2023)
    archs = [space[int(i)] for i in rng.permutation(len(space))[:520]]
    gma = GraphCache(space, "class_scene").many(archs, progress=False, workers=args.workers)
    logf = np.log10(PackedGraphs(gma).gflops * 1e3)  # log10 MFLOPs: positive, like an accuracy
    y = logf + rng.normal(0, 0.5 * logf.std(), len(logf))
    calib, test = slice(0, 20), slice(20, None)
    lines = ["# Issue 23's symptom on TransNAS macro graphs (labels that follow FLOPs)", "",
             f"520 macro graphs, label = log10 MFLOPs + noise (SRCC with FLOPs on the 500 evaluated: "
             f"{spearmanr(logf[test], y[test])[0]:.3f}); pre-training {n} archs per family, "
             f"{args.pretrain_epochs} epochs at lr {args.pretrain_lr:g}; zero-shot SRCC on the 500 (20 calibrate).", "",
             "| pre-training | size input | seed | zero-shot SRCC | Eq. 5 de-scaled (the recipe's GNN column) | "
             "SRCC(prediction, mean channel feature) |", "|---|---|---|---|---|---|"]
    mean_c = np.array([g.res[:, 5].mean() for g in gma])
    for label, graphs, ys, groups in (("NB201 alone", g201, nb201["y"], None),
                                       ("NB201 + micro", g201 + gmi, np.concatenate([nb201["y"], micro["y"]]),
                                        ["nb201"] * len(g201) + ["micro"] * len(gmi))):
        for size_input in (False, True):
            for seed in args.seeds:
                p = AIOPPredictor(scaling="stand_flops" if groups is None else "stand", epochs=args.pretrain_epochs,
                                  seed=seed, size_input=size_input, lr=args.pretrain_lr).pretrain(graphs, ys,
                                                                                                  groups=groups)
                descaled = (f"{spearmanr(p.predict(gma[test], scaler=p.source_scaler), y[test])[0]:+.3f}"
                            if p.source_scaler.mode == "stand_flops" else "—")
                p.calibrate(gma[calib], y[calib], scaling="stand")  # Eq. 4: the backbone's own ranking
                z = p.predict(gma[test])
                lines.append(f"| {label} | {'yes' if size_input else 'no'} | {seed} | {spearmanr(z, y[test])[0]:+.3f} "
                             f"| {descaled} | {spearmanr(z, mean_c[test])[0]:+.3f} |")
                print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "macro_check.md").write_text(text)
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("NASFRAME_DATA"), help="data root laid out like shared/data "
                    "(default $NASFRAME_DATA)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--held-out", nargs="+", choices=FAMILIES, default=None, help="folds to run (default all)")
    ap.add_argument("--n-pretrain", type=int, default=15625,
                    help="pre-training archs per family (capped by what the family has labelled)")
    ap.add_argument("--n-target", type=int, default=520, help="held-out archs incl. the calibration set")
    ap.add_argument("--calib", type=int, default=20)
    ap.add_argument("--pretrain-epochs", type=int, default=40)
    ap.add_argument("--finetune-epochs", type=int, default=100)
    ap.add_argument("--pretrain-lr", type=float, default=1e-4, help="Adam learning rate of pre-training (paper 1e-4)")
    ap.add_argument("--finetune-lr", type=float, default=1e-4, help="Adam learning rate of fine-tuning (paper 1e-4)")
    ap.add_argument("--select-folds", type=int, default=5)
    ap.add_argument("--no-standardise-output", dest="standardise_output", action="store_false",
                    help="calibrate with the labels' mean/std only, leaving the network's own output offset on "
                         "the target (the state before the fine-tuning fix)")
    ap.add_argument("--l2sp", type=float, default=0.0,
                    help="L2-SP weight pulling fine-tuned weights toward the pre-trained ones (0 = off)")
    ap.add_argument("--scaling", choices=("stand", "stand_flops"), default="stand",
                    help="per-family label scaling in pre-training and the target's calibration")
    ap.add_argument("--micro-task", default="class_object")
    ap.add_argument("--no-size-input", dest="size_input", action="store_false",
                    help="no graph-level size input (log-FLOPs standardised per family): the pre-fix predictor")
    ap.add_argument("--compare-no-size-input", action="store_true",
                    help="also pre-train the predictor without the size input and report its zero-shot ranking")
    ap.add_argument("--jobs", type=int, default=1, help="processes, one (family, seed) fold each")
    ap.add_argument("--fresh", action="store_true", help="redo folds already finished under OUT/folds")
    ap.add_argument("--tables-only", action="store_true", help="write the tables from the folds finished so far")
    ap.add_argument("--macro-check", action="store_true",
                    help="instead of the folds: issue 23's symptom on TransNAS macro graphs (see macro_check)")
    ap.add_argument("--macro-check-n", type=int, default=1000, help="pre-training archs per family for --macro-check")
    ap.add_argument("--workers", type=int, default=1, help="processes building graphs")
    ap.add_argument("--save-model", type=Path, default=None,
                    help="save the fine-tuned model of --save-family, first seed (for evaluator=aiop)")
    ap.add_argument("--save-family", choices=FAMILIES, default="darts")
    args = ap.parse_args(argv)
    if not args.data:
        ap.error("give --data (a folder laid out like shared/data) or set NASFRAME_DATA")
    args.seeds = tuple(args.seeds)
    if args.macro_check:
        print(macro_check(args))
    else:
        run(args)


if __name__ == "__main__":
    main()
