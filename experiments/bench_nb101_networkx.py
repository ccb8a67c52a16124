"""NB101 pruning and canonical vertex order: the hand-written code against networkx (issue 20).

    python experiments/bench_nb101_networkx.py

Both on the same 3,000 random 7-vertex specs in one process: results must be
identical; prints the time ratio networkx / hand-written. networkx versions:
``descendants``/``ancestors`` for pruning, ``all_topological_sorts`` for the
canonical order (the smallest (edge bitmask, op labels) over the orders).
"""
import time

import numpy as np
import networkx as nx
from nasframe.spaces import nb101
from nasframe.spaces.nb101 import OPS, prune, INPUT, OUTPUT

def prune_nx(matrix, ops):
    n = len(ops)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from((u, v) for u in range(n) for v in range(u + 1, n) if matrix[u][v])
    keep = sorted((nx.descendants(g, 0) | {0}) & (nx.ancestors(g, n - 1) | {n - 1}))
    if len(keep) < 2 or keep[0] != 0 or keep[-1] != n - 1:
        return None
    return tuple(tuple(int(matrix[i][j]) for j in keep) for i in keep), tuple(ops[i] for i in keep)

def canonical_nx(matrix, ops):
    n = len(ops)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from((u, v) for u in range(n) for v in range(n) if matrix[u][v])
    best = None
    for order in nx.all_topological_sorts(g):
        bits = 0
        for y in range(1, n):
            for x in range(y):
                if matrix[order[x]][order[y]]:
                    bits |= 1 << (x + y * (y - 1) // 2)
        key = (bits, tuple(OPS.index(ops[v]) for v in order[1:-1]))
        if best is None or key < best[0]:
            best = (key, order)
    order = best[1]
    return tuple(tuple(matrix[u][v] for v in order) for u in order), tuple(ops[v] for v in order)

rng = np.random.default_rng(0)
cases = []
while len(cases) < 3000:
    m = np.triu(rng.random((7, 7)) < 0.4, 1).astype(int)
    ops = [INPUT] + [OPS[int(i)] for i in rng.integers(0, 3, 5)] + [OUTPUT]
    cases.append((tuple(map(tuple, m.tolist())), tuple(ops)))
canon = nb101._canonical.__wrapped__
t = time.perf_counter(); a = [prune(m, o) for m, o in cases]; t_p = time.perf_counter() - t
t = time.perf_counter(); b = [prune_nx(m, o) for m, o in cases]; t_pn = time.perf_counter() - t
assert a == b
pruned = [p for p in a if p is not None]
t = time.perf_counter(); c = [canon(*p) for p in pruned]; t_c = time.perf_counter() - t
t = time.perf_counter(); d = [canonical_nx(*p) for p in pruned]; t_cn = time.perf_counter() - t
assert c == d
print(f"{len(cases)} specs, {len(pruned)} connected: identical results")
print(f"prune: networkx / hand-written = {t_pn / t_p:.1f}x  ({t_p*1e6/len(cases):.0f} vs {t_pn*1e6/len(cases):.0f} us)")
print(f"canonical: networkx / hand-written = {t_cn / t_c:.2f}x  ({t_c*1e6/len(pruned):.0f} vs {t_cn*1e6/len(pruned):.0f} us)")
