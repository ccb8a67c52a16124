"""NB101 space: canonical form, isomorphism invariance, validity, moves, encoding, the real network."""
import ast
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasframe.errors import ArchitectureError
from nasframe.spaces.nb101 import (CONV1X1, CONV3X3, INPUT, MAXPOOL3X3, OUTPUT, NB101Arch, NB101Space,
                                   module_hash)
from nasframe.spaces.nb101_net import vertex_channels

SPACE = NB101Space()
# The Inception-like cell of the official API docstring
INCEPTION = ([[0, 1, 1, 1, 0, 1, 0],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 1, 0, 0],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 0]],
             [INPUT, CONV1X1, CONV3X3, CONV3X3, CONV3X3, MAXPOOL3X3, OUTPUT])

archs = st.integers(0, 2**32 - 1).map(lambda s: SPACE.sample(np.random.default_rng(s)))


def permuted(arch: NB101Arch, perm):
    """The same cell with its inner vertices relabelled by ``perm``, as an (unsorted) spec."""
    n = arch.num_vertices
    order = [0, *[p + 1 for p in perm], n - 1]  # new vertex k is old vertex order[k]
    m = np.array(arch.matrix)
    return m[np.ix_(order, order)], [arch.ops[v] for v in order]


def test_canonical_string_round_trip_and_format():
    a = SPACE.from_spec([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [INPUT, CONV3X3, OUTPUT])
    assert str(a) == "conv3x3-bn-relu|11.1"
    assert SPACE.parse("conv3x3-bn-relu|11.1") == a
    assert str(SPACE.parse("|1")) == "|1"  # input -> output only
    assert a.num_edges == 3


def test_parse_errors_name_the_problem():
    with pytest.raises(ArchitectureError, match="unknown op 'conv5x5'"):
        SPACE.parse("conv5x5|11.1")
    with pytest.raises(ArchitectureError, match="needs 2 rows"):
        SPACE.parse("conv3x3-bn-relu|11")
    with pytest.raises(ArchitectureError, match="does not connect input to output"):
        SPACE.parse("conv3x3-bn-relu|10.0")
    with pytest.raises(ArchitectureError, match="10 edges"):
        SPACE.from_spec(_ten_edges(), [INPUT] + [CONV3X3] * 5 + [OUTPUT])
    with pytest.raises(ArchitectureError, match="upper-triangular"):
        SPACE.from_spec([[0, 1], [1, 0]], [INPUT, OUTPUT])


def _ten_edges():
    m = np.zeros((7, 7), dtype=int)
    for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (0, 6), (0, 2), (1, 6), (0, 3)]:
        m[i, j] = 1
    return m


def test_pruning_drops_dangling_vertices():
    a = SPACE.from_spec(*INCEPTION)  # nothing dangles: all 7 vertices stay
    assert a.num_vertices == 7 and a.num_edges == 9
    m, ops = INCEPTION
    m = np.array(m)
    m[0, 5] = 0  # the max-pool loses its input: it is pruned
    b = SPACE.from_spec(m, ops)
    assert b.num_vertices == 6 and MAXPOOL3X3 not in b.ops


def test_known_fingerprint_is_isomorphism_invariant():
    a = SPACE.from_spec(*INCEPTION)
    m, ops = permuted(a, [4, 3, 2, 1, 0][: a.num_vertices - 2])
    assert module_hash(m.tolist(), ops) == a.module_hash
    assert SPACE.parse("|1").module_hash == _reference_hash([[0, 1], [0, 0]], [-1, -2])


def _reference_hash(matrix, labels):
    """A direct transcription of the documented algorithm, independent of the space's code path."""
    import hashlib
    n = len(labels)
    m = np.array(matrix)
    hashes = [hashlib.md5(str((int(m[v].sum()), int(m[:, v].sum()), labels[v])).encode()).hexdigest()
              for v in range(n)]
    for _ in range(n):
        hashes = [hashlib.md5(("".join(sorted(hashes[w] for w in range(n) if m[w, v])) + "|"
                               + "".join(sorted(hashes[w] for w in range(n) if m[v, w])) + "|"
                               + hashes[v]).encode()).hexdigest() for v in range(n)]
    return hashlib.md5(str(sorted(hashes)).encode()).hexdigest()


@settings(max_examples=60, deadline=None)
@given(archs, st.randoms(use_true_random=False))
def test_isomorphic_variants_are_equal_and_hash_equal(a, rnd):
    perm = list(range(a.num_vertices - 2))
    rnd.shuffle(perm)
    m, ops = permuted(a, perm)
    # a random relabelling is usually not upper-triangular: re-sort it topologically
    order = _topological(m)
    m, ops = m[np.ix_(order, order)], [ops[v] for v in order]
    b = SPACE.from_spec(m, ops)
    assert b == a and hash(b) == hash(a) and b.module_hash == a.module_hash
    labels = [-1] + [("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3").index(o) for o in ops[1:-1]] + [-2]
    assert _reference_hash(m, labels) == a.module_hash


def _topological(m):
    n = len(m)
    order, placed = [], set()
    while len(order) < n:
        for v in range(n):
            if v not in placed and all(u in placed for u in range(n) if m[u, v]):
                order.append(v)
                placed.add(v)
                break
    return order


@settings(max_examples=80, deadline=None)
@given(archs)
def test_parse_str_round_trip_and_membership(a):
    assert a in SPACE
    assert SPACE.parse(str(a)) == a
    assert a.num_edges <= 9 and a.num_vertices <= 7


@settings(max_examples=25, deadline=None)
@given(archs, st.integers(0, 2**32 - 1))
def test_mutate_and_neighbors_stay_in_space(a, seed):
    rng = np.random.default_rng(seed)
    b = SPACE.mutate(a, rng)
    assert b in SPACE and b != a
    nbrs = SPACE.neighbors(a)
    assert b in nbrs and a not in nbrs and len(set(nbrs)) == len(nbrs)


def test_neighbors_can_grow_the_cell():
    small = SPACE.parse("conv3x3-bn-relu|10.1")
    sizes = {b.num_vertices for b in SPACE.neighbors(small)}
    assert 4 in sizes  # a vertex insertion


def test_mutate_is_reproducible_from_the_seed():
    a = SPACE.sample(np.random.default_rng(3))
    seq = lambda: [str(SPACE.mutate(a, np.random.default_rng(7))) for _ in range(3)]  # noqa: E731
    assert seq() == seq()


@settings(max_examples=60, deadline=None)
@given(archs)
def test_project_encode_round_trip(a):
    x = SPACE.encode(a)
    assert x.shape == (7, 12)
    assert SPACE.project(x) == a
    assert SPACE.project(x + np.random.default_rng(0).uniform(-0.2, 0.2, x.shape)) == a


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_project_repairs_any_matrix(seed):
    x = np.random.default_rng(seed).normal(0.5, 0.6, size=(7, 12))
    assert SPACE.project(x) in SPACE


def test_project_repairs_disconnected_and_dense():
    x = np.zeros((7, 12))
    x[0, 6] = 0.4  # below threshold: the best missing edge connects the cell
    assert str(SPACE.project(x)) == "|1"
    dense = np.zeros((7, 12))
    dense[:, :7] = np.triu(np.ones((7, 7)), 1) * 0.9
    dense[0, 6] = 0.6  # the weakest edge goes first
    a = SPACE.project(dense)
    assert a in SPACE and a.num_edges == 9


def test_sample_is_reproducible_and_valid():
    a = [SPACE.sample(np.random.default_rng(1)) for _ in range(2)]
    assert a[0] == a[1] and a[0] in SPACE


def test_vertex_channels_split_like_nb101():
    m = np.array(INCEPTION[0])
    # four vertices feed the output: 128 / 4 = 32 each; vertex 3 feeds vertex 4 only -> 32
    assert vertex_channels(128, 128, m) == [128, 32, 32, 32, 32, 32, 128]
    # uneven split: the first vertices (in order) get one extra channel
    m3 = np.array([[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5])
    assert vertex_channels(128, 128, m3) == [128, 43, 43, 42, 128]


def _forward_ok(a):
    net = SPACE.build(a)
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    assert net.stages[2][-1].channels[-1] == 512  # channels double per stack: 128, 256, 512


def test_build_forward_on_cifar_batch():
    # input -> output only (a bare projection), and a cell with truncation, projections, a sum and a concat
    for s in ["|1", "conv1x1-bn-relu+conv3x3-bn-relu+maxpool3x3|1001.011.01.1"]:
        _forward_ok(SPACE.parse(s))


@pytest.mark.slow
def test_build_forward_more_cells():
    rng = np.random.default_rng(0)
    for a in [SPACE.from_spec(*INCEPTION), *(SPACE.sample(rng) for _ in range(4))]:
        _forward_ok(a)


def test_params_and_flops_of_known_cells():
    # NASLib's zc_nasbench101.json lists 0.88257 M params for input -> maxpool -> output (whatever order)
    a = SPACE.parse("maxpool3x3|10.1")
    assert SPACE.params(a) == pytest.approx(0.88257, abs=1e-6)
    # stem 3x3 (3->128) at 32x32 + per stack 3 projections; closed form of this cell's convolutions:
    stem = 9 * 3 * 128 * 32 * 32
    proj = 3 * 128 * 128 * 32 * 32 + (256 * 128 + 2 * 256 * 256) * 16 * 16 + (512 * 256 + 2 * 512 * 512) * 8 * 8
    assert SPACE.flops(a) == pytest.approx((stem + proj + 512 * 10 + 10) / 1e6)


@pytest.mark.data
def test_shared_json_archs_all_parse_and_match_params(shared_data):
    recs = json.load(open(shared_data / "nasbench101" / "zc_nasbench101.json"))["nasbench101"]["cifar10"]
    parsed = [(SPACE.from_naslib(ast.literal_eval(k)), v) for k, v in recs.items()]
    assert len(parsed) == 500
    cells = {a for a, _ in parsed}
    hashes = {a.module_hash for a in cells}
    assert len(cells) == len(hashes) == 292  # 500 unpruned keys are 292 distinct cells
    for a, _ in parsed:
        assert SPACE.parse(str(a)) == a
    # our network, built in each key's own vertex order, has NASLib's parameter count
    from nasframe.spaces.nb101 import NASLIB_CODES, prune
    from nasframe.spaces.nb101_net import NB101Network
    for k, v in list(recs.items())[:30]:
        key = ast.literal_eval(k)
        m, ops = prune(np.array(key[:49]).reshape(7, 7).tolist(), [NASLIB_CODES[c] for c in key[49:]])
        net = NB101Network(np.array(m), ops)
        assert sum(p.numel() for p in net.parameters()) / 1e6 == pytest.approx(v["params"], abs=1e-6)
