"""NAS-Bench-301 labels for the DARTS space, from NASLib's ``zc_nasbench301.json``.

The file is ``{"cifar10": {compact genotype: {"val_accuracy", "flops":
{"score", ...}, "params": {...}, <proxy>: {"score", ...}, ...}}}`` with 725
architectures. ``val_accuracy`` is a **surrogate-model prediction** (NASLib
queried the NB301 v1.0 surrogate), not the accuracy of a trained network. Rows
are found by the architecture's canonical string (``index_of``): the DARTS
space has ~10^18 cells, so a search mostly meets cells the table lacks, which
the lookup evaluator records as failures.

Columns: ``val_acc`` (%), ``flops`` and ``params`` as NASLib stored them
(NB301's 32-channel, 8-cell network), and every proxy score (``synflow``, ...).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nasframe.benchmarks import KeyedBenchmark, existing_source, first_existing
from nasframe.benchmarks.table import BenchmarkTable, cached
from nasframe.core.evaluator import Objective
from nasframe.errors import ArchitectureError, ConfigError, DataError

FILE_NAMES = ("zc_nasbench301.json",)
KEY = "arch"


class NB301Benchmark(KeyedBenchmark):
    """Rows by canonical architecture string, so the space need not be ``Enumerable``."""

    key_column = KEY


def read_zc_json(space, path: Path) -> BenchmarkTable:
    try:
        records = json.loads(Path(path).read_text())["cifar10"]
        if not isinstance(records, dict):
            raise TypeError("'cifar10' is not a mapping")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not NASLib's zc_nasbench301.json (expected {{'cifar10': {{genotype: "
                        f"{{'val_accuracy': ..., ...}}}}}}; {e!r})") from None
    keys, values = [], {}
    for key, rec in records.items():
        try:
            arch = space.parse(key)
        except ArchitectureError as e:
            raise DataError(f"{path}: key {key[:50]}... is not a DARTS compact genotype ({e})") from None
        if str(arch) in values:
            raise DataError(f"{path}: two keys are the same DARTS cell {arch}; the file is not NASLib's")
        row = {"val_acc": rec.get("val_accuracy")}
        row.update({k: v["score"] for k, v in rec.items() if isinstance(v, dict) and "score" in v})
        keys.append(str(arch))
        values[str(arch)] = row
    if not keys:
        raise DataError(f"{path} holds no DARTS architectures")
    names = sorted({k for row in values.values() for k in row})
    cols = {n: np.array([np.nan if values[k].get(n) is None else float(values[k][n]) for k in keys])
            for n in names}
    cols[KEY] = np.array(keys, dtype=f"S{max(map(len, keys))}")
    return BenchmarkTable("nb301", len(keys), cols, {"format": "zc_json", "rows": len(keys)})


def locate(root: Path | None) -> Path | None:
    if root is None:
        return None
    return first_existing([d / n for n in FILE_NAMES for d in (root / "nasbench301", root)])


def load(space, dataset: str | None = None, root: Path | None = None, path: Path | None = None,
         use_cache: bool = True, **_) -> NB301Benchmark:
    if (dataset or "cifar10").lower() != "cifar10":
        raise ConfigError(f"NAS-Bench-301 labels are for CIFAR-10 only, got dataset '{dataset}'")
    if getattr(space, "name", None) != "darts":
        raise ConfigError(f"the NAS-Bench-301 table needs space 'darts', got '{getattr(space, 'name', space)}'")
    source = path or locate(root)
    source = existing_source(source, root, "NAS-Bench-301",
                             f"nasbench301/{FILE_NAMES[0]} or benchmark.path at the file")
    table = cached(source, "nb301-zc_json", lambda: read_zc_json(space, source), use_cache=use_cache)
    objective = Objective("val_acc", "max", "%", "NB301 surrogate-predicted CIFAR-10 validation accuracy "
                                                 "(NASLib's zc_nasbench301.json; not trained networks)")
    return NB301Benchmark(table, objective, "val_acc", {}, None, "cifar10")
