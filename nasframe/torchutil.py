"""Small torch helpers shared by proxies, counters, predictors and the PredNAS ascent."""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Sequence

from torch import nn


@contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` intra-op threads (None: leave as is), restoring the count after.

    Small networks gain nothing from a second thread and lose a lot on a busy
    machine; a fixed count also makes float reductions, and so scores, the same
    in every process (the joblib launcher's workers start with other defaults).
    """
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class MomentumSGD:
    """``torch.optim.SGD``'s update (momentum, L2 weight decay; no dampening, no Nesterov), with the
    learning rate given to every ``step``.

    Why not ``torch.optim.SGD``: the first torch optimizer a process builds imports ``torch._dynamo``
    (about 1 s on the 2-core machine, half a PredNAS predictor fit), and the predictor fit and the
    ascent are the only optimisers a lookup search runs. ``tests/predictors/test_momentum_sgd.py``
    pins the trajectory, and the schedules below, to torch.optim's.
    """

    def __init__(self, params, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = list(params)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.buffers: list = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self, lr: float) -> None:
        import torch

        with torch.no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                d = p.grad if self.weight_decay == 0 else p.grad.add(p, alpha=self.weight_decay)
                if self.momentum:
                    if self.buffers[i] is None:
                        self.buffers[i] = d.clone()
                    else:
                        self.buffers[i].mul_(self.momentum).add_(d)
                    d = self.buffers[i]
                p.add_(d, alpha=-lr)


def cosine_schedule(lr: float, steps: int) -> list[float]:
    """The rate of each of ``steps`` steps under ``CosineAnnealingLR(T_max=steps)`` (eta_min 0),
    by its recursive form, so the floats are torch's."""
    out = [float(lr)]
    for t in range(1, steps):
        out.append((1 + math.cos(math.pi * t / steps)) / (1 + math.cos(math.pi * (t - 1) / steps)) * out[-1])
    return out


def multistep_schedule(lr: float, steps: int, milestones, gamma: float) -> list[float]:
    """The rate of each of ``steps`` steps under ``MultiStepLR(milestones, gamma)``."""
    out, at = [float(lr)], sorted(milestones)
    for t in range(1, steps):
        out.append(out[-1] * gamma ** at.count(t))
    return out


class Taps(nn.Module):
    """A backbone returning its tapped feature maps, deepest first (``Tappable.backbone_taps``).

    ``run(body, x)`` is the forward pass through ``body`` that collects the
    maps; ``channels`` lists their channel counts in the same order.
    """

    def __init__(self, body: nn.Module, run, channels: Sequence[int]):
        super().__init__()
        self.body, self._run, self.channels = body, run, list(channels)

    def forward(self, x):
        return self._run(self.body, x)
