"""A deterministic, instant evaluator for the contract suite: any space, any task."""
import hashlib

from dataclasses import replace

from nasframe.core.evaluator import Evaluator, MultiFidelity, Objective, checked


class Crash(BaseException):
    """Stands in for kill -9 inside an evaluation (not an Exception: nothing may catch it)."""


class HashEvaluator(MultiFidelity, Evaluator):
    """``score`` in [0, 1) from a hash of (task, architecture string); every 7th architecture fails.
    Multi-fidelity (1..4): at fidelity f the score is scaled by f / 4, so multi-fidelity strategies
    (hyperband, sh) keep the same contract as every other strategy.

    ``crash_at=k`` raises ``Crash`` on this instance's k-th evaluation (0-based),
    before anything of it is recorded.
    """

    objectives = (Objective("score", "max", description="hash of the architecture string"),)

    def __init__(self, space, dataset=None, crash_at=None, **_ignored):
        self.space, self.dataset = space, dataset
        self.crash_at, self.calls = crash_at, 0

    max_fidelity = 4

    def evaluate_at(self, archs, fidelity):
        out = []
        for a in archs:
            if self.crash_at is not None and self.calls == self.crash_at:
                raise Crash(f"simulated kill at evaluation {self.calls}")
            self.calls += 1
            h = int.from_bytes(hashlib.sha256(f"{self.dataset}:{a}".encode()).digest()[:8], "little")
            failure = "every 7th fails" if h % 7 == 0 else None
            ev = checked({"score": (h % 10**6) / 10**6 * fidelity / self.max_fidelity}, self.objectives,
                         cost=float(fidelity), failure=failure)
            out.append(replace(ev, fidelity=fidelity))
        return out

    def describe(self):
        return {"evaluator": "hash", "dataset": self.dataset}
