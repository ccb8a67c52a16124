"""Components for the reliability table (on PYTHONPATH as a top-level module)."""
from nasframe.core.evaluator import Evaluator, Objective, checked
from nasframe.core.space import Enumerable


class NaNProxy(Evaluator):
    """A proxy that returns NaN for every cell whose first edge is 'none' (as real proxies do on
    disconnected cells), else the number of non-'none' edges."""

    requires = (Enumerable,)
    objectives = (Objective("proxy", "max"),)

    def __init__(self, space, **_):
        self.space = space

    def evaluate(self, archs):
        return [checked({"proxy": float("nan") if a.ops[0] == 0 else float(sum(o != 0 for o in a.ops))},
                        self.objectives) for a in archs]
