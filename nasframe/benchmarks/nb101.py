"""NAS-Bench-101 tables (CIFAR-10), indexed by NB101's cell fingerprint rather than by a space index.

NB101 has 423,624 cells, too many to make the space ``Enumerable``; the table
rows are the cells the source file holds, and ``NB101Benchmark.index_of(arch)``
finds a cell's row through its ``module_hash`` (kept in the ``module_hash``
column, 32 hex characters).

Readers (all produce columns ``val_acc``, ``test_acc`` in percent, ``train_time``
in seconds, ``params`` in millions, ``runs`` = records averaged; NaN where the
source has no value):

* ``tfrecord``: the official ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord``.
  Each record's data is a JSON list ``[module_hash, epochs, raw_adjacency
  (0/1 digits, row-major), raw_operations (comma-separated), metrics]`` where
  ``metrics`` is a base64 serialized ``nasbench.ModelMetrics`` protobuf
  (``evaluation_data`` = EvaluationData at init, halfway and end of training;
  ``trainable_parameters``). Values are the *final* evaluation of the runs at
  ``epochs`` (default 108), averaged over the repeats (3 per cell).
* ``pickle``: NASLib's TensorFlow-free copy of the same data (``nasbench_only108.pkl``):
  ``{module_hash: (fixed_stats, computed_stats)}`` with fixed_stats
  ``{'module_adjacency', 'module_operations', 'trainable_parameters'}`` and
  computed_stats ``{epochs: [{'final_validation_accuracy', 'final_test_accuracy',
  'final_training_time', ...} per repeat]}``. Unpickled with a restricted
  unpickler (numpy arrays and builtins only).
* ``zc_json``: NASLib's ``zc_nasbench101.json`` ``{"nasbench101": {"cifar10":
  {str(key): {"val_accuracy", "flops", "params", <proxies>...}}}}`` with the
  56-int NASLib key (49 adjacency + 7 op codes). Keys are *unpruned* specs and
  several keys can be the same cell; such records are averaged (each holds one
  randomly sampled repeat). It has validation accuracy only (no test, no time).
* ``csv``: the tabular format ``arch`` (the space's string) plus ``val_acc``
  and optionally ``test_acc``, ``train_time``, ``params``.

The search sees ``val_acc``; ``test_acc`` is report-only.
"""
from __future__ import annotations

import ast
import base64
import csv
import json
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np

from nasframe.benchmarks import KeyedBenchmark, existing_source, first_existing
from nasframe.benchmarks.table import BenchmarkTable, cached
from nasframe.core.evaluator import Objective
from nasframe.errors import ArchitectureError, ConfigError, DataError
from nasframe.spaces.nb101 import NB101Space, module_hash, prune

FILE_NAMES = ("nasbench_only108.tfrecord", "nasbench_full.tfrecord", "nasbench_only108.pkl", "zc_nasbench101.json",
              "nb101.csv")
KEY = "module_hash"
METRICS = ("val_acc", "test_acc", "train_time", "params")
HASH_CHECKS = 200  # cells whose stored hash is re-derived from their spec (catches a wrong hash or layout)


class NB101Benchmark(KeyedBenchmark):
    """Rows by cell fingerprint, not by ``space.index``: looking up needs no ``Enumerable`` space."""

    key_column = KEY

    def row_key(self, arch) -> str:
        return arch.module_hash


# ------------------------------------------------------------------ accumulation


class _Rows:
    """Per-cell lists of metric values, in first-seen order."""

    def __init__(self):
        self.values = {}  # hash -> {metric: [values]}
        self.extra = set()

    def add(self, key: str, **metrics):
        row = self.values.setdefault(key, defaultdict(list))
        for k, v in metrics.items():
            if v is not None:
                row[k].append(float(v))
                if k not in METRICS:
                    self.extra.add(k)

    def table(self, fmt: str) -> BenchmarkTable:
        if not self.values:
            raise DataError("the NB101 source holds no cells at the requested epochs; the file is empty, "
                            "truncated or for other epochs")
        keys = list(self.values)
        cols = {}
        for name in (*METRICS, *sorted(self.extra)):
            cols[name] = np.array([np.mean(self.values[k][name]) if self.values[k].get(name) else np.nan
                                   for k in keys], dtype=np.float64)
        cols["runs"] = np.array([max((len(v) for v in self.values[k].values()), default=0) for k in keys],
                                dtype=np.float64)
        cols[KEY] = np.array(keys, dtype="S32")
        return BenchmarkTable("nb101", len(keys), cols, {"format": fmt, "rows": len(keys)})


def _check_hash(path: Path, stored: str, matrix, ops) -> None:
    pruned = prune(np.asarray(matrix).tolist(), list(ops))
    if pruned is None or module_hash(*pruned) != stored:
        raise DataError(f"{path}: the cell stored under hash {stored} does not hash to it; the file is not "
                        "in the NB101 layout this reader knows")


# ------------------------------------------------------------------ readers


def _decode_metrics(blob: bytes) -> tuple[dict, int | None]:
    """The final EvaluationData (the last of ``evaluation_data``) and ``trainable_parameters`` of a ModelMetrics."""
    from nasframe.benchmarks.tfrecord import as_double, as_int32, iter_fields

    names = {1: "current_epoch", 2: "training_time", 3: "train_accuracy", 4: "validation_accuracy",
             5: "test_accuracy"}
    last, params = None, None
    for fnum, wire, value in iter_fields(blob):
        if fnum == 1 and wire == 2:
            last = value  # only the final evaluation is used: decode it alone
        elif fnum == 2 and wire == 0:
            params = as_int32(value)
    final = {}
    for fnum, wire, value in iter_fields(last or b""):
        if fnum in names and wire == 1:
            final[names[fnum]] = as_double(value)
    return final, params


def read_tfrecord(space, path: Path, epochs: int = 108, verify: bool = True) -> BenchmarkTable:
    from tqdm import tqdm

    from nasframe.benchmarks.tfrecord import iter_records

    rows, checked, seen_epochs = _Rows(), 0, set()
    with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"reading {path.name}",
              disable=path.stat().st_size < (64 << 20)) as bar:
        for n, data in enumerate(iter_records(path, verify=verify, progress=bar.update)):
            try:
                key, ep, raw_adj, raw_ops, raw_metrics = json.loads(data.decode("utf-8"))
                final, params = _decode_metrics(base64.b64decode(raw_metrics))
            except (ValueError, TypeError, UnicodeDecodeError) as e:
                raise DataError(f"{path}, record {n}: not an NB101 record ({e}); expected the official "
                                "nasbench_*.tfrecord") from None
            seen_epochs.add(int(ep))
            if int(ep) != epochs:
                continue
            if key not in rows.values and checked < HASH_CHECKS:
                dim = int(round(len(raw_adj) ** 0.5))
                _check_hash(path, key, np.array([int(c) for c in raw_adj]).reshape(dim, dim), raw_ops.split(","))
                checked += 1
            rows.add(key, val_acc=_pct(final.get("validation_accuracy")), test_acc=_pct(final.get("test_accuracy")),
                     train_time=final.get("training_time"), params=None if params is None else params / 1e6)
    if not rows.values and seen_epochs:
        raise DataError(f"{path} has no runs of {epochs} epochs (it has {sorted(seen_epochs)}); "
                        f"set epochs to one of those")
    return rows.table("tfrecord")


class _SafeUnpickler(pickle.Unpickler):
    """Only what NASLib's NB101 pickle needs: numpy arrays/scalars (and builtin containers)."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("builtins", "set"), ("builtins", "frozenset")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_pickle(space, path: Path, epochs: int = 108) -> BenchmarkTable:
    try:
        with open(path, "rb") as f:
            data = _SafeUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as e:
        raise DataError(f"{path} is not NASLib's NB101 pickle ({e}); expected nasbench_only108.pkl") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} is not NASLib's NB101 pickle: expected a dict hash -> (fixed, computed) stats")
    rows, seen_epochs = _Rows(), set()
    for n, (key, stats) in enumerate(data.items()):
        try:
            fixed, computed = stats
            seen_epochs.update(computed)
            runs = computed.get(epochs, [])
            if n < HASH_CHECKS:
                _check_hash(path, key, fixed["module_adjacency"], fixed["module_operations"])
            params = fixed.get("trainable_parameters")
            for run in runs:
                rows.add(key, val_acc=_pct(run.get("final_validation_accuracy")),
                         test_acc=_pct(run.get("final_test_accuracy")), train_time=run.get("final_training_time"),
                         params=None if params is None else params / 1e6)
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise DataError(f"{path}: entry {key!r} is not in NASLib's NB101 layout ({e!r})") from None
    if not rows.values and seen_epochs:
        raise DataError(f"{path} has no runs of {epochs} epochs (it has {sorted(seen_epochs)}); "
                        f"set epochs to one of those")
    return rows.table("pickle")


def read_zc_json(space, path: Path) -> BenchmarkTable:
    try:
        with open(path) as f:
            doc = json.load(f)
        records = doc["nasbench101"]["cifar10"]
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path} is not NASLib's zc_nasbench101.json (expected "
                        f"{{'nasbench101': {{'cifar10': {{...}}}}}}; {e!r})") from None
    rows = _Rows()
    for key, rec in records.items():
        try:
            arch = space.from_naslib(ast.literal_eval(key))
        except (ValueError, SyntaxError, ArchitectureError) as e:
            raise DataError(f"{path}: key {key[:40]}... is not a valid NB101 cell ({e})") from None
        metrics = {k: v for k, v in rec.items() if isinstance(v, (int, float)) and k != "val_accuracy"}
        rows.add(arch.module_hash, val_acc=rec.get("val_accuracy"), **metrics)
    return rows.table("zc_json")


def read_csv(space, path: Path) -> BenchmarkTable:
    rows = _Rows()
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            if "arch" not in header or "val_acc" not in header:
                raise DataError(f"{path} is not an NB101 table: it needs 'arch' and 'val_acc' columns "
                                f"(has {', '.join(header[:8])})")
            for line, row in enumerate(reader, start=2):
                try:
                    arch = space.parse(row["arch"])
                    rows.add(arch.module_hash, **{m: float(row[m]) for m in METRICS if row.get(m) not in (None, "")})
                except (ArchitectureError, ValueError) as e:
                    raise DataError(f"{path}, line {line}: {e}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path} is not a readable CSV file ({e})") from None
    return rows.table("csv")


def _pct(v):
    return None if v is None else 100.0 * float(v)


SUFFIXES = {".tfrecord": "tfrecord", ".pkl": "pickle", ".pickle": "pickle", ".json": "zc_json", ".csv": "csv"}


def detect_format(path: Path) -> str:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"cannot tell which NB101 format {path} is; supported: the official .tfrecord, NASLib's "
                        ".pkl and zc_nasbench101.json, and a CSV with 'arch' and 'val_acc' columns")
    return fmt


def locate(root: Path | None) -> Path | None:
    if root is None:
        return None
    return first_existing([d / n for n in FILE_NAMES for d in (root / "nasbench101", root)])


def load(space, dataset: str | None = None, root: Path | None = None, path: Path | None = None,
         use_cache: bool = True, epochs: int = 108, verify: bool = True, **_) -> NB101Benchmark:
    if (dataset or "cifar10").lower() not in ("cifar10", "cifar10-valid"):
        raise ConfigError(f"NB101 has CIFAR-10 results only, got dataset '{dataset}'")
    if not isinstance(space, NB101Space):
        raise ConfigError(f"the NB101 benchmark needs space 'nb101', got '{getattr(space, 'name', space)}'")
    source = path or locate(root)
    source = existing_source(source, root, "NB101", f"nasbench101/{FILE_NAMES[0]} (or {', '.join(FILE_NAMES[1:])}) "
                                                    "or benchmark.path at one of them")
    fmt = detect_format(source)
    readers = {"tfrecord": lambda: read_tfrecord(space, source, epochs, verify),
               "pickle": lambda: read_pickle(space, source, epochs),
               "zc_json": lambda: read_zc_json(space, source),
               "csv": lambda: read_csv(space, source)}
    kind = f"nb101-{fmt}" + (f"-e{epochs}" if fmt in ("tfrecord", "pickle") else "")
    table = cached(source, kind, readers[fmt], use_cache=use_cache)
    has = lambda c: c in table.columns and not np.isnan(table.columns[c]).all()  # noqa: E731
    how = "mean over the file's runs" if fmt != "csv" else "as given"
    objective = Objective("val_acc", "max", "%", f"NB101 CIFAR-10 validation accuracy ({how})")
    return NB101Benchmark(table, objective, "val_acc", {"test_acc": "test_acc"} if has("test_acc") else {},
                          "train_time" if has("train_time") else None, "cifar10")
