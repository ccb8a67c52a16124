"""The graph-convolution predictor of PredNAS (Table I, Eq. 5, after Wen et al.).

Input: a batch of node-feature ("op") matrices over one fixed cell graph.
Each layer mixes forward and backward messages,
``V' = ½·act(Â V W¹) + ½·act(Âᵀ V W²)``, where Â is the adjacency with self
loops, normalised by degree so deep cells do not blow up. Node embeddings are
averaged and read out by two fully connected layers.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from nasframe.errors import ConfigError
from nasframe.predictors.base import TorchPredictor

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{name}'; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def he_init(module: nn.Module) -> None:
    """He-normal weights, zero biases: with PyTorch's default init the signal shrinks through the
    half-weighted GCN layers and SGD at lr 0.01 leaves the predictor nearly constant."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class GCN(nn.Module):
    def __init__(self, adjacency: np.ndarray, in_dim: int, layers: int = 3, embed: int = 144,
                 hidden: int = 128, dropout: float = 0.05, act: str = "gelu"):
        super().__init__()
        a = torch.as_tensor(np.asarray(adjacency, dtype=np.float32)) + torch.eye(len(adjacency))
        self.register_buffer("fwd", a.T / a.T.sum(1, keepdim=True))  # node j gathers from its inputs
        self.register_buffer("bwd", a / a.sum(1, keepdim=True))  # ... and from its outputs
        dims = [in_dim] + [embed] * layers
        self.w1 = nn.ModuleList(nn.Linear(i, o, bias=False) for i, o in zip(dims, dims[1:]))
        self.w2 = nn.ModuleList(nn.Linear(i, o, bias=False) for i, o in zip(dims, dims[1:]))
        self.act = activation(act)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(embed, hidden)
        self.fc2 = nn.Linear(hidden, 1)
        he_init(self)

    def forward(self, v):  # v: (batch, nodes, features)
        for w1, w2 in zip(self.w1, self.w2):  # halving the sum is exactly summing the halves, one op less
            v = self.drop((self.act(self.fwd @ w1(v)) + self.act(self.bwd @ w2(v))).mul_(0.5))
        return self.fc2(self.drop(self.act(self.fc1(v.mean(dim=1)))))


class GCNPredictor(TorchPredictor):
    """Predicts from (batch, nodes, features) op matrices over the fixed ``adjacency``."""

    def __init__(self, adjacency, layers: int = 3, embed: int = 144, hidden: int = 128,
                 dropout: float = 0.05, activation: str = "gelu", **train):
        super().__init__(**train)
        self.adjacency = np.asarray(adjacency, dtype=np.float32)
        if self.adjacency.ndim != 2 or self.adjacency.shape[0] != self.adjacency.shape[1]:
            raise ValueError(f"adjacency must be square, got shape {self.adjacency.shape}")
        self.layers, self.embed, self.hidden = int(layers), int(embed), int(hidden)
        self.dropout, self.activation = float(dropout), activation

    def _network(self, x):
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[1] != len(self.adjacency):
            raise ValueError(f"GCN input must be (batch, {len(self.adjacency)}, features), got {x.shape}")
        return GCN(self.adjacency, x.shape[2], self.layers, self.embed, self.hidden, self.dropout,
                   self.activation)
