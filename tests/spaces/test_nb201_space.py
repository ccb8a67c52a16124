import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasframe.core.space import Buildable, Enumerable, Mutable, Relaxable, Sequential
from nasframe.errors import ArchitectureError
from nasframe.spaces.nb201 import OPS, NB201Arch, NB201Space

SPACE = NB201Space()
OPTIMUM_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
archs = st.tuples(*[st.integers(0, 4)] * 6).map(NB201Arch)


def test_capabilities():
    for cap in (Enumerable, Mutable, Sequential, Relaxable, Buildable):
        assert isinstance(SPACE, cap)


def test_enumeration_is_complete_unique_and_indexed():
    all_archs = list(SPACE)
    assert len(all_archs) == 15625 == len(set(all_archs))
    assert all(SPACE.index(a) == i for i, a in enumerate(all_archs))


def test_official_index_order_known_rows():
    # official NB201 indices: 0 is the first architecture of the benchmark file,
    # 6111 the CIFAR-10 test optimum
    assert str(SPACE[0]) == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|"
                             "skip_connect~1|skip_connect~2|")
    assert str(SPACE[6111]) == OPTIMUM_C10
    assert SPACE.index(SPACE.parse(OPTIMUM_C10)) == 6111


@given(archs)
def test_string_round_trip(a):
    assert SPACE.parse(str(a)) == a and hash(SPACE.parse(str(a))) == hash(a)


@pytest.mark.parametrize("bad, token", [
    ("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_5x5"),
    ("|none~0|+|none~0|conv~1|+|none~0|none~1|none~2|", "conv"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|", "node 3"),
    ("|none~0|+|none~1|none~1|+|none~0|none~1|none~2|", "none~1"),
    ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "none0"),
    ("garbage", "3 nodes"),
])
def test_parse_errors_name_the_bad_token(bad, token):
    with pytest.raises(ArchitectureError, match=token):
        SPACE.parse(bad)


@settings(max_examples=50)
@given(archs, st.integers(0, 2**32 - 1))
def test_mutation_changes_exactly_one_edge(a, seed):
    child = SPACE.mutate(a, np.random.default_rng(seed))
    assert child in SPACE
    assert sum(x != y for x, y in zip(a.ops, child.ops)) == 1


@given(archs)
def test_neighbors(a):
    nb = SPACE.neighbors(a)
    assert len(nb) == len(set(nb)) == 24 and a not in nb
    assert all(sum(x != y for x, y in zip(a.ops, b.ops)) == 1 for b in nb)


@given(archs)
def test_decisions_and_relaxation_round_trip(a):
    assert [d.options for d in SPACE.decisions()] == [OPS] * 6
    assert SPACE.from_decisions(SPACE.to_decisions(a)) == a
    x = SPACE.encode(a)
    assert x.shape == (6, 5) and (x.sum(axis=1) == 1).all()
    assert SPACE.project(x) == a


def test_project_is_rowwise_argmax():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.normal(size=(6, 5))
        assert SPACE.project(x).ops == tuple(int(i) for i in x.argmax(axis=1))


def test_from_decisions_rejects_bad_lists():
    with pytest.raises(ArchitectureError):
        SPACE.from_decisions([0, 1, 2])
    with pytest.raises(ArchitectureError):
        SPACE.from_decisions([0, 1, 2, 3, 4, 5])


def test_adjacency_is_a_dag_from_input_to_output():
    a = SPACE.adjacency
    assert a.shape == (8, 8) and np.allclose(np.triu(a, 1), a)
    assert a[0].sum() == 3 and a[:, 7].sum() == 3  # 3 edges leave the input, 3 enter node 3


def test_sample_is_uniform_enough():
    rng = np.random.default_rng(1)
    counts = np.zeros((6, 5))
    for _ in range(5000):
        a = SPACE.sample(rng)
        counts[np.arange(6), a.ops] += 1
    assert np.abs(counts / 5000 - 0.2).max() < 0.03
