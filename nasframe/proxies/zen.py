"""Zen-score (Lin et al. 2021), reference variant (methods §2.5).

Re-initialise (conv/linear ~ N(0,1), biases 0, BN identity affine), perturb a
Gaussian input by γ·ε, and take log of the mean L1 response difference of the
pre-global-pooling feature map, plus Σ_BN log sqrt(mean running_var) read
after the two train-mode passes. Averaged over ``repeat`` re-inits (32, the
ZenNAS default and the spec's; each re-init draws fresh weights and inputs).

The pre-pooling features come from ``net.forward_features(x)`` when the
network has it, else from the input of its last ``AdaptiveAvgPool2d``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from nasframe.proxies._layers import fresh_copy, logits
from nasframe.proxies.batch import Batch

_BN = (nn.BatchNorm2d,)


def _features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if hasattr(net, "forward_features"):
        return net.forward_features(x)
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if not pools:
        raise ValueError("zen needs the feature map before global pooling: give the network forward_features() "
                         "or an nn.AdaptiveAvgPool2d")
    seen = []
    handle = pools[-1].register_forward_pre_hook(lambda _m, inp: seen.append(inp[0]))
    try:
        logits(net, x)
    finally:
        handle.remove()
    return seen[-1]


def _reinit(net: nn.Module) -> None:
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def zen(net: nn.Module, batch: Batch, repeat: int = 32, gamma: float = 1e-2, batch_size: int = 16) -> float:
    if int(repeat) < 1:
        raise ValueError(f"zen needs repeat >= 1, got {repeat}")
    batch.require()
    gen = torch.Generator().manual_seed(batch.seed)
    shape = (min(batch_size, batch.x.shape[0]), *batch.input_shape)
    scores = []
    for _ in range(repeat):
        model = fresh_copy(net)
        _reinit(model)
        x = torch.randn(shape, generator=gen)
        eps = torch.randn(shape, generator=gen)
        with torch.no_grad():
            f1 = _features(model, x)
            f2 = _features(model, x + gamma * eps)
            delta = (f1 - f2).abs().sum(dim=tuple(range(1, f1.dim()))).mean().item()
            bn_term = 0.0
            for m in model.modules():
                if isinstance(m, _BN) and m.running_var is not None:
                    bn_term += math.log(math.sqrt(max(m.running_var.mean().item(), 1e-300)))
        scores.append((math.log(delta) if delta > 0 else float("-inf")) + bn_term)
    return float(sum(scores) / len(scores))
