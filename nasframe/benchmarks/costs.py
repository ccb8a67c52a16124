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

import csv
from pathlib import Path

import numpy as np

from nasframe.benchmarks import data_root, first_existing, nan_array
from nasframe.benchmarks.table import BenchmarkTable, cached
from nasframe.errors import DataError, DataNotFound

HW_DATASETS = {"cifar10": "hw_cifar10.csv", "cifar100": "hw_cifar100.csv"}


def read_hw_csv(space, path: Path) -> BenchmarkTable:
    n = len(space)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            if "net" not in header or len(header) < 2:
                raise DataError(f"{path} is not an HW-NAS-Bench table: it needs a 'net' column and metric "
                                f"columns (found: {', '.join(header[:8]) or 'nothing'})")
            metrics = [h for h in header if h != "net"]
            cols = {m: nan_array(n) for m in metrics}
            seen = 0
            for line, row in enumerate(reader, start=2):
                try:
                    i = space.index(space.from_naslib(row["net"]))
                    for m in metrics:
                        cols[m][i] = float(row[m]) if row[m] not in ("", None) else np.nan
                except (ValueError, TypeError) as e:
                    raise DataError(f"{path}, line {line}: {e}; the file is damaged, re-download it") from None
                seen += 1
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path} is not a readable CSV file ({e}); re-download it") from None
    if seen == 0:
        raise DataError(f"{path} holds no architectures; the file is empty or truncated")
    return BenchmarkTable("hw-nasbench-nb201", n, cols, {"format": "hw-csv", "rows": seen})


def locate(root, dataset: str) -> Path | None:
    if root is None or dataset not in HW_DATASETS:
        return None
    name = HW_DATASETS[dataset]
    return first_existing([Path(root) / "nasbench201" / name, Path(root) / name])


def load_costs(space, dataset: str | None, root=None, path=None, use_cache: bool = True) -> BenchmarkTable:
    """The HW-NAS-Bench table of an NB201 space for ``dataset`` (cifar10 or cifar100)."""
    from nasframe.spaces.nb201 import resolve_dataset

    if getattr(space, "name", None) != "nb201":
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
