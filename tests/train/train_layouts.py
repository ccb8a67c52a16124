"""Tiny datasets written in each official layout, for the reader and training tests."""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def _batch(n, side, classes, label_key, rng, one_based=False):
    data = rng.integers(0, 256, (n, 3 * side * side), dtype=np.uint8)
    labels = rng.integers(1 if one_based else 0, classes + (1 if one_based else 0), n)
    return {"data": data, label_key: [int(v) for v in labels]}


def write_cifar(root: Path, dataset: str = "cifar10", n: int = 8, seed: int = 0, archive: bool = False) -> Path:
    """CIFAR python batches (keys as bytes, as the official pickles hold them)."""
    rng = np.random.default_rng(seed)
    if dataset == "cifar10":
        folder, files, key, classes = "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + [
            "test_batch"], "labels", 10
    else:
        folder, files, key, classes = "cifar-100-python", ["train", "test"], "fine_labels", 100
    blobs = {}
    for f in files:
        d = _batch(n, 32, classes, key, rng)
        blobs[f] = pickle.dumps({k.encode(): v for k, v in d.items()})
    root.mkdir(parents=True, exist_ok=True)
    if archive:
        name = "cifar-10-python.tar.gz" if dataset == "cifar10" else "cifar-100-python.tar.gz"
        with tarfile.open(root / name, "w:gz") as tar:
            for f, raw in blobs.items():
                info = tarfile.TarInfo(f"{folder}/{f}")
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
        return root / name
    (root / folder).mkdir(exist_ok=True)
    for f, raw in blobs.items():
        (root / folder / f).write_bytes(raw)
    return root / folder


def write_imagenet16(root: Path, n: int = 20, seed: int = 0, classes: int = 200) -> Path:
    """NB201's ImageNet16 files: latin-1 pickles with str keys and 1-based labels (some beyond 120)."""
    rng = np.random.default_rng(seed)
    folder = root / "ImageNet16"
    folder.mkdir(parents=True, exist_ok=True)
    for f in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        d = _batch(n, 16, classes, "labels", rng, one_based=True)
        d["labels"][:2] = [1, 120]  # both ends of the 120-class subset are present
        d["labels"][2] = 121  # and one label just outside it
        (folder / f).write_bytes(pickle.dumps(d, protocol=2))
    return folder


def write_image_folder(root: Path, classes=("a", "b", "c"), per_class: int = 4, side: int = 8,
                       splits=("train",), seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split in splits:
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                img = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
                Image.fromarray(img).save(d / f"{i}.png")
    return root

