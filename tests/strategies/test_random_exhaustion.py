"""Random search covers an Enumerable space without repeats and in linear time, and its draws
before half the space is asked are those of plain rejection sampling (so published figures hold)."""
import numpy as np

from nasframe.core.evaluator import Objective
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.random import RandomSearch

SPACE = NB201Space()


def test_exhausts_the_space_once_each_then_stops():
    s = RandomSearch()
    s.setup(SPACE, (Objective("val_acc"),), np.random.default_rng(0))
    archs = s.ask(len(SPACE))
    assert len(archs) == len(SPACE) == len(set(archs))
    assert s.ask(1) == []  # nothing left: the runner stops cleanly


def test_first_half_equals_rejection_sampling():
    s = RandomSearch()
    s.setup(SPACE, (Objective("val_acc"),), np.random.default_rng(5))
    got = s.ask(len(SPACE) // 2)
    rng, seen, want = np.random.default_rng(5), set(), []
    while len(want) < len(SPACE) // 2:
        a = SPACE.sample(rng)
        if a not in seen:
            seen.add(a)
            want.append(a)
    assert got == want
