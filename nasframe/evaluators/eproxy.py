"""``evaluator=eproxy``: Eproxy (Li et al., ICCV 2023), methods §3.2-3.5.

An architecture's backbone (classifier removed) is tapped at up to three
depths, every tap resized to 8x8 (nearest), deepest first. Each used genome
slot i adds a trainable head Conv(k_h) -> ReLU -> BN (ReLU before BN) and a
frozen barrier Conv(k_b) that is never given to the optimiser. The network
regresses fixed synthetic targets ``level_i * Σ_{s in S_i} basis_s`` from one
fixed batch of 16 images for 10 SGD steps (momentum 0.9, weight decay on
conv/linear kernels only); the training loss is the plain branch sum, the
ranking loss the branch sum weighted 1, 1/2, 1/4, taken from iteration t's
forward pass and discounted by (1 - α·MACs/MACs_max). The score is
-(ranking loss at iteration 10), higher is better.

Targets: the five bases (net, wave_l, wave_m, wave_h, dot) are regenerated
from a fixed seed by ``generate_bases`` and stored in
``nasframe/resources/eproxy_targets.npz``; they do not depend on the images.
Input images (``images``): ``reference`` (default) feeds every space and
task the same 16 CIFAR-10 training images, as the reference does (§3.2; the
proxy is task-agnostic), drawn from the CIFAR-10 python batches under
``root`` and synthetic when they are absent; ``task`` feeds the task's own
images (CIFAR-10, CIFAR-100, or ImageNet16-120 at 16x16 from NB201's
``ImageNet16/`` files) and refuses when they are missing. ``describe()``
records which were used: the files and the drawn images' SHA-256, or
"synthetic". The MACs term is counted at the reference's 32x32 input either
way, so ``macs_norm`` keeps its meaning.

Barrier randomness (pitfall P3): a fresh barrier per architecture, from a seed
derived from (``seed``, architecture string) so a score is reproducible and
independent of evaluation order; ``barrier="shared"`` uses one seed for all.
"""
from __future__ import annotations

import hashlib
import math
import time
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked
from nasframe.core.space import Tappable, require
from nasframe.eproxy_genome import EproxyGenome, load_genome
from nasframe.errors import ConfigError, DataError
from nasframe.torchutil import Taps, torch_threads

TARGETS_FILE = Path(__file__).resolve().parent.parent / "resources" / "eproxy_targets.npz"
TARGETS_SEED = 20230101
BATCH, CHANNELS, SIZE = 16, 512, 8
IMAGE_CHOICES = ("reference", "task")
TASK_IMAGE_DATASETS = ("cifar10", "cifar100", "imagenet16-120")  # tasks whose own image files image_batch reads
# wave bands in cycles per pixel (GenNAS: mid, high; low as seen in searched configs) — methods §3.3
WAVE_BANDS = {"wave_l": (0.01, 0.03), "wave_m": (0.125, 0.35), "wave_h": (0.375, 0.4875)}


# ----------------------------------------------------------------- targets


def wave_params(rng: np.random.Generator, band, n=BATCH, c=CHANNELS) -> np.ndarray:
    """[3, n, c] float32: β_y, β_x ~ U(band) (cycles/pixel) and φ ~ U(0, 2π) per sample and channel."""
    by, bx = rng.uniform(*band, size=(2, n, c))
    phi = rng.uniform(0, 2 * np.pi, size=(n, c))
    return np.stack([by, bx, phi]).astype(np.float32)


def wave_basis(params: np.ndarray, size=SIZE) -> np.ndarray:
    """Per sample and channel a 2-D sinusoid, sin on even channels and cos on odd ones:
    sin/cos(2π(β_y i + β_x j) + φ) on the size x size grid."""
    by, bx, phi = (p[..., None, None].astype(np.float64) for p in params)
    c = params.shape[2]
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    arg = 2 * np.pi * (by * i + bx * j) + phi
    return np.where(np.arange(c).reshape(1, c, 1, 1) % 2 == 0, np.sin(arg), np.cos(arg)).astype(np.float32)


def net_basis(seed: int, n=BATCH, c=CHANNELS, size=SIZE) -> np.ndarray:
    """Substitute for the unavailable ``net`` basis: a fixed random CNN on fixed noise images,
    standardised per channel (methods §3.3 [choice])."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 3, 32, 32), generator=g)
    convs = [(3, 64, 2), (64, 128, 2), (128, c, 1)]
    with torch.no_grad():
        for i, (ci, co, s) in enumerate(convs):
            w = torch.randn((co, ci, 3, 3), generator=g) * math.sqrt(2.0 / (ci * 9))
            x = F.conv2d(x, w, stride=s, padding=1)
            if i < len(convs) - 1:
                x = F.relu(x)
        x = F.adaptive_avg_pool2d(x, size)
        x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / (x.std(dim=(0, 2, 3), keepdim=True) + 1e-8)
    return x.numpy().astype(np.float32)


def generate_stored(seed: int = TARGETS_SEED) -> dict[str, np.ndarray]:
    """What the package stores, from one seed: the ``net`` basis (float16), the wave
    parameters, and the ``dot`` signs as packed bits (about 1 MB in all)."""
    rng = np.random.default_rng(seed)
    out = {"seed": np.int64(seed), "net": net_basis(seed).astype(np.float16)}
    for name in ("wave_l", "wave_m", "wave_h"):
        out[name + "_params"] = wave_params(rng, WAVE_BANDS[name])
    out["dot_bits"] = np.packbits(rng.random((BATCH, CHANNELS, SIZE, SIZE)) < 0.5)
    return out


def save_bases(path=TARGETS_FILE, seed: int = TARGETS_SEED) -> None:
    np.savez_compressed(path, **generate_stored(seed))


@lru_cache(maxsize=1)
def load_bases(path=TARGETS_FILE) -> dict[str, torch.Tensor]:
    """The five bases, [16, 512, 8, 8] float32 each: ``dot`` is ±1, waves in [-1, 1], ``net`` standardised."""
    d = np.load(path)
    shape = (BATCH, CHANNELS, SIZE, SIZE)
    out = {"net": torch.from_numpy(d["net"].astype(np.float32))}
    for name in ("wave_l", "wave_m", "wave_h"):
        out[name] = torch.from_numpy(wave_basis(d[name + "_params"]))
    bits = np.unpackbits(d["dot_bits"])[: int(np.prod(shape))].reshape(shape)
    out["dot"] = torch.from_numpy(np.where(bits == 1, 1.0, -1.0).astype(np.float32))
    return out


def branch_target(slot, n: int = BATCH) -> torch.Tensor:
    """T_i = level_i * Σ_{s in S_i} basis_s[:n, :last_channel_i] (all-zero when S_i is empty, P5)."""
    bases = load_bases()
    t = torch.zeros((n, slot.last_channel, SIZE, SIZE))
    for name in slot.bases:
        t = t + bases[name][:n, :slot.last_channel]
    return slot.level * t


# ----------------------------------------------------------------- backbone taps


def backbone_taps(space, arch) -> Taps:
    """The tapped backbone of ``arch``, as the space declares it (``Tappable``)."""
    require(space, (Tappable,), "evaluator=eproxy")
    return space.backbone_taps(arch)


# ----------------------------------------------------------------- inits


def init_modules(module: nn.Module, scheme: str) -> None:
    """DPS init schemes (§3.6): xavier_* with bias 0.01, kaiming_* fan_out/relu with bias 0, BN 1/0."""
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if scheme == "xavier_uniform":
                nn.init.xavier_uniform_(m.weight)
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(m.weight)
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="relu")
            elif scheme == "kaiming_normal":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                raise ConfigError(f"unknown init scheme '{scheme}'")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.01 if scheme.startswith("xavier") else 0.0)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ProxyNet(nn.Module):
    """Backbone taps + trainable heads; the barriers are kept apart so they never reach the optimiser."""

    def __init__(self, taps: Taps, genome: EproxyGenome):
        super().__init__()
        self.taps = taps
        slots = genome.used_slots
        if len(slots) > len(taps.channels):
            slots = slots[:len(taps.channels)]
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, s.out_channel, s.head_kernel, padding=s.head_kernel // 2),
                          nn.ReLU(), nn.BatchNorm2d(s.out_channel))  # ReLU before BN (P4)
            for c, s in zip(taps.channels, slots))

    def forward(self, x):
        feats = self.taps(x)
        return [head(F.interpolate(f, size=(SIZE, SIZE))) for head, f in zip(self.heads, feats)]


def make_barriers(genome: EproxyGenome, n: int) -> nn.ModuleList:
    barriers = nn.ModuleList(nn.Conv2d(s.out_channel, s.last_channel, s.barrier_kernel,
                                       padding=s.barrier_kernel // 2) for s in genome.used_slots[:n])
    for p in barriers.parameters():
        p.requires_grad_(False)
    return barriers


def _arch_seed(seed: int, arch) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{arch}".encode()).digest()[:4], "little")


# ----------------------------------------------------------------- evaluator


class EproxyEvaluator(Evaluator):
    requires = (Tappable,)
    objectives = (Objective("eproxy", "max", description="-(weighted regression loss after 10 SGD steps)"),)

    def __init__(self, space, genome=None, dataset: str | None = None, root=None, path=None,
                 iterations: int = 10, batch_size: int = BATCH, weight_decay: float = 1e-5, momentum: float = 0.9,
                 data_seed: int = 0, seed: int = 0, barrier: str = "per_arch", macs_norm: float | str = 187.17,
                 images: str = "reference", threads: int | None = None, **_ignored):
        if barrier not in ("per_arch", "shared"):
            raise ConfigError(f"eproxy.barrier must be per_arch or shared, got '{barrier}'")
        if not 1 <= int(batch_size) <= BATCH:
            raise ConfigError(f"eproxy batch_size must be in 1..{BATCH} (the stored targets hold {BATCH} samples)")
        require(space, self.requires, "evaluator=eproxy")
        self.space, self.genome = space, load_genome(genome)
        self.task, self.root = dataset, root
        self.iterations, self.batch_size = int(iterations), int(batch_size)
        self.weight_decay, self.momentum = float(weight_decay), float(momentum)
        self.data_seed, self.seed, self.barrier = int(data_seed), int(seed), barrier
        if macs_norm != "space_max" and not (isinstance(macs_norm, (int, float)) and macs_norm > 0):
            raise ConfigError(f"eproxy macs_norm must be a positive number of M MACs or space_max, got {macs_norm!r}")
        self._macs_norm = macs_norm
        self.image_choice, self.image_dataset = images, self._check_images(images, dataset, root)
        self.threads = threads
        self._images = None
        self._cache: dict[tuple, tuple] = {}  # (arch, training key, seeds) -> (final loss, seconds, failure)
        self._macs: dict[str, float] = {}

    # ------------------------------------------------------------ inputs

    @staticmethod
    def _check_images(images: str, task, root) -> str:
        """The dataset whose images the proxy reads; refuses ``task`` without the task's files."""
        from nasframe.datasets import canonical_name, proxy_image_folder

        if images not in IMAGE_CHOICES:
            raise ConfigError(f"eproxy images must be reference or task, got {images!r}")
        if images == "reference":
            return "cifar10"  # task-agnostic: the same CIFAR-10 batch for every space and task (§3.2)
        name = canonical_name(task) if task else None
        if name not in TASK_IMAGE_DATASETS:
            raise ConfigError(f"evaluator.images=task reads CIFAR-10, CIFAR-100 or ImageNet16-120 files, and the "
                              f"task is {task!r}; use evaluator.images=reference for this task")
        if proxy_image_folder(root, name) is None:
            files = "NB201's ImageNet16/ files" if name == "imagenet16-120" else f"the {name} python batches"
            raise DataError(f"evaluator.images=task needs {files} under data.root ({root}); put them there "
                            f"or use evaluator.images=reference")
        return name

    @property
    def images(self):
        if self._images is None:
            from nasframe.datasets import image_batch

            shape = (3, 16, 16) if self.image_dataset == "imagenet16-120" else (3, 32, 32)
            self._images = image_batch(self.root, self.image_dataset, n=self.batch_size, seed=self.data_seed,
                                       shape=shape, normalisation="eproxy")
            if self.image_choice == "task" and self._images.synthetic:  # the files went away since __init__
                raise DataError(f"evaluator.images=task found no {self.image_dataset} images under {self.root}; "
                                f"put them back or use evaluator.images=reference")
        return self._images

    def macs(self, arch) -> float:
        from nasframe.spaces.flops import count_flops

        if str(arch) not in self._macs:
            self._macs[str(arch)] = float(count_flops(backbone_taps(self.space, arch), (3, 32, 32)))
        return self._macs[str(arch)]

    @property
    def macs_norm(self) -> float:
        """The divisor of the MACs term: a fixed number of M MACs (default: the reference's constant,
        187.17 M) or, with ``space_max``, the space's largest backbone under the same counter."""
        if self._macs_norm == "space_max":
            big = self.space.largest_backbone()
            if big is None:
                rng = np.random.default_rng(0)  # approximate: the largest of a fixed sample
                self._macs_norm = max(self.macs(self.space.sample(rng)) for _ in range(200))
            else:
                self._macs_norm = self.macs(big)
        return float(self._macs_norm)

    # ------------------------------------------------------------ scoring

    def loss_curve(self, arch, genome: EproxyGenome | None = None) -> list[float]:
        """Per-iteration ranking losses s_t (before the MACs discount)."""
        genome = genome or self.genome
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_arch_seed(self.seed, arch))
            model = ProxyNet(backbone_taps(self.space, arch), genome)
            init_modules(model, genome.init_net)
            if self.barrier == "shared":
                torch.manual_seed(_arch_seed(self.seed, "barrier"))
            barriers = make_barriers(genome, len(model.heads))
            init_modules(barriers, genome.init_barrier)
        slots = genome.used_slots[:len(model.heads)]
        targets = [branch_target(s, self.batch_size) for s in slots]
        decay = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]
        rest = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]
        opt = torch.optim.SGD([{"params": decay, "weight_decay": self.weight_decay},
                               {"params": rest, "weight_decay": 0.0}], lr=genome.lr, momentum=self.momentum)
        model.train()
        x = self.images.x
        curve = []
        for _ in range(self.iterations):
            preds = [b(p) for b, p in zip(barriers, model(x))]
            losses = [F.mse_loss(p, t) for p, t in zip(preds, targets)]
            opt.zero_grad(set_to_none=True)
            sum(losses).backward()
            opt.step()
            curve.append(float(sum(l.detach() / 2 ** i for i, l in enumerate(losses))))
        return curve

    def score(self, arch, genome: EproxyGenome | None = None) -> tuple[float, float, str | None]:
        """(score, seconds, failure). The final loss is cached per (arch, genome's training key,
        data seed, seed), so genomes that differ only in ``alpha`` or in unused slots train once."""
        genome = genome or self.genome
        key = (str(arch), genome.training_key, self.data_seed, self.seed)
        if key not in self._cache:
            t0 = time.perf_counter()
            try:
                with torch_threads(self.threads):
                    s_final, err = self.loss_curve(arch, genome)[-1], None
            except Exception as e:  # one architecture failing must not stop a search
                s_final, err = float("nan"), f"eproxy failed: {type(e).__name__}: {e}"
            self._cache[key] = (s_final, time.perf_counter() - t0, err)
        s_final, seconds, err = self._cache[key]
        if genome.alpha != 0 and err is None:
            s_final *= 1 - genome.alpha * self.macs(arch) / self.macs_norm
        return -s_final, seconds, err

    def evaluate(self, archs: Sequence) -> list[Evaluation]:
        out = []
        for a in archs:
            value, cost, err = self.score(a)
            out.append(checked({"eproxy": value}, self.objectives, cost=cost, failure=err))
        return out

    def describe(self) -> dict:
        imgs = self.images
        return {"evaluator": "eproxy", "genome": str(self.genome), "inputs": imgs.source,
                "images": {"choice": self.image_choice, "dataset": self.image_dataset,
                           "synthetic": imgs.synthetic, "sha256": imgs.sha256},
                "targets": f"{TARGETS_FILE.name} (seed {TARGETS_SEED})", "barrier": self.barrier,
                "iterations": self.iterations, "weight_decay": self.weight_decay, "seed": self.seed}
