"""NASWOT (Mellor et al. 2021): log|det K| of the kernel of ReLU activation codes.

K = Σ_layers c cᵀ + (1-c)(1-c)ᵀ over binary codes c = (input > 0) of every
ReLU module that the forward pass reaches (instantiated-but-unused ops do
not count). Functional ``F.relu`` calls are invisible to module hooks, so
networks must use ``nn.ReLU`` modules (NB201 and TransNAS do).

``relu_match`` says which modules count as ReLUs. ``module``: instances of
``nn.ReLU``. ``name`` (the default): every module whose type's string contains "ReLU", the
reference's test (``'ReLU' in str(type(m))``); it also matches wrappers such
as NB201's ``ReLUConvBN``, whose input is its inner ReLU's input, so each
conv edge's codes count twice. A hooked module handed the very tensor the
previous hooked module saw (a wrapper, then its first inner ReLU) adds the
same kernel again without recomputing it, so ``name`` costs what ``module`` does.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nasframe.proxies._layers import fresh_copy
from nasframe.proxies.batch import Batch


def kernel_from_codes(codes: torch.Tensor) -> torch.Tensor:
    """K = c cᵀ + (1-c)(1-c)ᵀ for an [N, units] 0/1 code matrix (float64).

    Computed as 2 c cᵀ - s 1ᵀ - 1 sᵀ + units (s = row sums): one matmul instead of two, in
    float32 while every entry is an integer below 2**24 (so exactly), which is most of NASWOT's cost.
    """
    units = codes.shape[1]
    c = codes.float() if units < 2**24 else codes.double()
    s = c.sum(1, keepdim=True).double()
    return 2 * (c @ c.T).double() - s - s.T + units


def log_abs_det(k: torch.Tensor) -> float:
    sign, logdet = np.linalg.slogdet(k.numpy())
    return float(logdet) if sign != 0 else float("-inf")


RELU_MATCHES = ("module", "name")


def _is_relu(module: nn.Module, relu_match: str) -> bool:
    return isinstance(module, nn.ReLU) if relu_match == "module" else "ReLU" in str(type(module))


def nwot_by_match(net: nn.Module, batch: Batch, matches=RELU_MATCHES) -> dict[str, float]:
    """NASWOT under each ReLU test in ``matches``, from one forward pass (a recipe comparing them
    pays for one network run)."""
    bad = [m for m in matches if m not in RELU_MATCHES]
    if bad or not matches:
        raise ValueError(f"nwot relu_match must be one of {', '.join(RELU_MATCHES)}, got {bad or matches!r}")
    batch.require()
    net = fresh_copy(net)
    n = batch.x.shape[0]
    kernels = {m: torch.zeros((n, n), dtype=torch.float64) for m in matches}
    # the previous hook's input, its in-place version counter and its kernel (holding x keeps its id unique)
    last: list = [None, -1, None]

    def hook(module, inputs):
        x = inputs[0]
        if x is not last[0] or x._version != last[1]:
            last[:] = [x, x._version, kernel_from_codes(x.detach().reshape(n, -1) > 0)]
        for m in matches:
            if _is_relu(module, m):
                kernels[m] = kernels[m] + last[2]

    handles = [m.register_forward_pre_hook(hook) for m in net.modules() if any(_is_relu(m, k) for k in matches)]
    try:
        with torch.no_grad():
            net(batch.x)
    finally:
        for h in handles:
            h.remove()
    return {m: log_abs_det(k) for m, k in kernels.items()}


def nwot(net: nn.Module, batch: Batch, relu_match: str = "name") -> float:
    return nwot_by_match(net, batch, (relu_match,))[relu_match]
