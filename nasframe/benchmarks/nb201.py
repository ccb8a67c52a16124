"""NAS-Bench-201 tables.

Every reader produces one table with, per dataset ``d`` in
{cifar10, cifar100, imagenet16_120}, the columns ``d_val`` (the search
metric) and ``d_test`` (report only), and where the source has them
``d_train_time`` (simulated seconds to train, used as query cost).

Validation semantics: for CIFAR-10 the validation accuracy is that of the
``cifar10-valid`` run (trained on 25k images, evaluated on the other 25k), as
NASLib and the NB201 paper's search experiments use; test accuracy is that of
the ``cifar10`` run (trained on 50k) on the test set.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from nasframe.benchmarks import Benchmark, existing_source, first_existing, nan_array
from nasframe.benchmarks.safe_load import fix_hint
from nasframe.benchmarks.table import BenchmarkTable, cached, csv_rows, parse_float
from nasframe.core.evaluator import Objective
from nasframe.errors import DataError
from nasframe.spaces.nb201 import resolve_dataset

CSV_NAME = "nb201_all_15625.csv"
COLUMN_KEY = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet16_120"}
# CSV headers per dataset: (validation, test)
CSV_COLUMNS = {
    "cifar10": ("cifar10_valid_val_acc_naslib", "cifar10_test_acc"),
    "cifar100": ("cifar100_val_acc_naslib", "cifar100_test_acc"),
    "imagenet16-120": ("imagenet16_120_val_acc_naslib", "imagenet16_120_test_acc"),
}


def read_csv(space, path: Path, partial: bool = False) -> BenchmarkTable:
    """The tabular format: ``arch_str`` plus ``<dataset>_val_acc_naslib`` / ``<dataset>_test_acc`` columns.

    A file that lacks architectures of the space, repeats one, or whose last line is cut off (an
    interrupted download or copy) is refused, unless ``partial`` asks for the complete rows it has.
    """
    n = len(space)
    with csv_rows(path, "an NB201") as (header, rows):
        present = {ds: cols for ds, cols in CSV_COLUMNS.items() if all(c in header for c in cols)}
        if not present:
            raise DataError(f"{path} has no NB201 metric columns; expected e.g. "
                            f"{', '.join(CSV_COLUMNS['cifar10'])}")
        rows = list(rows)
    if rows and ends_mid_line(path):
        if not partial:
            raise DataError(f"{path} is truncated: its last line (line {rows[-1][0]}) is cut off mid-row (an "
                            f"interrupted download or copy); {fix_hint(path)}, or pass benchmark.partial=true "
                            "to load the complete rows only")
        rows = rows[:-1]
    cols = {f"{COLUMN_KEY[ds]}_{kind}": nan_array(n) for ds in present for kind in ("val", "test")}
    first_line = np.zeros(n, dtype=np.int64)  # 0: not seen yet
    for line, row in rows:
        try:
            i = space.index(space.parse(row["arch_str"]))
        except Exception as e:
            raise DataError(f"{path}, line {line}: {e}") from None
        if first_line[i]:
            raise DataError(f"{path}, line {line} repeats the architecture of line {first_line[i]} "
                            f"({row['arch_str']}); the file was merged or appended twice: {fix_hint(path)}")
        first_line[i] = line
        for ds, (vcol, tcol) in present.items():
            key = COLUMN_KEY[ds]
            cols[f"{key}_val"][i] = parse_float(row[vcol], f"{path}, line {line}")
            cols[f"{key}_test"][i] = parse_float(row[tcol], f"{path}, line {line}")
    found = int((first_line > 0).sum())
    if not found:
        raise DataError(f"{path} holds no architectures; the file is empty or truncated")
    table = BenchmarkTable("nb201", n, cols, {"format": "csv", "rows": found})
    check_complete(table, space, path, partial)
    return table


def check_complete(table: BenchmarkTable, space, path: Path, partial: bool) -> None:
    """Refuse a table holding fewer architectures than the space (unless ``partial``)."""
    found = table.meta.get("rows", table.size)
    if found < len(space) and not partial:
        raise DataError(f"{path} holds {found:,} of the {len(space):,} architectures of space '{space.name}': it "
                        f"is truncated or a subset; {fix_hint(path)}, or pass benchmark.partial=true to search "
                        f"on the {found:,} it has")


def ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return False
        f.seek(-1, 2)
        return f.read(1) != b"\n"


def readers():
    """Reader per format name; the official formats live in ``nb201_official``."""
    from nasframe.benchmarks import nb201_official as official

    return {"csv": read_csv, **official.READERS}


def detect_format(path: Path) -> str:
    from nasframe.benchmarks import nb201_official as official

    if path.suffix.lower() == ".csv":
        return "csv"
    fmt = official.detect_format(path)
    if fmt is None:
        raise DataError(f"cannot tell which NB201 format {path} is; supported: the tabular CSV, "
                        "NAS-Bench-201-v1_0/v1_1 .pth, NATS-tss pickles, NASLib nb201_*_full_training.pickle")
    return fmt


def locate(root: Path | None, dataset: str) -> Path | None:
    if root is None:
        return None
    from nasframe.benchmarks import nb201_official as official

    csvs = [d / CSV_NAME for d in (root / "nasbench201", root)]
    # a CSV without this dataset's columns (the shared copy has no ImageNet16-120) is passed over
    csvs = [c for c in csvs if c.exists() and _csv_has(c, dataset)]
    official_files = [d / n for d in (root / "nasbench201", root) for n in official.file_names(dataset)]
    return first_existing([*csvs, *official_files])


def _csv_has(path: Path, dataset: str) -> bool:
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
    return all(c in header for c in CSV_COLUMNS[dataset])


def load(space, dataset: str | None, root: Path | None = None, path: Path | None = None,
         use_cache: bool = True, partial: bool = False, **_) -> Benchmark:
    ds = resolve_dataset(dataset)
    source = path or locate(root, ds)
    if source is None and root is not None:
        partial = first_existing([d / CSV_NAME for d in (root / "nasbench201", root)])
        if partial is not None:  # a table exists, just not for this dataset: that is not "no data"
            raise DataError(f"{partial} has no {ds} columns ({', '.join(CSV_COLUMNS[ds])}) and no official "
                            f"NB201 file is under {root}; add one or choose another benchmark.dataset")
    source = existing_source(source, root, "NB201",
                             f"nasbench201/{CSV_NAME} or benchmark.path at an official NB201 file")
    fmt = detect_format(source)
    reader = readers()[fmt]
    if fmt == "csv":  # a refused table raises inside build, so it is never cached
        kind = "nb201-csv-partial" if partial else "nb201-csv"
        table = cached(source, kind, lambda: read_csv(space, source, partial), use_cache=use_cache)
        check_complete(table, space, source, partial)  # also a table cached before this check existed
    else:
        # "-curves": tables cached before learning curves were read are rebuilt once
        table = cached(source, f"nb201-{fmt}-curves", lambda: reader(space, source), use_cache=use_cache)
    key = COLUMN_KEY[ds]
    if f"{key}_val" not in table.columns:
        raise DataError(f"{source} has no {ds} columns ({key}_val); use a file that covers {ds} "
                        f"or choose benchmark.dataset among those it has")
    cost = f"{key}_train_time" if f"{key}_train_time" in table.columns else None
    objective = Objective("val_acc", "max", "%", f"NB201 {ds} validation accuracy"
                          + (" (cifar10-valid run)" if ds == "cifar10" else ""))
    curves = {sched: (f"{key}_val_curve@{sched}", f"{key}_time_curve@{sched}") for sched in ("12", "200")
              if f"{key}_val_curve@{sched}" in table.columns}
    return Benchmark(table, objective, f"{key}_val", {"test_acc": f"{key}_test"}, cost, ds, curves)
