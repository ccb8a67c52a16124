"""Gradient norm: Σ over Conv2d/Linear layers of ‖∂L/∂W‖_F (a per-layer sum, not the global norm)."""
from __future__ import annotations

from torch import nn

from nasframe.proxies._layers import cross_entropy, fresh_copy, scored_layers
from nasframe.proxies.batch import Batch


def grad_norm(net: nn.Module, batch: Batch) -> float:
    batch.require(labels=True)
    net = fresh_copy(net)
    cross_entropy(net, batch.x, batch.y).backward()
    return float(sum(m.weight.grad.double().norm() for m in scored_layers(net) if m.weight.grad is not None))
