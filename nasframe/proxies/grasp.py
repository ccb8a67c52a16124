"""GraSP (Wang et al. 2020), one iteration, T = 1: score = sum -θ ⊙ (H g)."""
from __future__ import annotations

import torch
from torch import nn

from nasframe.proxies._layers import cross_entropy, fresh_copy, scored_layers
from nasframe.proxies.batch import Batch


def hessian_gradient_product(net: nn.Module, batch: Batch) -> tuple[list, list]:
    """(weights, H·g) for the Conv2d/Linear weights, g = ∂L/∂W (detached)."""
    weights = [m.weight for m in scored_layers(net)]
    g = torch.autograd.grad(cross_entropy(net, batch.x, batch.y), weights, allow_unused=True)
    g = [torch.zeros_like(w) if gi is None else gi.detach() for w, gi in zip(weights, g)]
    grads = torch.autograd.grad(cross_entropy(net, batch.x, batch.y), weights, create_graph=True,
                                allow_unused=True)
    z = sum((gi * gr).sum() for gi, gr in zip(g, grads) if gr is not None)
    hg = torch.autograd.grad(z, weights, allow_unused=True) if torch.is_tensor(z) and z.requires_grad else None
    hg = [torch.zeros_like(w) if hg is None or h is None else h for w, h in zip(weights, hg or [None] * len(weights))]
    return weights, hg


def grasp(net: nn.Module, batch: Batch) -> float:
    batch.require(labels=True)
    net = fresh_copy(net)
    weights, hg = hessian_gradient_product(net, batch)
    return float(sum((-w.detach() * h).sum().double() for w, h in zip(weights, hg)))
