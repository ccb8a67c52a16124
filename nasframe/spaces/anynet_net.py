"""The AnyNetX network (RegNet paper, "Designing Network Design Spaces") as a real ``nn.Module``.

Stem: conv3x3/2 (3 -> 32) + BN + ReLU. Four stages; stage i has ``depth[i]``
X blocks of output width ``width[i]``; the first block of every stage has
stride 2. X block (residual bottleneck with a grouped 3x3):
``1x1 (w_in -> w_b) BN ReLU -> 3x3 grouped, stride s (w_b -> w_b, groups g) BN ReLU
-> 1x1 (w_b -> w_out) BN``, plus the shortcut (identity, or a 1x1/s conv + BN
when the width or resolution changes), then ReLU. ``w_b = width * ratio``.
Head: global average pooling and a linear classifier with bias.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

STEM_WIDTH = 32


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups,
                                   bias=False),
                         nn.BatchNorm2d(c_out))


class XBlock(nn.Module):
    def __init__(self, w_in: int, w_out: int, stride: int, w_b: int, groups: int):
        super().__init__()
        self.a = nn.Sequential(*conv_bn(w_in, w_b, 1), nn.ReLU())
        self.b = nn.Sequential(*conv_bn(w_b, w_b, 3, stride, groups), nn.ReLU())
        self.c = conv_bn(w_b, w_out, 1)
        self.proj = conv_bn(w_in, w_out, 1, stride) if (w_in != w_out or stride != 1) else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.relu(shortcut + self.c(self.b(self.a(x))))


class AnyNet(nn.Module):
    """``stages[i]`` is stage i (a natural feature tap); ``forward`` returns logits."""

    def __init__(self, depths: Sequence[int], widths: Sequence[int], bottleneck_widths: Sequence[int],
                 groups: Sequence[int], num_classes: int = 1000, stem_width: int = STEM_WIDTH):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, stem_width, 3, stride=2), nn.ReLU())
        stages, w_in = [], stem_width
        for d, w, wb, g in zip(depths, widths, bottleneck_widths, groups):
            blocks = []
            for k in range(d):
                blocks.append(XBlock(w_in, w, 2 if k == 0 else 1, wb, g))
                w_in = w
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.fc(self.pool(x).flatten(1))
