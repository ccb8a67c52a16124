"""REINFORCE (NATS-Bench reference): the update, determinism, the checkpoint round trip."""
import pickle

import numpy as np
import pytest
import torch

from nasframe.core.evaluator import Evaluation, Objective
from nasframe.errors import ConfigError
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.reinforce import Reinforce

OBJ = (Objective("val_acc", "max"),)


def tell(strategy, archs, score=lambda a: float(sum(a.ops))):
    strategy.tell(archs, [Evaluation({"val_acc": score(a)}) for a in archs])


def drive(strategy, steps, seed=0, space=None):
    strategy.setup(space or NB201Space(), OBJ, np.random.default_rng(seed))
    for _ in range(steps):
        tell(strategy, strategy.ask(1))
    return strategy


def test_reference_shapes_and_initialisation():
    s = Reinforce()
    s.setup(NB201Space(), OBJ, np.random.default_rng(0))
    assert tuple(s.logits.shape) == (6, 5)
    assert 0 < float(s.logits.detach().abs().max()) < 1e-2  # 1e-3 * randn
    np.testing.assert_allclose(s.probabilities().sum(1), 1.0, rtol=1e-6)


def test_ema_baseline_is_the_debiased_reference_average():
    s = Reinforce(ema_momentum=0.9)
    s.setup(NB201Space(), OBJ, np.random.default_rng(0))
    a = s.ask(1)
    tell(s, a, lambda _: 80.0)
    assert s.baseline == pytest.approx(80.0)  # first value: exactly the first reward
    tell(s, a, lambda _: 90.0)
    assert s.baseline == pytest.approx((0.9 * 0.1 * 80 + 0.1 * 90) / (0.9 * 0.1 + 0.1))


def test_a_reward_above_the_baseline_raises_that_architectures_probability():
    space = NB201Space()
    s = Reinforce()
    s.setup(space, OBJ, np.random.default_rng(1))
    low, high = space.from_decisions([0] * 6), space.from_decisions([3] * 6)
    tell(s, [low], lambda _: 50.0)
    p = s.probabilities()
    before = np.prod(p[np.arange(6), space.to_decisions(high)])
    tell(s, [high], lambda _: 90.0)  # r - b > 0
    p = s.probabilities()
    after = np.prod(p[np.arange(6), space.to_decisions(high)])
    assert after > 1.05 * before  # Adam's first step moves each logit by about lr: ~1.077x over 6 rows
    tell(s, [low], lambda _: 10.0)  # r - b < 0: `low` loses mass
    assert np.prod(s.probabilities()[np.arange(6), space.to_decisions(low)]) < np.prod(p[np.arange(6), [0] * 6])


def test_learns_a_toy_objective_better_than_its_start():
    s = drive(Reinforce(lr=0.05), 300, seed=2)
    p = s.probabilities()
    assert p[:, 4].mean() > 0.4  # op 4 scores most; uniform start is 0.2
    assert sum(s.recommend().ops) >= 22


def test_same_seed_same_run_other_seed_other_run():
    a = [x for x, _ in drive(Reinforce(), 40, seed=5).history]
    b = [x for x, _ in drive(Reinforce(), 40, seed=5).history]
    c = [x for x, _ in drive(Reinforce(), 40, seed=6).history]
    assert a == b and a != c


def test_checkpoint_round_trip_continues_identically():
    original = drive(Reinforce(), 15, seed=3)
    state = pickle.loads(pickle.dumps(original.state_dict()))  # the checkpoint is a pickle
    restored = Reinforce()
    restored.setup(NB201Space(), OBJ, np.random.default_rng(99))
    restored.load_state_dict(state)
    assert torch.equal(restored.logits, original.logits)
    assert restored.optimizer.param_groups[0]["params"][0] is restored.logits  # still the live parameter
    for _ in range(10):
        a, b = original.ask(1), restored.ask(1)
        assert a == b
        tell(original, a)
        tell(restored, b)
    assert torch.allclose(restored.logits, original.logits)


def test_failed_evaluation_teaches_nothing():
    s = Reinforce()
    s.setup(NB201Space(), OBJ, np.random.default_rng(0))
    before = s.logits.detach().clone()
    s.tell(s.ask(1), [Evaluation({"val_acc": float("nan")}, failure="nan")])
    assert torch.equal(s.logits, before) and s.updates == 0


def test_bad_hyperparameters_are_refused():
    with pytest.raises(ConfigError):
        Reinforce(ema_momentum=1.0)
    with pytest.raises(ConfigError):
        Reinforce(lr=0)
