"""Hand-written run folders (config in summary.json, history.jsonl) for the report tests."""
import json
from pathlib import Path

VAL = {"name": "val_acc", "direction": "max", "unit": "%", "description": ""}
SYNFLOW = {"name": "synflow", "direction": "max", "unit": "", "description": ""}
EVAL_LOOKUP = {"evaluator": "lookup", "benchmark": "nb201", "objective": "val_acc"}
EVAL_SYNFLOW = {"evaluator": "zc", "proxy": ["synflow"]}


def line(index, arch, value, objective="val_acc", report=None, cost=0.0, wall=0.0, phase="search", **extra):
    return {"phase": phase, "index": index, "arch": arch, "values": {objective: value}, "report": report or {},
            "cost": cost, "failure": None, "repeat": False, "wall_time": wall, **extra}


def write_run(folder, lines, *, strategy="rea", evaluator=EVAL_LOOKUP, objectives=(VAL,), seed=0,
              storage=None, study=None, space="nb201", recommended=None, values=None, report=None):
    """A finished run: summary.json (recommended = best line unless given) and history.jsonl."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    obj = objectives[0]
    search = [r for r in lines if r["phase"] == "search"]
    sign = 1 if obj["direction"] == "max" else -1
    best = max(search, key=lambda r: sign * r["values"][obj["name"]])
    config = {"names": {"strategy": strategy, "space": space, "evaluator": "auto"}, "seed": seed,
              "space": {"_target_": "nasframe.spaces.nb201.NB201Space"}, "storage": storage, "study": study,
              "benchmark": {"dataset": "cifar10", "task": None, "path": None, "epoch_mode": "final"},
              "data": {"root": None}, "budget": {"queries": len(search), "seconds": None}}
    summary = {"status": "complete", "recommended": recommended or best["arch"],
               "values": values or best["values"], "report": report if report is not None else best["report"],
               "objectives": list(objectives), "queries": len(search), "sim_seconds": sum(r["cost"] for r in search),
               "wall_seconds": sum(r["wall_time"] for r in search), "seed": seed, "evaluator": evaluator,
               "config": config}
    (folder / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def arch(i: int) -> str:
    """The i-th NB201 cell string (distinct for i < 15,625)."""
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    d = []
    for _ in range(6):
        i, r = divmod(i, 5)
        d.append(ops[r])
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*d)
