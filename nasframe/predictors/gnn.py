"""The AIO-P GNN regressor over computational graphs (pure torch, no torch_geometric).

Node embedding (32 wide): regular nodes get an op embedding (24) and a
resolution projection (8); weighted nodes an op embedding (14), the shared
resolution projection (8), two kernel-size embeddings (4 + 4) and a bias
projection (2). Six k-GNN (GraphConv) layers ``h' = W_root h + W_rel sum_{j->i} h_j + b``
with tanh, mean pooling per graph, and an MLP with four hidden layers of 32.

Many graphs form one batch as a block-diagonal sparse adjacency, so a step
costs a handful of sparse and dense matrix products whatever the batch holds.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from nasframe.graphs.extract import ComputeGraph
from nasframe.graphs.vocab import KERNEL_SLOTS, OPS

HIDDEN = 32
LAYERS = 6


@dataclass
class GraphBatch:
    ops: torch.Tensor  # (N,)
    res: torch.Tensor  # (N, 6)
    kernel: torch.Tensor  # (N, 2)
    bias: torch.Tensor  # (N,)
    weighted: torch.Tensor  # (N,) bool
    adj: torch.Tensor  # (N, N) sparse, adj[dst, src] = 1
    pool: torch.Tensor  # (B, N) sparse, rows average a graph's nodes
    gflops: np.ndarray  # (B,)
    log_flops_z: torch.Tensor | None = None  # (B,) the graph-level size input (PackedGraphs.log_flops_z), if set

    @property
    def size(self) -> int:
        return self.pool.shape[0]


class PackedGraphs:
    """A list of graphs concatenated once, so a batch is a few array slices."""

    def __init__(self, graphs: Sequence[ComputeGraph]):
        if not graphs:
            raise ValueError("no graphs to pack")
        self.n = len(graphs)
        sizes = np.array([g.n_nodes for g in graphs])
        self.node_start = np.concatenate([[0], np.cumsum(sizes)])
        n_edges = np.array([len(g.edges) for g in graphs])
        self.edge_start = np.concatenate([[0], np.cumsum(n_edges)])
        self.ops = np.concatenate([g.ops for g in graphs])
        self.res = np.concatenate([g.res for g in graphs]).astype(np.float32)
        self.kernel = np.concatenate([g.kernel for g in graphs])
        self.bias = np.concatenate([g.bias for g in graphs])
        self.weighted = np.concatenate([np.arange(g.n_nodes) < g.n_weighted for g in graphs])
        self.edges = np.concatenate([g.edges.reshape(-1, 2) for g in graphs])
        self.gflops = np.array([g.gflops for g in graphs], dtype=np.float64)
        self.log_flops_z: np.ndarray | None = None  # per-graph size input for networks that read one (set by the owner)

    def __len__(self) -> int:
        return self.n

    def batch(self, index: Sequence[int] | None = None) -> GraphBatch:
        index = np.arange(self.n) if index is None else np.asarray(index, dtype=np.int64)
        node_sl = [np.arange(self.node_start[i], self.node_start[i + 1]) for i in index]
        nodes = np.concatenate(node_sl)
        sizes = np.array([len(s) for s in node_sl])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        edges = np.concatenate([self.edges[self.edge_start[i]:self.edge_start[i + 1]] + off
                                for i, off in zip(index, offsets)])
        n = len(nodes)
        graph_of = np.repeat(np.arange(len(index)), sizes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adj = torch.sparse_coo_tensor(torch.as_tensor(edges[:, ::-1].T.copy()), torch.ones(len(edges)),
                                          (n, n), check_invariants=False).coalesce()
            pool = torch.sparse_coo_tensor(torch.as_tensor(np.stack([graph_of, np.arange(n)])),
                                           torch.as_tensor(1.0 / sizes[graph_of], dtype=torch.float32),
                                           (len(index), n), check_invariants=False).coalesce()
        return GraphBatch(torch.as_tensor(self.ops[nodes]), torch.as_tensor(self.res[nodes]),
                          torch.as_tensor(np.minimum(self.kernel[nodes], KERNEL_SLOTS - 1)),
                          torch.as_tensor(self.bias[nodes]), torch.as_tensor(self.weighted[nodes]),
                          adj, pool, self.gflops[index],
                          None if self.log_flops_z is None else torch.as_tensor(self.log_flops_z[index], dtype=torch.float32))

    def batches(self, batch_size: int, rng: np.random.Generator | None = None, index=None):
        index = np.arange(self.n) if index is None else np.asarray(index)
        if rng is not None:
            index = index[rng.permutation(len(index))]
        for i in range(0, len(index), batch_size):
            yield index[i:i + batch_size]


class NodeEmbedding(nn.Module):
    def __init__(self, n_ops: int = len(OPS)):
        super().__init__()
        self.op_regular = nn.Embedding(n_ops, 24)
        self.op_weighted = nn.Embedding(n_ops, 14)
        self.resolution = nn.Linear(6, 8)
        self.kernel = nn.Embedding(KERNEL_SLOTS, 4)
        self.bias = nn.Linear(2, 2)

    def forward(self, b: GraphBatch) -> torch.Tensor:
        res = self.resolution(b.res)
        regular = torch.cat([self.op_regular(b.ops), res], dim=1)
        bias = nn.functional.one_hot(b.bias, 2).float()
        weighted = torch.cat([self.op_weighted(b.ops), res, self.kernel(b.kernel[:, 0]), self.kernel(b.kernel[:, 1]),
                              self.bias(bias)], dim=1)
        return torch.where(b.weighted[:, None], weighted, regular)


class GraphConv(nn.Module):
    """k-GNN layer (Morris et al.): ``W_root h_i + W_rel sum over incoming edges + b``."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.root = nn.Linear(n_in, n_out, bias=False)
        self.rel = nn.Linear(n_in, n_out)

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        return self.root(h) + self.rel(torch.sparse.mm(adj, h))


def regressor_head(n_in: int) -> nn.Sequential:
    """Four hidden linear layers of 32 (one ReLU in the middle, as the reference) and the output."""
    return nn.Sequential(nn.Linear(n_in, HIDDEN), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN),
                         nn.Linear(HIDDEN, HIDDEN), nn.Linear(HIDDEN, 1))


class GNNBackbone(nn.Module):
    def __init__(self, layers: int = LAYERS):
        super().__init__()
        self.embed = NodeEmbedding()
        self.layers = nn.ModuleList(GraphConv(HIDDEN, HIDDEN) for _ in range(layers))

    def forward(self, b: GraphBatch) -> list[torch.Tensor]:
        """Node embedding followed by every layer's output (len = layers + 1)."""
        hs = [self.embed(b)]
        for layer in self.layers:
            hs.append(torch.tanh(layer(hs[-1], b.adj)))
        return hs


def readout(b: GraphBatch, *node_states: torch.Tensor, size_input: bool = False) -> torch.Tensor:
    """Mean-pool each node state per graph and concatenate; with ``size_input`` also the graph's size input."""
    parts = [torch.sparse.mm(b.pool, h) for h in node_states]
    if size_input:
        if b.log_flops_z is None:
            raise ValueError("this network reads a graph size input, but the batch has none (PackedGraphs.log_flops_z)")
        parts.append(b.log_flops_z[:, None])
    return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]


class GNNRegressor(nn.Module):
    """The base predictor: backbone, mean pooling (plus the size input when ``size_input``), MLP."""

    def __init__(self, size_input: bool = False):
        super().__init__()
        self.size_input = size_input
        self.backbone = GNNBackbone()
        self.head = regressor_head(HIDDEN + int(size_input))

    def forward(self, b: GraphBatch) -> torch.Tensor:
        h = self.backbone(b)[-1]
        return self.head(readout(b, h, size_input=self.size_input)).reshape(-1)


def n_params(module: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
