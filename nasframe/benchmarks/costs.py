"""HW-NAS-Bench hardware costs for NAS-Bench-201 cells.

The tabular files (``nasbench201/hw_cifar10.csv``, ``hw_cifar100.csv``) hold
one row per cell: ``net`` (the NASLib op tuple) and one column per hardware
metric (``edgegpu_latency``, ``edgegpu_energy``, ``raspi4_latency``,
``edgetpu_latency``, ``pixel3_latency``, ``eyeriss_latency``,
``eyeriss_energy``, ``eyeriss_arithmetic_intensity``, ``fpga_latency``,
``fpga_energy``). They are converted once into a ``BenchmarkTable`` indexed
by the space's official index and cached like every other table.

NASLib op tuple: six ops over the edges (1->2), (1->3), (1->4), (2->3),
(2->4), (3->4) with 0=skip_connect, 1=none, 2=nor_conv_3x3, 3=nor_conv_1x1,
4=avg_pool_3x3; the official string is ``|e0~0|+|e1~0|e3~1|+|e2~0|e4~1|e5~2|``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nasframe.benchmarks import data_root, first_existing, nan_array
from nasframe.benchmarks.table import BenchmarkTable, cached, csv_rows, parse_float
from nasframe.core.space import NASLibKeyed
from nasframe.errors import ArchitectureError, DataError, DataNotFound

HW_DATASETS = {"cifar10": "hw_cifar10.csv", "cifar100": "hw_cifar100.csv"}


def arch_of_key(space, text: str, where: str):
    """The architecture a cost CSV's key cell names: a canonical string of ``space`` or, when the space
    is ``NASLibKeyed``, NASLib's key (HW-NAS-Bench writes NB201 op tuples like "(4, 3, 3, 0, 0, 0)")."""
    try:
        return space.parse(text)
    except ArchitectureError:
        pass
    if isinstance(space, NASLibKeyed):
        try:
            return space.from_naslib(text)
        except ValueError as e:
            raise DataError(f"{where}: {e}; the file is damaged, re-download it") from None
    raise DataError(f"{where}: '{text}' is not an architecture string of space '{space.name}'")


def read_cost_csv(space, path: Path, columns=None, key: str = "net") -> tuple[list, dict[str, np.ndarray]]:
    """The one reader of per-architecture cost CSVs: (architectures in file order, {column: values}).

    ``columns=None`` reads every column but ``key``; empty cells are NaN; a bad
    cell, a missing column or a file that is not CSV is a ``DataError`` naming it.
    """
    archs, values = [], []
    with csv_rows(path, "a cost", key=key) as (header, rows):
        metrics = [h for h in header if h != key] if columns is None else list(columns)
        missing = [c for c in metrics if c not in header]
        if missing or not metrics:
            raise DataError(f"{path} has no column {', '.join(missing) or '(none besides ' + key + ')'}; "
                            f"its columns are {', '.join(header)}")
        for line, row in rows:
            where = f"{path}, line {line}"
            archs.append(arch_of_key(space, row[key], where))
            values.append([parse_float(row[m], where) for m in metrics])
    if not archs:
        raise DataError(f"{path} holds no architectures; the file is empty or truncated")
    table = np.asarray(values, dtype=np.float64).reshape(len(archs), len(metrics))
    return archs, {m: table[:, j] for j, m in enumerate(metrics)}


def read_hw_csv(space, path: Path) -> BenchmarkTable:
    """An HW-NAS-Bench file as a table indexed like the space (cells it lacks are NaN)."""
    archs, columns = read_cost_csv(space, path)
    index = np.array([space.index(a) for a in archs], dtype=np.int64)
    cols = {}
    for m, v in columns.items():
        cols[m] = nan_array(len(space))
        cols[m][index] = v
    return BenchmarkTable("hw-nasbench-nb201", len(space), cols, {"format": "hw-csv", "rows": len(archs)})


def locate(root, dataset: str) -> Path | None:
    if root is None or dataset not in HW_DATASETS:
        return None
    name = HW_DATASETS[dataset]
    return first_existing([Path(root) / "nasbench201" / name, Path(root) / name])


def load_costs(space, dataset: str | None, root=None, path=None, use_cache: bool = True) -> BenchmarkTable:
    """The HW-NAS-Bench table of an NB201 space for ``dataset`` (cifar10 or cifar100)."""
    from nasframe.spaces.nb201 import resolve_dataset

    if space.name != "nb201":  # HW-NAS-Bench measured NB201 cells only
        raise DataNotFound(f"hardware cost tables exist for the nb201 space only, not '{space.name}'; "
                           "use flops or params as the cost objective")
    ds = resolve_dataset(dataset)
    source = Path(path).expanduser() if path else locate(data_root(root), ds)
    if source is None:
        raise DataNotFound(f"no HW-NAS-Bench table for {ds} found under {data_root(root) or '(no data.root)'}; "
                           f"put nasbench201/{HW_DATASETS.get(ds, 'hw_cifar10.csv')} under data.root "
                           "(HW-NAS-Bench covers cifar10 and cifar100 here)")
    if not source.exists():
        raise DataError(f"HW-NAS-Bench file {source} does not exist; fix the cost table path")
    return cached(source, "hw-nb201", lambda: read_hw_csv(space, source), use_cache=use_cache)
