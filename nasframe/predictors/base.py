"""Performance predictors: ``fit(x, y)`` then ``predict(x)`` on encoded architectures.

``Predictor`` is the whole contract. ``TorchPredictor`` adds what neural
predictors share: standardised targets, a Huber loss, SGD with momentum and a
cosine learning-rate schedule (torch.optim's update, see ``MomentumSGD``), and ``score(x)``, a differentiable prediction
on a torch tensor (the relaxed encoding), in target units, for gradient-based search.
Subclasses only build the network (``_network``) and say how a batch of
encodings becomes its input (``_forward``).
"""
from __future__ import annotations

import abc
import math
from contextlib import contextmanager

import numpy as np

from nasframe.errors import ConfigError


class Predictor(abc.ABC):
    @abc.abstractmethod
    def fit(self, x: np.ndarray, y: np.ndarray) -> "Predictor":
        """Learn from encodings ``x`` (first axis = samples) and targets ``y``."""

    @abc.abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted targets, in the units of ``y``, one per row of ``x``."""


class TorchPredictor(Predictor):
    def __init__(self, epochs: int = 300, batch_size: int = 10, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 1e-4, huber_delta: float = 1.0, seed: int = 0):
        if int(epochs) < 1 or int(batch_size) < 1 or not lr > 0:
            raise ConfigError(f"predictor needs epochs >= 1, batch_size >= 1 and lr > 0, "
                              f"got {epochs}, {batch_size}, {lr}")
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.huber_delta = float(huber_delta)
        self.seed = int(seed)
        self.net = None
        self.y_mean, self.y_std = 0.0, 1.0

    # ------------------------------------------------------------ subclass hooks

    @abc.abstractmethod
    def _network(self, x: np.ndarray):
        """A fresh ``nn.Module`` for encodings shaped like ``x`` (samples first)."""

    def _forward(self, x):
        """Standardised prediction for a float tensor of encodings, shape (batch,)."""
        return self.net(x).reshape(-1)

    # ------------------------------------------------------------ API

    def fit(self, x, y):
        import torch

        from nasframe.torchutil import MomentumSGD, cosine_schedule

        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(x) != len(y) or len(y) == 0:
            raise ValueError(f"fit needs as many encodings as targets (>0), got {len(x)} and {len(y)}")
        # Targets are re-standardised on every fit: the training set grows between rounds.
        self.y_mean = float(y.mean())
        self.y_std = float(y.std()) if y.std() > 1e-12 else 1.0
        yt = torch.as_tensor((y - self.y_mean) / self.y_std, dtype=torch.float32)
        xt = torch.as_tensor(x)
        gen = torch.Generator().manual_seed(self.seed)
        with seeded(self.seed):
            self.net = self._network(x)
        opt = MomentumSGD(self.net.parameters(), momentum=self.momentum, weight_decay=self.weight_decay)
        lrs = iter(cosine_schedule(self.lr, self.epochs * math.ceil(len(y) / self.batch_size)))
        loss_fn = torch.nn.HuberLoss(delta=self.huber_delta)
        self.net.train()
        with seeded(self.seed + 1):  # dropout draws do not disturb the caller's stream
            for _ in range(self.epochs):
                perm = torch.randperm(len(y), generator=gen)
                for i in range(0, len(y), self.batch_size):
                    idx = perm[i:i + self.batch_size]
                    opt.zero_grad()
                    loss = loss_fn(self._forward(xt[idx]), yt[idx])
                    loss.backward()
                    opt.step(next(lrs))
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)  # search differentiates w.r.t. the input only
        return self

    def score(self, x):
        """Differentiable prediction, in the units of the targets, for a tensor of (relaxed) encodings."""
        if self.net is None:
            raise RuntimeError("predictor used before fit()")
        return self._forward(x) * self.y_std + self.y_mean

    def predict(self, x) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.score(torch.as_tensor(np.asarray(x, dtype=np.float32))).numpy().astype(np.float64)


@contextmanager
def seeded(seed: int):
    """Run a block under a fixed torch seed; the caller's CPU stream is restored afterwards."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
