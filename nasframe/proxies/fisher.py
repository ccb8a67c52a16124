"""Channel-wise Fisher information (Theis et al. 2018) as the zero-cost reference sums it.

For every Conv2d/Linear output activation a and its loss gradient:
s_nc = Σ_spatial a·∂L/∂a, F_c = ½·mean_n s_nc², and each channel value is
broadcast to all weights of that output channel before the sum, so a layer
contributes Σ_c F_c · fan_in (the reference's quirk, kept for comparability).
"""
from __future__ import annotations

import torch
from torch import nn

from nasframe.proxies._layers import cross_entropy, fresh_copy, scored_layers
from nasframe.proxies.batch import Batch


def fisher(net: nn.Module, batch: Batch) -> float:
    batch.require(labels=True)
    net = fresh_copy(net)
    channel_scores: list[tuple[torch.Tensor, int]] = []

    def hook(layer, _inputs, out):
        fan_in = layer.weight[0].numel()

        def on_grad(grad):
            prod = out.detach() * grad
            s = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod  # [N, C]
            channel_scores.append(((0.5 * s.double().pow(2).mean(0)).abs(), fan_in))

        if out.requires_grad:
            out.register_hook(on_grad)

    handles = [m.register_forward_hook(hook) for m in scored_layers(net)]
    try:
        cross_entropy(net, batch.x, batch.y).backward()
    finally:
        for h in handles:
            h.remove()
    return float(sum(f.sum() * fan_in for f, fan_in in channel_scores))
