"""Evaluators turn architectures into ``Evaluation`` records.

An evaluation carries what a strategy may see (``values``, one per declared
objective), what only the report may see (``report``: test accuracy and other
held-out figures), and what it cost. Evaluators never raise on a bad score:
NaN or infinite values become a recorded failure which strategies see as the
worst value of every objective.
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field, replace
from typing import Sequence

from nasframe.core.space import Architecture, SearchSpace


@dataclass(frozen=True)
class Objective:
    """A value a strategy optimises; ``direction`` is ``"max"`` or ``"min"``."""

    name: str
    direction: str = "max"
    unit: str = ""
    description: str = ""

    def __post_init__(self):
        if self.direction not in ("max", "min"):
            raise ValueError(f"objective direction must be 'max' or 'min', not {self.direction!r}")

    @property
    def worst(self) -> float:
        return -math.inf if self.direction == "max" else math.inf

    def utility(self, value: float) -> float:
        """Map to 'higher is better' (failures map to -inf)."""
        if value is None or not math.isfinite(value):
            return -math.inf
        return value if self.direction == "max" else -value


@dataclass(frozen=True)
class Evaluation:
    values: dict = field(default_factory=dict)  # objective name -> value (visible)
    report: dict = field(default_factory=dict)  # report-only (never shown to strategies)
    cost: float = 0.0  # seconds: simulated training time or real wall time
    failure: str | None = None  # why the score is unusable, if it is
    fidelity: int | None = None  # e.g. training epochs it was measured at; None: the evaluator's only one

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def visible(self) -> "Evaluation":
        """The view a strategy gets: report-only values removed."""
        return replace(self, report={})

    def to_json(self) -> dict:
        d = {"values": self.values, "report": self.report, "cost": self.cost, "failure": self.failure}
        if self.fidelity is not None:  # absent on single-fidelity lines, so older ledgers read the same
            d["fidelity"] = self.fidelity
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Evaluation":
        fid = d.get("fidelity")
        return cls(values=dict(d["values"]), report=dict(d.get("report", {})),
                   cost=float(d.get("cost", 0.0)), failure=d.get("failure"),
                   fidelity=None if fid is None else int(fid))


def checked(values: dict, objectives: Sequence[Objective], report: dict | None = None,
            cost: float = 0.0, failure: str | None = None) -> Evaluation:
    """Build an Evaluation, turning NaN/inf objective values into a failure."""
    values = {k: (None if v is None else float(v)) for k, v in values.items()}
    bad = [o.name for o in objectives if values.get(o.name) is None or not math.isfinite(values[o.name])]
    if bad and failure is None:
        failure = "non-finite score for " + ", ".join(bad)
    if failure is not None:
        values = {o.name: o.worst for o in objectives}
    return Evaluation(values=values, report=dict(report or {}), cost=float(cost), failure=failure)


class Evaluator(abc.ABC):
    """Scores architectures of one space.

    Subclasses take the space as their first constructor argument, declare
    ``objectives`` (the first is the primary one) and optionally the space
    capabilities they need in ``requires``.
    """

    requires: tuple = ()
    objectives: tuple[Objective, ...] = ()

    @abc.abstractmethod
    def evaluate(self, archs: Sequence[Architecture]) -> list[Evaluation]: ...

    def describe(self) -> dict:
        """Facts for the run summary (what data was used, ...)."""
        return {"evaluator": type(self).__name__}

    @property
    def primary(self) -> Objective:
        return self.objectives[0]


class MultiFidelity:
    """Evaluator capability: answers at a lower fidelity too (fewer training epochs, an earlier
    epoch of a benchmark's learning curve), for multi-fidelity strategies such as Hyperband.

    Implement ``evaluate_at``; ``evaluate`` is the full fidelity. ``max_fidelity`` is None on an
    instance that has no fidelity axis after all (e.g. a benchmark table without per-epoch curves),
    which ``has_fidelity`` reports, so a multi-fidelity strategy is refused up front.
    """

    fidelity_name: str = "epochs"
    min_fidelity: int = 1
    max_fidelity: int | None = None

    @abc.abstractmethod
    def evaluate_at(self, archs: Sequence[Architecture], fidelity: int) -> list[Evaluation]:
        """Evaluations measured at ``fidelity`` (each with ``fidelity`` set to it)."""

    def evaluate(self, archs: Sequence[Architecture]) -> list[Evaluation]:
        return self.evaluate_at(archs, self.max_fidelity)

    def check_fidelity(self, fidelity: int) -> int:
        if isinstance(fidelity, bool) or not isinstance(fidelity, int) or not (
                self.min_fidelity <= fidelity <= self.max_fidelity):
            raise ValueError(f"fidelity must be an integer in {self.min_fidelity}..{self.max_fidelity} "
                             f"{self.fidelity_name}, got {fidelity!r}")
        return fidelity


def has_fidelity(evaluator) -> bool:
    """True if ``evaluator`` can answer at a chosen fidelity."""
    return isinstance(evaluator, MultiFidelity) and evaluator.max_fidelity is not None


def fitness(evaluation: Evaluation, objective: Objective) -> float:
    """The strategy-visible value of ``objective`` mapped to higher-is-better."""
    if evaluation.failed:
        return -math.inf
    return objective.utility(evaluation.values.get(objective.name))


__all__ = ["Objective", "Evaluation", "Evaluator", "MultiFidelity", "checked", "fitness", "has_fidelity",
           "SearchSpace"]
