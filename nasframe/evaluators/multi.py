"""Several objectives at once: a base evaluator (accuracy) plus cost objectives, with constraints.

    evaluator=multi                                        # val_acc (max) and FLOPs (min) on NB201
    evaluator=multi 'evaluator.objectives=[flops:min,edgegpu_latency:min]'
    evaluator=multi 'evaluator.constraints={edgegpu_latency:{max:5}}'

Cost objectives are ``flops`` / ``params`` from the space (``Buildable``) or
any column of the HW-NAS-Bench table (``edgegpu_latency``, ``pixel3_latency``,
...; see ``nasframe.benchmarks.costs``). Each has a direction. Every value
goes to the ledger; the first objective (the base's) stays the primary one.
Constraints (``{name: {max: x, min: y}}``, on any objective or cost column)
turn a violating architecture into a recorded failure, which every strategy
treats as the worst result: the filter costs a query, as it would in a real
search, but nothing outside the limits can win.
"""
from __future__ import annotations

import math
from typing import Sequence

from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked
from nasframe.core.space import Buildable, require
from nasframe.errors import ConfigError

SPACE_COSTS = {"flops": ("MFLOPs", "multiply-accumulates of one forward pass (millions)"),
               "params": ("M", "trainable parameters (millions)")}


class MultiObjective(Evaluator):
    def __init__(self, space, base=None, objectives=("flops:min",), constraints: dict | None = None,
                 dataset: str | None = None, root=None, path=None, costs_path=None, **options):
        """``base(space)`` builds the accuracy evaluator: the config passes a nested ``_target_`` with
        ``_partial_: true`` (``evaluator@evaluator.base=lookup|auto``); None is the benchmark lookup."""
        self.space, self.dataset = space, dataset
        if base is None:
            from nasframe.evaluators.lookup import BenchmarkLookup

            self.base = BenchmarkLookup(space, dataset=dataset, root=root, path=path, **options)
        elif callable(base):
            self.base = base(space)
        else:
            raise ConfigError(f"evaluator.base must be an evaluator config (pick one with "
                              f"evaluator@evaluator.base=lookup|auto), got {base!r}")
        self.requires = tuple(self.base.requires)
        objectives = parse_objectives(objectives)
        constraints = dict(constraints or {})
        for name, d in objectives.items():
            if d not in ("min", "max"):
                raise ConfigError(f"objective '{name}' needs direction min or max, got {d!r}")
        self._table = None
        cost_names = [n for n in [*objectives, *constraints] if n not in SPACE_COSTS
                      and n not in {o.name for o in self.base.objectives}]
        if cost_names:
            from nasframe.benchmarks.costs import load_costs

            self._table = load_costs(space, dataset, root=root, path=costs_path)
            for n in cost_names:
                self._table.column(n)  # unknown column: one clear error naming the ones there are
        if any(n in SPACE_COSTS for n in [*objectives, *constraints]):
            require(space, (Buildable,), "evaluator 'multi' with flops/params objectives")
            self.requires = (*self.requires, Buildable)
        extra = []
        for name, d in objectives.items():
            unit, desc = SPACE_COSTS.get(name, ("", f"HW-NAS-Bench {name}"))
            extra.append(Objective(name, d, unit, desc))
        self.objectives = (*self.base.objectives, *extra)
        self.constraints = {}
        for name, limits in constraints.items():
            if not isinstance(limits, dict) or not set(limits) <= {"min", "max"} or not limits:
                raise ConfigError(f"constraint '{name}' must look like {{max: 5.0}} or {{min: 1, max: 5}}, "
                                  f"got {limits!r}")
            self.constraints[name] = {k: float(v) for k, v in limits.items()}

    def _cost(self, name: str, arch) -> float:
        if name in SPACE_COSTS:
            return float(getattr(self.space, name)(arch, self.dataset))
        return float(self._table.column(name)[self.space.index(arch)])

    def evaluate(self, archs: Sequence) -> list[Evaluation]:
        out = []
        base_names = {o.name for o in self.base.objectives}
        for arch, ev in zip(archs, self.base.evaluate(archs)):
            values = dict(ev.values)
            for o in self.objectives:
                if o.name not in base_names:
                    values[o.name] = self._cost(o.name, arch)
            report = dict(ev.report)
            failure = ev.failure
            for name, limits in self.constraints.items():
                v = values[name] if name in values else self._cost(name, arch)
                if name not in values:
                    report[name] = v  # a constraint-only column is reported, not searched on
                if failure is None and not (limits.get("min", -math.inf) <= v <= limits.get("max", math.inf)):
                    failure = f"violates the constraint on {name} ({v:.4g} outside {_limits(limits)})"
            out.append(checked(values, self.objectives, report, ev.cost, failure))
        return out

    def describe(self) -> dict:
        return {**self.base.describe(), "evaluator": "multi",
                "objectives": [f"{o.name}:{o.direction}" for o in self.objectives],
                "constraints": self.constraints,
                **({"costs_sha256": self._table.meta.get("sha256")} if self._table is not None else {})}


def parse_objectives(spec) -> dict:
    """``["flops:min", "edgegpu_latency:min"]`` or ``{flops: min}`` -> ``{name: direction}``."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {str(k): v for k, v in spec.items()}
    if isinstance(spec, str):
        spec = [spec]
    out = {}
    for item in spec:
        name, sep, direction = str(item).partition(":")
        if not sep or not name:
            raise ConfigError(f"objective '{item}' must be written name:direction, e.g. flops:min")
        out[name.strip()] = direction.strip()
    return out


def _limits(limits: dict) -> str:
    lo, hi = limits.get("min"), limits.get("max")
    return f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
