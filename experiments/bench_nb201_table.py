"""NB201 table: load time, lookup time and memory, each next to a baseline measured in the same run.

    nice -n 5 python experiments/bench_nb201_table.py [--data ../shared/data] [--lookups 50000]

Figures (targets from the issue):
* cold load: the CSV read and converted, written to an empty cache; baseline:
  ``csv`` module into a dict of dicts (arch string -> column -> float).
* cached load (target <= 0.3 s): ``nb201.load`` from the ``.npz`` cache
  (including the SHA-256 of the source that keys the cache); median of repeats.
* lookup (target <= 2 us, CPU time per call, best of 5 passes): ``BenchmarkLookup.lookup(arch)`` per architecture;
  baselines: the dict of dicts keyed by ``str(arch)``, and the bare numpy
  read ``column[space.index(arch)]`` (what the lookup costs without building an Evaluation).
* peak RSS growth (target <= 50 MB): peak RSS (VmHWM, reset just before)
  minus RSS before the cached load, each in a fresh child process; baseline:
  the dict of dicts.
* diagnostic rows: building one ``Evaluation`` alone and ``space.index``
  alone (the floor of any lookup that returns an Evaluation), and the lookup
  as proposed for ``nasframe/evaluators/lookup.py`` (columns as Python lists,
  an ``Evaluation`` built directly when the value is finite, ``checked()``
  only for the failure path).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def dict_of_dicts(path: Path) -> dict:
    with open(path, newline="") as f:
        return {r["arch_str"]: {k: float(v) for k, v in r.items() if k not in ("arch_str", "naslib_op_indices")}
                for r in csv.DictReader(f)}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def child(mode: str, data: Path) -> None:
    """Peak RSS growth of one way of loading, in this fresh process (Linux /proc)."""
    from nasframe.benchmarks import nb201
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    space.index(space[0])  # the index permutation is part of the space, not of the table
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS, so imports do not mask the load
    if mode == "table":
        keep = nb201.load(space, "cifar10", root=data)
    else:
        keep = dict_of_dicts(data / "nasbench201" / nb201.CSV_NAME)
    peak = _status_kb("VmHWM")
    print(json.dumps({"growth_mb": (peak - before) / 1024, "held": keep is not None}))


def rss_growth(mode: str, data: Path, env: dict) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--data", str(data)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["growth_mb"]


def per_call_us(fn, items, repeats: int = 5) -> float:
    """Best of ``repeats`` passes, in CPU time of this process: on a shared, oversubscribed machine
    wall time mostly measures waiting for a core."""
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        for x in items:
            fn(x)
        best = min(best, time.process_time() - t)
    return best / len(items) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--lookups", type=int, default=50_000)
    ap.add_argument("--child", choices=["table", "dict"])
    args = ap.parse_args()
    data = Path(args.data)
    if args.child:
        return child(args.child, data)

    cache = tempfile.mkdtemp(prefix="nasframe-bench-cache-")
    os.environ["NASFRAME_CACHE"] = cache  # an empty cache, so the first load is cold
    import numpy as np

    from nasframe.benchmarks import nb201
    from nasframe.core.evaluator import Evaluation
    from nasframe.evaluators.lookup import BenchmarkLookup
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    space.index(space[0])
    csv_path = data / "nasbench201" / nb201.CSV_NAME

    t = time.perf_counter()
    base = dict_of_dicts(csv_path)
    t_dict = time.perf_counter() - t
    t = time.perf_counter()
    bench = nb201.load(space, "cifar10", root=data)
    t_cold = time.perf_counter() - t
    warm = []
    for _ in range(7):
        t = time.perf_counter()
        nb201.load(space, "cifar10", root=data)
        warm.append(time.perf_counter() - t)
    t_warm = statistics.median(warm)

    evaluator = BenchmarkLookup(space, benchmark=bench)
    rng = np.random.default_rng(0)
    archs = [space[int(i)] for i in rng.integers(len(space), size=args.lookups)]
    strings = [str(a) for a in archs]
    col = bench.table.column("cifar10_val")
    us_lookup = per_call_us(evaluator.lookup, archs)
    us_evaluate = per_call_us(lambda a: evaluator.evaluate([a]), archs)
    us_numpy = per_call_us(lambda a: float(col[space.index(a)]), archs)
    us_dict = per_call_us(lambda s: base[s]["cifar10_valid_val_acc_naslib"], strings)
    us_dict_arch = per_call_us(lambda a: base[str(a)]["cifar10_valid_val_acc_naslib"], archs)
    us_evaluation = per_call_us(lambda a: Evaluation({"val_acc": 90.0}, {"test_acc": 91.0}, 0.0, None), archs)
    us_index = per_call_us(space.index, archs)
    # same answers from both
    assert all(evaluator.lookup(a).values["val_acc"] == base[s]["cifar10_valid_val_acc_naslib"]
               for a, s in zip(archs[:1000], strings[:1000]))

    env = dict(os.environ, NASFRAME_CACHE=cache)
    rss_table = rss_growth("table", data, env)
    rss_dict = rss_growth("dict", data, env)

    rows = [
        ("cold load, CSV -> table + cache (s)", f"{t_cold:.3f}", f"{t_dict:.3f} (csv -> dict of dicts)", "-"),
        ("cached load, median of 7 (s)", f"{t_warm:.4f}", f"{t_dict:.3f} (csv -> dict of dicts)", "<= 0.3"),
        ("lookup: BenchmarkLookup.lookup (us)", f"{us_lookup:.2f}", f"{us_dict:.2f} (dict[str])", "<= 2"),
        ("lookup: evaluate([arch]) (us)", f"{us_evaluate:.2f}", f"{us_dict_arch:.2f} (dict[str(arch)])", "-"),
        ("lookup: column[space.index(arch)] (us)", f"{us_numpy:.2f}", f"{us_dict:.2f} (dict[str])", "-"),
        ("  floor: one Evaluation(...) alone (us)", f"{us_evaluation:.2f}", "", "-"),
        ("  space.index(arch) alone (us)", f"{us_index:.2f}", "", "-"),
        ("peak RSS growth, cached load (MB)", f"{rss_table:.1f}", f"{rss_dict:.1f} (dict of dicts)", "<= 50"),
    ]
    print(f"NB201 table ({csv_path}, {len(space)} archs, {args.lookups} lookups, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    widths = [max(len(r[i]) for r in rows + [("measure", "nasframe", "baseline", "target")]) for i in range(4)]
    for r in [("measure", "nasframe", "baseline", "target"), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
