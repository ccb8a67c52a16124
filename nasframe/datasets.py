"""Image datasets: the readers behind ``evaluator=train`` and the data-dependent proxies.

Readers (``load_dataset``) for the layouts as distributed, found under ``root``
directly or under ``root/cifar``:

* CIFAR-10 / CIFAR-100 python batches: ``cifar-10-batches-py/`` or
  ``cifar-100-python/``, or the ``.tar.gz`` as downloaded (read in place);
* ImageNet16-120 as NAS-Bench-201 distributes it: ``ImageNet16/train_data_batch_{1..10}``
  and ``val_data`` (latin-1 pickles, ``data`` rows of 3x16x16 in CHW order,
  1-based ``labels``); the 120-class subset is NB201's: labels 1..120, shifted to 0..119;
* any ImageFolder directory ``<root>/<dataset>/{train,val,test}/<class>/*.png|jpg``
  (``val/`` and ``test/`` optional) read through Pillow, classes in sorted order.

Validation split (recorded in ``ImageDataset.split``): NAS-Bench-201's where it
has one. cifar10 searches on half of the training set (NB201 "cifar10-valid":
train on 25,000, validate on the other 25,000, test on the official test set);
cifar100 and imagenet16-120 train on the whole training set and split the
official test set in halves, ``xvalid`` for validation and ``xtest`` for test.
NB201 fixed those halves in ``configs/nas-benchmark/{cifar-split,
cifar100-test-split,imagenet-16-120-test-split}.txt``; when that file is under
``root`` its halves are used, otherwise a half split seeded by ``split_seed``.
An ImageFolder without ``val/`` (or ``test/``) takes a seeded fraction of ``train/``.

``image_batch`` draws one batch for the proxies: real images when the
dataset's files are under ``root`` (CIFAR-10, CIFAR-100 at 32x32,
ImageNet16-120 at 16x16), else synthetic, deterministic, seeded images with
some spatial structure (a smooth coarse field upsampled plus pixel noise) and
uniform random labels. Either way ``ImageBatch.source`` says which was used,
for the run summary.

Bad data (a missing file, a corrupt pickle, wrong shapes, labels out of range,
a class folder without images) raises one ``DataError`` naming the file.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import tarfile
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
# NAS-Bench-201's training normalisation (AutoDL get_dataset_with_transform), in 0..1 units
NB201_NORM = {
    "cifar10": ((125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
    "cifar100": ((129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
    "imagenet16-120": ((122.68, 116.66, 104.01), (63.22, 61.26, 65.09)),
}

# dataset -> (folder, training files, test files, label key, classes, archive as downloaded)
_LAYOUTS = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                b"labels", 10, "cifar-10-python.tar.gz"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels", 100, "cifar-100-python.tar.gz"),
}
IMAGENET16 = ("ImageNet16", [f"train_data_batch_{i}" for i in range(1, 11)], ["val_data"])
IMAGENET16_CLASSES = 120
# NB201's fixed halves (configs/nas-benchmark/ of AutoDL-Projects): file, key kept for training/val, key for test
NB201_SPLITS = {
    "cifar10": ("cifar-split.txt", "train", "valid"),
    "cifar100": ("cifar100-test-split.txt", "xvalid", "xtest"),
    "imagenet16-120": ("imagenet-16-120-test-split.txt", "xvalid", "xtest"),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_ALIASES = {"cifar10-valid": "cifar10", "imagenet16": "imagenet16-120", "imagenet": "imagenet16-120",
            "imagenet16_120": "imagenet16-120"}


def canonical_name(dataset: str) -> str:
    name = str(dataset).lower()
    return _ALIASES.get(name, name)


@dataclass(frozen=True)
class ImageBatch:
    x: torch.Tensor  # [N, 3, H, W] float32, normalised
    y: torch.Tensor  # [N] int64
    num_classes: int
    source: str  # human-readable: which data, which seed
    sha256: str | None = None  # of the drawn images' uint8 pixels and labels (real images only)

    @property
    def synthetic(self) -> bool:
        return self.source.startswith("synthetic")


@dataclass(frozen=True)
class ImageDataset:
    """Train / validation / test images as uint8 [N, C, H, W] with int64 labels."""

    name: str
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    num_classes: int
    mean: tuple[float, ...]  # per channel, 0..1 units
    std: tuple[float, ...]
    source: str  # which files
    split: str  # how validation and test were obtained

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train[0].shape[1:])

    def describe(self) -> dict:
        return {"dataset": self.name, "source": self.source, "split": self.split,
                "images": {k: len(getattr(self, k)[1]) for k in ("train", "val", "test")},
                "num_classes": self.num_classes, "shape": list(self.shape)}


# ----------------------------------------------------------------- CIFAR


def _candidates(root, name: str) -> list[Path]:
    return [Path(root) / name, Path(root) / "cifar" / name]


def find_cifar(root, dataset: str) -> Path | None:
    """The folder holding the official CIFAR training batches for ``dataset`` under ``root``, if any."""
    if root is None or dataset not in _LAYOUTS:
        return None
    folder, files = _LAYOUTS[dataset][:2]
    for cand in _candidates(root, folder):
        if all((cand / f).is_file() for f in files):
            return cand
    return None


def _find_cifar_archive(root, dataset: str) -> Path | None:
    if root is None or dataset not in _LAYOUTS:
        return None
    return next((c for c in _candidates(root, _LAYOUTS[dataset][5]) if c.is_file()), None)


def _unpickle(raw: bytes, where: str, encoding: str = "bytes") -> dict:
    try:
        d = pickle.loads(raw, encoding=encoding)
    except Exception as e:  # any unpickling failure of a damaged file
        raise DataError(f"{where} is not a readable pickle ({type(e).__name__}: {e}); download it again") from None
    if not isinstance(d, dict):
        raise DataError(f"{where} holds a {type(d).__name__}, not the dict of an image batch; download it again")
    return d


def _images_labels(d: dict, data_key, label_key, side: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    if data_key not in d or label_key not in d:
        raise DataError(f"{where} lacks the '{_text(data_key)}' or '{_text(label_key)}' entry of an image "
                        f"batch; download it again")
    data = np.asarray(d[data_key])
    labels = np.asarray(d[label_key])
    if data.ndim != 2 or data.shape[1] != 3 * side * side or labels.ndim != 1 or len(labels) != len(data):
        raise DataError(f"{where} holds data of shape {data.shape} and {labels.shape} labels, not "
                        f"N x {3 * side * side} images with N labels ({side}x{side} RGB); download it again")
    if data.size and (data.min() < 0 or data.max() > 255):
        raise DataError(f"{where} holds pixel values outside 0..255; download it again")
    return data.astype(np.uint8).reshape(-1, 3, side, side), labels.astype(np.int64)


def _text(key) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def _check_labels(labels: np.ndarray, low: int, high: int, where: str) -> None:
    if len(labels) and (labels.min() < low or labels.max() > high):
        raise DataError(f"{where} has labels in {labels.min()}..{labels.max()}, outside {low}..{high}; "
                        f"the file is damaged or from another dataset")


def _read_cifar_files(dataset: str, names: list[str], folder: Path | None = None,
                      archive: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    sub, _, _, label_key, classes, _ = _LAYOUTS[dataset]
    xs, ys = [], []
    tar = None
    try:
        if archive is not None:
            try:
                tar = tarfile.open(archive, "r:gz")
            except (OSError, tarfile.TarError, EOFError) as e:
                raise DataError(f"{archive} is not a readable .tar.gz ({e}); download it again") from None
        for name in names:
            if tar is not None:
                where = f"{archive}:{sub}/{name}"
                try:
                    member = tar.extractfile(f"{sub}/{name}")
                    raw = member.read() if member is not None else None
                except KeyError:
                    raw = None
                except (OSError, tarfile.TarError, EOFError) as e:
                    raise DataError(f"{where} cannot be read ({e}); download the archive again") from None
                if raw is None:
                    raise DataError(f"{archive} has no {sub}/{name}; it is not the python version of {dataset}")
            else:
                path = folder / name
                where = str(path)
                if not path.is_file():
                    raise DataError(f"{path} is missing; unpack the python version of {dataset} there")
                raw = path.read_bytes()
            x, y = _images_labels(_unpickle(raw, where), b"data", label_key, 32, where)
            _check_labels(y, 0, classes - 1, where)
            xs.append(x)
            ys.append(y)
    finally:
        if tar is not None:
            tar.close()
    return np.concatenate(xs), np.concatenate(ys)


def read_cifar_train(folder: Path, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """All training images as uint8 [N, 3, 32, 32] and labels as int64 [N]."""
    return _read_cifar_files(dataset, _LAYOUTS[dataset][1], folder=Path(folder))


def _cifar_source(root, dataset: str) -> tuple[Path | None, Path | None]:
    """(unpacked folder, archive): the folder when it has every file, else the archive."""
    folder, files, tests = _LAYOUTS[dataset][:3]
    for cand in _candidates(root, folder):
        if all((cand / f).is_file() for f in files + tests):
            return cand, None
    archive = _find_cifar_archive(root, dataset)
    if archive is not None:
        return None, archive
    partial = next((c for c in _candidates(root, folder) if c.is_dir()), None)
    if partial is not None:
        missing = next(f for f in files + tests if not (partial / f).is_file())
        raise DataError(f"{partial / missing} is missing; unpack the python version of {dataset} there again")
    raise DataError(f"no {dataset} python batches under {root} (looked for {folder}/ and "
                    f"{_LAYOUTS[dataset][5]}, also under cifar/); download them or set data.root")


# ----------------------------------------------------------------- ImageNet16-120


def find_imagenet16(root) -> Path | None:
    if root is None:
        return None
    folder, train, val = IMAGENET16
    return next((c for c in _candidates(root, folder) if all((c / f).is_file() for f in train + val)), None)


def read_imagenet16(folder: Path, which: str, classes: int = IMAGENET16_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """``which`` = train | val: the images of labels 1..classes (NB201's subset), labels shifted to 0-based."""
    names = IMAGENET16[1] if which == "train" else IMAGENET16[2]
    xs, ys = [], []
    for name in names:
        path = Path(folder) / name
        if not path.is_file():
            raise DataError(f"{path} is missing; unpack NB201's ImageNet16 files there again")
        x, y = _images_labels(_unpickle(path.read_bytes(), str(path), "latin1"), "data", "labels", 16, str(path))
        _check_labels(y, 1, 1000, str(path))
        keep = y <= classes
        xs.append(x[keep])
        ys.append(y[keep] - 1)
    return np.concatenate(xs), np.concatenate(ys)


# ----------------------------------------------------------------- ImageFolder


def read_image_folder(folder: Path, classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``folder/<class>/*.png|jpg`` as uint8 RGB [N, 3, H, W] (all images the same size)."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    found = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if not found:
        raise DataError(f"{folder} has no class folders; lay it out as {folder.name}/<class>/*.png")
    if classes is not None and set(found) - set(classes):
        extra = sorted(set(found) - set(classes))
        raise DataError(f"{folder} has class folders {extra} that train/ does not have; "
                        f"every split must use the training classes")
    classes = classes or found
    xs, ys, size = [], [], None
    for label, name in enumerate(classes):
        cdir = folder / name
        if not cdir.is_dir():
            continue
        files = sorted(f for f in cdir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{cdir} holds no .png/.jpg images; remove the folder or add its images")
        for f in files:
            try:
                with Image.open(f) as im:
                    arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
            except (OSError, UnidentifiedImageError) as e:
                raise DataError(f"{f} is not a readable image ({e}); replace or remove it") from None
            if size is None:
                size = arr.shape
            elif arr.shape != size:
                raise DataError(f"{f} is {arr.shape[1]}x{arr.shape[0]} but the other images are "
                                f"{size[1]}x{size[0]}; resize the dataset to one size")
            xs.append(arr.transpose(2, 0, 1))
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.int64), classes


def _folder_root(root, dataset: str) -> Path:
    for cand in ([Path(root) / dataset, Path(root)] if root is not None else []):
        if (cand / "train").is_dir():
            return cand
    raise DataError(f"'{dataset}' is not CIFAR-10, CIFAR-100 or ImageNet16-120 and no ImageFolder "
                    f"{dataset}/train/<class>/ was found under {root}; set data.root to the folder holding it")


# ----------------------------------------------------------------- splits


def seeded_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2:])


def _nb201_halves(root, dataset: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """NB201's fixed halves when its split file is under ``root``, else seeded halves."""
    fname, first, second = NB201_SPLITS[dataset]
    cands = [Path(root) / fname, Path(root) / "nas-benchmark" / fname] if root is not None else []
    path = next((c for c in cands if c.is_file()), None)
    if path is None:
        a, b = seeded_halves(n, seed)
        return a, b, f"seeded halves (split_seed {seed}; NB201's {fname} not under data.root)"
    try:
        d = json.loads(path.read_text())
        a, b = (np.asarray(d[k][1] if isinstance(d[k], list) and len(d[k]) == 2 and isinstance(d[k][1], list)
                           else d[k], dtype=np.int64) for k in (first, second))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path} is not NB201's split file ({type(e).__name__}: {e}); download it again") from None
    if len(a) + len(b) != n or len(np.union1d(a, b)) != n or a.min() < 0 or max(a.max(), b.max()) >= n:
        raise DataError(f"{path} does not split {n} images in two disjoint halves; it belongs to another dataset")
    return a, b, f"NB201's {first}/{second} halves from {path.name}"


def _seeded_fraction(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(n * fraction))
    if not 0 < k < n:
        raise DataError(f"a fraction {fraction} of {n} images leaves one side empty; add images or change it")
    return np.sort(perm[k:]), np.sort(perm[:k])


def load_dataset(root, dataset: str, split_seed: int = 0, val_fraction: float = 0.2,
                 test_fraction: float = 0.2) -> ImageDataset:
    """The train / val / test images of ``dataset`` under ``root`` (see the module docstring)."""
    name = canonical_name(dataset)
    if name in _LAYOUTS:
        folder, archive = _cifar_source(root, name)
        files, tests = _LAYOUTS[name][1:3]
        where = folder or archive
        x, y = _read_cifar_files(name, files, folder, archive)
        tx, ty = _read_cifar_files(name, tests, folder, archive)
        mean, std = NB201_NORM[name]
        if name == "cifar10":
            a, b, how = _nb201_halves(root, name, len(y), split_seed)
            train, val, test = (x[a], y[a]), (x[b], y[b]), (tx, ty)
            split = f"cifar10-valid: train on one half of the training set, validate on the other ({how}); " \
                    "test = the official test set"
        else:
            a, b, how = _nb201_halves(root, name, len(ty), split_seed)
            train, val, test = (x, y), (tx[a], ty[a]), (tx[b], ty[b])
            split = f"the whole training set; validation and test = halves of the official test set ({how})"
        return ImageDataset(name, train, val, test, _LAYOUTS[name][4], _unit(mean), _unit(std),
                            f"{name} python batches from {where}", split)
    if name == "imagenet16-120":
        folder = find_imagenet16(root)
        if folder is None:
            missing = _first_missing(root)
            raise DataError(f"{missing} is missing; put NB201's ImageNet16 files "
                            f"(train_data_batch_1..10, val_data) under data.root/ImageNet16")
        x, y = read_imagenet16(folder, "train")
        vx, vy = read_imagenet16(folder, "val")
        a, b, how = _nb201_halves(root, name, len(vy), split_seed)
        mean, std = NB201_NORM[name]
        return ImageDataset(name, (x, y), (vx[a], vy[a]), (vx[b], vy[b]), IMAGENET16_CLASSES, _unit(mean),
                            _unit(std), f"ImageNet16 (120 classes) from {folder}",
                            f"the whole training set; validation and test = halves of val_data ({how})")
    return _load_folder(root, name, dataset, split_seed, val_fraction, test_fraction)


def _first_missing(root) -> Path:
    if root is None:
        return Path("data.root") / IMAGENET16[0]
    folder = next((c for c in _candidates(root, IMAGENET16[0]) if c.is_dir()), Path(root) / IMAGENET16[0])
    return next((folder / f for f in IMAGENET16[1] + IMAGENET16[2] if not (folder / f).is_file()), folder)


def _unit(values) -> tuple[float, ...]:
    return tuple(float(v) / 255.0 for v in values)


def _load_folder(root, name, dataset, split_seed, val_fraction, test_fraction) -> ImageDataset:
    base = _folder_root(root, dataset)
    x, y, classes = read_image_folder(base / "train")
    notes, rest = [], np.arange(len(y))
    parts = {}
    for split, fraction, salt in (("test", test_fraction, 1), ("val", val_fraction, 0)):
        if (base / split).is_dir():
            sx, sy, _ = read_image_folder(base / split, classes)
            if sx.shape[1:] != x.shape[1:]:
                raise DataError(f"{base / split} holds {sx.shape[2]}x{sx.shape[3]} images but train/ holds "
                                f"{x.shape[2]}x{x.shape[3]}; resize the dataset to one size")
            parts[split] = (sx, sy)
            notes.append(f"{split} = {split}/")
        else:
            keep, held = _seeded_fraction(len(rest), fraction, split_seed + salt)
            parts[split] = (x[rest[held]], y[rest[held]])
            rest = rest[keep]
            notes.append(f"{split} = a seeded {fraction:g} of train/ (split_seed {split_seed})")
    train = (x[rest], y[rest])
    pixels = train[0].astype(np.float64) / 255.0
    mean = tuple(float(v) for v in pixels.mean(axis=(0, 2, 3)))
    std = tuple(float(max(v, 1e-6)) for v in pixels.std(axis=(0, 2, 3)))
    return ImageDataset(name, train, parts["val"], parts["test"], len(classes), mean, std,
                        f"ImageFolder {base} ({len(classes)} classes)", "; ".join(notes))


def write_digits(folder, side: int = 32, test_size: float = 0.25, seed: int = 0) -> Path:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download) as an ImageFolder.

    Upscaled (bilinear) to ``side`` x ``side`` RGB PNGs in ``folder/{train,test}/<digit>/``, the
    test share stratified and seeded: real data for smoke tests, demos and small experiments.
    """
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    folder = Path(folder)
    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    train, test = train_test_split(np.arange(len(images)), test_size=test_size, random_state=seed,
                                   stratify=digits.target)
    for split, idx in (("train", train), ("test", test)):
        for i in idx:
            d = folder / split / str(digits.target[i])
            d.mkdir(parents=True, exist_ok=True)
            img = Image.fromarray(images[i]).resize((side, side), Image.BILINEAR).convert("RGB")
            img.save(d / f"{i}.png")
    return folder


# ----------------------------------------------------------------- augmentation


def augment(x: torch.Tensor, gen: torch.Generator, pad: int = 4, flip: bool = True) -> torch.Tensor:
    """RandomCrop(size, padding=pad) + RandomHorizontalFlip of a batch, seeded, without a Python loop."""
    n, c, h, w = x.shape
    offs = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen, device=gen.device).to(x.device)
    flips = (torch.rand(n, generator=gen, device=gen.device) < 0.5).to(x.device) & flip
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (offs[:, 0:1] + torch.arange(h, device=x.device)).view(n, 1, h, 1)
    cols = offs[:, 1:2] + torch.arange(w, device=x.device)
    cols = torch.where(flips.view(n, 1), cols.flip(-1), cols).view(n, 1, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    chan = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, chan, rows, cols]


def synthetic_images(n: int, shape=(3, 32, 32), num_classes: int = 10, seed: int = 0) -> tuple:
    gen = torch.Generator().manual_seed(int(seed))
    c, h, w = shape
    coarse = torch.randn((n, c, max(h // 4, 1), max(w // 4, 1)), generator=gen)
    x = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    x = x + 0.3 * torch.randn((n, c, h, w), generator=gen)
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True)
    y = torch.randint(0, num_classes, (n,), generator=gen)
    return x, y


def proxy_image_folder(root, dataset: str) -> Path | None:
    """The folder ``image_batch`` reads ``dataset``'s real images from (CIFAR-10/100 python batches,
    NB201's ImageNet16 files); None when it would draw synthetic ones."""
    name = canonical_name(dataset)
    return find_imagenet16(root) if name == "imagenet16-120" else find_cifar(root, name)


def _proxy_images(root, key: str, shape) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Training images for the proxies when the dataset's files are under ``root`` (else None)."""
    if key == "imagenet16-120" and tuple(shape) == (3, 16, 16):
        folder = find_imagenet16(root)
        if folder is not None:
            x, y = read_imagenet16(folder, "train")
            return x, y, f"imagenet16-120 training images from {folder}"
    elif key in _LAYOUTS and tuple(shape) == (3, 32, 32):
        folder = find_cifar(root, key)
        if folder is not None:
            x, y = read_cifar_train(folder, key)
            return x, y, f"{key} training images from {folder}"
    return None


def image_batch(root=None, dataset: str = "cifar10", n: int = 64, seed: int = 0, shape=(3, 32, 32),
                num_classes: int | None = None, normalisation: str = "zc", do_augment: bool = True) -> ImageBatch:
    """One training batch of ``n`` images: the dataset's own when found under ``root``, else synthetic.

    ImageNet16-120 batches use NB201's ImageNet16 normalisation; CIFAR batches the
    proxy's (``zc`` or ``eproxy``). Tasks without image files of their own
    (TransNAS) use CIFAR-10 images.
    """
    name = canonical_name(dataset)
    key = name if name in _LAYOUTS or name == "imagenet16-120" else "cifar10"
    classes = num_classes or (IMAGENET16_CLASSES if key == "imagenet16-120" else _LAYOUTS[key][4])
    found = _proxy_images(root, key, shape)
    if found is None:
        x, y = synthetic_images(n, shape, classes, seed)
        files = "ImageNet16 files" if key == "imagenet16-120" else "CIFAR python batches"
        expected = (3, 16, 16) if key == "imagenet16-120" else (3, 32, 32)
        why = f"no {files} under data.root" if tuple(shape) == expected else f"input {shape}"
        return ImageBatch(x, y, classes, f"synthetic images (seed {seed}; {why})")
    images, labels, where = found
    gen = torch.Generator().manual_seed(int(seed))
    idx = torch.randperm(len(images), generator=gen)[:n].numpy()
    drawn = np.ascontiguousarray(images[idx])
    digest = hashlib.sha256(drawn.tobytes() + labels[idx].astype("<i8").tobytes())
    x = torch.from_numpy(drawn).float() / 255.0
    if do_augment:
        x = augment(x, gen, pad=2 if key == "imagenet16-120" else 4)
    if key == "imagenet16-120":
        mean, std = (_unit(v) for v in NB201_NORM[key])
    else:
        mean, std = (CIFAR_MEAN_ZC, CIFAR_STD_ZC) if normalisation == "zc" else (CIFAR_MEAN_EPROXY, CIFAR_STD_EPROXY)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    y = torch.from_numpy(labels[idx])
    if num_classes is not None and num_classes != classes:
        y = y % num_classes
    return ImageBatch(x, y, classes, f"{where} (seed {seed})", digest.hexdigest())
