"""Components for the reliability table (on PYTHONPATH as a top-level module)."""
import errno
import os
import time
from pathlib import Path

from toys import Parabola, Point

from nasframe.core.evaluator import Evaluator, Objective, checked
from nasframe.core.space import Enumerable, SearchSpace
from nasframe.evaluators.complexity import FlopsEvaluator
from nasframe.strategies.rea import RegularizedEvolution


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



class TinySpace(SearchSpace, Enumerable):
    """Twelve points: a finite space a non-repeating strategy exhausts quickly."""

    name = "tiny"
    size = 12

    def sample(self, rng):
        return Point(rng.integers(self.size))

    def parse(self, text):
        return Point(text[1:])

    def __contains__(self, a):
        return isinstance(a, Point) and 0 <= a.x < self.size

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        return Point(i)

    def index(self, a):
        return a.x


class TinyParabola(Parabola):
    requires = (Enumerable,)


class DiskFullREA(RegularizedEvolution):
    """REA whose process sees "No space left on device" when the ledger appends its $DISK_FULL_AT-th
    line, and at every later write, as a disk that fills up mid-run would (the ledger appends a line
    per query; checkpoints are only written every few seconds)."""

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        at = int(os.environ.get("DISK_FULL_AT", "0"))
        if not at:
            return
        from nasframe.core.ledger import Ledger

        real, calls = Ledger._line, [0]

        def line(record):
            calls[0] += 1
            if calls[0] >= at:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "history.jsonl")
            return real(record)

        Ledger._line = staticmethod(line)


class GatedFlops(FlopsEvaluator):
    """FLOPs that, on the $GATE_AT-th evaluation, signals $GATE_DIR/started and waits (at most two minutes)
    for $GATE_DIR/release: holds a run open so a second process can try the same folder."""

    calls = 0

    def evaluate(self, archs):
        self.calls += 1
        gate = os.environ.get("GATE_DIR")
        if gate and self.calls == int(os.environ.get("GATE_AT", "3")):
            Path(gate, "started").write_text(str(os.getpid()))
            deadline = time.monotonic() + 120
            while not Path(gate, "release").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return super().evaluate(archs)


class BuggyFlops(FlopsEvaluator):
    """A genuine bug (not an input error): its traceback must reach the user."""

    def evaluate(self, archs):
        return [1 / 0 for _ in archs]
