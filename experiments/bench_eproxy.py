"""CPU cost of Eproxy per NB201 architecture, next to baselines measured in the same run.

    nice -n 5 python experiments/bench_eproxy.py --n 5 --threads 2

For ``n`` random NB201 archs: Eproxy (base genome: 10 SGD steps on 16 images,
3x3 head to 512 channels, 3x3 barrier to 64), and as baselines synflow (one
float64 forward/backward on one sample) and the backbone's own 10 plain SGD
steps with cross-entropy on the same 16 images (what Eproxy costs without its
heads). The target of the Eproxy issue is <= 1.5 s per arch on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from torch.nn import functional as F

from nasframe.evaluators.eproxy import EproxyEvaluator
from nasframe.evaluators.zerocost import ZeroCostEvaluator, build_network
from nasframe.spaces.nb201 import NB201Space


def plain_steps(space, arch, x, y, steps=10) -> float:
    t0 = time.perf_counter()
    net = build_network(space, arch, "cifar10", "zc")
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    space = NB201Space()
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.n)]
    ep = EproxyEvaluator(space)
    zc = ZeroCostEvaluator(space, "synflow")
    x = ep.images.x
    y = torch.randint(0, 10, (x.shape[0],), generator=torch.Generator().manual_seed(0))
    ep.score(archs[0])  # warm-up (targets, MACs_max)
    ep._cache.clear()
    rows = []
    for a in archs:
        e = ep.score(a)[1]
        s = zc.raw(a, "synflow")[1]
        p = plain_steps(space, a, x, y)
        rows.append((e, s, p))
        print(f"{a}: eproxy {e:.2f} s  synflow {s:.2f} s  plain 10 steps {p:.2f} s", flush=True)
    e, s, p = np.array(rows).mean(axis=0)
    load = os.getloadavg()[0]
    print(f"\nmean over {args.n} archs, torch threads {args.threads}, {os.cpu_count()} CPUs, load avg {load:.1f}:")
    print(f"  eproxy {e:.2f} s/arch (target <= 1.5)   synflow {s:.2f} s/arch   "
          f"backbone 10 plain SGD steps {p:.2f} s/arch   eproxy/plain {e / p:.2f}x")


if __name__ == "__main__":
    main()
