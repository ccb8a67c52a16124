"""Shared helpers: the layers proxies score, and network copies."""
from __future__ import annotations

import copy

import torch
from torch import nn

SCORED = (nn.Conv2d, nn.Linear)


def scored_layers(net: nn.Module) -> list[nn.Module]:
    """Conv2d/Linear modules: their weights are what saliency proxies sum over."""
    return [m for m in net.modules() if isinstance(m, SCORED)]


def fresh_copy(net: nn.Module) -> nn.Module:
    net = copy.deepcopy(net)
    net.train()
    net.zero_grad(set_to_none=True)
    return net


def cross_entropy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = net(x)
    if isinstance(out, (tuple, list)):
        out = out[-1]  # some networks return (features, logits)
    return nn.functional.cross_entropy(out, y)


def logits(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = net(x)
    if isinstance(out, (tuple, list)):
        out = out[-1]
    return out
