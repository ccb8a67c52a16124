"""The DARTS space (Liu et al. 2019; NAS-Bench-301's space): a normal and a reduction cell.

Each cell has two inputs (the outputs of the two previous cells, nodes 0 and 1)
and four intermediate nodes (2..5); intermediate node k reads two *different*
earlier nodes through one op each, and the cell outputs the concatenation of
the four intermediate nodes. Ops (NASLib's compact indices): ``OPS``.

The architecture string is NASLib's compact genotype,
``[[(input, op) x 8 normal], [(input, op) x 8 reduce]]`` with entries 2k and
2k+1 feeding intermediate node k, e.g. the keys of NASLib's
``zc_nasbench301.json``. The two entries of a node are one unordered pair,
so they are kept sorted (by input, then op): ``parse`` accepts either order and
``str`` writes the sorted one. About 10^18 architectures (not Enumerable).
"""
from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from nasframe.core.space import Architecture, Buildable, Decision, Mutable, Relaxable, SearchSpace, Sequential
from nasframe.errors import ArchitectureError, ConfigError

OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
       "dil_conv_5x5")
NODES = 4  # intermediate nodes per cell
EDGES = 2 * NODES  # (input, op) pairs per cell
CELLS = ("normal", "reduce")
MAX_INPUTS = NODES + 1  # intermediate node k reads one of nodes 0..k+1
DATASETS = {"cifar10": (10, 32), "cifar100": (100, 32)}
# input pairs a node can read, in a fixed order (node k: pairs of 0..k+1)
PAIRS = tuple(tuple(itertools.combinations(range(k + 2), 2)) for k in range(NODES))

Cell = tuple[tuple[int, int], ...]


def _canonical(cell: Sequence[Sequence[int]]) -> Cell:
    pairs = [tuple(int(v) for v in p) for p in cell]
    return tuple(p for k in range(NODES) for p in sorted(pairs[2 * k:2 * k + 2]))


def cell_violation(cell: Sequence[Sequence[int]]) -> str | None:
    """Why ``cell`` is not a DARTS cell, or None."""
    if len(cell) != EDGES:
        return f"a cell has {EDGES} (input, op) pairs, got {len(cell)}"
    for e, pair in enumerate(cell):
        if len(pair) != 2:
            return f"entry {e} is not an (input, op) pair: {pair!r}"
        inp, op = pair
        if not (isinstance(inp, (int, np.integer)) and isinstance(op, (int, np.integer))):
            return f"entry {e} must hold two integers, got {pair!r}"
        if not 0 <= op < len(OPS):
            return f"entry {e}: op {op} is not in 0..{len(OPS) - 1} ({', '.join(OPS)})"
        if not 0 <= inp <= e // 2 + 1:
            return f"entry {e}: intermediate node {e // 2} can read nodes 0..{e // 2 + 1}, not {inp}"
    for k in range(NODES):
        if cell[2 * k][0] == cell[2 * k + 1][0]:
            return f"intermediate node {k} reads node {cell[2 * k][0]} twice; its two inputs must differ"
    return None


@dataclass(frozen=True)
class DartsArch(Architecture):
    normal: Cell
    reduce: Cell

    def __str__(self) -> str:
        def cell(c):
            return "[" + ", ".join(f"({i}, {o})" for i, o in c) + "]"

        return f"[{cell(self.normal)}, {cell(self.reduce)}]"

    @property
    def cells(self) -> tuple[Cell, Cell]:
        return (self.normal, self.reduce)

    def genotype(self) -> dict[str, list[tuple[str, int]]]:
        """The DARTS paper's genotype: per cell, (op name, input node) per edge."""
        return {name: [(OPS[o], i) for i, o in c] for name, c in zip(CELLS, self.cells)}


def make_arch(normal: Sequence[Sequence[int]], reduce: Sequence[Sequence[int]]) -> DartsArch:
    for name, cell in zip(CELLS, (normal, reduce)):
        why = cell_violation([tuple(p) for p in cell])
        if why is not None:
            raise ArchitectureError(f"not a DARTS {name} cell: {why}")
    return DartsArch(_canonical(normal), _canonical(reduce))


class DartsSpace(SearchSpace, Mutable, Sequential, Relaxable, Buildable):
    """DARTS cells; networks of ``layers`` cells with ``channels`` initial channels.

    The defaults (16 channels, 8 cells: the DARTS search network's size) keep
    building and tracing cheap; the DARTS paper evaluates 36 channels and 20 cells.
    """

    name = "darts"
    ops = OPS

    def __init__(self, channels: int = 16, layers: int = 8):
        if int(channels) < 1 or int(layers) < 3:
            raise ConfigError(f"DARTS networks need channels >= 1 and layers >= 3 (two reduction cells), "
                              f"got channels={channels}, layers={layers}")
        self.channels, self.layers = int(channels), int(layers)

    # ------------------------------------------------------------ core

    def sample(self, rng: np.random.Generator) -> DartsArch:
        def cell():
            out = []
            for k in range(NODES):
                pair = PAIRS[k][int(rng.integers(len(PAIRS[k])))]
                out += [(pair[0], int(rng.integers(len(OPS)))), (pair[1], int(rng.integers(len(OPS))))]
            return _canonical(out)

        return DartsArch(cell(), cell())

    def parse(self, text: str) -> DartsArch:
        if not isinstance(text, str):
            raise ArchitectureError(f"a DARTS compact genotype string is expected, got {type(text).__name__}")
        try:
            value = ast.literal_eval(text.strip())
            normal, reduce = value
            normal, reduce = [tuple(p) for p in normal], [tuple(p) for p in reduce]
        except (ValueError, SyntaxError, TypeError) as e:
            raise ArchitectureError(f"'{text[:60]}' is not a DARTS compact genotype: expected "
                                    f"[[(input, op) x 8], [(input, op) x 8]] ({e})") from None
        return make_arch(normal, reduce)

    def __contains__(self, arch) -> bool:
        return (isinstance(arch, DartsArch)
                and all(cell_violation(c) is None and _canonical(c) == c for c in arch.cells))

    # ------------------------------------------------------------ Mutable

    def neighbors(self, arch: DartsArch) -> list[DartsArch]:
        """One op changed, or one input moved to another node the partner edge does not read."""
        out = []
        for ci, cell in enumerate(arch.cells):
            for e, (inp, op) in enumerate(cell):
                partner = cell[e ^ 1][0]
                moves = [(inp, o) for o in range(len(OPS)) if o != op]
                moves += [(i, op) for i in range(e // 2 + 2) if i not in (inp, partner)]
                for m in moves:
                    new = _canonical(cell[:e] + (m,) + cell[e + 1:])
                    if new != cell:
                        out.append(DartsArch(*(new if j == ci else c for j, c in enumerate(arch.cells))))
        return list(dict.fromkeys(out))

    # ------------------------------------------------------------ Sequential

    def decisions(self) -> list[Decision]:
        """Per cell and intermediate node: which pair of inputs, then the op on each (lower input first)."""
        out = []
        for name in CELLS:
            for k in range(NODES):
                out.append(Decision(f"{name}_node{k + 2}_inputs", tuple(f"{a},{b}" for a, b in PAIRS[k])))
                out += [Decision(f"{name}_node{k + 2}_op{j}", OPS) for j in (0, 1)]
        return out

    def from_decisions(self, choices: Sequence[int]) -> DartsArch:
        choices = [int(c) for c in choices]
        ds = self.decisions()
        if len(choices) != len(ds) or not all(0 <= c < len(d.options) for c, d in zip(choices, ds)):
            raise ArchitectureError(f"DARTS needs {len(ds)} choices within each decision's options, got {choices}")
        cells, it = [], iter(choices)
        for _ in CELLS:
            cell = []
            for k in range(NODES):
                a, b = PAIRS[k][next(it)]
                cell += [(a, next(it)), (b, next(it))]
            cells.append(_canonical(cell))
        return DartsArch(*cells)

    def to_decisions(self, arch: DartsArch) -> list[int]:
        out = []
        for cell in arch.cells:
            for k in range(NODES):
                (a, oa), (b, ob) = cell[2 * k], cell[2 * k + 1]
                out += [PAIRS[k].index((a, b)), oa, ob]
        return out

    # ------------------------------------------------------------ Relaxable

    @cached_property
    def _width(self) -> int:
        return len(OPS) + MAX_INPUTS

    def encode(self, arch: DartsArch) -> np.ndarray:
        """One row per (cell, edge), 16 x 12: a one-hot op (7) then a one-hot input node (5)."""
        x = np.zeros((len(CELLS) * EDGES, self._width), dtype=np.float32)
        for ci, cell in enumerate(arch.cells):
            for e, (inp, op) in enumerate(cell):
                x[ci * EDGES + e, op] = 1.0
                x[ci * EDGES + e, len(OPS) + inp] = 1.0
        return x

    def project(self, x) -> DartsArch:
        """Per edge the best op; per node the best pair of different inputs (sum of the two rows' scores)."""
        x = np.asarray(x, dtype=np.float64).reshape(len(CELLS) * EDGES, self._width)
        if not np.all(np.isfinite(x)):
            raise ArchitectureError("cannot project a DARTS encoding with non-finite entries")
        cells = []
        for ci in range(len(CELLS)):
            rows = x[ci * EDGES:(ci + 1) * EDGES]
            cell = []
            for k in range(NODES):
                r0, r1 = rows[2 * k], rows[2 * k + 1]
                inp0, inp1 = r0[len(OPS):], r1[len(OPS):]
                a, b = max(((i, j) for i in range(k + 2) for j in range(k + 2) if i != j),
                           key=lambda ij: inp0[ij[0]] + inp1[ij[1]])
                cell += [(a, int(r0[:len(OPS)].argmax())), (b, int(r1[:len(OPS)].argmax()))]
            cells.append(_canonical(cell))
        return DartsArch(*cells)

    # ------------------------------------------------------------ Buildable

    def _dataset(self, task: str | None) -> tuple[int, int]:
        name = (task or "cifar10").lower()
        if name not in DATASETS:
            raise ConfigError(f"unknown DARTS dataset '{task}'; choose one of {', '.join(DATASETS)}")
        return DATASETS[name]

    def input_shape(self, task: str | None = None) -> tuple[int, int, int]:
        _, size = self._dataset(task)
        return (3, size, size)

    def build(self, arch: DartsArch, task: str | None = None):
        from nasframe.spaces.darts_net import DartsNetwork

        classes, _ = self._dataset(task)
        return DartsNetwork(arch.genotype(), channels=self.channels, layers=self.layers, num_classes=classes)

    def flops(self, arch: DartsArch, task: str | None = None) -> float:
        from nasframe.spaces.flops import count_flops

        return count_flops(self.build(arch, task), self.input_shape(task))

    def params(self, arch: DartsArch, task: str | None = None) -> float:
        return sum(p.numel() for p in self.build(arch, task).parameters() if p.requires_grad) / 1e6
