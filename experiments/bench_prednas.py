"""Cost of one 70-query PredNAS run on NB201 (target: <= 60 s on 2 cores), next to REA in the same process.

    python experiments/bench_prednas.py --root ../shared/data [--repeats 1]

The machine may be shared, so the ratio PredNAS / REA is printed as well as
the wall and CPU seconds (process CPU time is less sensitive to other load).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from nasframe.api import search


def timed(overrides, root):
    t, c = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as d:
        r = search(["space=nb201", "budget.queries=70", f"data.root={root}", *overrides], out_dir=d,
                   progress=False, plot=False)
    return time.perf_counter() - t, time.process_time() - c, r.summary["report"]["test_acc"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"cores visible: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    timed(["strategy=rea"], args.root)  # warm-up: table cache, imports
    rows = []
    for i in range(args.repeats):
        for name in ("rea", "prednas"):
            wall, cpu, acc = timed([f"strategy={name}", f"seed={i}"], args.root)
            rows.append((name, wall, cpu))
            print(f"{name:8s} seed {i}: wall {wall:6.1f} s, cpu {cpu:6.1f} s, test acc {acc:.2f}", flush=True)
    mean = lambda n, j: sum(r[j] for r in rows if r[0] == n) / args.repeats  # noqa: E731
    print(f"\nPredNAS 70 queries: wall {mean('prednas', 1):.1f} s (target <= 60 s), cpu {mean('prednas', 2):.1f} s; "
          f"REA: wall {mean('rea', 1):.1f} s, cpu {mean('rea', 2):.1f} s; "
          f"ratio PredNAS/REA wall {mean('prednas', 1) / mean('rea', 1):.1f}x, "
          f"cpu {mean('prednas', 2) / mean('rea', 2):.1f}x; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
