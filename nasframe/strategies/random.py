"""Random search: uniform samples, never the same architecture twice."""
from __future__ import annotations

from nasframe.core.space import Enumerable
from nasframe.core.strategy import Strategy


class RandomSearch(Strategy):
    distinct = True

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
            else:
                a = self._unasked()
                if a is None:
                    break
                self.asked.add(a)
                out.append(a)
        return out

    def _unasked(self):
        """A uniform pick among the architectures not asked yet, once sampling keeps hitting asked ones;
        None when the space is exhausted (or cannot be listed)."""
        if not isinstance(self.space, Enumerable):
            return None
        left = [i for i in range(len(self.space)) if self.space[i] not in self.asked]
        return self.space[left[int(self.rng.integers(len(left)))]] if left else None
