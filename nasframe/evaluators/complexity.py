"""Data-free complexity evaluators: FLOPs and parameter count of the built network.

On NAS-Bench-201 both rank architectures about as well as most zero-cost
proxies (Spearman with test accuracy ~0.77 / 0.80, methods.md §2.7), which
makes them the baselines every proxy is compared with and the fallback of
``evaluator=auto`` when no benchmark table is found. Bigger is better
(direction ``max``).

Values come from the space's ``Buildable.flops`` / ``Buildable.params`` (the
space builds the network; FLOPs are counted by ``nasframe.spaces.flops``, in
its default "macs" convention) and are cached per architecture. The cost is
the wall time of the computation (zero on a cache hit). Building a network
draws random initial weights; that happens inside ``torch.random.fork_rng`` so
evaluating never moves the global torch generator the runner checkpoints.
"""
from __future__ import annotations

import time
from typing import Sequence

import torch

from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked
from nasframe.core.space import Architecture, Buildable, require


class _ComplexityEvaluator(Evaluator):
    requires = (Buildable,)
    measure = ""  # name of the Buildable method (and of the objective)

    def __init__(self, space, dataset: str | None = None):
        require(space, self.requires, type(self).__name__)
        self.space = space
        self.dataset = dataset
        space.input_shape(dataset)  # a bad dataset name fails now, with the space's message
        self._cache: dict[Architecture, float] = {}

    def _compute(self, arch: Architecture) -> float:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            return float(getattr(self.space, self.measure)(arch, self.dataset))

    def evaluate(self, archs: Sequence[Architecture]) -> list[Evaluation]:
        out = []
        for arch in archs:
            name = self.objectives[0].name
            if arch in self._cache:
                out.append(checked({name: self._cache[arch]}, self.objectives))
                continue
            t = time.perf_counter()
            try:
                value = self._compute(arch)
            except RuntimeError as e:  # torch could not build or run this network
                out.append(checked({}, self.objectives, cost=time.perf_counter() - t,
                                   failure=f"{self.measure} failed: {e}"))
                continue
            self._cache[arch] = value
            out.append(checked({name: value}, self.objectives, cost=time.perf_counter() - t))
        return out

    def describe(self) -> dict:
        return {"evaluator": self.measure, "space": self.space.name, "dataset": self.dataset}


class FlopsEvaluator(_ComplexityEvaluator):
    """Multiply-accumulates of one forward pass on one input, in millions."""

    measure = "flops"
    objectives = (Objective("flops", "max", unit="MFLOPs",
                            description="multiply-accumulates of one forward pass (millions)"),)


class ParamsEvaluator(_ComplexityEvaluator):
    """Trainable parameters of the built network, in millions."""

    measure = "params"
    objectives = (Objective("params", "max", unit="M", description="trainable parameters (millions)"),)


__all__ = ["FlopsEvaluator", "ParamsEvaluator"]
