"""Successive halving and Hyperband: many architectures at a low fidelity, the best few at a high one.

Fidelity is whatever the evaluator counts (training epochs for ``evaluator=train``, the epoch of a
benchmark's learning curve for ``evaluator=lookup`` on an official NB201 / NATS-Bench file).

Successive halving (Jamieson & Talwalkar, 2016) evaluates ``n`` new architectures at the lowest
rung, keeps the best ``1/eta`` and evaluates them at ``eta`` times the fidelity, until one is left
at the highest fidelity. Hyperband (Li et al., 2018) runs brackets ``s = s_max .. 0`` of successive
halving, each starting with ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` architectures at fidelity
``R * eta**-s``, so it hedges between many cheap and few expensive evaluations. Both cycle through
their brackets until the budget (``budget.epochs``, ``budget.seconds`` or ``budget.queries``) ends.

Rungs are synchronous: a rung is promoted once all its results are told, so with ``batch_size=1``
(the default) the run is exactly reproducible from its seed and resumes like any other strategy.
For that reason they do not run in a shared study (``storage=``); ``strategy=asha``
(``nasframe.strategies.asha``) is the asynchronous variant that does.
"""
from __future__ import annotations

import math

from nasframe.core.strategy import Strategy
from nasframe.strategies.random import DrawsWithoutRepeat


def rung_range(strategy) -> tuple[int, int]:
    """``(r_min, r_max)``: the strategy's min/max fidelity clipped to the evaluator's range."""
    lo, hi = strategy.fidelity_range or (1, 1)
    r_min = max(lo, min(hi, strategy.min_fidelity or lo))
    return r_min, max(r_min, min(hi, strategy.max_fidelity or hi))


def best_at_top_fidelity(strategy):
    """The best architecture among those measured at the highest fidelity reached (None: none yet)."""
    if not strategy.history:
        return None
    top = max((ev.fidelity or 0) for _, ev in strategy.history)
    best, best_fit = None, -math.inf
    for a, ev in strategy.history:
        if (ev.fidelity or 0) == top and (best is None or strategy.fitness(ev) > best_fit):
            best, best_fit = a, strategy.fitness(ev)
    return best


class SuccessiveHalving(DrawsWithoutRepeat, Strategy):
    needs_fidelity = True

    def __init__(self, eta: int = 3, min_fidelity: int | None = None, max_fidelity: int | None = None,
                 n_configs: int | None = None, max_tries: int = 1000):
        if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
            raise ValueError(f"eta must be an integer >= 2, got {eta!r}")
        self.eta = eta
        self.min_fidelity, self.max_fidelity = min_fidelity, max_fidelity
        self.n_configs = n_configs
        self.max_tries = max_tries

    # ------------------------------------------------------------ schedule

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        self.r_min, self.r_max = rung_range(self)
        # the most halvings that fit between the two fidelities (epsilon: log(27, 3) is 3 - 4e-16)
        self.s_max = int(math.floor(math.log(self.r_max / self.r_min) / math.log(self.eta) + 1e-9))
        self.reset_draws()
        self.bracket_count = 0
        self.rungs: list[tuple[int, int]] = []  # (architectures, fidelity) per rung of this bracket
        self.rung = 0
        self.members: list = []  # architectures of the current rung, in asking order
        self.pending: list = []  # members not asked yet
        self.scores: dict = {}  # member -> fitness told at the current rung

    def brackets(self) -> int:
        """The ``s`` of the next bracket (successive halving: always the most aggressive one)."""
        return self.s_max

    def bracket_rungs(self, s: int) -> list[tuple[int, int]]:
        eta, s_max = self.eta, self.s_max
        n = self.n_configs or int(math.ceil((s_max + 1) / (s + 1) * eta ** s))
        rungs = []
        for i in range(s + 1):
            fidelity = self.r_max if i == s else max(self.r_min, int(round(self.r_max * float(eta) ** (i - s))))
            rungs.append((max(1, int(n // eta ** i)), fidelity))
        return rungs

    # ------------------------------------------------------------ ask / tell

    def ask(self, n: int = 1):
        return [a for a, _ in self.ask_at(n)]

    def ask_at(self, n: int = 1):
        out = []
        while len(out) < n:
            if self.pending:
                out.append((self.pending.pop(0), self.rungs[self.rung][1]))
                continue
            if len(self.scores) < len(self.members):
                break  # results of this rung still to come (batch_size > 1)
            if not self._advance():
                break  # the space has no new architecture left
        return out

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for a, ev in zip(archs, evaluations):
            if a in self.members and a not in self.scores:
                self.scores[a] = self.fitness(ev)

    def _advance(self) -> bool:
        """Promote the best of a finished rung, or start the next bracket."""
        if self.members and self.rung + 1 < len(self.rungs):
            self.rung += 1
            keep = self.rungs[self.rung][0]
            # sorted() is stable: ties keep the order the architectures were asked in
            ranked = sorted(self.members, key=lambda a: self.scores[a], reverse=True)
            self.members = ranked[:keep]
        else:
            s = self.brackets()
            self.bracket_count += 1
            self.rungs, self.rung = self.bracket_rungs(s), 0
            self.members = self._sample(self.rungs[0][0])
            if not self.members:
                return False
        self.pending, self.scores = list(self.members), {}
        return True

    def _sample(self, count: int) -> list:
        return [a for a in (self.draw_new() for _ in range(count)) if a is not None]

    def recommend(self):
        """The best architecture among those measured at the highest fidelity reached."""
        return best_at_top_fidelity(self)


class Hyperband(SuccessiveHalving):
    """Successive halving brackets ``s_max, s_max - 1, .., 0``, then again from ``s_max``."""

    def brackets(self) -> int:
        return self.s_max - self.bracket_count % (self.s_max + 1)
