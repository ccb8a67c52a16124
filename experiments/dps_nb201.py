"""DPS on NB201 CIFAR-10 (methods §3.6): search Eproxy genomes, then score the best genome against the
base genome on held-out architectures.

    python experiments/dps_nb201.py --seeds 0 1 2 --jobs 2 --data ../shared/data

Per seed this is one ordinary run of the runner (population 40, tournament 10, mutation rate 0.2,
20 fitness archs drawn with the seed)::

    python -m nasframe space=eproxy_config strategy=dps evaluator=dps_fitness budget.queries=200 \\
        seed=S evaluator.arch_seed=S +evaluator.eproxy.threads=1 hydra.run.dir=OUT/seedS resume=true

followed by the base genome on the same 20 fitness archs (does DPS beat it on its own fitness set?)
and the best genome on the held-out archs. The held-out set is 1,000 NB201 archs drawn once outside
the fitness archs of seeds 0-9 and of every seed given (pitfall P9), the same whichever seeds run,
so the base genome is scored on it once. Search sees validation accuracy only; the table reports the
held-out Spearman against validation and, separately, test accuracy.

Everything resumes: a run folder's ``history.jsonl`` and ``config.json`` are enough for the runner to
replay a search, and every Eproxy score is appended to a CSV (arch, score, seconds) as it is computed.
The run folders under ``experiments/dps_nb201/`` are committed, so a search spread over several
sessions continues on another machine. ``--jobs N`` runs N tasks at a time (one per seed, plus the
base genome's held-out scoring), each in its own process with ``--threads`` torch threads (results do
not depend on ``--jobs``). Outputs: ``OUT/summary.json``, ``OUT/results.md``, ``OUT/dps_nb201.png``.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESERVED_SEEDS = range(10)  # their fitness archs never enter the held-out set
HELDOUT_SEED = 10_000


class Incomplete(Exception):
    """--report-only met a search or a score file that is not finished yet."""


def search_command(seed: int, args) -> list[str]:
    return [sys.executable, "-m", "nasframe", "space=eproxy_config", "strategy=dps", "evaluator=dps_fitness",
            f"budget.queries={args.queries}", f"seed={seed}", f"data.root={args.data}",
            f"strategy.population_size={args.population}", f"strategy.sample_size={args.tournament}",
            f"evaluator.n_archs={args.fitness_archs}", f"evaluator.arch_seed={seed}",
            f"+evaluator.eproxy.threads={args.threads}", f"hydra.run.dir={Path(args.out) / f'seed{seed}'}",
            "resume=true", "plot=true", f"progress={str(not args.quiet).lower()}"]


def fitness_archs(space, n: int, seed: int) -> list:
    from nasframe.analysis.correlate import choose_archs

    return choose_archs(space, n, seed)  # as dps_fitness draws them


def heldout_archs(space, args) -> list:
    from nasframe.analysis.correlate import choose_archs

    seeds = sorted(set(RESERVED_SEEDS) | set(args.seeds))
    exclude = [a for s in seeds for a in fitness_archs(space, args.fitness_archs, s)]
    return choose_archs(space, args.heldout, HELDOUT_SEED, exclude=exclude)


def scores(genome, archs, store: Path, args, label: str) -> np.ndarray:
    """Eproxy scores of ``genome`` on ``archs``, appended to ``store`` as they are computed; a rerun
    scores only the archs the file does not hold yet."""
    from tqdm import tqdm

    from nasframe.evaluators.eproxy import EproxyEvaluator
    from nasframe.spaces.nb201 import NB201Space

    done = {}
    if store.exists():
        with open(store) as f:
            done = {r["arch"]: float(r["score"]) for r in csv.DictReader(f)}
    todo = [a for a in archs if str(a) not in done]
    if todo and args.report_only:
        raise Incomplete(f"{label}: {len(archs) - len(todo)} of {len(archs)} scored")
    if todo:
        ev = EproxyEvaluator(NB201Space(), dataset="cifar10", root=args.data, threads=args.threads,
                             macs_norm="space_max")  # the divisor the committed DPS runs were scored with
        new = not store.exists()
        with open(store, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["arch", "score", "seconds"])
            if new:
                w.writeheader()
            for a in tqdm(todo, desc=label, file=sys.stderr, disable=args.quiet):
                value, seconds, _ = ev.score(a, genome)
                w.writerow({"arch": str(a), "score": repr(value), "seconds": f"{seconds:.3f}"})
                f.flush()
                done[str(a)] = value
    return np.array([done[str(a)] for a in archs])


def spearman(s, truth) -> float:
    from nasframe.analysis.correlate import rank_correlations

    return rank_correlations(s, truth)["spearman"]


def truth_of(lookup, archs) -> tuple[np.ndarray, np.ndarray]:
    """(validation, test) accuracy; test numbers go to the report only."""
    evs = lookup.evaluate(archs)
    return np.array([e.values["val_acc"] for e in evs]), np.array([e.report["test_acc"] for e in evs])


def cifar10_table(space, data):
    from nasframe.evaluators.lookup import BenchmarkLookup

    return BenchmarkLookup(space, dataset="cifar10", root=data)


def base_task(args) -> dict:
    from nasframe.spaces.eproxy_config import BASE_GENOME
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    archs = heldout_archs(space, args)
    folder = Path(args.out) / "base"
    folder.mkdir(parents=True, exist_ok=True)
    s = scores(BASE_GENOME, archs, folder / "heldout.csv", args, "base genome, held-out")
    val, test = truth_of(cifar10_table(space, args.data), archs)
    return {"genome": str(BASE_GENOME), "heldout_n": len(archs), "heldout_val": spearman(s, val),
            "heldout_test": spearman(s, test),
            "params_val": spearman(np.array([space.params(a) for a in archs]), val),
            "flops_val": spearman(np.array([space.flops(a) for a in archs]), val)}


def seed_task(seed: int, args) -> dict:
    from nasframe.evaluators.dps_fitness import fitness_from
    from nasframe.spaces.eproxy_config import BASE_GENOME, load_genome
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    run_dir = Path(args.out) / f"seed{seed}"
    cmd = search_command(seed, args)
    if not args.report_only:
        print(" ".join(cmd), file=sys.stderr, flush=True)
    if not args.report_only:
        subprocess.run(cmd, check=True)
    elif not (run_dir / "summary.json").exists():
        done = len((run_dir / "history.jsonl").read_text().splitlines()) if (run_dir / "history.jsonl").exists() else 0
        raise Incomplete(f"seed {seed}: search at {done} of {args.queries} genomes")
    summary = json.loads((run_dir / "summary.json").read_text())
    fit_archs = fitness_archs(space, args.fitness_archs, seed)
    if summary["evaluator"]["fitness_archs"] != [str(a) for a in fit_archs]:
        raise RuntimeError(f"{run_dir}: the run's fitness archs are not the ones the held-out set excludes")
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    best = load_genome(str(run_dir / "summary.json"))
    table = cifar10_table(space, args.data)
    fit_val, _ = truth_of(table, fit_archs)
    base_fitness = fitness_from(scores(BASE_GENOME, fit_archs, run_dir / "base_fitness.csv", args,
                                       f"seed {seed}: base genome, fitness archs"), fit_val)
    archs = heldout_archs(space, args)
    s = scores(best, archs, run_dir / "heldout.csv", args, f"seed {seed}: best genome, held-out")
    val, test = truth_of(table, archs)
    return {"seed": seed, "evaluations": len(history), "best_fitness": summary["values"]["fitness"],
            "base_fitness": base_fitness, "best_genome": str(best), "heldout_n": len(archs),
            "heldout_val": spearman(s, val), "heldout_test": spearman(s, test),
            "fitness_curve": [h["values"]["fitness"] for h in history]}


def run_task(task, args) -> dict:
    return base_task(args) if task == "base" else seed_task(task, args)


def write_report(out: Path, args, runs: list[dict], base: dict, missing=()) -> str:
    best_val = np.array([r["heldout_val"] for r in runs])
    sd = best_val.std(ddof=1) if len(runs) > 1 else 0.0
    lines = [f"# DPS on NB201 CIFAR-10 ({len(runs)} seed{'s' if len(runs) != 1 else ''} finished)", "",
             f"`python experiments/dps_nb201.py --seeds {' '.join(map(str, args.seeds))} --jobs 2 --data DATA` "
             "(results do not depend on `--jobs`)", "",
             f"{args.queries} evaluated genomes per seed (population {args.population}, tournament "
             f"{args.tournament}, mutation rate 0.2); fitness = Spearman with validation accuracy on "
             f"{args.fitness_archs} archs drawn with the seed; held-out: {base['heldout_n']} other archs, "
             "the same for every seed. Inputs: synthetic images (no CIFAR batches in the data folder) "
             "unless the run summaries say otherwise.", "",
             "| seed | genomes | fitness: best | fitness: base genome | held-out ρ val: best | held-out ρ val: base "
             "| held-out ρ test: best | held-out ρ test: base |",
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['seed']} | {r['evaluations']} | {r['best_fitness']:.3f} | {r['base_fitness']:.3f} | "
                     f"{r['heldout_val']:.3f} | {base['heldout_val']:.3f} | {r['heldout_test']:.3f} | "
                     f"{base['heldout_test']:.3f} |")
    lines += [f"| mean ± sd | | {np.mean([r['best_fitness'] for r in runs]):.3f} | "
              f"{np.mean([r['base_fitness'] for r in runs]):.3f} | {best_val.mean():.3f} ± {sd:.3f} | "
              f"{base['heldout_val']:.3f} | {np.mean([r['heldout_test'] for r in runs]):.3f} | "
              f"{base['heldout_test']:.3f} |", "",
              f"Baselines on the same held-out archs (ρ vs validation): params {base['params_val']:.3f}, "
              f"flops {base['flops_val']:.3f}.", "", "Best genomes:", ""]
    lines += [f"- seed {r['seed']}: `{r['best_genome']}`" for r in runs]
    lines += [f"- base: `{base['genome']}`", ""]
    if missing:
        lines += ["Not finished yet (rerun the command to continue; `--report-only` reports what is done):", ""]
        lines += [f"- {m}" for m in missing] + [""]
    lines += ["![DPS](dps_nb201.png)", ""]
    text = "\n".join(lines)
    (out / "results.md").write_text(text)
    return text


def plot(out: Path, runs: list[dict], base: dict, n_fitness: int) -> None:
    from nasframe.analysis.plots import _pyplot

    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in runs:
        ax1.plot(np.maximum.accumulate(r["fitness_curve"]), label=f"seed {r['seed']} best so far")
        ax1.axhline(r["base_fitness"], ls=":", lw=1, color=ax1.lines[-1].get_color())
    ax1.set(xlabel="evaluated genomes", ylabel=f"fitness (Spearman, {n_fitness} archs)",
            title="DPS search (dotted: base genome)")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")
    x = np.arange(len(runs))
    ax2.bar(x - 0.2, [r["heldout_val"] for r in runs], 0.4, label="DPS best genome")
    ax2.bar(x + 0.2, [base["heldout_val"]] * len(runs), 0.4, label="base genome")
    ax2.axhline(base["params_val"], ls="--", color="gray", lw=1, label="params")
    ax2.set(xticks=x, xticklabels=[f"seed {r['seed']}" for r in runs], ylim=(0, 1),
            ylabel=f"held-out Spearman vs val acc ({base['heldout_n']} archs)", title="held-out ranking")
    ax2.grid(alpha=0.3, axis="y")
    ax2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "dps_nb201.png", dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(HERE / "dps_nb201"))
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--population", type=int, default=40)
    ap.add_argument("--tournament", type=int, default=10)
    ap.add_argument("--fitness-archs", type=int, default=20)
    ap.add_argument("--heldout", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per task")
    ap.add_argument("--jobs", type=int, default=1, help="tasks run at a time, one process each")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--report-only", action="store_true",
                    help="compute nothing: report the seeds whose search and scores are finished")
    args = ap.parse_args()
    args.data, args.out = str(Path(args.data).resolve()), str(Path(args.out).resolve())
    if args.jobs < 1 or args.threads < 1:
        ap.error("--jobs and --threads must be at least 1")
    if not Path(args.data).is_dir():
        ap.error(f"--data {args.data} is not a folder; give the folder that holds nasbench201/")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    missing: list[str] = []
    tasks = ["base"] + list(args.seeds)  # the base genome first: it waits for no search
    if args.report_only:
        results = []
        for t in tasks:
            try:
                results.append(run_task(t, args))
            except Incomplete as e:
                missing.append(str(e))
        print("\n".join(f"not finished: {m}" for m in missing), file=sys.stderr)
        if not results or results[0].get("genome") is None:
            sys.exit("nothing to report: the base genome's held-out scores are not finished")
        if len(results) == 1:
            sys.exit("nothing to report: no seed has finished its search and held-out scores")
    elif args.jobs == 1:
        results = [run_task(t, args) for t in tasks]
    else:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(run_task, tasks, [args] * len(tasks)))
    base, runs = results[0], results[1:]
    (out / "summary.json").write_text(json.dumps({"args": vars(args) | {"data": "DATA", "out": "OUT"},
                                                  "runs": runs, "base": base}, indent=1))
    plot(out, runs, base, args.fitness_archs)
    print(write_report(out, args, runs, base, missing))


if __name__ == "__main__":
    main()
