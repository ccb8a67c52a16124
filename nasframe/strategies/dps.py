"""DPS: Discrete Proxy Search (Li et al., ICCV 2023), methods §3.6.

Regularised (aging) evolution over Eproxy configurations, the reference's
variant: the first ``population_size`` genomes are random; every later genome
is a mutation of the best of ``tournament_size`` members drawn **without
replacement** from the ``population_size`` most recently evaluated genomes.
The mutation itself (per-gene resampling with the space's rate) lives in the
space (``EproxyConfigSpace.mutate``). Fitness values arrive from the
``dps_fitness`` evaluator, which already maps an undefined correlation to -1
(pitfall P7); a failed evaluation counts as the worst value. The best genome
is the argmax over every evaluated genome (P8). Optionally the base genome is
injected as the first member, which guarantees the returned genome is never
worse than it on the fitness set.
"""
from __future__ import annotations

from nasframe.core.space import Baselined, Mutable, require
from nasframe.core.strategy import Strategy
from nasframe.errors import ConfigError


class DiscreteProxySearch(Strategy):
    requires = (Mutable,)

    def __init__(self, population_size: int = 40, tournament_size: int = 10, include_base: bool = False):
        if int(population_size) < 1 or not 1 <= int(tournament_size) <= int(population_size):
            raise ConfigError(f"DPS needs 1 <= tournament_size <= population_size, got {tournament_size} "
                              f"and {population_size}")
        self.population_size = int(population_size)
        self.tournament_size = int(tournament_size)
        self.include_base = bool(include_base)

    def setup(self, space, objectives, rng):
        if self.include_base:
            require(space, (Baselined,), "strategy=dps with include_base=true")
        super().setup(space, objectives, rng)
        self.asked = 0
        self.evaluated: list = []  # (genome, fitness) in evaluation order

    def ask(self, n: int = 1):
        out = []
        for _ in range(n):
            if self.asked < self.population_size or len(self.evaluated) < self.population_size:
                if self.asked == 0 and self.include_base:
                    out.append(self.space.baseline())
                else:
                    out.append(self.space.sample(self.rng))
            else:
                out.append(self.space.mutate(self._parent(), self.rng))
            self.asked += 1
        return out

    def _parent(self):
        window = self.evaluated[-self.population_size:]
        idx = self.rng.choice(len(window), size=self.tournament_size, replace=False)
        return max((window[i] for i in sorted(idx)), key=lambda m: m[1])[0]

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        self.evaluated.extend((a, self.fitness(ev)) for a, ev in zip(archs, evaluations))
