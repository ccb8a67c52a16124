"""Zero-cost proxies: one module per proxy, one registry.

Every proxy is a function ``fn(net, batch) -> float`` on a freshly built,
untrained ``nn.Module`` (it works on its own copy, so the caller's network is
never changed) and is registered with what a caller must know to use it:
its direction (all scores here are "higher is better", §1.1 of the methods
spec), whether it needs input images and labels, and how expensive one call
is (``cost``: ``static`` < ``forward`` < ``backward`` < ``second_order``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from nasframe.errors import ConfigError
from nasframe.proxies.batch import Batch

COST_CLASSES = ("static", "forward", "backward", "second_order")


@dataclass(frozen=True)
class Proxy:
    name: str
    fn: Callable  # fn(net, batch: Batch, **options) -> float
    direction: str = "max"
    needs_data: bool = True
    needs_labels: bool = False
    cost: str = "backward"
    description: str = ""

    def __call__(self, net, batch: Batch, **options) -> float:
        return float(self.fn(net, batch, **options))


def _registry() -> dict[str, Proxy]:
    from nasframe.proxies import (complexity, fisher, grad_norm, grasp, jacob_cov, nwot, snip, synflow, zen)

    proxies = [
        Proxy("synflow", synflow.synflow, needs_data=False, cost="backward",
              description="sum |θ·∂R/∂θ| of the BN-free, |θ| network on an all-ones input (float64)"),
        Proxy("snip", snip.snip, needs_labels=True, cost="backward",
              description="sum |∂L/∂mask| (connection sensitivity)"),
        Proxy("grasp", grasp.grasp, needs_labels=True, cost="second_order",
              description="sum -θ·(H g) (gradient signal preservation)"),
        Proxy("fisher", fisher.fisher, needs_labels=True, cost="backward",
              description="channel Fisher information broadcast over each channel's fan-in"),
        Proxy("grad_norm", grad_norm.grad_norm, needs_labels=True, cost="backward",
              description="sum over layers of the Frobenius norm of the weight gradient"),
        Proxy("jacob_cov", jacob_cov.jacob_cov, cost="backward",
              description="-sum log(λ+k)+1/(λ+k) over eigenvalues of the input-Jacobian correlation"),
        Proxy("nwot", nwot.nwot, cost="forward",
              description="NASWOT: log|det K| of the ReLU binary-code kernel"),
        Proxy("zen", zen.zen, cost="forward",
              description="Zen-score: log of the pre-GAP response to a small input perturbation + BN term"),
        Proxy("params", complexity.params, needs_data=False, cost="static",
              description="trainable parameters (millions)"),
        Proxy("flops", complexity.flops, needs_data=False, cost="static",
              description="multiply-accumulates of one forward pass (millions)"),
    ]
    return {p.name: p for p in proxies}


_PROXIES: dict[str, Proxy] | None = None


def registry() -> dict[str, Proxy]:
    global _PROXIES
    if _PROXIES is None:
        _PROXIES = _registry()
    return _PROXIES


def get_proxy(name: str) -> Proxy:
    reg = registry()
    if name not in reg:
        raise ConfigError(f"unknown zero-cost proxy '{name}'; choose one of {', '.join(reg)}")
    return reg[name]


__all__ = ["Proxy", "Batch", "get_proxy", "registry", "COST_CLASSES"]
