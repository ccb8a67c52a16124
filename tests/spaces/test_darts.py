"""DARTS space: NASLib's compact genotype, validity, moves, decisions, relaxation, the real network,
the NB301 table, and random / REA / PredNAS runs through the CLI."""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasframe.errors import ArchitectureError, ConfigError, DataError
from nasframe.spaces.darts import DartsArch, DartsSpace

SPACE = DartsSpace()
REPO = Path(__file__).resolve().parents[2]
# A key of NASLib's zc_nasbench301.json (the first), as stored there (pairs of a node unsorted)
NASLIB_KEY = ("[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
              "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]")
archs = st.integers(0, 2**32 - 1).map(lambda s: SPACE.sample(np.random.default_rng(s)))


def test_naslib_key_parses_to_the_canonical_string_and_back():
    a = SPACE.parse(NASLIB_KEY)
    assert str(a) == ("[[(0, 0), (1, 5), (0, 1), (1, 1), (0, 3), (1, 3), (1, 3), (3, 2)], "
                      "[(0, 2), (1, 0), (0, 3), (1, 3), (0, 1), (3, 0), (2, 0), (3, 6)]]")
    assert SPACE.parse(str(a)) == a and a in SPACE
    assert hash(a) == hash(SPACE.parse(NASLIB_KEY))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.normal = a.reduce  # frozen
    g = a.genotype()
    assert g["normal"][:2] == [("max_pool_3x3", 0), ("dil_conv_3x3", 1)] and g["reduce"][-1] == ("dil_conv_5x5", 3)


@pytest.mark.parametrize("text, needle", [
    ("[[(0, 0)], [(0, 0)]]", "8 \\(input, op\\) pairs"),
    ("[[(0, 0), (0, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], " + NASLIB_KEY[2 + 64:], "twice"),
    ("[[(0, 0), (1, 9), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], " + NASLIB_KEY[2 + 64:], "op 9"),
    ("[[(0, 0), (2, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], " + NASLIB_KEY[2 + 64:], "nodes 0..1"),
    ("nonsense", "compact genotype"),
])
def test_bad_genotypes_are_refused_with_the_reason(text, needle):
    with pytest.raises(ArchitectureError, match=needle):
        SPACE.parse(text)


def test_uncanonical_or_foreign_objects_are_not_members():
    a = SPACE.parse(NASLIB_KEY)
    swapped = DartsArch(((1, 5), (0, 0)) + a.normal[2:], a.reduce)  # same cell, unsorted pair
    assert swapped not in SPACE and "not a DARTS" not in str(swapped)
    assert "x" not in SPACE


@settings(max_examples=40, deadline=None)
@given(archs)
def test_round_trips_and_moves(a):
    assert a in SPACE and SPACE.parse(str(a)) == a
    assert SPACE.from_decisions(SPACE.to_decisions(a)) == a
    assert SPACE.project(SPACE.encode(a)) == a
    nb = SPACE.neighbors(a)
    assert a not in nb and len(nb) == len(set(nb)) and all(n in SPACE for n in nb)
    # every neighbour differs from a in exactly one (input, op) entry of one cell
    for n in nb:
        diff = sum(x != y for c, d in zip(a.cells, n.cells) for x, y in zip(c, d))
        assert 1 <= diff <= 2  # a moved input can reorder the node's sorted pair


def test_neighbour_count_of_a_cell_is_ops_plus_input_moves():
    a = SPACE.parse(NASLIB_KEY)
    # per cell: 8 edges x 6 other ops + input moves: node k's edge can go to k+2 - 2 other nodes
    per_cell = 8 * 6 + 2 * sum(k for k in range(4))
    assert len(SPACE.neighbors(a)) == 2 * per_cell


def test_decisions_cover_every_valid_cell_and_refuse_out_of_range():
    ds = SPACE.decisions()
    assert len(ds) == 24 and [len(d.options) for d in ds[:3]] == [1, 7, 7]
    assert np.prod([float(len(d.options)) for d in ds]) == pytest.approx((1 * 3 * 6 * 10 * 7 ** 8) ** 2)
    with pytest.raises(ArchitectureError):
        SPACE.from_decisions([0] * 23)
    with pytest.raises(ArchitectureError):
        SPACE.from_decisions([1] + [0] * 23)


def test_project_repairs_a_node_reading_one_input_twice():
    x = SPACE.encode(SPACE.parse(NASLIB_KEY))
    x[1, 7:] = x[0, 7:]  # both edges of node 2 now prefer input 0
    x[1, 7 + 1] = 0.9
    a = SPACE.project(x)
    assert a in SPACE and a.normal[0][0] != a.normal[1][0]


def test_network_shapes_channels_and_complexity():
    a = SPACE.parse(NASLIB_KEY)
    net = SPACE.build(a)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert SPACE.build(a, "cifar100").classifier.out_features == 100
    # 8 cells, reductions at 2 and 5: final cell outputs 4 x 64 channels
    assert net.classifier.in_features == 4 * 16 * 4
    # the counter equals a hand count on the built network's convolutions and classifier
    assert SPACE.params(a) == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6)
    # NB301's 32-channel, 8-cell network: within 7 % of NASLib's stored FLOPs/params for this key
    big = DartsSpace(32, 8)
    assert big.flops(a) == pytest.approx(153.499136, rel=0.07)
    assert big.params(a) == pytest.approx(0.856298, rel=0.02)
    with pytest.raises(ConfigError):
        SPACE.build(a, "imagenet")
    with pytest.raises(ConfigError):
        DartsSpace(16, 2)


def test_graph_extraction_sees_every_op_kind():
    from nasframe.graphs import build_graph

    g = build_graph(SPACE, SPACE.parse(NASLIB_KEY), "cifar10")
    counts = g.op_counts()
    assert counts.get("<oov>", 0) == 0
    assert {"conv", "depthwise", "maxpool", "avgpool", "concat", "add", "matmul"} <= set(counts)
    assert g.flops == pytest.approx(SPACE.flops(SPACE.parse(NASLIB_KEY)), rel=1e-9)


def _nb301_file(tmp_path, records):
    p = tmp_path / "zc_nasbench301.json"
    p.write_text(json.dumps({"cifar10": records}))
    return p


def test_nb301_table_reads_a_tiny_naslib_file(tmp_path):
    from nasframe.benchmarks import find_benchmark

    other = str(SPACE.sample(np.random.default_rng(3)))
    p = _nb301_file(tmp_path, {NASLIB_KEY: {"val_accuracy": 93.5, "flops": {"score": 150.0},
                                            "synflow": {"score": 12.0, "time": 1.0}},
                               other: {"val_accuracy": 92.0, "flops": {"score": 120.0}}})
    b = find_benchmark(SPACE, "cifar10", path=p, use_cache=False)
    assert "surrogate" in b.objective.description
    i = b.index_of(SPACE.parse(NASLIB_KEY))
    assert b.table.column("val_acc")[i] == 93.5 and b.table.column("synflow")[i] == 12.0
    assert np.isnan(b.table.column("synflow")[b.index_of(SPACE.parse(other))])
    assert b.index_of(SPACE.sample(np.random.default_rng(4))) is None
    with pytest.raises(DataError, match="same DARTS cell"):
        swapped = NASLIB_KEY.replace("[(0, 0), (1, 5)", "[(1, 5), (0, 0)")
        find_benchmark(SPACE, "cifar10", path=_nb301_file(tmp_path, {NASLIB_KEY: {"val_accuracy": 1},
                                                                    swapped: {"val_accuracy": 2}}),
                       use_cache=False)
    with pytest.raises(ConfigError):
        find_benchmark(SPACE, "cifar100", path=p)


def test_nb301_table_on_the_shared_file(shared_data):
    from scipy.stats import spearmanr

    from nasframe.benchmarks import find_benchmark

    b = find_benchmark(SPACE, "cifar10", root=shared_data)
    v = b.table.column("val_acc")
    assert b.table.size == 725 and v.max() == pytest.approx(94.49, abs=0.01)
    assert spearmanr(b.table.column("synflow"), v)[0] == pytest.approx(0.217, abs=0.001)  # PROVENANCE.md


def _cli(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "nasframe", "space=darts", "evaluator=params", "progress=false",
                           "plot=false", f"hydra.run.dir={tmp_path / 'run'}", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("strategy, extra", [
    ("random", []),
    ("rea", ["strategy.population_size=4", "strategy.sample_size=2"]),
    ("prednas", ["strategy.n_init=4", "strategy.top_k=2", "strategy.starts=4", "strategy.steps=5",
                 "strategy.predictor.epochs=5", "strategy.max_start_batches=1"]),
])
def test_strategies_run_on_darts_through_the_cli(tmp_path, strategy, extra):
    r = _cli(tmp_path, f"strategy={strategy}", "budget.queries=6", *extra)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in (tmp_path / "run" / "history.jsonl").read_text().splitlines() if x.strip()]
    evals = [x for x in lines if "arch" in x]
    assert len({x["arch"] for x in evals}) == 6
    assert all(SPACE.parse(x["arch"]) in SPACE for x in evals)
