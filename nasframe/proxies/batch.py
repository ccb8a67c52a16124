"""The input a proxy gets: one batch, or only an input shape for data-free proxies."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Batch:
    x: torch.Tensor | None  # [N, C, H, W] float32, or None for data-free use
    y: torch.Tensor | None = None  # [N] int64 class labels
    num_classes: int = 10
    input_shape: tuple = (3, 32, 32)  # (C, H, W) of one sample
    flops: float | None = None  # MACs in millions when the caller knows them (Buildable.flops)
    seed: int = 0  # seeds any randomness a proxy draws itself (zen re-inits, ...)

    @classmethod
    def shape_only(cls, input_shape=(3, 32, 32), num_classes: int = 10, **kw) -> "Batch":
        return cls(x=None, y=None, num_classes=num_classes, input_shape=tuple(input_shape), **kw)

    def require(self, labels: bool = False) -> None:
        from nasframe.errors import ConfigError

        if self.x is None:
            raise ConfigError("this proxy needs an input batch; give the evaluator data (or synthetic images)")
        if labels and self.y is None:
            raise ConfigError("this proxy needs labels with its input batch")
