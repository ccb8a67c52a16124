"""``evaluator=dps_fitness``: how well an Eproxy configuration ranks known architectures.

The value of a genome is the Spearman correlation between its Eproxy scores
(higher = better, i.e. -loss) and the benchmark's validation accuracies on a
fixed set of ``n_archs`` architectures of the target space and task, drawn
once with ``arch_seed`` (the same set for the whole search; listed in the
run summary so held-out evaluations can exclude it). An undefined
correlation (e.g. constant scores) is -1, before the strategy sees it (P7).
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
from scipy.stats import spearmanr

from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked
from nasframe.core.space import SearchSpace
from nasframe.errors import ConfigError
from nasframe.ranking import choose_archs

def fitness_from(scores, accuracies) -> float:
    """Spearman(scores, accuracies); -1 when undefined or when any score is not finite."""
    s, a = np.asarray(scores, float), np.asarray(accuracies, float)
    if len(s) < 2 or not np.all(np.isfinite(s)) or np.ptp(s) == 0 or np.ptp(a) == 0:
        return -1.0  # undefined correlation (constant input)
    rho = spearmanr(s, a)[0]
    return -1.0 if not math.isfinite(rho) else float(rho)


class DPSFitness(Evaluator):
    objectives = (Objective("fitness", "max", description="Spearman of Eproxy scores with validation accuracy "
                                                          "on the fitness architectures"),)

    def __init__(self, space, target_space: SearchSpace, dataset: str | None = None, root=None, path=None,
                 n_archs: int = 20, arch_seed: int = 0, eproxy: dict | None = None, **_ignored):
        from nasframe.evaluators.eproxy import EproxyEvaluator
        from nasframe.evaluators.lookup import BenchmarkLookup

        if not isinstance(target_space, SearchSpace):
            raise ConfigError(f"dps_fitness target_space must be a space config with _target_ (e.g. "
                              f"space@evaluator.target_space=transnas_micro), got {target_space!r}")
        self.space = space
        self.target = target_space
        self.target_name = target_space.name
        self.truth = BenchmarkLookup(self.target, dataset=dataset, root=root, path=path)
        self.archs = choose_archs(self.target, int(n_archs), int(arch_seed))
        evs = self.truth.evaluate(self.archs)
        self.accuracies = np.array([e.values[self.truth.primary.name] for e in evs], float)
        if not np.all(np.isfinite(self.accuracies)):
            raise ConfigError("some DPS fitness architectures have no benchmark value; change dps arch_seed")
        self.eproxy = EproxyEvaluator(self.target, dataset=dataset, root=root, **dict(eproxy or {}))

    def evaluate(self, genomes: Sequence) -> list[Evaluation]:
        out = []
        for g in genomes:
            t0 = time.perf_counter()
            results = [self.eproxy.score(a, g) for a in self.archs]
            failures = [r[2] for r in results if r[2]]
            value = fitness_from([r[0] for r in results], self.accuracies)
            report = {"failed_archs": float(len(failures))}
            out.append(checked({"fitness": value}, self.objectives, report, time.perf_counter() - t0))
        return out

    def describe(self) -> dict:
        return {"evaluator": "dps_fitness", "target_space": self.target_name, "truth": self.truth.describe(),
                "fitness_archs": [str(a) for a in self.archs], "eproxy": self.eproxy.describe()}
