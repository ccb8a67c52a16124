"""Strategies propose architectures (ask) and learn from results (tell).

A strategy never calls the evaluator; the runner does. It sees only the
``visible()`` part of each evaluation. The default ``state_dict`` pickles the
strategy's attributes except the space and ``history``, which is enough for
strategies whose state is plain Python, NumPy and torch objects; override it
where that is not true. ``history`` (every result told or observed, in order)
is left out because the run's ledger holds it: on resume the runner gives it
back through ``restore_history``, so checkpoints do not grow with the search.
"""
from __future__ import annotations

import abc
import copy
import math
from typing import Sequence

import numpy as np

from nasframe.core.evaluator import Evaluation, Objective, fitness
from nasframe.core.space import Architecture, SearchSpace


class SourceTask:
    """A task a transfer strategy may query while pre-training.

    ``evaluate`` answers with visible values only and records every query in
    the run's ledger under its own phase; those queries are not charged to the
    target budget.
    """

    def __init__(self, name: str, objectives: Sequence[Objective], evaluate):
        self.name = name
        self.objectives = tuple(objectives)
        self._evaluate = evaluate

    @property
    def primary(self) -> Objective:
        return self.objectives[0]

    def evaluate(self, archs: Sequence[Architecture]) -> list[Evaluation]:
        return self._evaluate(list(archs))

    def __repr__(self):
        return f"SourceTask({self.name!r})"


class Strategy(abc.ABC):
    """Ask/tell search strategy.

    Multi-fidelity strategies set ``needs_fidelity = True`` and override ``ask_at`` to return
    ``(architecture, fidelity)`` pairs; the runner then requires an evaluator that can answer at a
    fidelity and sets ``fidelity_range = (min, max)`` before ``setup``. Every other strategy only
    implements ``ask`` and is evaluated at the evaluator's full fidelity.
    """

    requires: tuple = ()  # space capabilities, e.g. (Mutable,)
    transfer: bool = False  # True if it implements pretrain()
    needs_fidelity: bool = False
    fidelity_range: tuple[int, int] | None = None  # set by the runner for multi-fidelity strategies
    distinct: bool = False  # True if it never asks the same architecture twice (so a finite space runs out)
    # True if its asks stay correct while results of earlier asks are still outstanding elsewhere
    # (asynchronous successive halving); a shared study runs multi-fidelity strategies only then
    asynchronous: bool = False

    def setup(self, space: SearchSpace, objectives: Sequence[Objective], rng: np.random.Generator) -> None:
        """Called once by the runner before the first ask."""
        self.space = space
        self.objectives = tuple(objectives)
        self.rng = rng
        self.history: list[tuple[Architecture, Evaluation]] = []

    @abc.abstractmethod
    def ask(self, n: int = 1) -> list[Architecture]: ...

    def ask_at(self, n: int = 1) -> list[tuple[Architecture, int | None]]:
        """``(architecture, fidelity)`` pairs; None asks for the evaluator's full fidelity."""
        return [(a, None) for a in self.ask(n)]

    def tell(self, archs: Sequence[Architecture], evaluations: Sequence[Evaluation]) -> None:
        self.history.extend(zip(archs, evaluations))

    def observe(self, archs: Sequence[Architecture], evaluations: Sequence[Evaluation]) -> None:
        """Learn from results the strategy did not ask for (e.g. another worker's, in a shared
        study). The default treats them as told; strategies that pair each tell with an earlier
        ask (Optuna's trials) override it."""
        self.tell(archs, evaluations)

    def recommend(self) -> Architecture | None:
        """Best architecture by the primary objective, among those evaluated."""
        best, best_fit = None, -math.inf
        for arch, ev in self.history:
            f = self.fitness(ev)
            if best is None or f > best_fit:
                best, best_fit = arch, f
        return best

    def run_stats(self) -> dict:
        """Facts for the run summary (e.g. repeats a sampler proposed and was answered free)."""
        return {}

    def pretrain(self, sources: Sequence[SourceTask]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support transfer from source tasks")

    # ------------------------------------------------------------ helpers

    @property
    def primary(self) -> Objective:
        return self.objectives[0]

    def fitness(self, evaluation: Evaluation) -> float:
        return fitness(evaluation, self.primary)

    def state_dict(self) -> dict:
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("space", "history")}

    def restore_history(self, told: Sequence[tuple[Architecture, Evaluation]]) -> None:
        """Called on resume after ``load_state_dict`` with every result told or observed up to the
        checkpoint, rebuilt from the ledger."""
        self.history = list(told)

    def load_state_dict(self, state: dict) -> None:
        space = self.__dict__.get("space")
        self.__dict__.update(copy.deepcopy(state))
        if space is not None:
            self.space = space
