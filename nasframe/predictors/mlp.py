"""The MLP predictor of PredNAS for size spaces (Table I: 3 x 1000, GeLU, 1 FC).

Inputs are standardised per feature with the statistics of the training set,
inside the network, so ``score`` stays differentiable in the raw encoding.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from nasframe.predictors.base import TorchPredictor
from nasframe.predictors.gcn import activation


class MLP(nn.Module):
    def __init__(self, mean: np.ndarray, std: np.ndarray, layers: int = 3, width: int = 1000,
                 dropout: float = 0.05, act: str = "gelu"):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        dims = [len(mean)] + [width] * layers
        body = []
        for i, o in zip(dims, dims[1:]):
            body += [nn.Linear(i, o), activation(act)]
        self.body = nn.Sequential(*body, nn.Dropout(dropout), nn.Linear(dims[-1], 1))  # dropout before the FC

    def forward(self, x):
        return self.body((x - self.mean) / self.std)


class MLPPredictor(TorchPredictor):
    """Predicts from flat numeric encodings (batch, features)."""

    def __init__(self, layers: int = 3, width: int = 1000, dropout: float = 0.05,
                 activation: str = "gelu", **train):
        super().__init__(**train)
        self.layers, self.width = int(layers), int(width)
        self.dropout, self.activation = float(dropout), activation

    def _network(self, x):
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        std = x.std(0)
        return MLP(x.mean(0), np.where(std > 1e-12, std, 1.0), self.layers, self.width, self.dropout,
                   self.activation)

    def _forward(self, x):
        return self.net(x.reshape(len(x), -1)).reshape(-1)
