"""NAS-Bench-201: a 4-node cell, 6 edges, 5 candidate ops per edge (15,625 cells).

Architectures are the six op indices in the order the official string lists
the edges: (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2). Enumeration follows
the official benchmark index (a permutation stored in ``resources/``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from nasframe.core.space import (Architecture, Buildable, Decision, Enumerable, GraphEncoded, Mutable,
                                 NASLibKeyed, ReferenceNetworks, Relaxable, SearchSpace, Sequential, Tappable)
from nasframe.errors import ArchitectureError
from nasframe.spaces.nb201_ops import EDGES, OPS

N_ARCHS = len(OPS) ** len(EDGES)
DATASETS = {"cifar10": (10, 32), "cifar100": (100, 32), "imagenet16-120": (120, 16)}
_TOKEN = re.compile(r"^([^~|+]+)~(\d+)$")
# NASLib's NB201 op tuple: its own op numbering, and edges ordered (1-2),(1-3),(1-4),(2-3),(2-4),(3-4)
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
NASLIB_EDGE_OF = (0, 1, 3, 2, 4, 5)  # NASLib tuple position of each edge in official string order


@dataclass(frozen=True)
class NB201Arch(Architecture):
    ops: tuple[int, ...]

    def __str__(self) -> str:
        names = [f"{OPS[o]}~{src}" for o, (_, src) in zip(self.ops, EDGES)]
        return "|{}|+|{}|{}|+|{}|{}|{}|".format(*names)

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(OPS[o] for o in self.ops)


def _code(ops: Sequence[int]) -> int:
    v = 0
    for o in ops:
        v = v * len(OPS) + o
    return v


def _ops(code: int) -> tuple[int, ...]:
    out = []
    for _ in EDGES:
        code, r = divmod(code, len(OPS))
        out.append(r)
    return tuple(reversed(out))


def resolve_dataset(dataset: str | None) -> str:
    from nasframe.errors import ConfigError

    name = (dataset or "cifar10").lower().replace("_", "-")
    aliases = {"cifar10-valid": "cifar10", "imagenet16": "imagenet16-120", "imagenet": "imagenet16-120"}
    name = aliases.get(name, name)
    if name not in DATASETS:
        raise ConfigError(f"unknown NB201 dataset '{dataset}'; choose one of {', '.join(DATASETS)}")
    return name


class NB201Space(SearchSpace, Enumerable, Mutable, Sequential, Relaxable, Buildable, GraphEncoded, NASLibKeyed,
                 Tappable, ReferenceNetworks):
    name = "nb201"
    ops = OPS
    edges = EDGES

    def __init__(self, use_official_order: bool = True):
        self.use_official_order = use_official_order

    # ------------------------------------------------------------ core

    def sample(self, rng: np.random.Generator) -> NB201Arch:
        return NB201Arch(tuple(int(x) for x in rng.integers(len(OPS), size=len(EDGES))))

    def parse(self, text: str) -> NB201Arch:
        if not isinstance(text, str):
            raise ArchitectureError(f"an NB201 architecture string is expected, got {type(text).__name__}")
        nodes = text.strip().split("+")
        if len(nodes) != 3:
            raise ArchitectureError(f"'{text}' is not an NB201 string: expected 3 nodes separated by '+', "
                                    f"like |nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|")
        ops = []
        for node, node_str in enumerate(nodes, start=1):
            if not (node_str.startswith("|") and node_str.endswith("|")):
                raise ArchitectureError(f"node {node} of '{text}' must be wrapped in '|': '{node_str}'")
            tokens = node_str[1:-1].split("|")
            if len(tokens) != node:
                raise ArchitectureError(f"node {node} of '{text}' needs {node} edges, found {len(tokens)}")
            for src, token in enumerate(tokens):
                m = _TOKEN.match(token)
                if not m:
                    raise ArchitectureError(f"bad token '{token}' in '{text}': expected op~input")
                op, inp = m.group(1), int(m.group(2))
                if op not in OPS:
                    raise ArchitectureError(f"unknown op '{op}' in '{text}'; NB201 ops are {', '.join(OPS)}")
                if inp != src:
                    raise ArchitectureError(f"token '{token}' in '{text}': edge {src + 1} of node {node} "
                                            f"must read input {src}")
                ops.append(OPS.index(op))
        return NB201Arch(tuple(ops))

    @staticmethod
    def from_naslib(ops) -> NB201Arch:
        """The architecture of a NASLib op tuple, given as a sequence or as text ("(4, 3, 3, 0, 0, 0)", "4 3 3 0 0 0")."""
        vals = re.findall(r"-?\d+", ops) if isinstance(ops, str) else list(ops)
        try:
            vals = [int(v) for v in vals]
        except (TypeError, ValueError):
            vals = []
        if len(vals) != len(EDGES) or not all(0 <= v < len(NASLIB_OPS) for v in vals):
            raise ArchitectureError(f"{ops!r} is not a NASLib NB201 op tuple (six ints in 0..4)")
        return NB201Arch(tuple(OPS.index(NASLIB_OPS[vals[j]]) for j in NASLIB_EDGE_OF))

    def __contains__(self, arch) -> bool:
        return (isinstance(arch, NB201Arch) and len(arch.ops) == len(EDGES)
                and all(isinstance(o, int) and 0 <= o < len(OPS) for o in arch.ops))

    # ------------------------------------------------------------ Enumerable

    @cached_property
    def _order(self) -> np.ndarray:
        if not self.use_official_order:
            return np.arange(N_ARCHS)
        return np.load(Path(__file__).parent / "resources" / "nb201_order.npy").astype(np.int64)

    @cached_property
    def _rank(self) -> np.ndarray:
        rank = np.empty(N_ARCHS, dtype=np.int64)
        rank[self._order] = np.arange(N_ARCHS)
        return rank

    def __len__(self) -> int:
        return N_ARCHS

    def __getitem__(self, index: int) -> NB201Arch:
        if not 0 <= index < N_ARCHS:
            raise IndexError(f"NB201 index {index} out of range [0, {N_ARCHS})")
        return NB201Arch(_ops(int(self._order[index])))

    def index(self, arch: NB201Arch) -> int:
        return int(self._rank[_code(arch.ops)])

    # ------------------------------------------------------------ Mutable

    def neighbors(self, arch: NB201Arch) -> list[NB201Arch]:
        out = []
        for e, cur in enumerate(arch.ops):
            for o in range(len(OPS)):
                if o != cur:
                    out.append(NB201Arch(arch.ops[:e] + (o,) + arch.ops[e + 1:]))
        return out

    def mutate(self, arch: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        # The AutoDL/NATS reference mutation: a node uniformly, then one of its incoming edges
        # uniformly (so edge 1<-0 is three times as likely as each edge into node 3), then a
        # different op. REA's mutation=uniform draws the edge uniformly instead.
        node = 1 + int(rng.integers(3))
        e = [i for i, (t, _) in enumerate(EDGES) if t == node][int(rng.integers(node))]
        o = int(rng.integers(len(OPS) - 1))
        o = o + (o >= arch.ops[e])
        return NB201Arch(arch.ops[:e] + (o,) + arch.ops[e + 1:])

    # ------------------------------------------------------------ Sequential

    def decisions(self) -> list[Decision]:
        return [Decision(f"edge_{t}<-{s}", OPS) for t, s in EDGES]

    def from_decisions(self, choices: Sequence[int]) -> NB201Arch:
        choices = tuple(int(c) for c in choices)
        if len(choices) != len(EDGES) or not all(0 <= c < len(OPS) for c in choices):
            raise ArchitectureError(f"NB201 needs {len(EDGES)} choices in [0, {len(OPS)}), got {list(choices)}")
        return NB201Arch(choices)

    def to_decisions(self, arch: NB201Arch) -> list[int]:
        return list(arch.ops)

    # ------------------------------------------------------------ Relaxable

    def encode(self, arch: NB201Arch) -> np.ndarray:
        """One-hot op matrix, one row per edge (6 x 5); the cell adjacency is fixed (see ``adjacency``)."""
        x = np.zeros((len(EDGES), len(OPS)), dtype=np.float32)
        x[np.arange(len(EDGES)), arch.ops] = 1.0
        return x

    def project(self, x) -> NB201Arch:
        x = np.asarray(x, dtype=np.float64).reshape(len(EDGES), len(OPS))
        return NB201Arch(tuple(int(i) for i in x.argmax(axis=1)))

    @cached_property
    def adjacency(self) -> np.ndarray:
        """Adjacency of the op-as-node graph: input, the 6 edge ops, output (8 x 8).

        Op node ``e`` (edge t<-s) reads cell node s, and feeds cell node t; the
        ops entering node t feed every op leaving node t, and the ops into node
        3 feed the output.
        """
        n = len(EDGES) + 2
        a = np.zeros((n, n), dtype=np.float32)
        for e, (t, s) in enumerate(EDGES):
            if s == 0:
                a[0, e + 1] = 1
            for e2, (t2, s2) in enumerate(EDGES):
                if s2 == t:
                    a[e + 1, e2 + 1] = 1
            if t == 3:
                a[e + 1, n - 1] = 1
        return a

    # ------------------------------------------------------------ Buildable

    def build(self, arch: NB201Arch, task: str | None = None):
        from nasframe.spaces.nb201_net import NB201Network

        num_classes, _ = DATASETS[resolve_dataset(task)]
        return NB201Network(arch.op_names, num_classes=num_classes)

    def input_shape(self, task: str | None = None) -> tuple[int, int, int]:
        _, size = DATASETS[resolve_dataset(task)]
        return (3, size, size)

    # ------------------------------------------------------------ proxy references

    def zero_cost_network(self, arch: NB201Arch, task: str | None = None):
        """The zero-cost reference code's network (its ``variant="zc"``, see ``nb201_net``)."""
        from nasframe.spaces.nb201_net import NB201Network

        return NB201Network(arch.op_names, num_classes=DATASETS[resolve_dataset(task)][0], variant="zc")

    def synflow_kept_norms(self) -> tuple[type, ...]:
        from nasframe.spaces.nb201_net import ResNetReduction

        return (ResNetReduction,)  # the reference keeps the reduction blocks' BN in synflow's copy

    def backbone_taps(self, arch: NB201Arch):
        from nasframe.spaces.nb201_net import backbone_taps

        return backbone_taps(arch.op_names)

    def largest_backbone(self) -> NB201Arch:
        return NB201Arch((OPS.index("nor_conv_3x3"),) * len(EDGES))

    def flops(self, arch: NB201Arch, task: str | None = None) -> float:
        base, terms = self._complexity("flops", resolve_dataset(task))
        return (base + sum(terms[e][o] for e, o in enumerate(arch.ops))) / 1e6

    def params(self, arch: NB201Arch, task: str | None = None) -> float:
        base, terms = self._complexity("params", resolve_dataset(task))
        return (base + sum(terms[e][o] for e, o in enumerate(arch.ops))) / 1e6

    def _complexity(self, kind: str, dataset: str):
        """Exact additive decomposition of MACs/parameter counts (integers), measured on 25 built networks.

        Every edge op sees the same input shape whatever the other edges hold,
        so a network's count is the all-``none`` network's plus one term per
        (edge, op); this answers all 15,625 cells from 25 builds (tests check
        it against counting each built network).
        """
        key = (kind, dataset)
        cache = self.__dict__.setdefault("_complexity_cache", {})
        if key not in cache:
            measure = self._measure_flops if kind == "flops" else self._measure_params
            empty = NB201Arch((0,) * len(EDGES))
            base = measure(empty, dataset)
            terms = [[0] * len(OPS) for _ in EDGES]
            for e in range(len(EDGES)):
                for o in range(1, len(OPS)):
                    ops = [0] * len(EDGES)
                    ops[e] = o
                    terms[e][o] = measure(NB201Arch(tuple(ops)), dataset) - base
            cache[key] = (base, terms)
        return cache[key]

    def _measure_flops(self, arch: NB201Arch, dataset: str) -> int:
        from nasframe.spaces.flops import count_macs

        return count_macs(self.build(arch, dataset), self.input_shape(dataset))

    def _measure_params(self, arch: NB201Arch, dataset: str) -> int:
        return sum(p.numel() for p in self.build(arch, dataset).parameters() if p.requires_grad)
