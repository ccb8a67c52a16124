"""SNIP (Lee et al. 2019): connection sensitivity |∂L/∂m| of a multiplicative weight mask."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from nasframe.proxies._layers import cross_entropy, fresh_copy, scored_layers
from nasframe.proxies.batch import Batch


def _masked_forward(layer: nn.Module, mask: torch.Tensor):
    if isinstance(layer, nn.Conv2d):
        return lambda x: layer._conv_forward(x, layer.weight * mask, layer.bias)
    return lambda x: F.linear(x, layer.weight * mask, layer.bias)


def snip(net: nn.Module, batch: Batch) -> float:
    batch.require(labels=True)
    net = fresh_copy(net)
    masks = []
    for layer in scored_layers(net):
        mask = torch.ones_like(layer.weight, requires_grad=True)
        layer.weight.requires_grad_(False)
        layer.forward = _masked_forward(layer, mask)  # instance attribute shadows the class method
        masks.append(mask)
    cross_entropy(net, batch.x, batch.y).backward()
    return float(sum(m.grad.abs().sum().double() for m in masks if m.grad is not None))
