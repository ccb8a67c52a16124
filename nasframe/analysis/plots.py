"""Plots people would rather look at than read."""
from __future__ import annotations

import math
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finish_figure(fig, ax, path) -> None:
    """Grid, legend, tight layout, PNG, close: how every nasframe plot ends."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(Path(path), dpi=110)
    _pyplot().close(fig)


def best_so_far(history, objective, phase: str = "search"):
    """Per search query: best visible value so far, and a report value of that incumbent."""
    best, best_u, inc = [], -math.inf, None
    for r in history:
        if r.get("phase", "search") != phase:
            continue
        u = objective.utility(r["values"].get(objective.name)) if not r.get("failure") else -math.inf
        if inc is None or u > best_u:
            best_u, inc = u, r
        best.append((inc["values"].get(objective.name), inc.get("report", {})))
    return best


def plot_run(history, objective, path, title: str = "") -> None:
    plt = _pyplot()
    curve = best_so_far(history, objective)
    if not curve:
        return
    xs = range(1, len(curve) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, [v for v, _ in curve], label=f"best {objective.name} (searched)")
    for key in sorted({k for _, rep in curve for k in rep}):
        ax.plot(xs, [rep.get(key, float("nan")) for _, rep in curve], "--", label=f"{key} of incumbent (report only)")
    ax.set_xlabel("queries")
    ax.set_ylabel(f"{objective.name} {('(' + objective.unit + ')') if objective.unit else ''}")
    ax.set_title(title or "best so far")
    finish_figure(fig, ax, path)
