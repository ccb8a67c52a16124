"""Issue 2 acceptance: params and FLOPs of our NB201 networks against the
NAS-Bench-Suite-Zero columns of ``nasbench201/nb201_zc_proxies.csv`` (9,445
de-duplicated nets, CIFAR-10 input).

    nice -n 5 python experiments/check_nb201_complexity.py --data ../shared/data [--limit N]

* ``params``: ``NB201Space.params`` (trainable parameters of the built
  network, millions) against the CSV ``params`` column.
* ``flops``: the CSV column was produced by tensorwatch's torchstat counter
  (NASLib's ``flops`` measure), which also counts BN, ReLU and pooling, leaves
  out the classifier bias and adds one row and column to the adaptive-pool
  window. Our counter's ``"torchstat"`` convention must reproduce it exactly;
  our default ``"macs"`` convention (``NB201Space.flops``, the NB201 API's
  conv + linear count) is reported next to it together with the difference.
"""
import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from tqdm import tqdm

from nasframe.spaces.flops import count_macs
from nasframe.spaces.nb201 import NB201Space


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--limit", type=int, default=None, help="check only the first N rows")
    p.add_argument("--tol", type=float, default=1e-4, help="match tolerance (millions)")
    a = p.parse_args()

    torch.set_num_threads(1)
    rows = list(csv.DictReader(open(Path(a.data) / "nasbench201" / "nb201_zc_proxies.csv")))[: a.limit]
    space = NB201Space()
    shape = space.input_shape("cifar10")
    ours_params, ours_ts, ours_macs, ref_params, ref_flops = [], [], [], [], []
    t0 = time.perf_counter()
    for r in tqdm(rows, desc="nb201 nets", unit="net"):
        arch = space.parse(r["net_str"])
        net = space.build(arch, "cifar10")
        ours_params.append(sum(q.numel() for q in net.parameters() if q.requires_grad) / 1e6)
        ours_ts.append(count_macs(net, shape, "torchstat") / 1e6)
        ours_macs.append(count_macs(net, shape, "macs") / 1e6)
        ref_params.append(float(r["params"]))
        ref_flops.append(float(r["flops"]))
    wall = time.perf_counter() - t0
    ours_params, ours_ts, ours_macs, ref_params, ref_flops = map(
        np.asarray, (ours_params, ours_ts, ours_macs, ref_params, ref_flops))

    # spot-check that the space's own methods give the numbers checked above
    for i in np.linspace(0, len(rows) - 1, min(5, len(rows))).astype(int):
        arch = space.parse(rows[i]["net_str"])
        assert abs(space.params(arch, "cifar10") - ours_params[i]) < 1e-9
        assert abs(space.flops(arch, "cifar10") - ours_macs[i]) < 1e-9

    n = len(rows)
    print(f"\n{n} NB201 nets from nb201_zc_proxies.csv, CIFAR-10 input, {wall:.0f} s ({wall / n * 1e3:.0f} ms/net)")

    def line(name, ours, ref):
        err = np.abs(ours - ref)
        print(f"  {name:<44} max |err| = {err.max():.3g}   match (<= {a.tol:g}): {int((err <= a.tol).sum())}/{n}")

    line("params (NB201Space.params)", ours_params, ref_params)
    line("flops, torchstat convention", ours_ts, ref_flops)
    line("flops, default macs convention (NB201 API)", ours_macs, ref_flops)
    diff = ref_flops - ours_macs
    print(f"  csv flops - macs flops: min {diff.min():.6f}, max {diff.max():.6f} MFLOPs "
          f"(BN, ReLU, pooling and the adaptive-pool/linear-bias quirks of torchstat)")
    rho = spearmanr(ours_macs, ref_flops).statistic
    print(f"  Spearman(macs, csv flops) = {rho:.5f}")


if __name__ == "__main__":
    main()
