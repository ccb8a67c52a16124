"""Size baselines: parameters and MACs (the baselines every proxy is compared with)."""
from __future__ import annotations

from torch import nn

from nasframe.proxies.batch import Batch


def params(net: nn.Module, batch: Batch) -> float:
    return sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6


def flops(net: nn.Module, batch: Batch) -> float:
    """MACs in millions: the caller's figure (``Buildable.flops``) when given, else the shared counter."""
    if batch.flops is not None:
        return float(batch.flops)
    from nasframe.spaces.flops import count_flops

    return float(count_flops(net, batch.input_shape))
