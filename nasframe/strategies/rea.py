"""Regularized (aging) evolution (Real et al., 2019), as in the AutoDL/NATS reference.

Fill a population of P random architectures; then repeatedly draw S members
with replacement, mutate the best of them, add the child and drop the oldest
member. A child equal to an earlier architecture is still added and charged
(the reference behaviour).

DPS (Eproxy appendix, ``strategy=dps``) is the same loop with its
reference's two differences as knobs: the tournament is drawn without
replacement (``replace=false``; ties go to the older member) and ``initial``
lists architectures (canonical strings) that are the first members before
any random one (DPS: optionally the base genome).

``mutation=reference`` (default) is the space's own ``mutate``, which on
NAS-Bench-201 is the AutoDL reference's: a node uniformly, then an edge into
it, then a different op. ``mutation=uniform`` draws one decision of a
``Sequential`` space uniformly (on NB201: the edge uniformly) and gives it a
different option; nasframe's REA used that until it was measured to be a
stronger baseline than the one papers compare against under the same name.
"""
from __future__ import annotations

from collections import deque
from typing import Sequence

from nasframe.core.space import Mutable, Sequential, require
from nasframe.core.strategy import Strategy
from nasframe.errors import ArchitectureError, ConfigError


MUTATIONS = ("reference", "uniform")
MAX_TRIES = 1000


class RegularizedEvolution(Strategy):
    requires = (Mutable,)

    def __init__(self, population_size: int = 10, sample_size: int = 3, mutation: str = "reference",
                 replace: bool = True, initial: Sequence[str] = ()):
        if int(population_size) < 1 or int(sample_size) < 1:
            raise ConfigError(f"REA needs population_size >= 1 and sample_size >= 1, "
                              f"got {population_size} and {sample_size}")
        if not replace and int(sample_size) > int(population_size):
            raise ConfigError(f"a tournament without replacement needs sample_size <= population_size, "
                              f"got {sample_size} and {population_size}")
        if mutation not in MUTATIONS:
            raise ConfigError(f"unknown REA mutation '{mutation}'; choose one of {', '.join(MUTATIONS)}")
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.mutation = mutation
        self.replace = bool(replace)
        self.initial_strings = [str(a) for a in initial]

    def setup(self, space, objectives, rng):
        if self.mutation == "uniform":
            require(space, (Sequential,), "REA with mutation=uniform")
        super().setup(space, objectives, rng)
        self.population = deque()  # (arch, fitness), oldest first
        self.initial = [space.parse(a) for a in self.initial_strings]  # first members (transfer fills it too)

    def ask(self, n: int = 1):
        out = []
        for _ in range(n):
            if len(self.population) + len(out) < self.population_size or not self.population:
                out.append(self.initial.pop(0) if self.initial else self.space.sample(self.rng))
            else:
                out.append(self._mutate(self._parent()))
        return out

    def _mutate(self, parent):
        if self.mutation == "reference":
            return self.space.mutate(parent, self.rng)
        for _ in range(MAX_TRIES):  # a macro space may refuse some changes: draw another one
            choices = list(self.space.to_decisions(parent))
            d = int(self.rng.integers(len(choices)))
            o = int(self.rng.integers(len(self.space.decisions()[d].options) - 1))
            choices[d] = o + (o >= choices[d])
            try:
                return self.space.from_decisions(choices)
            except ArchitectureError:
                continue
        raise ArchitectureError(f"{MAX_TRIES} uniform mutations of {parent} in a row were refused by "
                                f"space '{self.space.name}'; use mutation=reference")

    def _parent(self):
        if self.replace:
            idx = self.rng.integers(len(self.population), size=self.sample_size)
        else:  # in population order, so that ties go to the older member (the DPS reference)
            size = min(self.sample_size, len(self.population))
            idx = sorted(self.rng.choice(len(self.population), size=size, replace=False))
        members = [self.population[i] for i in idx]
        return max(members, key=lambda m: m[1])[0]

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for a, ev in zip(archs, evaluations):
            self.population.append((a, self.fitness(ev)))
            if len(self.population) > self.population_size:
                self.population.popleft()
