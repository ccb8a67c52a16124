"""Components the scale tests start workers with (on PYTHONPATH as a top-level module)."""
import math
import os
import signal
import time
import zlib
from dataclasses import replace

from nasframe.core.evaluator import Evaluator, MultiFidelity, Objective, checked
from nasframe.evaluators.complexity import FlopsEvaluator


class KillingFlops(FlopsEvaluator):
    """FLOPs evaluator that SIGKILLs its process on its $KILL_EVAL-th call (mid-evaluation,
    holding a claimed trial) and takes $EVAL_SLEEP seconds per call so workers overlap."""

    calls = 0

    def evaluate(self, archs):
        self.calls += 1
        if os.environ.get("KILL_EVAL") and self.calls == int(os.environ["KILL_EVAL"]):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(os.environ.get("EVAL_SLEEP", 0)))
        return super().evaluate(archs)


class Scores(Evaluator):
    """A deterministic score per architecture, no torch and no table; one in five fails (NaN)."""

    objectives = (Objective("score", "max"),)

    def __init__(self, space, **_):
        self.space = space

    def evaluate(self, archs):
        out = []
        for a in archs:
            h = zlib.crc32(str(a).encode())
            out.append(checked({"score": math.nan if h % 5 == 0 else h / 2**32}, self.objectives, {"test": 1.0}))
        return out


class Curves(MultiFidelity, Evaluator):
    """A learning curve per architecture, no torch and no table: at ``f`` of 9 epochs the score is
    ``q * (1 - exp(-f / 3)) + noise(arch, f)``, so rankings change a little between rungs; one second
    of cost an epoch. $KILL_EVAL / $EVAL_SLEEP as for ``KillingFlops``."""

    objectives = (Objective("score", "max"),)
    max_fidelity = 9
    calls = 0

    def __init__(self, space, **_):
        self.space = space

    @staticmethod
    def score(arch, fidelity) -> float:
        q = zlib.crc32(str(arch).encode()) / 2**32
        noise = zlib.crc32(f"{arch}@{fidelity}".encode()) / 2**32 - 0.5
        return q * (1 - math.exp(-fidelity / 3)) + 0.05 * noise

    def evaluate_at(self, archs, fidelity):
        self.calls += 1
        if os.environ.get("KILL_EVAL") and self.calls == int(os.environ["KILL_EVAL"]):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(os.environ.get("EVAL_SLEEP", 0)) * fidelity)
        return [replace(checked({"score": self.score(a, fidelity)}, self.objectives, {"test": self.score(a, 99)},
                                cost=float(fidelity)), fidelity=fidelity) for a in archs]
