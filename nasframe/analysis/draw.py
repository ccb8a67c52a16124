"""Drawings of architectures for the report, one drawer per space config name.

``DRAWERS`` maps the space's config name (``names.space`` in a run's config,
e.g. ``nb201``) to a function ``(space, arch, ax)`` that draws onto a
matplotlib axis. Cell spaces are drawn from their declared ``Sequential``
decisions (one ``edge_<to><-<from>`` decision per edge of the cell DAG); the
others from the fields their architectures declare (NB101's adjacency and
vertex ops, the TransNAS macro module codes, AnyNet's stage lists). A space
without a drawer is shown as its string only.
"""
from __future__ import annotations

import re

import numpy as np

_EDGE = re.compile(r"^edge_(\d+)<-(\d+)$")
# a 4-node cell drawn planar: node 2 inside the triangle 0-1-3
_CELL_POS = {0: (0.0, 0.0), 1: (1.5, 1.3), 2: (1.5, 0.45), 3: (3.0, 0.0)}
_MACRO_MODULES = {1: "normal", 2: "ch ×2", 3: "res /2", 4: "ch ×2\nres /2"}


def cell_edges(space, arch) -> list[tuple[int, int, str]]:
    """``(from, to, op)`` of each edge of a cell space, from its Sequential decisions."""
    edges = []
    for decision, choice in zip(space.decisions(), space.to_decisions(arch)):
        m = _EDGE.match(decision.name)
        if m is None:
            raise ValueError(f"decision '{decision.name}' is not a cell edge (edge_<to><-<from>)")
        edges.append((int(m.group(2)), int(m.group(1)), decision.options[choice]))
    return edges


def draw_cell(space, arch, ax) -> None:
    import networkx as nx

    edges = cell_edges(space, arch)
    g = nx.DiGraph()
    nodes = sorted({n for e in edges for n in e[:2]})
    g.add_nodes_from(nodes)
    live = [(s, t) for s, t, op in edges if op != "none"]
    g.add_edges_from(live)
    pos = {n: _CELL_POS.get(n, (n, 0.0)) for n in nodes} if len(nodes) <= 4 else nx.spring_layout(g, seed=0)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color="#dbe8f6", edgecolors="#2b5d8a", node_size=520)
    nx.draw_networkx_labels(g, pos, ax=ax, labels={0: "in", nodes[-1]: "out",
                                                   **{n: str(n) for n in nodes[1:-1]}}, font_size=8)
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=live, arrows=True, arrowsize=12, edge_color="#2b5d8a",
                           node_size=520, width=1.4)
    for s, t, op in edges:
        (x0, y0), (x1, y1) = pos[s], pos[t]
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, op.replace("nor_", "").replace("skip_connect", "skip"),
                fontsize=7, ha="center", va="center", color="#999" if op == "none" else "#222",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9})
    ax.set_xlim(-0.4, 3.4)
    ax.set_ylim(-0.35, 1.65)


def draw_nb101(space, arch, ax) -> None:
    import networkx as nx

    matrix = np.asarray(arch.matrix)
    g = nx.from_numpy_array(matrix, create_using=nx.DiGraph)
    depth = {n: 0 for n in g}
    for n in nx.topological_sort(g):
        for m in g.successors(n):
            depth[m] = max(depth[m], depth[n] + 1)
    nx.set_node_attributes(g, depth, "layer")
    pos = nx.multipartite_layout(g, subset_key="layer")
    short = {"input": "in", "output": "out", "conv3x3-bn-relu": "conv3", "conv1x1-bn-relu": "conv1",
             "maxpool3x3": "pool"}
    nx.draw_networkx(g, pos, ax=ax, labels={i: short.get(op, op) for i, op in enumerate(arch.ops)},
                     node_color="#dbe8f6", edgecolors="#2b5d8a", edge_color="#2b5d8a", node_size=650, font_size=7,
                     arrowsize=10)


def draw_macro(space, arch, ax) -> None:
    from matplotlib.patches import FancyBboxPatch

    modules = list(arch.modules)
    for i, m in enumerate(modules):
        ax.add_patch(FancyBboxPatch((i * 1.2, 0), 1.0, 1.0, boxstyle="round,pad=0.05",
                                    fc=("#dbe8f6", "#f6e3c6", "#d9f0d9", "#f3d3d3")[m - 1], ec="#444"))
        ax.text(i * 1.2 + 0.5, 0.5, f"{m}\n{_MACRO_MODULES.get(m, '?')}", ha="center", va="center", fontsize=7)
        if i:
            ax.annotate("", (i * 1.2, 0.5), (i * 1.2 - 0.2, 0.5), arrowprops={"arrowstyle": "->", "lw": 1})
    ax.set_xlim(-0.2, len(modules) * 1.2)
    ax.set_ylim(-0.2, 1.2)


def draw_anynet(space, arch, ax) -> None:
    # one bar per stage: width as height, equal bar widths (depth is in the label)
    top = max(arch.widths)
    for i, (d, w, b, g) in enumerate(zip(arch.depths, arch.widths, arch.ratios, arch.groups)):
        ax.bar(i, w, width=0.8, color="#dbe8f6", edgecolor="#2b5d8a")
        ax.text(i, w + top * 0.03, f"w={w}\nd={d}\nb={b:g} g={g}", ha="center", va="bottom", fontsize=7)
    ax.set_xlim(-0.6, len(arch.widths) - 0.4)
    ax.set_ylim(0, top * 1.6)


DRAWERS = {"nb201": draw_cell, "transnas_micro": draw_cell, "transnas_macro": draw_macro,
           "nb101": draw_nb101, "anynet": draw_anynet}


def complexity(space, arch, task=None) -> dict:
    """FLOPs (M MACs) and parameters (M) when the space builds networks; {} otherwise."""
    from nasframe.core.space import Buildable

    if not isinstance(space, Buildable):
        return {}
    return {"MFLOPs": float(space.flops(arch, task)), "M params": float(space.params(arch, task))}


def draw_architecture(space_name: str, space, arch, ax) -> bool:
    """Draw ``arch`` onto ``ax`` with the drawer of ``space_name``; False when there is none."""
    drawer = DRAWERS.get(space_name)
    ax.set_axis_off()
    if drawer is None:
        return False
    drawer(space, arch, ax)
    return True
