"""NAS-Bench-101: cells are DAGs of up to 7 vertices and 9 edges (423,624 unique cells).

A cell is an upper-triangular 0/1 adjacency matrix plus one label per vertex:
vertex 0 is ``input``, the last is ``output``, every other vertex carries one of
``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``. Validity follows the
official API: vertices not on an input->output path are pruned away, the
pruned cell must still connect input to output and have at most 9 edges.

**Canonical form.** Many matrices describe the same cell (dangling vertices,
different vertex orders). An ``NB101Arch`` always holds the *pruned* cell in
its *canonical vertex order*: among all orders of the intermediate vertices
that keep the matrix upper-triangular (the topological orders, at most 5! =
120), the one with the smallest (edge bitmask, op indices) key, ordered as the
official graph enumeration orders them -- so the canonical matrix is the very
representative the benchmark files store for the cell (and the network built
from it has the benchmark's parameter count; the channel split depends on the
vertex order). The set of relabellings is the same for any two isomorphic
cells, so they get the same minimum: isomorphic specs compare equal and hash
equal.
``module_hash`` is NB101's own Weisfeiler-Lehman-style MD5 fingerprint
(reimplemented), the key under which the official data files store a cell.

**Canonical string** ``<ops>|<rows>``: the intermediate op names in vertex
order joined by ``+`` then ``|`` then the strict upper triangle of the matrix,
row by row (row i lists columns i+1..n-1 as 0/1), rows joined by ``.``. E.g.
input -> conv3x3 -> output plus a skip input -> output is
``conv3x3-bn-relu|11.1``; the 2-vertex cell (input -> output) is ``|1``.
``parse`` accepts any valid cell written this way (also unpruned or in another
vertex order) and returns its canonical form.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Sequence

import numpy as np

from nasframe.core.space import Architecture, Buildable, Mutable, NASLibKeyed, Relaxable, SearchSpace
from nasframe.errors import ArchitectureError, ConfigError

INPUT, OUTPUT = "input", "output"
CONV3X3, CONV1X1, MAXPOOL3X3 = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
OPS = (CONV3X3, CONV1X1, MAXPOOL3X3)  # the official config['available_ops'] order (hash labels 0, 1, 2)
MAX_VERTICES = 7
MAX_EDGES = 9
# NASLib's integer op codes (the keys of zc_nasbench101.json)
NASLIB_CODES = {0: INPUT, 1: OUTPUT, 2: MAXPOOL3X3, 3: CONV1X1, 4: CONV3X3}
# encode(): one-hot label columns
LABELS = (INPUT, CONV3X3, CONV1X1, MAXPOOL3X3, OUTPUT)


@dataclass(frozen=True)
class NB101Arch(Architecture):
    """A pruned cell in canonical vertex order; build it with ``NB101Space.from_spec``."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]  # one label per vertex, 'input' first and 'output' last

    def __str__(self) -> str:
        n = len(self.ops)
        rows = ".".join("".join(str(self.matrix[i][j]) for j in range(i + 1, n)) for i in range(n - 1))
        return "+".join(self.ops[1:-1]) + "|" + rows

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    def spec(self) -> tuple[np.ndarray, list[str]]:
        """(matrix, ops) as the official ``ModelSpec`` takes them."""
        return np.array(self.matrix, dtype=np.int8), list(self.ops)

    @cached_property
    def module_hash(self) -> str:
        """NB101's isomorphism-invariant MD5 fingerprint (the key of the official data files)."""
        return module_hash(self.matrix, self.ops)


# ------------------------------------------------------------------ graph helpers


def module_hash(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """The NB101 fingerprint of a pruned cell.

    Each vertex starts from the MD5 of ``str((out_degree, in_degree, label))``
    (label -1 input, -2 output, else the index in ``OPS``); then, once per
    vertex, its hash becomes the MD5 of its sorted in-neighbour hashes, ``|``,
    its sorted out-neighbour hashes, ``|``, its own hash. The fingerprint is the
    MD5 of ``str`` of the sorted final hashes. Vertex order does not matter.
    """
    n = len(ops)
    labels = [-1] + [OPS.index(o) for o in ops[1:-1]] + [-2]
    ins = [sum(matrix[i][j] for i in range(n)) for j in range(n)]
    outs = [sum(matrix[i]) for i in range(n)]
    h = [hashlib.md5(str((outs[v], ins[v], labels[v])).encode()).hexdigest() for v in range(n)]
    for _ in range(n):
        h = [hashlib.md5(("".join(sorted(h[w] for w in range(n) if matrix[w][v])) + "|"
                          + "".join(sorted(h[w] for w in range(n) if matrix[v][w])) + "|"
                          + h[v]).encode()).hexdigest() for v in range(n)]
    return hashlib.md5(str(sorted(h)).encode()).hexdigest()


def prune(matrix: Sequence[Sequence[int]], ops: Sequence[str]):
    """Drop vertices not on an input->output path; ``None`` if input and output are not connected."""
    # hand-written: networkx descendants/ancestors give the same sets >3x slower on this hot path
    # (experiments/bench_nb101_networkx.py)
    n = len(ops)
    fwd, stack = {0}, [0]
    while stack:
        u = stack.pop()
        for v in range(u + 1, n):
            if matrix[u][v] and v not in fwd:
                fwd.add(v)
                stack.append(v)
    bwd, stack = {n - 1}, [n - 1]
    while stack:
        v = stack.pop()
        for u in range(v):
            if matrix[u][v] and u not in bwd:
                bwd.add(u)
                stack.append(u)
    keep = sorted(fwd & bwd)
    if len(keep) < 2 or keep[0] != 0 or keep[-1] != n - 1:
        return None
    return tuple(tuple(int(matrix[i][j]) for j in keep) for i in keep), tuple(ops[i] for i in keep)


@lru_cache(maxsize=1 << 16)
def _canonical(matrix: tuple, ops: tuple) -> tuple:
    """Relabel the inner vertices into NB101's own representative order.

    Among the topological orders of the inner vertices, take the one with the
    smallest (edge bitmask, op indices) where edge (x, y) is bit
    ``x + y(y-1)/2``: that is the first variant of the cell that the official
    graph enumeration (``generate_graphs.py``: bitmasks ascending, then op
    labellings in product order) meets, i.e. the matrix the benchmark stores.
    """
    # hand-written: networkx.all_topological_sorts gives the same order >3x slower
    # (experiments/bench_nb101_networkx.py)
    n = len(ops)
    inner = range(1, n - 1)
    best = None
    for perm in itertools.permutations(inner):
        order = (0, *perm, n - 1)
        pos = {v: k for k, v in enumerate(order)}
        if any(matrix[u][v] and pos[u] > pos[v] for u in inner for v in inner):
            continue
        bits = 0
        for y in range(1, n):
            for x in range(y):
                if matrix[order[x]][order[y]]:
                    bits |= 1 << (x + y * (y - 1) // 2)
        key = (bits, tuple(OPS.index(ops[v]) for v in perm))
        if best is None or key < best[0]:
            best = (key, order)
    order = best[1]
    return tuple(tuple(matrix[u][v] for v in order) for u in order), tuple(ops[v] for v in order)


def _connected(adj: np.ndarray) -> bool:
    return prune(adj, [INPUT] + [CONV3X3] * (len(adj) - 2) + [OUTPUT]) is not None


# ------------------------------------------------------------------ the space


class NB101Space(SearchSpace, Mutable, Relaxable, Buildable, NASLibKeyed):
    """NAS-Bench-101 cells (CIFAR-10). Not ``Enumerable``: benchmark tables index cells by ``module_hash``."""

    name = "nb101"
    ops = OPS
    max_vertices = MAX_VERTICES
    max_edges = MAX_EDGES

    # ------------------------------------------------------------ construction

    def from_spec(self, matrix, ops: Sequence[str]) -> NB101Arch:
        """Validate, prune and canonicalise an (unpruned) NB101 spec; ``ArchitectureError`` says why it is invalid."""
        m = np.asarray(matrix)
        ops = [str(o) for o in ops]
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ArchitectureError(f"an NB101 adjacency matrix must be square, got shape {m.shape}")
        n = m.shape[0]
        if len(ops) != n:
            raise ArchitectureError(f"an NB101 spec needs one op per vertex: {n} vertices but {len(ops)} ops")
        if not 2 <= n <= self.max_vertices:
            raise ArchitectureError(f"an NB101 cell has 2 to {self.max_vertices} vertices, got {n}")
        if not np.isin(m, (0, 1)).all():
            raise ArchitectureError("an NB101 adjacency matrix holds only 0 and 1")
        if np.tril(m).any():
            raise ArchitectureError("an NB101 adjacency matrix must be strictly upper-triangular (edges go forward)")
        pruned = prune(m.astype(int).tolist(), ops)
        if pruned is None:
            raise ArchitectureError("the cell does not connect input to output; add an edge on an input->output path")
        mat, kept = pruned
        if kept[0] != INPUT or kept[-1] != OUTPUT:
            raise ArchitectureError(f"the first op must be '{INPUT}' and the last '{OUTPUT}', got '{kept[0]}' "
                                    f"and '{kept[-1]}'")
        bad = [o for o in kept[1:-1] if o not in OPS]
        if bad:
            raise ArchitectureError(f"unknown NB101 op '{bad[0]}'; NB101 ops are {', '.join(OPS)}")
        edges = sum(map(sum, mat))
        if edges > self.max_edges:
            raise ArchitectureError(f"the pruned cell has {edges} edges, NB101 allows at most {self.max_edges}")
        mat, kept = _canonical(mat, kept)
        return NB101Arch(mat, kept)

    def from_naslib(self, key: Sequence[int]) -> NB101Arch:
        """From NASLib's tuple key: 49 adjacency ints (7x7, row-major) then 7 op codes."""
        key = [int(k) for k in key]
        if len(key) != 56:
            raise ArchitectureError(f"a NASLib NB101 key has 56 ints (49 adjacency + 7 ops), got {len(key)}")
        try:
            ops = [NASLIB_CODES[c] for c in key[49:]]
        except KeyError as e:
            raise ArchitectureError(f"unknown NASLib NB101 op code {e.args[0]}; codes are 0-4") from None
        return self.from_spec(np.array(key[:49]).reshape(7, 7), ops)

    # ------------------------------------------------------------ core

    def sample(self, rng: np.random.Generator) -> NB101Arch:
        """The NB101 sampler: each upper-triangle bit and each op uniform, rejected until valid."""
        n = self.max_vertices
        while True:
            m = np.triu(rng.integers(2, size=(n, n)), 1)
            ops = [INPUT] + [OPS[i] for i in rng.integers(len(OPS), size=n - 2)] + [OUTPUT]
            try:
                return self.from_spec(m, ops)
            except ArchitectureError:
                continue

    def parse(self, text: str) -> NB101Arch:
        if not isinstance(text, str):
            raise ArchitectureError(f"an NB101 architecture string is expected, got {type(text).__name__}")
        if text.count("|") != 1:
            raise ArchitectureError(f"'{text}' is not an NB101 string: expected '<ops>|<rows>', "
                                    f"like 'conv3x3-bn-relu|11.1'")
        op_part, row_part = text.strip().split("|")
        inner = [o.strip() for o in op_part.split("+")] if op_part.strip() else []
        for o in inner:
            if o not in OPS:
                raise ArchitectureError(f"unknown op '{o}' in '{text}'; NB101 ops are {', '.join(OPS)}")
        n = len(inner) + 2
        rows = row_part.split(".")
        if len(rows) != n - 1:
            raise ArchitectureError(f"'{text}' has {len(inner)} ops so it needs {n - 1} rows separated by '.', "
                                    f"found {len(rows)}")
        m = np.zeros((n, n), dtype=int)
        for i, row in enumerate(rows):
            if len(row) != n - 1 - i or set(row) - {"0", "1"}:
                raise ArchitectureError(f"row {i} of '{text}' must be {n - 1 - i} digits 0/1, got '{row}'")
            m[i, i + 1:] = [int(c) for c in row]
        return self.from_spec(m, [INPUT, *inner, OUTPUT])

    def __contains__(self, arch) -> bool:
        if not isinstance(arch, NB101Arch):
            return False
        try:
            return self.from_spec(np.array(arch.matrix), arch.ops) == arch
        except ArchitectureError:
            return False

    # ------------------------------------------------------------ Mutable

    def _moves(self, arch: NB101Arch):
        """Every single-step edit as (matrix, ops) before validation, in a fixed order.

        Toggle one edge; change one op; and, when a vertex is free, insert a new
        vertex w with edges u -> w -> v (the one-flip move of the official
        padded 7x7 matrix once a dangling vertex already has one of the edges).
        """
        m, ops = np.array(arch.matrix), list(arch.ops)
        n = len(ops)
        for i in range(n - 1):
            for j in range(i + 1, n):
                t = m.copy()
                t[i, j] ^= 1
                yield t, ops
        for v in range(1, n - 1):
            for o in OPS:
                if o != ops[v]:
                    yield m, ops[:v] + [o] + ops[v + 1:]
        if n < self.max_vertices:
            for u in range(n - 1):
                for v in range(u + 1, n):
                    for o in OPS:
                        # new vertex at position u+1: keeps the matrix upper-triangular
                        t = np.insert(np.insert(m, u + 1, 0, axis=0), u + 1, 0, axis=1)
                        t[u, u + 1] = 1
                        t[u + 1, v + 1] = 1
                        yield t, ops[:u + 1] + [o] + ops[u + 1:]

    def neighbors(self, arch: NB101Arch) -> list[NB101Arch]:
        out = {}
        for m, ops in self._moves(arch):
            try:
                a = self.from_spec(m, ops)
            except ArchitectureError:
                continue
            if a != arch:
                out.setdefault(a, None)  # dict keeps first-seen order (sets would depend on PYTHONHASHSEED)
        return list(out)

    def mutate(self, arch: NB101Arch, rng: np.random.Generator) -> NB101Arch:
        """A uniformly chosen valid neighbour (edge toggle, op change or vertex insertion)."""
        options = self.neighbors(arch)
        if not options:
            raise ArchitectureError(f"{arch} has no valid NB101 neighbour")
        return options[int(rng.integers(len(options)))]

    # ------------------------------------------------------------ Relaxable

    def encode(self, arch: NB101Arch) -> np.ndarray:
        """A 7 x (7 + 5) matrix: padded adjacency, then one-hot labels (input, conv3x3, conv1x1, maxpool, output).

        Inner vertices keep their canonical positions 1..n-2, the output sits
        at row/column 6; rows of absent vertices are all zero.
        """
        n, N = arch.num_vertices, MAX_VERTICES
        idx = list(range(n - 1)) + [N - 1]
        x = np.zeros((N, N + len(LABELS)), dtype=np.float32)
        for a, i in enumerate(idx):
            for b, j in enumerate(idx):
                x[i, j] = arch.matrix[a][b]
            x[i, N + LABELS.index(arch.ops[a])] = 1.0
        return x

    def project(self, x) -> NB101Arch:
        """The nearest valid cell: edges where the score is > 0.5, inner ops by argmax, then repair.

        Repair keeps the decision of every confident score where it can: a
        disconnected cell gains its highest-scoring missing edges until input
        reaches output; a cell with too many edges loses its lowest-scoring
        edges whose removal keeps it connected.
        """
        N = MAX_VERTICES
        x = np.asarray(x, dtype=np.float64)
        if x.size != N * (N + len(LABELS)) or not np.isfinite(x).all():
            raise ArchitectureError(f"an NB101 encoding is {N} x {N + len(LABELS)} finite numbers, got shape {x.shape}")
        x = x.reshape(N, N + len(LABELS))
        score = np.triu(x[:, :N], 1)
        upper = np.triu(np.ones((N, N), dtype=bool), 1)
        adj = ((score > 0.5) & upper).astype(int)
        op_scores = x[1:N - 1, N + 1:N + 4]
        ops = [INPUT] + [OPS[int(k)] for k in op_scores.argmax(axis=1)] + [OUTPUT]
        missing = sorted(zip(*np.nonzero(upper & (adj == 0))), key=lambda e: -score[e])
        for e in missing:
            if _connected(adj):
                break
            adj[e] = 1
        while True:
            pruned = prune(adj, ops)
            live = {(i, j) for i in range(N) for j in range(N) if adj[i, j]}
            if pruned is not None:
                mat, _ = pruned
                if sum(map(sum, mat)) <= self.max_edges:
                    break
            for e in sorted(live, key=lambda e: score[e]):
                adj[e] = 0
                if _connected(adj):
                    break
                adj[e] = 1
            else:  # cannot happen for a connected cell with > 9 edges (it is not a single path)
                raise ArchitectureError("cannot repair the encoded NB101 cell to at most 9 edges")
        return self.from_spec(adj, ops)

    # ------------------------------------------------------------ Buildable

    def _task(self, task: str | None) -> None:
        if task not in (None, "cifar10", "cifar10-valid"):
            raise ConfigError(f"NB101 networks are built for CIFAR-10 only, got task '{task}'")

    def input_shape(self, task: str | None = None) -> tuple[int, int, int]:
        self._task(task)
        return (3, 32, 32)

    def build(self, arch: NB101Arch, task: str | None = None):
        from nasframe.spaces.nb101_net import NB101Network

        self._task(task)
        return NB101Network(np.array(arch.matrix), arch.ops, num_classes=10)

    def flops(self, arch: NB101Arch, task: str | None = None) -> float:
        """MACs (millions) of one 32x32 forward pass: convolutions and the classifier (with its bias)."""
        self._task(task)
        return _complexity(arch)[0]

    def params(self, arch: NB101Arch, task: str | None = None) -> float:
        self._task(task)
        return _complexity(arch)[1]


@lru_cache(maxsize=4096)
def _complexity(arch: NB101Arch) -> tuple[float, float]:
    from nasframe.spaces.flops import count_flops
    from nasframe.spaces.nb101_net import NB101Network

    net = NB101Network(np.array(arch.matrix), arch.ops, num_classes=10)
    flops = count_flops(net, (3, 32, 32))  # "macs": convolutions and the classifier (with its bias)
    params = sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6
    return flops, params
