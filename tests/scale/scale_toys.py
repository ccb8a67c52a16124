"""Components the scale tests start workers with (on PYTHONPATH as a top-level module)."""
import os
import signal
import time

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
