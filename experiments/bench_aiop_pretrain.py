"""Benchmark: AIO-P backbone pre-training speed on NB201 CIFAR-10 graphs.

Target: all 15,625 graphs, 40 epochs, batch 32, in <= 30 min on 2 cores.
Prints, for the graphs requested (a prefix of the official NB201 order; missing
graphs are built and cached first, timed separately):

* seconds per pre-training epoch (batched: block-diagonal sparse adjacency,
  32 graphs per step) and the projected 40-epoch time for 15,625 graphs;
* the baseline measured in the same run: the same model trained one graph per
  step (no batching), per graph, projected to an epoch;
* the CPU share the process actually had (CPU time / wall time), since the
  machine may be shared.

    python experiments/bench_aiop_pretrain.py --n 15625 --epochs 40
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from nasframe.benchmarks import find_benchmark
from nasframe.graphs import GraphCache
from nasframe.predictors.adapters import AIOPPredictor
from nasframe.predictors.gnn import GNNRegressor, PackedGraphs

FULL = 15625


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--n", type=int, default=FULL, help="NB201 graphs (prefix of the official order)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2, help="processes building missing graphs")
    ap.add_argument("--cached-only", action="store_true", help="use only graphs already in the cache")
    ap.add_argument("--baseline-graphs", type=int, default=200)
    args = ap.parse_args(argv)

    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    cache = GraphCache(space, "cifar10")
    archs = [space[i] for i in range(args.n)]
    if args.cached_only:
        archs = [a for a in archs if a in cache]
    missing = sum(a not in cache for a in archs)
    t0, c0 = time.time(), cpu_seconds()
    graphs = cache.many(archs, workers=args.workers)
    build_wall = time.time() - t0
    if missing:
        print(f"built {missing} missing graphs in {build_wall:.0f} s wall ({build_wall / missing:.3f} s/graph, "
              f"{args.workers} workers)")
    b = find_benchmark(space, "cifar10", root=args.data)
    col = b.table.column(b.value_column)
    y = np.array([col[space.index(a)] for a in archs])
    nodes = np.mean([g.n_nodes for g in graphs])
    print(f"{len(graphs)} graphs, {nodes:.0f} nodes on average")

    # baseline: one graph per step (no batching)
    torch.set_num_threads(1)
    net = GNNRegressor()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    singles = [PackedGraphs([g]).batch() for g in graphs[:args.baseline_graphs]]
    t0 = time.time()
    for bt, target in zip(singles, y[:len(singles)]):
        opt.zero_grad()
        loss = (net(bt) - float(target)) ** 2
        loss.sum().backward()
        opt.step()
    per_graph = (time.time() - t0) / len(singles)

    p = AIOPPredictor(epochs=args.epochs, batch_size=32, seed=0, progress=True, threads=1)
    t0, c0 = time.time(), cpu_seconds()
    p.pretrain(graphs, y)
    wall, cpu = time.time() - t0, cpu_seconds() - c0
    per_epoch = wall / args.epochs
    train_n = len(graphs) - int(round(0.1 * len(graphs)))
    full_epoch = per_epoch * (FULL * 0.9) / train_n
    share = cpu / wall
    print(f"\npre-training: {args.epochs} epochs on {len(graphs)} graphs in {wall:.0f} s wall "
          f"({per_epoch:.2f} s/epoch incl. dev evaluation), CPU share {share:.0%} of one core")
    print(f"projected 40 epochs x {FULL} graphs: {full_epoch * 40 / 60:.1f} min at this CPU share; "
          f"{full_epoch * 40 * share / 60:.1f} min on one dedicated core (target <= 30 min on 2 cores)")
    print(f"baseline (one graph per step): {per_graph * 1000:.1f} ms/graph -> {per_graph * train_n:.0f} s/epoch "
          f"vs batched {per_epoch:.2f} s/epoch ({per_graph * train_n / per_epoch:.1f}x)")
    hist = p.log["pretrain"]["history"]
    print(f"train MSE (scaled) {hist[0]['train_mse']:.3f} -> {hist[-1]['train_mse']:.3f}; "
          f"best dev MSE {p.log['pretrain']['best_dev_mse']:.3f}")


if __name__ == "__main__":
    main()
