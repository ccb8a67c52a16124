"""NASWOT (Mellor et al. 2021): log|det K| of the kernel of ReLU activation codes.

K = Σ_layers c cᵀ + (1-c)(1-c)ᵀ over binary codes c = (input > 0) of every
ReLU module that the forward pass reaches (instantiated-but-unused ops do
not count). Functional ``F.relu`` calls are invisible to module hooks, so
networks must use ``nn.ReLU`` modules (NB201 and TransNAS do).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nasframe.proxies._layers import fresh_copy
from nasframe.proxies.batch import Batch


def kernel_from_codes(codes: torch.Tensor) -> torch.Tensor:
    """K = c cᵀ + (1-c)(1-c)ᵀ for an [N, units] 0/1 code matrix (float64)."""
    c = codes.double()
    return c @ c.T + (1 - c) @ (1 - c).T


def log_abs_det(k: torch.Tensor) -> float:
    sign, logdet = np.linalg.slogdet(k.numpy())
    return float(logdet) if sign != 0 else float("-inf")


def nwot(net: nn.Module, batch: Batch) -> float:
    batch.require()
    net = fresh_copy(net)
    n = batch.x.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64)

    def hook(_module, inputs):
        nonlocal kernel
        kernel = kernel + kernel_from_codes((inputs[0].detach().reshape(n, -1) > 0))

    handles = [m.register_forward_pre_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(batch.x)
    finally:
        for h in handles:
            h.remove()
    return log_abs_det(kernel)
