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


def _changed_edges(mutate, n=6000, seed=0):
    rng = np.random.default_rng(seed)
    parent = NB201Space().sample(rng)
    counts = np.zeros(6)
    for _ in range(n):
        child = mutate(parent, rng)
        diff = [i for i, (x, y) in enumerate(zip(parent.ops, child.ops)) if x != y]
        assert len(diff) == 1  # exactly one edge gets a different op
        counts[diff[0]] += 1
    return counts / n


def test_reference_mutation_picks_a_node_then_an_edge_into_it():
    rea = RegularizedEvolution(mutation="reference")
    rea.setup(NB201Space(), OBJ, np.random.default_rng(0))
    freq = _changed_edges(lambda a, rng: (setattr(rea, "rng", rng), rea._mutate(a))[1])
    # edges in string order: 1<-0 | 2<-0 2<-1 | 3<-0 3<-1 3<-2
    np.testing.assert_allclose(freq, [1 / 3, 1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9], atol=0.025)


def test_uniform_mutation_draws_the_edge_uniformly_as_nasframe_did_before():
    rea = RegularizedEvolution(mutation="uniform")
    rea.setup(NB201Space(), OBJ, np.random.default_rng(0))
    freq = _changed_edges(lambda a, rng: (setattr(rea, "rng", rng), rea._mutate(a))[1])
    np.testing.assert_allclose(freq, [1 / 6] * 6, atol=0.025)

    def previous(arch, rng):  # the former NB201Space.mutate, draw for draw
        e = int(rng.integers(6))
        o = int(rng.integers(4))
        o += o >= arch.ops[e]
        return arch.ops[:e] + (o,) + arch.ops[e + 1:]

    a, r1, r2 = NB201Space().sample(np.random.default_rng(1)), np.random.default_rng(2), np.random.default_rng(2)
    rea.rng = r1
    assert [rea._mutate(a).ops for _ in range(50)] == [previous(a, r2) for _ in range(50)]


def test_unknown_mutation_is_refused():
    import pytest

    from nasframe.errors import ConfigError

    with pytest.raises(ConfigError):
        RegularizedEvolution(mutation="node")
