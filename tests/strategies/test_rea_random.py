import math

import numpy as np

from nasframe.core.evaluator import Evaluation, Objective
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.random import RandomSearch
from nasframe.strategies.rea import RegularizedEvolution

OBJ = (Objective("val_acc", "max"),)


def score(a):
    return float(sum(a.ops))


def drive(strategy, steps, space=None, seed=0):
    space = space or NB201Space()
    strategy.setup(space, OBJ, np.random.default_rng(seed))
    for _ in range(steps):
        archs = strategy.ask(1)
        strategy.tell(archs, [Evaluation({"val_acc": score(a)}) for a in archs])
    return strategy


def test_rea_population_stays_p_and_oldest_is_removed():
    rea = RegularizedEvolution(population_size=10, sample_size=3)
    rea.setup(NB201Space(), OBJ, np.random.default_rng(0))
    told = []
    for step in range(40):
        archs = rea.ask(1)
        rea.tell(archs, [Evaluation({"val_acc": score(archs[0])})])
        told.append(archs[0])
        assert len(rea.population) == min(step + 1, 10)
        assert [a for a, _ in rea.population] == told[-10:]  # exactly the 10 newest


def test_rea_with_s_equal_p_mutates_the_population_best():
    rea = drive(RegularizedEvolution(population_size=5, sample_size=200), 5)
    best = max(rea.population, key=lambda m: m[1])[0]
    for _ in range(20):
        child = rea.ask(1)[0]
        assert sum(x != y for x, y in zip(child.ops, best.ops)) == 1


def test_rea_beats_random_on_a_smooth_toy_objective():
    rea = [score(drive(RegularizedEvolution(10, 3), 100, seed=s).recommend()) for s in range(10)]
    rnd = [score(drive(RandomSearch(), 100, seed=s).recommend()) for s in range(10)]
    assert np.mean(rea) > np.mean(rnd)


def test_random_never_repeats_and_is_seeded():
    a = drive(RandomSearch(), 300, seed=4)
    b = drive(RandomSearch(), 300, seed=4)
    archs = [x for x, _ in a.history]
    assert len(set(archs)) == 300
    assert archs == [x for x, _ in b.history]


def test_failures_are_worst():
    rea = RegularizedEvolution(3, 3)
    rea.setup(NB201Space(), OBJ, np.random.default_rng(0))
    archs = rea.ask(1)
    rea.tell(archs, [Evaluation({"val_acc": -math.inf}, failure="nan")])
    archs2 = rea.ask(1)
    rea.tell(archs2, [Evaluation({"val_acc": 1.0})])
    assert rea.recommend() == archs2[0]
