"""SynFlow (Tanaka et al. 2020) as the zero-cost reference computes it (methods §2.3).

The network is copied, its BatchNorm layers bypassed, every floating tensor
replaced by its absolute value, and the copy cast to float64: the all-ones
response R of a deep positive network grows multiplicatively with depth and
overflows float32, while float64 holds NB201-size values (~1e40) with room to
spare; a value that still overflows becomes a non-finite score, which the
evaluator records as a failure.
"""
from __future__ import annotations

import torch
from torch import nn

from nasframe.proxies._layers import fresh_copy, logits, scored_layers
from nasframe.proxies.batch import Batch

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def bypass_batchnorm(net: nn.Module, keep_within: tuple = ()) -> int:
    """Replace BatchNorm modules by identities, except those inside a module of a
    type in ``keep_within``; return how many were replaced."""
    kept = {id(bn) for m in net.modules() if keep_within and isinstance(m, keep_within)
            for bn in m.modules() if isinstance(bn, _BN)}
    n = 0
    for module in list(net.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, _BN) and id(child) not in kept:
                setattr(module, child_name, nn.Identity())
                n += 1
    return n


def synflow(net: nn.Module, batch: Batch, keep_bn_within: tuple = ()) -> float:
    """Sum over Conv2d/Linear weights of |θ ⊙ ∂R/∂θ| with R = sum(net_abs(ones)).

    ``keep_bn_within``: module types whose BatchNorms stay (train mode, so they
    normalise with the single sample's statistics) -- the NB201 reference keeps
    the reduction blocks' BNs (methods §2.3 quirk); generic networks bypass all.
    """
    net = fresh_copy(net)
    bypass_batchnorm(net, tuple(keep_bn_within))
    net = net.double()
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    x = torch.ones((1, *batch.input_shape), dtype=torch.float64)
    logits(net, x).sum().backward()
    total = torch.zeros((), dtype=torch.float64)
    for m in scored_layers(net):
        if m.weight.grad is not None:
            total = total + (m.weight.detach() * m.weight.grad).abs().sum()
    return float(total)
