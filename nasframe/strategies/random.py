"""Random search: uniform samples, never the same architecture twice."""
from __future__ import annotations

from nasframe.core.space import Enumerable
from nasframe.core.strategy import Strategy


class DrawsWithoutRepeat:
    """Uniform draws of architectures not asked before, for a strategy (``self.space``, ``self.rng``,
    ``self.max_tries``). Its state is two attributes of the strategy, ``asked`` and ``left``, so it is
    checkpointed with the strategy's other attributes."""

    max_tries: int = 1000

    def reset_draws(self) -> None:
        self.asked = set()
        self.left = None  # indices not asked yet, once half of an Enumerable space is asked

    def draw_new(self):
        """An architecture not asked before (now marked asked), or None when none is left or found."""
        a = self._draw()
        if a is not None:
            self.asked.add(a)
        return a

    def _draw(self):
        if isinstance(self.space, Enumerable) and 2 * len(self.asked) >= len(self.space):
            # Past half the space rejection costs more than two draws a query (~n ln n to exhaust it):
            # draw uniformly among the cells left instead; the same distribution, and the draws before
            # this point (every short search) are unchanged.
            if self.left is None:
                done = {self.space.index(a) for a in self.asked}
                self.left = [i for i in range(len(self.space)) if i not in done]
            while self.left:
                j = int(self.rng.integers(len(self.left)))
                self.left[j], self.left[-1] = self.left[-1], self.left[j]  # swap-pop: O(1) removal
                a = self.space[self.left.pop()]
                if a not in self.asked:  # marked asked after the list was made (another worker's result)
                    return a
            return None
        for _ in range(self.max_tries):  # in a nearly exhausted space, give up rather than spin
            a = self.space.sample(self.rng)
            if a not in self.asked:
                return a
        return None


class RandomSearch(DrawsWithoutRepeat, Strategy):
    distinct = True

    def __init__(self, max_tries: int = 1000):
        self.max_tries = max_tries

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        self.reset_draws()

    def ask(self, n: int = 1):
        out = []
        for _ in range(n):
            a = self.draw_new()
            if a is None:
                break
            out.append(a)
        return out
