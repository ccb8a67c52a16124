"""Jacobian covariance (Mellor et al. 2020, v1): eigenvalues of the input-Jacobian correlation.

score = -Σ_i [log(λ_i + k) + 1/(λ_i + k)], k = 1e-5. Because trace(C) = N and
t ↦ log t + 1/t is minimised at t = 1, the score is at most about -N, with
equality iff the per-sample Jacobians are uncorrelated (C = I).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nasframe.proxies._layers import fresh_copy, logits
from nasframe.proxies.batch import Batch

K = 1e-5


def correlation_score(jacobians: np.ndarray, k: float = K) -> float:
    """The score of an [N, D] matrix of per-sample Jacobians (NaN if it is degenerate)."""
    if jacobians.ndim != 2 or jacobians.shape[0] < 2:
        return float("nan")  # a correlation needs at least two samples
    with np.errstate(all="ignore"):
        corr = np.corrcoef(jacobians)
    if not np.all(np.isfinite(corr)):
        return float("nan")
    lam = np.linalg.eigvalsh(corr)
    return float(-np.sum(np.log(lam + k) + 1.0 / (lam + k)))


def jacob_cov(net: nn.Module, batch: Batch) -> float:
    batch.require()
    net = fresh_copy(net)
    x = batch.x.clone().requires_grad_(True)
    y = logits(net, x)
    y.backward(torch.ones_like(y))
    jac = x.grad.reshape(x.shape[0], -1).double().numpy()
    return correlation_score(jac)
