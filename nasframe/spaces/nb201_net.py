"""The NAS-Bench-201 network as a real ``nn.Module``.

Macro skeleton (NB201 paper, AutoDL ``TinyNetwork``): stem conv3x3(3 -> C) + BN;
three stages of N cells with C, 2C, 4C channels, the second and third opened by
a ResNet reduction block (ReLU-conv3x3/s2-BN, ReLU-conv3x3-BN, shortcut
avgpool2 + conv1x1); then BN + ReLU, global average pooling and a linear
classifier. ``forward`` returns the logits.

A cell has 4 nodes; node j sums its incoming edges i -> j (i < j) and node 3
is the output. Only the selected op of each edge is built: ``none`` edges have
no module at all (a node whose every input is ``none`` is zero, computed as
``x * 0`` so the autograd graph stays connected for input-gradient proxies).

Variants (constructor argument ``variant``):

* ``"official"`` -- the network NB201 trained and whose parameter and FLOP
  counts the benchmark reports: every BN affine with running statistics, every
  conv bias-free.
* ``"zc"`` -- the network of the zero-cost-proxy reference code
  (methods.md §2.2): inside cells each ReLU-Conv-BN has
  ``BatchNorm2d(affine=False, track_running_stats=False)`` and a conv with
  ``bias=True``; stem, reduction blocks and head are as in ``"official"``.
  Its parameter count differs from the benchmark's (cell BN parameters are
  replaced by conv biases). Unlike the reference, unused ops are not built, so
  the random initial weights drawn from a given seed differ from it.

Submodules are hook-friendly: activations are ``nn.ReLU`` modules (NASWOT
hooks them), and ``stages[i]`` outputs are the stage taps Eproxy uses
(C x H, 2C x H/2, 4C x H/4).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from nasframe.errors import ArchitectureError, ConfigError
from nasframe.spaces.nb201_ops import EDGES, OPS
from nasframe.torchutil import Taps

VARIANTS = ("official", "zc")


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 affine: bool = True, track_running_stats: bool = True, bias: bool = False):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )


class ResNetReduction(nn.Module):
    """Halves the resolution and maps c_in -> c_out channels between stages."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2, padding=0),
                                      nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class AvgPool3x3(nn.AvgPool2d):
    """NB201's avg_pool_3x3 (stride 1, padding excluded from the mean), computed as a depthwise
    convolution with a ones kernel divided by each window's count. Same values to float rounding;
    ATen's CPU avg_pool2d forward + backward is ~7x slower and took 60% of an Eproxy evaluation."""

    def __init__(self):
        super().__init__(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = x.shape[-3:]
        counts = F.conv2d(x.new_ones((1, 1, h, w)), x.new_ones((1, 1, 3, 3)), padding=1)
        return F.conv2d(x, x.new_ones((c, 1, 3, 3)), padding=1, groups=c) / counts


def _cell_op(name: str, c: int, variant: str) -> nn.Module:
    if name == "skip_connect":
        return nn.Identity()
    if name == "avg_pool_3x3":
        return AvgPool3x3()
    kernel = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}[name]
    if variant == "zc":
        return ReLUConvBN(c, c, kernel, 1, kernel // 2, affine=False, track_running_stats=False, bias=True)
    return ReLUConvBN(c, c, kernel, 1, kernel // 2)


class NB201Cell(nn.Module):
    def __init__(self, op_names: Sequence[str], c: int, variant: str = "official"):
        super().__init__()
        # edge key "j_i" = edge i -> j; none edges are left out
        self.edges = nn.ModuleDict({f"{t}_{s}": _cell_op(op, c, variant)
                                    for op, (t, s) in zip(op_names, EDGES) if op != "none"})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for t in range(1, 4):
            terms = [self.edges[f"{t}_{s}"](nodes[s]) for s in range(t) if f"{t}_{s}" in self.edges]
            nodes.append(sum(terms[1:], terms[0]) if terms else x.mul(0.0))
        return nodes[3]


class NB201Network(nn.Module):
    """NB201 network for the cell ``op_names`` (6 op names in ``EDGES`` order).

    ``C`` stem channels, ``N`` cells per stage (the benchmark: 16, 5).
    """

    def __init__(self, op_names: Sequence[str], num_classes: int, C: int = 16, N: int = 5,
                 variant: str = "official"):
        super().__init__()
        op_names = tuple(op_names)
        if len(op_names) != len(EDGES) or any(op not in OPS for op in op_names):
            raise ArchitectureError(f"an NB201 cell needs {len(EDGES)} op names from {', '.join(OPS)}, "
                                    f"got {list(op_names)}")
        if variant not in VARIANTS:
            raise ConfigError(f"unknown NB201 network variant '{variant}'; choose one of {', '.join(VARIANTS)}")
        self.op_names, self.variant = op_names, variant
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        stages = []
        for i, c in enumerate((C, 2 * C, 4 * C)):
            blocks = [ResNetReduction(c // 2, c)] if i > 0 else []
            blocks += [NB201Cell(op_names, c, variant) for _ in range(N)]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(inplace=False))
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        x = self.global_pool(self.lastact(x)).flatten(1)
        return self.classifier(x)


def backbone_taps(op_names: Sequence[str]) -> Taps:
    """Eproxy's taps: the zero-cost reference network (methods §3.2) without its classifier,
    tapped after each of the three stages, deepest first."""
    net = NB201Network(op_names, num_classes=10, variant="zc")
    del net.classifier, net.lastact, net.global_pool

    def run(body, x):
        x = body.stem(x)
        feats = []
        for stage in body.stages:
            x = stage(x)
            feats.append(x)
        return feats[::-1]

    c = net.stem[0].out_channels
    return Taps(net, run, [4 * c, 2 * c, c])
