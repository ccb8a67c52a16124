"""Benchmark tables: one loader module per benchmark, all producing a ``BenchmarkTable``.

``find_benchmark(space, dataset, root, path)`` is the single entry point the
lookup evaluator uses. Each loader module exposes
``load(space, dataset, root=None, path=None, **options) -> Benchmark``.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nasframe.benchmarks.table import BenchmarkTable
from nasframe.core.evaluator import Objective
from nasframe.core.space import Enumerable
from nasframe.errors import DataError, DataNotFound

# space name -> loader module
LOADERS = {
    "nb201": "nasframe.benchmarks.nb201",
    "transnas_micro": "nasframe.benchmarks.transnas",
    "transnas_macro": "nasframe.benchmarks.transnas",
    "nb101": "nasframe.benchmarks.nb101",
    "darts": "nasframe.benchmarks.nb301",
}


@dataclass
class Benchmark:
    """A table plus what its columns mean for one dataset/task."""

    table: BenchmarkTable
    objective: Objective  # what a search sees (validation metric)
    value_column: str
    report_columns: dict = field(default_factory=dict)  # report name -> column (test metrics)
    cost_column: str | None = None  # simulated training seconds, if the source has them
    dataset: str = ""
    # schedule ("12", "200") -> (validation curve column, time curve column), architectures × seeds × epochs
    curves: dict = field(default_factory=dict)

    # what the space must offer for index_of (benchmarks keyed otherwise override both)
    requires = (Enumerable,)

    def index_of(self, arch, space) -> int | None:
        """The table row of ``arch`` (None if the table cannot hold it); by default the space's official index."""
        return space.index(arch)

    def describe(self) -> dict:
        return {"benchmark": self.table.name, "dataset": self.dataset, "source": self.table.meta.get("source"),
                "sha256": self.table.meta.get("sha256"), "objective": self.objective.name}


@dataclass
class KeyedBenchmark(Benchmark):
    """A ``Benchmark`` whose rows are found by a key column (one string per row) instead of by
    ``space.index``, so the space need not be ``Enumerable``. Subclasses name the column
    (``key_column``) and how an architecture maps to its key (``row_key``)."""

    _rows: dict = field(default=None, repr=False)
    requires = ()
    key_column = "arch"

    def row_key(self, arch) -> str:
        return str(arch)

    def index_of(self, arch, space=None) -> int | None:
        """The table row of ``arch``, or None when the source file does not hold it."""
        if self._rows is None:
            keys = self.table.column(self.key_column)
            self._rows = {k.decode() if isinstance(k, bytes) else str(k): i for i, k in enumerate(keys)}
        return self._rows.get(self.row_key(arch))


def data_root(root: str | os.PathLike | None) -> Path | None:
    """The data root from config, else ``$NASFRAME_DATA``, else None."""
    root = root or os.environ.get("NASFRAME_DATA")
    return Path(root).expanduser() if root else None


def find_benchmark(space, dataset: str | None, root=None, path=None, **options) -> Benchmark:
    module = LOADERS.get(space.name)
    if module is None:
        raise DataNotFound(f"space '{space.name}' has no benchmark table; use a proxy or predictor evaluator "
                        "(evaluator=zc, evaluator=flops, ...)")
    if not path:
        check_root(root)
    return importlib.import_module(module).load(space, dataset, root=data_root(root),
                                                path=Path(path).expanduser() if path else None, **options)


def check_root(root) -> None:
    """A data root that was given must be a folder: a typo is an error, never a reason to search on
    something else."""
    given = data_root(root)
    if given is None:
        return
    name = "data.root" if root else "NASFRAME_DATA"
    if not given.exists():
        raise DataError(f"{name} {given} does not exist; point it at a folder laid out like shared/data "
                        "(nasbench201/nb201_all_15625.csv, transnasbench101/..., nasbench101/...)")
    if not given.is_dir():
        raise DataError(f"{name} {given} is a file, not a folder; point it at the folder that holds "
                        "nasbench201/ (or give one file with benchmark.path=FILE)")


def existing_source(source: Path | None, root: Path | None, what: str, where_to_put: str) -> Path:
    """The benchmark file a loader reads, or one sentence saying where it was looked for and what to do."""
    if source is None:
        where = f"under {root}" if root else "(no data.root or NASFRAME_DATA given)"
        raise DataNotFound(f"no {what} table found {where}; point data.root at a folder with {where_to_put}")
    if not source.exists():
        raise DataError(f"benchmark file {source} does not exist; fix benchmark.path or data.root")
    return source


def first_existing(candidates) -> Path | None:
    for c in candidates:
        if c is not None and Path(c).exists():
            return Path(c)
    return None


def nan_array(n: int) -> np.ndarray:
    return np.full(n, np.nan, dtype=np.float64)
