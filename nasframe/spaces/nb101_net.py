"""The NAS-Bench-101 network as a real ``nn.Module`` (PyTorch re-description of the official TF model).

Skeleton: stem conv3x3-BN-ReLU to 128 channels; 3 stacks of 3 cells; before
stacks 2 and 3 a 2x2/2 max-pool and the channel count doubles (128, 256, 512);
global average pooling and a linear classifier.

Inside a cell (pruned matrix, vertices 0..n-1), following the official builder:

* channels: the output's C channels are split evenly over the vertices that
  feed the output (the first ``C % k`` of them, in vertex order, get one extra);
  any other inner vertex gets the maximum of the vertices it feeds.
* vertex t sums its inputs: an inner predecessor's tensor truncated to t's
  channel count (it may have one channel more), and the cell input through a
  1x1 conv-BN-ReLU projection when input -> t is an edge; then t's op runs
  (convs keep the channel count; the 3x3 max-pool has stride 1).
* the output concatenates the vertices feeding it (in vertex order) and adds
  a projection of the cell input when input -> output is an edge; a cell with
  no inner vertex is just that projection.

Convolutions have no bias; BN uses the official momentum 0.997 (PyTorch
``momentum=0.003``) and epsilon 1e-5.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

BN_MOMENTUM = 1 - 0.997
BN_EPS = 1e-5


def vertex_channels(c_in: int, c_out: int, matrix: np.ndarray) -> list[int]:
    """Output channels of every vertex of a pruned cell (official splitting rule)."""
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[n - 1] = c_in, c_out
    if n == 2:
        return ch
    feeding = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    base, extra = divmod(c_out, len(feeding))
    for k, v in enumerate(feeding):
        ch[v] = base + (1 if k < extra else 0)
    for v in range(n - 3, 0, -1):  # backwards: successors are known first
        if not matrix[v][n - 1]:
            ch[v] = max(ch[w] for w in range(v + 1, n - 1) if matrix[v][w])
    return ch


class ConvBnRelu(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM),
                         nn.ReLU())


def make_op(name: str, channels: int) -> nn.Module:
    if name == "conv3x3-bn-relu":
        return ConvBnRelu(channels, channels, 3)
    if name == "conv1x1-bn-relu":
        return ConvBnRelu(channels, channels, 1)
    if name == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise ValueError(f"unknown NB101 op {name!r}")


class Cell(nn.Module):
    def __init__(self, matrix: np.ndarray, ops: Sequence[str], c_in: int, c_out: int):
        super().__init__()
        self.matrix = np.asarray(matrix, dtype=int)
        n = len(ops)
        self.channels = vertex_channels(c_in, c_out, self.matrix)
        # index i of these lists is vertex i (None where the vertex has none)
        self.proj = nn.ModuleList([ConvBnRelu(c_in, self.channels[t], 1) if self.matrix[0, t] and 0 < t < n - 1
                                   else nn.Identity() for t in range(n)])
        self.ops = nn.ModuleList([make_op(ops[t], self.channels[t]) if 0 < t < n - 1 else nn.Identity()
                                  for t in range(n)])
        self.out_proj = ConvBnRelu(c_in, c_out, 1) if self.matrix[0, n - 1] else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, n = self.matrix, len(self.matrix)
        tensors = [x]
        concat = []
        for t in range(1, n - 1):
            c = self.channels[t]
            inputs = [tensors[s][:, :c] for s in range(1, t) if m[s, t]]
            if m[0, t]:
                inputs.append(self.proj[t](x))
            h = inputs[0]
            for other in inputs[1:]:
                h = h + other
            tensors.append(self.ops[t](h))
            if m[t, n - 1]:
                concat.append(tensors[t])
        if not concat:
            return self.out_proj(x)
        out = torch.cat(concat, dim=1) if len(concat) > 1 else concat[0]
        if self.out_proj is not None:
            out = out + self.out_proj(x)
        return out


class NB101Network(nn.Module):
    """``stages[i]`` is stack i (its output is a natural feature tap); ``forward`` returns logits."""

    def __init__(self, matrix: np.ndarray, ops: Sequence[str], num_classes: int = 10, stem_channels: int = 128,
                 num_stacks: int = 3, cells_per_stack: int = 3):
        super().__init__()
        self.stem = ConvBnRelu(3, stem_channels, 3)
        stages, c = [], stem_channels
        for s in range(num_stacks):
            layers = []
            c_out = c
            if s > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
                c_out = c * 2
            for _ in range(cells_per_stack):
                layers.append(Cell(matrix, ops, c, c_out))
                c = c_out
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.classifier(x.mean(dim=(2, 3)))
