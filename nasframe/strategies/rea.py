"""Regularized evolution (Real et al., 2019), as in the AutoDL/NATS reference.

Fill a population of P random architectures; then repeatedly draw S members
with replacement, mutate the best of them, add the child and drop the oldest
member. A child equal to an earlier architecture is still added and charged
(the reference behaviour).
"""
from __future__ import annotations

from collections import deque

from nasframe.core.space import Mutable
from nasframe.core.strategy import Strategy
from nasframe.errors import ConfigError


class RegularizedEvolution(Strategy):
    requires = (Mutable,)

    def __init__(self, population_size: int = 10, sample_size: int = 3):
        if int(population_size) < 1 or int(sample_size) < 1:
            raise ConfigError(f"REA needs population_size >= 1 and sample_size >= 1, "
                              f"got {population_size} and {sample_size}")
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        self.population = deque()  # (arch, fitness), oldest first
        self.initial = []  # seed architectures (transfer variants fill this)

    def ask(self, n: int = 1):
        out = []
        for _ in range(n):
            if len(self.population) + len(out) < self.population_size or not self.population:
                out.append(self.initial.pop(0) if self.initial else self.space.sample(self.rng))
            else:
                out.append(self.space.mutate(self._parent(), self.rng))
        return out

    def _parent(self):
        idx = self.rng.integers(len(self.population), size=self.sample_size)
        members = [self.population[i] for i in idx]
        return max(members, key=lambda m: m[1])[0]

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for a, ev in zip(archs, evaluations):
            self.population.append((a, self.fitness(ev)))
            if len(self.population) > self.population_size:
                self.population.popleft()
