"""AnyNet (AnyNetX, RegNet paper), the unconstrained size space PredNAS searches (PredNAS Table III).

Four stages, each with four numbers:

* ``depth`` d: number of X blocks, 1..16;
* ``width`` w: output channels, 24..1024 in steps of 8 (PredNAS raised the lower
  bound from 8 to 24);
* ``ratio`` b: bottleneck ratio in {0.25, 0.5, 1}; the block's inner width is
  ``w_b = w * b`` (always an integer: w is a multiple of 8);
* ``groups`` g: groups of the 3x3 convolution, 1..32, and **g must divide
  w_b** (group width ``w_b / g``), so every point is buildable. This is the
  PredNAS parametrisation (their Table IX lists groups and the resulting group
  width); RegNet itself parametrises the group width instead.

Every bound is a constructor knob (PredNAS Table IX notes they widened bounds
for large models, and RegNetX-200MF in these terms needs 46 groups > 32).

Architecture string: ``d=1-1-4-7|w=24-56-152-368|b=1-1-1-1|g=3-7-19-46``.

``encode`` is the numeric vector [d1..d4, w1..w4, b1..b4, g1..g4] (raw values, as
PredNAS concatenates them); ``project`` rounds and clips to steps and bounds,
snaps the ratio to the nearest allowed value and the groups to the nearest
divisor of the bottleneck width within bounds (ties go to the smaller).

``flops`` are exact multiply-accumulates of one 224x224 forward pass computed
in closed form with the pycls/RegNet convention (convolutions and the
classifier including its bias; BN, ReLU, pooling and the residual additions
free) -- the convention behind RegNet's published "400MF" figures, and what
``nasframe.spaces.flops.count_flops`` (convention "macs") measures on the built
network.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nasframe.core.space import Architecture, Buildable, CostSampled, Mutable, Relaxable, SearchSpace
from nasframe.errors import ArchitectureError, ConfigError

STAGES = 4
FIELDS = ("d", "w", "b", "g")
IMAGENET = {"imagenet": (1000, 224)}
_RE = re.compile(r"^d=([\d-]+)\|w=([\d-]+)\|b=([\d.-]+)\|g=([\d-]+)$")


def _fmt_ratio(r: float) -> str:
    return f"{r:g}"


@dataclass(frozen=True)
class AnyNetArch(Architecture):
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    ratios: tuple[float, ...]
    groups: tuple[int, ...]

    def __str__(self) -> str:
        return "d={}|w={}|b={}|g={}".format("-".join(map(str, self.depths)), "-".join(map(str, self.widths)),
                                            "-".join(map(_fmt_ratio, self.ratios)), "-".join(map(str, self.groups)))

    @property
    def bottleneck_widths(self) -> tuple[int, ...]:
        return tuple(int(round(w * b)) for w, b in zip(self.widths, self.ratios))

    @property
    def group_widths(self) -> tuple[int, ...]:
        return tuple(wb // g for wb, g in zip(self.bottleneck_widths, self.groups))


def _divisors(n: int, limit: int) -> list[int]:
    return [g for g in range(1, min(n, limit) + 1) if n % g == 0]


class AnyNetSpace(SearchSpace, Mutable, Relaxable, Buildable, CostSampled):
    name = "anynet"

    def __init__(self, max_depth: int = 16, min_width: int = 24, max_width: int = 1024, width_step: int = 8,
                 ratios: Sequence[float] = (0.25, 0.5, 1.0), max_groups: int = 32, stem_width: int = 32):
        ratios = tuple(sorted(float(r) for r in ratios))
        if max_depth < 1 or max_groups < 1 or width_step < 1 or not 0 < min_width <= max_width:
            raise ConfigError(f"anynet bounds must satisfy max_depth >= 1, max_groups >= 1, width_step >= 1 and "
                              f"0 < min_width <= max_width; got {max_depth}, {max_groups}, {width_step}, "
                              f"{min_width}, {max_width}")
        if min_width % width_step or max_width % width_step:
            raise ConfigError(f"anynet min_width ({min_width}) and max_width ({max_width}) must be multiples of "
                              f"width_step ({width_step})")
        bad = [r for r in ratios if not (r > 0 and all(float(w * r).is_integer()
                                                         for w in range(min_width, max_width + 1, width_step)))]
        if not ratios or bad:
            raise ConfigError(f"anynet ratios {list(ratios)} must be positive and give an integer bottleneck width "
                              f"for every width (width_step {width_step}); {bad} do not")
        self.max_depth, self.min_width, self.max_width, self.width_step = max_depth, min_width, max_width, width_step
        self.ratios, self.max_groups, self.stem_width = ratios, max_groups, stem_width

    # ------------------------------------------------------------ helpers

    @property
    def widths(self) -> range:
        return range(self.min_width, self.max_width + 1, self.width_step)

    def valid_groups(self, width: int, ratio: float) -> list[int]:
        return _divisors(int(round(width * ratio)), self.max_groups)

    def _nearest_groups(self, g: float, width: int, ratio: float) -> int:
        options = self.valid_groups(width, ratio)
        return min(options, key=lambda o: (abs(o - g), o))

    def make(self, depths, widths, ratios, groups) -> AnyNetArch:
        """Build and validate; ``ArchitectureError`` names the first bad value."""
        arch = AnyNetArch(tuple(int(d) for d in depths), tuple(int(w) for w in widths),
                          tuple(float(r) for r in ratios), tuple(int(g) for g in groups))
        reason = self._invalid(arch)
        if reason:
            raise ArchitectureError(reason)
        return arch

    def _invalid(self, a: AnyNetArch) -> str | None:
        if not all(len(v) == STAGES for v in (a.depths, a.widths, a.ratios, a.groups)):
            return f"AnyNet needs {STAGES} values for each of depth, width, ratio and groups"
        for i in range(STAGES):
            d, w, b, g = a.depths[i], a.widths[i], a.ratios[i], a.groups[i]
            if not 1 <= d <= self.max_depth:
                return f"stage {i + 1} depth {d} is outside 1..{self.max_depth}"
            if not (self.min_width <= w <= self.max_width and w % self.width_step == 0):
                return (f"stage {i + 1} width {w} must be a multiple of {self.width_step} in "
                        f"{self.min_width}..{self.max_width}")
            if b not in self.ratios:
                return f"stage {i + 1} bottleneck ratio {b:g} is not one of {', '.join(map(_fmt_ratio, self.ratios))}"
            if g not in self.valid_groups(w, b):
                return (f"stage {i + 1} groups {g} must divide the bottleneck width {int(round(w * b))} and be "
                        f"at most {self.max_groups}")
        return None

    # ------------------------------------------------------------ core

    def sample(self, rng: np.random.Generator) -> AnyNetArch:
        """Depth, width and ratio uniform per stage; groups uniform among the valid divisors."""
        d, w, b, g = [], [], [], []
        for _ in range(STAGES):
            d.append(int(rng.integers(1, self.max_depth + 1)))
            w.append(int(self.widths[int(rng.integers(len(self.widths)))]))
            b.append(self.ratios[int(rng.integers(len(self.ratios)))])
            options = self.valid_groups(w[-1], b[-1])
            g.append(options[int(rng.integers(len(options)))])
        return AnyNetArch(tuple(d), tuple(w), tuple(b), tuple(g))

    def sample_in_range(self, rng: np.random.Generator, lo: float, hi: float, cost=None, moves: int = 300,
                        restarts: int = 50) -> AnyNetArch:
        """A random architecture whose ``cost`` (default: ``flops``) lies in [lo, hi]: draw, then repair.

        Rejection is hopeless here (about 1 in 2,000-4,500 uniform draws lands in
        400 MF ± 5%), so a uniform draw is walked into the interval: each move
        picks a random stage and scales its depth or width by the remaining
        cost ratio (width by its square root, since a stage's MACs grow about
        quadratically in width), at least one step, and repairs the groups to
        the nearest valid divisor. ``cost`` must grow with depth and width
        (FLOPs, params). Typically a few dozen cost evaluations per sample.
        """
        if not 0 < lo <= hi:
            raise ConfigError(f"sample_in_range needs 0 < lo <= hi, got [{lo}, {hi}]")
        cost = cost or self.flops
        mid = 0.5 * (lo + hi)
        for _ in range(restarts):
            a = self.sample(rng)
            d, w, b, g = list(a.depths), list(a.widths), list(a.ratios), list(a.groups)
            for _ in range(moves):
                f = cost(a)
                if lo <= f <= hi:
                    return a
                r = mid / f
                i = int(rng.integers(STAGES))
                if rng.random() < 0.5:
                    new = int(np.clip(round(d[i] * r), 1, self.max_depth))
                    d[i] = new if new != d[i] else int(np.clip(d[i] + (1 if r > 1 else -1), 1, self.max_depth))
                else:
                    step = self.width_step
                    new = int(np.clip(round(w[i] * r ** 0.5 / step) * step, self.min_width, self.max_width))
                    if new == w[i]:
                        new = int(np.clip(w[i] + (step if r > 1 else -step), self.min_width, self.max_width))
                    w[i] = new
                    if g[i] not in self.valid_groups(w[i], b[i]):
                        g[i] = self._nearest_groups(g[i], w[i], b[i])
                a = AnyNetArch(tuple(d), tuple(w), tuple(b), tuple(g))
        raise ArchitectureError(f"no AnyNet architecture with cost in [{lo:g}, {hi:g}] found in {restarts} "
                                f"repaired draws; the interval may lie outside what the bounds allow")

    def parse(self, text: str) -> AnyNetArch:
        if not isinstance(text, str):
            raise ArchitectureError(f"an AnyNet architecture string is expected, got {type(text).__name__}")
        m = _RE.match(text.strip())
        if not m:
            raise ArchitectureError(f"'{text}' is not an AnyNet string; expected "
                                    f"'d=1-1-4-7|w=24-56-152-368|b=1-1-1-1|g=3-7-19-46'")
        try:
            d, w, g = ([int(x) for x in m.group(k).split("-")] for k in (1, 2, 4))
            b = [float(x) for x in m.group(3).split("-")]
        except ValueError:
            raise ArchitectureError(f"'{text}' holds a value that is not a number") from None
        return self.make(d, w, b, g)

    def __contains__(self, arch) -> bool:
        return isinstance(arch, AnyNetArch) and self._invalid(arch) is None

    # ------------------------------------------------------------ Mutable

    def neighbors(self, arch: AnyNetArch) -> list[AnyNetArch]:
        """Per stage: depth +-1, width +-one step, another ratio, the next smaller/larger valid groups.

        A width or ratio change keeps the groups where still valid, else takes
        the nearest valid divisor.
        """
        out = {}
        for i in range(STAGES):
            d, w, b, g = arch.depths[i], arch.widths[i], arch.ratios[i], arch.groups[i]
            cands = [(d + s, w, b, g) for s in (-1, 1)]
            cands += [(d, w + s, b, None) for s in (-self.width_step, self.width_step)]
            cands += [(d, w, r, None) for r in self.ratios if r != b]
            opts = self.valid_groups(w, b)
            k = opts.index(g)
            cands += [(d, w, b, opts[j]) for j in (k - 1, k + 1) if 0 <= j < len(opts)]
            for nd, nw, nb, ng in cands:
                if not (1 <= nd <= self.max_depth and self.min_width <= nw <= self.max_width):
                    continue
                if ng is None:
                    ng = g if g in self.valid_groups(nw, nb) else self._nearest_groups(g, nw, nb)
                new = AnyNetArch(*(v[:i] + (x,) + v[i + 1:] for v, x in
                                   zip((arch.depths, arch.widths, arch.ratios, arch.groups), (nd, nw, nb, ng))))
                if new != arch:
                    out.setdefault(new, None)
        return list(out)

    # ------------------------------------------------------------ Relaxable

    def encode(self, arch: AnyNetArch) -> np.ndarray:
        return np.array([*arch.depths, *arch.widths, *arch.ratios, *arch.groups], dtype=np.float32)

    def project(self, x) -> AnyNetArch:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.size != 4 * STAGES or not np.isfinite(x).all():
            raise ArchitectureError(f"an AnyNet encoding is {4 * STAGES} finite numbers, got {x.size} values")
        d, w, b, g = x.reshape(4, STAGES)
        depths = np.clip(np.rint(d), 1, self.max_depth).astype(int)
        widths = np.clip(np.rint(w / self.width_step) * self.width_step, self.min_width, self.max_width).astype(int)
        ratios = [min(self.ratios, key=lambda r: (abs(r - v), r)) for v in b]
        groups = [self._nearest_groups(float(np.clip(np.rint(gv), 1, self.max_groups)), int(wv), r)
                  for gv, wv, r in zip(g, widths, ratios)]
        return AnyNetArch(tuple(map(int, depths)), tuple(map(int, widths)), tuple(ratios), tuple(groups))

    # ------------------------------------------------------------ Buildable

    def _task(self, task: str | None) -> tuple[int, int]:
        name = (task or "imagenet").lower()
        if name not in IMAGENET:
            raise ConfigError(f"AnyNet networks are built for ImageNet (1000 classes, 224x224), got task '{task}'")
        return IMAGENET[name]

    def input_shape(self, task: str | None = None) -> tuple[int, int, int]:
        _, size = self._task(task)
        return (3, size, size)

    def build(self, arch: AnyNetArch, task: str | None = None):
        from nasframe.spaces.anynet_net import AnyNet

        num_classes, _ = self._task(task)
        self.check(arch)
        return AnyNet(arch.depths, arch.widths, arch.bottleneck_widths, arch.groups, num_classes, self.stem_width)

    def _walk(self, arch: AnyNetArch, num_classes: int, size: int):
        """(MACs, params) in closed form, block by block, mirroring ``AnyNet``."""
        out = lambda h: (h - 1) // 2 + 1  # noqa: E731  (3x3 or 1x1, stride 2, padding k//2)
        h = out(size)
        macs = 9 * 3 * self.stem_width * h * h
        params = 27 * self.stem_width + 2 * self.stem_width
        w_in = self.stem_width
        for d, w, wb, g in zip(arch.depths, arch.widths, arch.bottleneck_widths, arch.groups):
            for k in range(d):
                h_in, h = h, (out(h) if k == 0 else h)
                macs += w_in * wb * h_in * h_in + 9 * wb * (wb // g) * h * h + wb * w * h * h
                params += w_in * wb + 9 * wb * (wb // g) + wb * w + 2 * (2 * wb + w)
                if w_in != w or k == 0:
                    macs += w_in * w * h * h
                    params += w_in * w + 2 * w
                w_in = w
        macs += w_in * num_classes + num_classes
        params += w_in * num_classes + num_classes
        return macs, params

    def flops(self, arch: AnyNetArch, task: str | None = None) -> float:
        """Exact MACs of one forward pass (224x224 for ImageNet), in millions."""
        num_classes, size = self._task(task)
        return self._walk(self.check(arch), num_classes, size)[0] / 1e6

    def params(self, arch: AnyNetArch, task: str | None = None) -> float:
        num_classes, size = self._task(task)
        return self._walk(self.check(arch), num_classes, size)[1] / 1e6
