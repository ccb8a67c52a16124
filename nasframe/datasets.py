"""Input images for data-dependent proxies and Eproxy.

If ``root`` holds the standard CIFAR python-pickle batches
(``cifar-10-batches-py/data_batch_{1..5}`` or ``cifar-100-python/train``,
directly or under ``root/cifar``), a batch is drawn from the training split.
Otherwise the batch is synthetic: deterministic, seeded images with some
spatial structure (a smooth 8x8 field upsampled plus pixel noise, so nearby
pixels correlate as in natural images) and uniform random labels. Either way
``ImageBatch.source`` says which was used, for the run summary.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from nasframe.errors import DataError

# Normalisation of the zero-cost reference (§2.2) and of Eproxy (§3.3).
CIFAR_MEAN_ZC = (0.4914, 0.4822, 0.4465)
CIFAR_STD_ZC = (0.2023, 0.1994, 0.2010)
CIFAR_MEAN_EPROXY = (0.49140, 0.48216, 0.44653)
CIFAR_STD_EPROXY = (0.24703, 0.24349, 0.26159)

_LAYOUTS = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], b"labels", 10),
    "cifar100": ("cifar-100-python", ["train"], b"fine_labels", 100),
}


@dataclass(frozen=True)
class ImageBatch:
    x: torch.Tensor  # [N, 3, H, W] float32, normalised
    y: torch.Tensor  # [N] int64
    num_classes: int
    source: str  # human-readable: which data, which seed

    @property
    def synthetic(self) -> bool:
        return self.source.startswith("synthetic")


def find_cifar(root, dataset: str) -> Path | None:
    """The folder holding the official CIFAR batches for ``dataset`` under ``root``, if any."""
    if root is None or dataset not in _LAYOUTS:
        return None
    folder, files, _, _ = _LAYOUTS[dataset]
    for cand in (Path(root) / folder, Path(root) / "cifar" / folder):
        if all((cand / f).is_file() for f in files):
            return cand
    return None


def read_cifar_train(folder: Path, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """All training images as uint8 [N, 3, 32, 32] and labels as int64 [N]."""
    _, files, label_key, _ = _LAYOUTS[dataset]
    xs, ys = [], []
    for name in files:
        path = folder / name
        try:
            with open(path, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[label_key], dtype=np.int64))
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as e:
            raise DataError(f"{path} is not a readable CIFAR python batch ({e}); re-download "
                            f"the python version of {dataset} and unpack it there") from None
    return np.concatenate(xs), np.concatenate(ys)


def augment(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """RandomCrop(size, padding=pad) + RandomHorizontalFlip, seeded."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offs = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen)
    flips = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        dy, dx = int(offs[i, 0]), int(offs[i, 1])
        img = padded[i, :, dy:dy + h, dx:dx + w]
        out[i] = img.flip(-1) if flips[i] else img
    return out


def synthetic_images(n: int, shape=(3, 32, 32), num_classes: int = 10, seed: int = 0) -> tuple:
    gen = torch.Generator().manual_seed(int(seed))
    c, h, w = shape
    coarse = torch.randn((n, c, max(h // 4, 1), max(w // 4, 1)), generator=gen)
    x = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    x = x + 0.3 * torch.randn((n, c, h, w), generator=gen)
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True)
    y = torch.randint(0, num_classes, (n,), generator=gen)
    return x, y


def image_batch(root=None, dataset: str = "cifar10", n: int = 64, seed: int = 0, shape=(3, 32, 32),
                num_classes: int | None = None, normalisation: str = "zc", do_augment: bool = True) -> ImageBatch:
    """One training batch of ``n`` images: real CIFAR when found under ``root``, else synthetic."""
    key = dataset if dataset in _LAYOUTS else "cifar10"  # tasks without CIFAR (TransNAS) use CIFAR-10 images
    folder = find_cifar(root, key) if tuple(shape) == (3, 32, 32) else None
    classes = num_classes or _LAYOUTS[key][3]
    if folder is None:
        x, y = synthetic_images(n, shape, classes, seed)
        why = "no CIFAR python batches under data.root" if tuple(shape) == (3, 32, 32) else f"input {shape}"
        return ImageBatch(x, y, classes, f"synthetic images (seed {seed}; {why})")
    images, labels = read_cifar_train(folder, key)
    gen = torch.Generator().manual_seed(int(seed))
    idx = torch.randperm(len(images), generator=gen)[:n]
    x = torch.from_numpy(images[idx.numpy()]).float() / 255.0
    if do_augment:
        x = augment(x, gen)
    mean, std = (CIFAR_MEAN_ZC, CIFAR_STD_ZC) if normalisation == "zc" else (CIFAR_MEAN_EPROXY, CIFAR_STD_EPROXY)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    y = torch.from_numpy(labels[idx.numpy()])
    if num_classes is not None and num_classes != _LAYOUTS[key][3]:
        y = y % num_classes
    return ImageBatch(x, y, classes, f"{key} training images from {folder} (seed {seed})")
