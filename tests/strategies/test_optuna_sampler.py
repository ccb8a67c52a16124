"""Optuna samplers survive the runner's checkpoint: state_dict -> pickle -> load_state_dict."""
import pickle

import numpy as np
import pytest

from nasframe.core.evaluator import Evaluation, Objective
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.optuna_sampler import OptunaSampler

TWO = (Objective("val_acc", "max"), Objective("flops", "min"))


def told(strategy, archs):
    strategy.tell(archs, [Evaluation({"val_acc": float(sum(a.ops)), "flops": float(a.ops[0])}) for a in archs])


@pytest.mark.parametrize("sampler", ["tpe", "nsgaii", "random"])
def test_checkpointed_sampler_asks_what_the_original_asks(sampler):
    space = NB201Space()
    original = OptunaSampler(sampler)
    original.setup(space, TWO if sampler == "nsgaii" else TWO[:1], np.random.default_rng(3))
    for _ in range(12):
        told(original, original.ask(1))
    state = pickle.loads(pickle.dumps(original.state_dict()))  # the checkpoint is a pickle
    restored = OptunaSampler(sampler)
    restored.setup(space, original.objectives, np.random.default_rng(99))
    restored.load_state_dict(state)
    for _ in range(5):
        a, b = original.ask(1), restored.ask(1)
        assert a == b
        told(original, a)
        told(restored, b)
