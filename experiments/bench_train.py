"""Throughput of evaluator=train against a plain PyTorch loop, in the same process.

    nice -n 10 python experiments/bench_train.py [--images 512] [--batch 256] [--repeats 2]

Both loops train the same NB201 network (same initial weights) on the same
images with the same batch, optimiser and thread count; the evaluator's loop
also does its random crop + flip, the plain loop (a TensorDataset of normalised
images through torch's DataLoader) does none, so the ratio bounds the
evaluator's overhead from above. Runs alternate and the best of ``--repeats``
is kept, which is what a loaded machine lets one compare. Then, for three NB201
cells, the evaluator's images/s and the per-epoch seconds that implies for
NB201's CIFAR-10 search epoch (25,000 training images: cifar10-valid's half of the training set).

The data are random images in the CIFAR-10 python layout, written to a temporary folder.
"""
from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from nasframe.evaluators.train import TrainEvaluator
from nasframe.spaces.nb201 import NB201Space

CELLS = {
    "heavy (all 3x3 convs)": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "NB201 best CIFAR-10": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "light (1x1 conv, pool, skip)": "|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|",
}
NB201_EPOCH_IMAGES = 25_000


def write_cifar10(root: Path, per_batch: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = per_batch if name != "test_batch" else 64
        d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": rng.integers(0, 10, n).tolist()}
        (folder / name).write_bytes(pickle.dumps(d))


def plain_epoch(ev: TrainEvaluator, arch, loader) -> float:
    model = ev.new_model(arch)
    opt, sched = ev._optimiser(model, len(loader))
    model.train()
    t0 = time.perf_counter()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return time.perf_counter() - t0


def evaluator_epoch(ev: TrainEvaluator, arch) -> float:
    model = ev.new_model(arch)
    opt, sched = ev._optimiser(model, ev.steps_per_epoch())
    t0 = time.perf_counter()
    ev.train_epoch(model, opt, sched, None, 0)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=512, help="training images per epoch")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the usable cores)")
    a = p.parse_args()
    space = NB201Space()
    with tempfile.TemporaryDirectory() as tmp:
        write_cifar10(Path(tmp), per_batch=2 * a.images // 5 + 1)  # cifar10-valid trains on half of 5 batches
        ev = TrainEvaluator(space, dataset="cifar10", root=tmp, epochs=1, batch_size=a.batch, device="cpu",
                            threads=a.threads, checkpoint=False)
    torch.set_num_threads(ev.threads)
    n = len(ev.data.train[1])
    t = ev.tensors()
    x = (t["train"][0].float() / 255.0 - t["mean"]) / t["std"]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, t["train"][1]), batch_size=a.batch,
                                         shuffle=True, generator=torch.Generator().manual_seed(0))
    print(f"CPU, {ev.threads} torch threads, {n} images of 3x32x32 per epoch, batch {a.batch} "
          f"(timings on a shared, loaded machine: compare the ratios)")
    arch = space.parse(CELLS["NB201 best CIFAR-10"])
    plain, ours = [], []
    for _ in range(a.repeats):
        plain.append(plain_epoch(ev, arch, loader))
        ours.append(evaluator_epoch(ev, arch))
    rp, ro = n / min(plain), n / min(ours)
    print(f"\nNB201 best CIFAR-10 cell: plain PyTorch loop {rp:7.1f} img/s | evaluator=train {ro:7.1f} img/s "
          f"| ratio {ro / rp:.3f} (goal >= 0.9)")
    print(f"\n{'cell':32s} {'img/s':>8s} {'s / NB201 CIFAR-10 epoch (25,000 images)':>42s}")
    for name, text in CELLS.items():
        best = min(evaluator_epoch(ev, space.parse(text)) for _ in range(a.repeats))
        rate = n / best
        print(f"{name:32s} {rate:8.1f} {NB201_EPOCH_IMAGES / rate:42.0f}")


if __name__ == "__main__":
    main()
