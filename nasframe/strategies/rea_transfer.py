"""REA-transfer (TransNAS-Bench-101): evolve on the source task first, then
start the target population from the source search's best architectures.

Each source gets a plain regularized-evolution search of ``pretrain_queries``
architectures (same population and sample sizes); the ``seeds`` best
architectures of all source histories (ranked per source by its own metric,
interleaved when there are several sources) become the first members of the
target population. They are evaluated on the target like any other member, so
they count toward the target budget (50 = 10 seeds + 40 children in the paper).
"""
from __future__ import annotations

from typing import Sequence

from nasframe.core.evaluator import fitness
from nasframe.core.strategy import SourceTask
from nasframe.errors import ConfigError
from nasframe.strategies.rea import RegularizedEvolution


class RegularizedEvolutionTransfer(RegularizedEvolution):
    transfer = True

    def __init__(self, population_size: int = 10, sample_size: int = 10, pretrain_queries: int = 50,
                 seeds: int = 10, mutation: str = "reference"):
        super().__init__(population_size, sample_size, mutation)
        if int(pretrain_queries) < 1 or int(seeds) < 1:
            raise ConfigError(f"REA-transfer needs pretrain_queries >= 1 and seeds >= 1, "
                              f"got {pretrain_queries} and {seeds}")
        self.pretrain_queries = int(pretrain_queries)
        self.seeds = int(seeds)

    def pretrain(self, sources: Sequence[SourceTask]) -> None:
        ranked = [self._source_search(src) for src in sources]
        seeds, seen = [], set()
        for rank in range(max(len(r) for r in ranked)):
            for r in ranked:
                if rank < len(r) and r[rank] not in seen:
                    seen.add(r[rank])
                    seeds.append(r[rank])
        self.initial = seeds[:self.seeds]

    def _source_search(self, src: SourceTask) -> list:
        """A plain REA run on the source; its architectures, best first."""
        inner = RegularizedEvolution(self.population_size, self.sample_size)
        inner.setup(self.space, src.objectives, self.rng)
        for _ in range(self.pretrain_queries):
            archs = inner.ask(1)
            inner.tell(archs, src.evaluate(archs))
        best = {}
        for a, ev in inner.history:
            best[a] = max(best.get(a, -float("inf")), fitness(ev, src.primary))
        return sorted(best, key=lambda a: -best[a])
