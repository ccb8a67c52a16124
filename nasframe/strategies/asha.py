"""Asynchronous successive halving (ASHA; Li et al., 2020, "A System for Massively Parallel
Hyperparameter Tuning", Algorithm 2).

Rungs ``k = 0, 1, ..`` measure at fidelity ``r_min * eta**k``; the top rung is ``max_fidelity`` (the
evaluator's full fidelity unless set lower), so the recommendation is measured there. Every ask looks
from the second-highest rung down: the first configuration that is among the top
``floor(n_k / eta)`` of rung ``k`` (``n_k`` = results known at that rung, ranked by the primary
objective, ties by the order they became known) and not yet promoted out of it is promoted, i.e.
asked at rung ``k + 1``. When there is none, a new architecture (never asked before) is drawn for
rung 0. A failed evaluation is never promoted.

Nothing waits for a rung to fill, so it needs no synchronisation: in a shared study (``storage=``)
every worker runs it with its own seed, the results of the other workers arrive through
``observe`` and count in the rung tables like its own, and the study's claims on
``(architecture, fidelity)`` make sure no two workers promote one configuration to the same rung
(a promotion another worker holds is skipped, see ``nasframe.plugins.shared_study``). Single
process, it is exactly reproducible from its seed and resumes like any other strategy.
"""
from __future__ import annotations

import math

from nasframe.core.strategy import Strategy
from nasframe.strategies.hyperband import best_at_top_fidelity, rung_range
from nasframe.strategies.random import DrawsWithoutRepeat


def rung_fidelities(r_min: int, r_max: int, eta: int) -> list[int]:
    """``r_min * eta**k`` below ``r_max``, then ``r_max`` (integers: no rounding)."""
    out, f = [], r_min
    while f < r_max:
        out.append(f)
        f *= eta
    return out + [r_max]


def promotion(rungs: list[dict], promoted: list[set], eta: int):
    """``(architecture, k)`` to promote from rung ``k`` to ``k + 1``, or None (Algorithm 2's get_job).

    ``rungs[k]`` maps each architecture known at rung ``k`` to its fitness (higher is better), in the
    order the results became known; ``promoted[k]`` holds those already asked at rung ``k + 1``."""
    for k in range(len(rungs) - 2, -1, -1):
        results = rungs[k]
        # sorted() is stable: equal fitness keeps the order the results became known
        top = sorted(results, key=results.get, reverse=True)[:len(results) // eta]
        for a in top:
            if a not in promoted[k] and results[a] > -math.inf:
                return a, k
    return None


class AsynchronousSuccessiveHalving(DrawsWithoutRepeat, Strategy):
    needs_fidelity = True
    asynchronous = True

    def __init__(self, eta: int = 3, min_fidelity: int | None = None, max_fidelity: int | None = None,
                 max_tries: int = 1000):
        if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
            raise ValueError(f"eta must be an integer >= 2, got {eta!r}")
        self.eta = eta
        self.min_fidelity, self.max_fidelity = min_fidelity, max_fidelity
        self.max_tries = max_tries

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        self.r_min, self.r_max = rung_range(self)
        self.fidelities = rung_fidelities(self.r_min, self.r_max, self.eta)
        self.rungs: list[dict] = [{} for _ in self.fidelities]  # per rung: architecture -> fitness
        self.promoted: list[set] = [set() for _ in self.fidelities]  # per rung: asked one rung up
        self.promotions = 0
        self.reset_draws()

    def ask(self, n: int = 1):
        return [a for a, _ in self.ask_at(n)]

    def ask_at(self, n: int = 1):
        out = []
        for _ in range(n):
            found = promotion(self.rungs, self.promoted, self.eta)
            if found is not None:
                a, k = found
                self.promoted[k].add(a)  # at ask time, so a batch (or another ask) never repeats it
                self.promotions += 1
                out.append((a, self.fidelities[k + 1]))
                continue
            a = self.draw_new()
            if a is None:
                break  # the space has no new architecture left and nothing is promotable
            out.append((a, self.fidelities[0]))
        return out

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for a, ev in zip(archs, evaluations):
            f = self.r_max if ev.fidelity is None else ev.fidelity
            if f not in self.fidelities:
                continue  # measured at a fidelity that is not a rung (told from elsewhere): history only
            k = self.fidelities.index(f)
            self.rungs[k].setdefault(a, self.fitness(ev))
            if k == 0:
                self.asked.add(a)  # another worker's draw: never drawn here again
            else:
                self.promoted[k - 1].add(a)  # someone promoted it: not again

    def recommend(self):
        """The best architecture among those measured at the highest rung reached."""
        return best_at_top_fidelity(self)

    def run_stats(self) -> dict:
        return {"promotions_asked": self.promotions,
                "rungs": {str(f): len(r) for f, r in zip(self.fidelities, self.rungs)}}
