"""TransNAS-Bench-101 tables (micro and macro spaces, seven tasks).

Sources, in the order they are looked for under ``<root>/transnasbench101`` (or
``<root>``):

* the official API file ``transnas-bench_v10141024.pth``: a dict with
  ``task_list``, ``metrics_dict`` (task -> metric names), ``info_names`` and
  ``data[space][arch_str][task]`` = ``{"metrics": {metric: [one value per epoch]},
  "model_info": {...}, "total_epochs": n}``, for ``space`` in {micro, macro};
* the tabular CSV ``tnb101_<micro|macro>_final_val.csv``: ``arch_str`` plus one
  ``<task>_val`` column per task (final-epoch validation values; no test values).

Every table holds, per task ``t``, the column ``t_val`` (what a search sees);
tables from the official file also hold ``t_test`` (report only) and, for
segmentsemantic, ``segmentsemantic_test_miou``.

Epoch modes (official file only; the CSV holds final-epoch values):
``final`` takes the last epoch; ``best`` takes the epoch with the best
validation value (early stopping on validation) and the test value of that same
epoch, so no test number influences which epoch is reported.

Metrics (validation; the test metric is the matching ``test_*``):

=================  ==================  ===========================================
task               source metric       objective
=================  ==================  ===========================================
class_object       valid_top1          ``val_top1`` (%, max)
class_scene        valid_top1          ``val_top1`` (%, max)
jigsaw             valid_top1          ``val_top1`` (%, max)
autoencoder        valid_ssim          ``val_ssim`` (SSIM 0..1, max)
normal             valid_ssim          ``val_ssim`` (SSIM 0..1, max)
room_layout        valid_neg_loss      ``val_neg_l2_loss`` (negative L2 loss, max;
                                       the paper reports L2 x 100, lower is better)
segmentsemantic    valid_acc           ``val_pixel_acc`` (pixel accuracy %, max;
                                       NOT the paper's mIoU)
=================  ==================  ===========================================
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nasframe.benchmarks import Benchmark, first_existing, nan_array
from nasframe.benchmarks.table import BenchmarkTable, cached, csv_rows, parse_float
from nasframe.core.evaluator import Objective
from nasframe.errors import ConfigError, DataError, DataNotFound
from nasframe.spaces.transnas import TASKS, resolve_task

PTH_NAME = "transnas-bench_v10141024.pth"
FOLDER = "transnasbench101"
EPOCH_MODES = ("final", "best")

# task -> (official validation metric, official test metric, objective)
METRICS = {
    "class_object": ("valid_top1", "test_top1", Objective(
        "val_top1", "max", "%", "TransNAS-Bench-101 class_object validation top-1 accuracy (75 classes)")),
    "class_scene": ("valid_top1", "test_top1", Objective(
        "val_top1", "max", "%", "TransNAS-Bench-101 class_scene validation top-1 accuracy (47 classes)")),
    "jigsaw": ("valid_top1", "test_top1", Objective(
        "val_top1", "max", "%", "TransNAS-Bench-101 jigsaw validation top-1 accuracy (1000 permutations)")),
    "autoencoder": ("valid_ssim", "test_ssim", Objective(
        "val_ssim", "max", "SSIM (0-1)", "TransNAS-Bench-101 autoencoder validation SSIM (x100 in the paper)")),
    "normal": ("valid_ssim", "test_ssim", Objective(
        "val_ssim", "max", "SSIM (0-1)", "TransNAS-Bench-101 surface-normal validation SSIM (x100 in the paper)")),
    "room_layout": ("valid_neg_loss", "test_neg_loss", Objective(
        "val_neg_l2_loss", "max", "negative L2 loss",
        "TransNAS-Bench-101 room_layout validation L2 loss, negated so that higher is better "
        "(the paper reports the loss x100, lower is better)")),
    "segmentsemantic": ("valid_acc", "test_acc", Objective(
        "val_pixel_acc", "max", "%",
        "TransNAS-Bench-101 segmentsemantic validation pixel accuracy (not the paper's mIoU)")),
}
REPORT_NAMES = {"valid_top1": "test_top1", "valid_ssim": "test_ssim", "valid_neg_loss": "test_neg_l2_loss",
                "valid_acc": "test_pixel_acc"}


def space_key(space) -> str:
    if space.name not in ("transnas_micro", "transnas_macro"):
        raise ConfigError(f"the TransNAS-Bench-101 loader serves spaces transnas_micro and transnas_macro, "
                          f"not '{space.name}'")
    return space.name.split("_", 1)[1]


def csv_name(space) -> str:
    return f"tnb101_{space_key(space)}_final_val.csv"


# --------------------------------------------------------------------- readers


def _row_index(space, text, where: str) -> int:
    try:
        return space.index(space.parse(text))
    except Exception as e:
        raise DataError(f"{where}: {e}") from None


def read_csv(space, path: Path) -> BenchmarkTable:
    """``arch_str`` + ``<task>_val`` columns (any subset of the seven tasks)."""
    n = len(space)
    with csv_rows(path, "a TransNAS-Bench-101") as (header, rows):
        tasks = [t for t in TASKS if f"{t}_val" in header]
        if not tasks:
            raise DataError(f"{path} has no TransNAS-Bench-101 metric columns; expected <task>_val "
                            f"for tasks among {', '.join(TASKS)}")
        cols = {f"{t}_val": nan_array(n) for t in tasks}
        seen = np.zeros(n, dtype=bool)
        for line, row in rows:
            i = _row_index(space, row["arch_str"], f"{path}, line {line}")
            seen[i] = True
            for t in tasks:
                cols[f"{t}_val"][i] = parse_float(row[f"{t}_val"], f"{path}, line {line}")
    if not seen.any():
        raise DataError(f"{path} holds no architectures; the file is empty or truncated")
    return BenchmarkTable(space.name, n, cols, {"format": "csv", "rows": int(seen.sum()), "epoch_mode": "final"})


def load_pth(path: Path) -> dict:
    """The official API database (a torch-saved dict of plain values), read without running code."""
    from nasframe.benchmarks.safe_load import load_torch_file

    db = load_torch_file(path)
    if not isinstance(db, dict) or "data" not in db or not isinstance(db["data"], dict):
        raise DataError(f"{path} is not the TransNAS-Bench-101 API file: it has no 'data' dict "
                        f"(expected keys task_list, metrics_dict, info_names, data)")
    return db


def read_pth(space, path: Path, epoch_mode: str) -> BenchmarkTable:
    db = load_pth(path)
    key = space_key(space)
    archs = db["data"].get(key)
    if not archs:
        raise DataError(f"{path} has no '{key}' search space (it has: {', '.join(map(str, db['data']))})")
    n = len(space)
    cols: dict[str, np.ndarray] = {}
    seen = np.zeros(n, dtype=bool)
    for arch_str, per_task in archs.items():
        i = _row_index(space, arch_str, f"{path}, arch '{arch_str}'")
        seen[i] = True
        for task, result in per_task.items():
            if task not in METRICS:
                continue
            vname, tname, _ = METRICS[task]
            metrics = result.get("metrics", {}) if isinstance(result, dict) else {}
            if vname not in metrics:
                raise DataError(f"{path}: arch '{arch_str}', task {task} has no '{vname}' metric "
                                f"(it has: {', '.join(metrics)})")
            val = np.asarray(metrics[vname], dtype=np.float64)
            if val.size == 0:
                continue
            epoch = len(val) - 1 if epoch_mode == "final" else int(np.nanargmax(val))
            _put(cols, f"{task}_val", n, i, val[epoch])
            for src, dst in ((tname, f"{task}_test"), ("test_mIoU", f"{task}_test_miou")):
                series = metrics.get(src)
                if series is not None and len(series) == len(val):
                    _put(cols, dst, n, i, float(series[epoch]))
    if not seen.any():
        raise DataError(f"{path} holds no {key} architectures")
    return BenchmarkTable(space.name, n, cols, {"format": "pth", "rows": int(seen.sum()), "epoch_mode": epoch_mode})


def _put(cols: dict, name: str, n: int, i: int, value) -> None:
    if name not in cols:
        cols[name] = nan_array(n)
    cols[name][i] = float(value)


# --------------------------------------------------------------------- loader


def locate(root: Path | None, space) -> Path | None:
    if root is None:
        return None
    names = [PTH_NAME, csv_name(space)]
    return first_existing([d / n for d in (root / FOLDER, root) for n in names])


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".pth", ".pt", ".pkl", ".pickle"):
        return "pth"
    raise DataError(f"cannot tell which TransNAS-Bench-101 format {path} is; supported: the tabular "
                    f"tnb101_<space>_final_val.csv and the official {PTH_NAME}")


def load(space, dataset: str | None, root: Path | None = None, path: Path | None = None,
         epoch_mode: str = "final", use_cache: bool = True, **_) -> Benchmark:
    task = resolve_task(dataset)
    if epoch_mode not in EPOCH_MODES:
        raise ConfigError(f"benchmark.epoch_mode must be one of {', '.join(EPOCH_MODES)}, got '{epoch_mode}'")
    source = path or locate(root, space)
    if source is None:
        where = f"under {root}" if root else "(no data.root or NASFRAME_DATA given)"
        raise DataNotFound(f"no TransNAS-Bench-101 {space_key(space)} table found {where}; point data.root at "
                           f"a folder with {FOLDER}/{csv_name(space)} or {FOLDER}/{PTH_NAME}, "
                           f"or benchmark.path at one of those files")
    source = Path(source)
    if not source.exists():
        raise DataError(f"benchmark file {source} does not exist; fix benchmark.path or data.root")
    fmt = detect_format(source)
    if fmt == "csv":
        if epoch_mode != "final":
            raise ConfigError(f"{source} holds final-epoch values only; use benchmark.epoch_mode=final or "
                              f"point benchmark.path at the official {PTH_NAME}")
        table = cached(source, f"{space.name}-csv", lambda: read_csv(space, source), use_cache=use_cache)
    else:
        table = cached(source, f"{space.name}-pth-{epoch_mode}", lambda: read_pth(space, source, epoch_mode),
                       use_cache=use_cache)
    value = f"{task}_val"
    if value not in table.columns:
        raise DataError(f"{source} has no {task} values; use a file that covers {task} or choose "
                        f"benchmark.task among those it has")
    vname, _, objective = METRICS[task]
    epoch_text = "best-validation epoch" if table.meta.get("epoch_mode") == "best" else "final epoch"
    objective = Objective(objective.name, objective.direction, objective.unit,
                          f"{objective.description}, {epoch_text}")
    report = {}
    if f"{task}_test" in table.columns:
        report[REPORT_NAMES[vname]] = f"{task}_test"
    if f"{task}_test_miou" in table.columns:
        report["test_miou"] = f"{task}_test_miou"
    return Benchmark(table, objective, value, report, None, task)
