"""Random search: uniform samples, never the same architecture twice."""
from __future__ import annotations

from nasframe.core.strategy import Strategy


class RandomSearch(Strategy):
    def __init__(self, max_tries: int = 1000):
        self.max_tries = max_tries

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        self.asked = set()

    def ask(self, n: int = 1):
        out = []
        for _ in range(n):
            for _ in range(self.max_tries):  # in a nearly exhausted space, give up rather than spin
                a = self.space.sample(self.rng)
                if a not in self.asked:
                    self.asked.add(a)
                    out.append(a)
                    break
        return out
