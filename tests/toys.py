"""Toy components used by the tests: a strategy registered from outside the
package (via _target_), a space without capabilities, and wrappers that kill
the process at a chosen query to test resume."""
import os
import signal

from nasframe.core.evaluator import Evaluator, Objective, checked
from nasframe.core.space import Architecture, SearchSpace
from nasframe.core.strategy import Strategy
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.strategies.rea import RegularizedEvolution


class GreedyMutation(Strategy):
    """Hill climbing on a Mutable space: sample `starts` architectures, then always
    mutate the best one seen so far. Exists to show a strategy added without
    touching the runner."""

    from nasframe.core.space import Mutable

    requires = (Mutable,)

    def __init__(self, starts: int = 5):
        self.starts = starts

    def ask(self, n=1):
        if len(self.history) < self.starts:
            return [self.space.sample(self.rng) for _ in range(n)]
        return [self.space.mutate(self.recommend(), self.rng) for _ in range(n)]


class KillingREA(RegularizedEvolution):
    """REA that SIGKILLs its own process when told about query $KILL_AT,
    i.e. after the ledger line was written and before the checkpoint."""

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        if os.environ.get("KILL_AT") and len(self.history) == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)


class KillingLookup(BenchmarkLookup):
    """Benchmark lookup that SIGKILLs its process on its $KILL_EVAL-th call,
    before the answer is recorded."""

    calls = 0

    def evaluate(self, archs):
        self.calls += 1
        if os.environ.get("KILL_EVAL") and self.calls == int(os.environ["KILL_EVAL"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(archs)


class Point(Architecture):
    __slots__ = ("x",)

    def __init__(self, x):
        object.__setattr__(self, "x", int(x))

    def __str__(self):
        return f"p{self.x}"

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x

    def __hash__(self):
        return hash(self.x)


class LineSpace(SearchSpace):
    """Integers 0..99; no capabilities at all."""

    name = "line"

    def sample(self, rng):
        return Point(rng.integers(100))

    def parse(self, text):
        return Point(text[1:])

    def __contains__(self, a):
        return isinstance(a, Point) and 0 <= a.x < 100


class Parabola(Evaluator):
    objectives = (Objective("score", "max"),)

    def __init__(self, space, **_):
        self.space = space

    def evaluate(self, archs):
        return [checked({"score": -float((a.x - 37) ** 2)}, self.objectives, {"hidden": float(a.x)}) for a in archs]
