"""PredNAS: the ascent goes where the predictor points, projection, budget and duplicates, resume, costs."""
import csv
import json

import numpy as np
import pytest
import torch

from nasframe.core.evaluator import Evaluator, Objective, checked
from nasframe.core.parallel import can_fork
from nasframe.core.runner import Budget, Runner
from nasframe.errors import ConfigError, DataError
from nasframe.spaces.nb201 import NB201Arch, NB201Space
from nasframe.strategies.prednas import (
    PredNAS,
    SizeEncoding,
    TopologyEncoding,
    ascend,
    encoding_for,
    gradient_pool,
)

SMALL = dict(n_init=6, top_k=5, starts=8, steps=20, predictor={"epochs": 10})




class LinearScore:
    """A fixed predictor linear in the relaxed op matrix: sum_{e,o} w[e,o] * p[e,o]."""

    def __init__(self, w, graph=True):
        self.w = torch.as_tensor(w, dtype=torch.float32)
        self.graph = graph

    def score(self, x):
        p = x[:, 1:-1, :self.w.shape[1]] if self.graph else x.reshape(len(x), *self.w.shape)
        return (p * self.w).sum(dim=(1, 2))


class SyntheticNB201(Evaluator):
    """A cheap additive validation score for NB201, with a report-only test value."""

    objectives = (Objective("val_acc"),)

    def __init__(self, space, seed=0):
        self.w = np.random.default_rng(seed).normal(size=(6, 5))

    def evaluate(self, archs):
        return [checked({"val_acc": float(self.w[np.arange(6), a.ops].sum())}, self.objectives,
                        report={"test_acc": 0.0}) for a in archs]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ascent_on_a_linear_predictor_projects_to_the_row_argmax(seed):
    space = NB201Space()
    enc = TopologyEncoding(space)
    rng = np.random.default_rng(seed)
    w = np.stack([rng.permutation(5) for _ in range(6)]).astype(float)  # each row: a distinct best op
    starts = [space.sample(rng) for _ in range(12)]
    pool, final = ascend(enc, LinearScore(w), starts, steps=60, lr=1.0, milestones=(1 / 3, 2 / 3), gamma=0.5,
                         momentum=0.9)
    best = NB201Arch(tuple(int(i) for i in w.argmax(axis=1)))
    assert final == [best] * len(starts)
    assert best in pool


class DivergingScore:
    """A predictor whose gradient is NaN (what astronomically spread targets such as synflow's give)."""

    y_std = 1.0

    def score(self, x):
        return (x * float("nan")).reshape(len(x), -1).sum(1)


class CountingBar:
    n = 0
    total = None

    def update(self):
        self.n += 1

    def refresh(self):
        pass


def test_a_diverged_ascent_stops_without_changing_its_pool():
    space = NB201Space()
    enc = TopologyEncoding(space)
    starts = [space.sample(np.random.default_rng(i)) for i in range(20)]
    short = ascend(enc, DivergingScore(), starts, steps=1, lr=0.02, milestones=(), gamma=0.5, momentum=0.9)
    bar = CountingBar()
    full = ascend(enc, DivergingScore(), starts, steps=200, lr=0.02, milestones=(), gamma=0.5, momentum=0.9,
                  bar=bar)
    assert full == short and len(full[0]) == 1  # every start projects to the one NaN point
    assert bar.n == 1  # and the 199 steps that would add nothing are not run


@pytest.mark.skipif(not can_fork(), reason="forked workers need Linux")
def test_the_pool_does_not_depend_on_the_worker_count():
    space = NB201Space()
    enc = encoding_for(space)
    rng = np.random.default_rng(3)
    archs = [space.sample(rng) for _ in range(20)]
    predictor = enc.predictor({"epochs": 20}, 0).fit(enc.exact(archs).numpy(), rng.normal(size=20))
    starts = [space.sample(rng) for _ in range(30)]
    pools = {}
    for workers in (1, 2, 4):
        bar = CountingBar()
        pools[workers] = gradient_pool(enc, predictor, starts, 25, 2.0, (1 / 3, 2 / 3), 0.5, 0.9, bar=bar,
                                       workers=workers)
        assert bar.n == 25 * len(range(0, 4, workers))  # the bar follows this process's batches
    assert len(pools[1]) > 30  # the ascent moved: more pool members than starts
    assert pools[2] == pools[1] and pools[4] == pools[1]  # same batches, same floats, whichever process


def test_topology_encoding_is_the_8x7_op_as_node_graph():
    space = NB201Space()
    enc = encoding_for(space)
    assert isinstance(enc, TopologyEncoding) and enc.graph
    a = space.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    x = enc.exact([a]).numpy()[0]
    assert x.shape == (8, 7)
    assert x[0, 5] == 1 and x[7, 6] == 1  # input and output nodes
    assert np.allclose(x[1:7, :5], space.encode(a), atol=1e-6)
    assert enc.project(enc.start([a])) == [a]


def test_size_projection_respects_steps_and_bounds():
    anynet = pytest.importorskip("nasframe.spaces.anynet")
    space = anynet.AnyNetSpace()
    enc = SizeEncoding(space)
    raw = np.array([0.2, 7.4, 16.0, 40.0,  # depths: below, inside, on, above the bounds
                    3.0, 1024.0, 99.0, 5000.0,  # widths: below, on the bound, between steps, above
                    0.3, 0.5, 0.9, 7.0,  # ratios
                    1.0, 2.0, 3.0, 99.0], dtype=np.float32)
    (a,) = enc.project(((raw - enc.mean) / enc.std)[None])
    assert a.depths == (1, 7, 16, 16)
    assert a.widths == (24, 1024, 96, 1024)
    assert all(w % 8 == 0 for w in a.widths)
    assert a.ratios == (0.25, 0.5, 1.0, 1.0)
    assert a in space
    b = space.sample(np.random.default_rng(0))
    assert enc.project(enc.start([b])) == [b]  # a valid point stays where it is


def _run(tmp_path, queries, strategy=None, seed=0, resume=False, name="run"):
    space = NB201Space()
    strategy = strategy or PredNAS(**SMALL)
    runner = Runner(space, SyntheticNB201(space), strategy, Budget(queries=queries), tmp_path / name, seed=seed,
                    progress=False, plot=False, resume=resume)
    return runner.run()


def _history(tmp_path, name="run"):
    return [json.loads(line) for line in (tmp_path / name / "history.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("queries", [4, 6, 11, 17, 23])
def test_never_more_than_the_budget_and_no_duplicate_queries(tmp_path, queries):
    result = _run(tmp_path, queries)
    archs = [r["arch"] for r in _history(tmp_path)]
    assert len(archs) == queries == result.summary["queries"]
    assert len(set(archs)) == len(archs)


def test_batched_asks_also_stay_unique(tmp_path):
    space = NB201Space()
    runner = Runner(space, SyntheticNB201(space), PredNAS(**SMALL), Budget(queries=20), tmp_path / "b",
                    progress=False, plot=False, batch_size=4)
    runner.run()
    archs = [r["arch"] for r in _history(tmp_path, "b")]
    assert len(archs) == 20 and len(set(archs)) == 20


def test_the_predictor_round_beats_the_random_round(tmp_path):
    _run(tmp_path, 30, PredNAS(n_init=10, top_k=20, starts=20, steps=50, predictor={"epochs": 100}))
    vals = [r["values"]["val_acc"] for r in _history(tmp_path)]
    assert np.mean(vals[10:]) > np.mean(vals[:10]) + 0.5


def test_same_seed_same_run_and_resume_reproduces_it(tmp_path):
    _run(tmp_path, 17, seed=3, name="a")
    _run(tmp_path, 17, seed=3, name="b")
    a, b = _history(tmp_path, "a"), _history(tmp_path, "b")
    assert [r["arch"] for r in a] == [r["arch"] for r in b]
    # a run killed mid-way continues to the same history
    _run(tmp_path, 9, seed=3, name="c")
    _run(tmp_path, 17, seed=3, name="c", resume=True)
    assert [r["arch"] for r in _history(tmp_path, "c")] == [r["arch"] for r in a]


def test_state_dict_round_trip_gives_the_same_next_round():
    space = NB201Space()
    ev = SyntheticNB201(space)
    s = PredNAS(**SMALL)
    s.setup(space, ev.objectives, np.random.default_rng(0))
    first = s.ask(6)
    s.tell(first, ev.evaluate(first))
    state = s.state_dict()
    nxt = s.ask(5)
    t = PredNAS(**SMALL)
    t.setup(space, ev.objectives, np.random.default_rng(99))
    t.load_state_dict(state)
    assert t.ask(5) == nxt
    assert len(set(first) | set(nxt)) == 11


def _write_hw_csv(path, space, fn):
    """A cost table in HW-NAS-Bench's layout (net = NASLib op tuple), with a made-up latency."""
    to_naslib = {o: n for n, o in enumerate((1, 0, 3, 2, 4))}  # NB201 op index -> NASLib op index
    order = (0, 1, 3, 2, 4, 5)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["net", "edgegpu_latency", "edgegpu_energy"])
        for a in space:
            nas = [0] * 6
            for i, j in enumerate(order):
                nas[j] = to_naslib[a.ops[i]]
            w.writerow([str(tuple(nas)), fn(a), 0.0])


def test_cost_constrained_search_queries_only_inside_the_interval(tmp_path):
    space = NB201Space()
    latency = lambda a: 1.0 + sum(a.ops)  # noqa: E731
    _write_hw_csv(tmp_path / "hw.csv", space, latency)
    cost = dict(kind="table", path=str(tmp_path / "hw.csv"), column="edgegpu_latency", target=10.0,
                tolerance=0.1, alpha=[0.0, 0.5], aux_samples=100)
    strategy = PredNAS(**{**SMALL, "cost": cost})
    result = _run(tmp_path, 16, strategy)
    archs = [space.parse(r["arch"]) for r in _history(tmp_path)]
    assert len(set(archs)) == 16
    assert all(9.0 <= latency(a) <= 11.0 for a in archs)
    assert 9.0 <= latency(space.parse(result.summary["recommended"])) <= 11.0
    assert strategy.aux is not None


def test_bad_configs_say_what_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="n_init"):
        PredNAS(n_init=0)
    with pytest.raises(ConfigError, match="random shooting"):
        PredNAS(search="annealing")
    with pytest.raises(ConfigError, match="unknown strategy.cost keys"):
        PredNAS(cost={"kind": "flops", "targte": 3})
    (tmp_path / "bad.csv").write_text("net,other\n\"(0, 0, 0, 0, 0, 0)\",1\n")
    s = PredNAS(**{**SMALL, "cost": {"kind": "table", "path": str(tmp_path / "bad.csv"),
                                      "column": "edgegpu_latency", "target": 3}})
    s.setup(NB201Space(), SyntheticNB201.objectives, np.random.default_rng(0))
    with pytest.raises(DataError, match="no column edgegpu_latency"):
        s.ask(1)


class ParamsEvaluator(Evaluator):
    """Data-free proxy objective for AnyNet: trainable parameters (millions)."""

    objectives = (Objective("params"),)

    def __init__(self, space):
        self.space = space

    def evaluate(self, archs):
        return [checked({"params": self.space.params(a)}, self.objectives) for a in archs]


def test_anynet_sample_in_range_is_inside_valid_and_varied():
    from nasframe.spaces.anynet import AnyNetSpace

    space = AnyNetSpace()
    rng = np.random.default_rng(0)
    archs = [space.sample_in_range(rng, 380.0, 420.0) for _ in range(40)]
    assert all(380.0 <= space.flops(a) <= 420.0 and a in space for a in archs)
    assert len(set(archs)) == len(archs)
    params = [space.sample_in_range(rng, 4.0, 4.4, cost=space.params) for _ in range(5)]
    assert all(4.0 <= space.params(a) <= 4.4 for a in params)
    with pytest.raises(ConfigError, match="0 < lo <= hi"):
        space.sample_in_range(rng, 420.0, 380.0)


def test_flops_constrained_anynet_run_never_queries_outside_the_interval(tmp_path):
    from nasframe.spaces.anynet import AnyNetSpace

    space = AnyNetSpace()
    cost = dict(kind="flops", target=400.0, tolerance=0.05, alpha=[0.5, 2.0], aux_samples=20)
    strategy = PredNAS(n_init=6, top_k=6, starts=6, steps=10, lr_gamma=0.1,
                       predictor={"epochs": 5, "width": 32}, cost=cost)
    runner = Runner(space, ParamsEvaluator(space), strategy, Budget(queries=18), tmp_path / "any", seed=0,
                    progress=False, plot=False)
    result = runner.run()
    archs = [space.parse(r["arch"]) for r in _history(tmp_path, "any")]
    assert len(archs) == 18 and len(set(archs)) == 18
    assert all(380.0 <= space.flops(a) <= 420.0 for a in archs)
    assert 380.0 <= space.flops(space.parse(result.summary["recommended"])) <= 420.0
    assert strategy.aux is not None and len(strategy.rounds) == 2


def test_random_shooting_scores_as_many_models_as_the_ascent_explores():
    from nasframe.strategies.prednas import gradient_pool, random_pool

    space = NB201Space()
    enc = TopologyEncoding(space)
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 5))
    grad = gradient_pool(enc, LinearScore(w), [space.sample(rng) for _ in range(10)], 30, 0.5, (1 / 3, 2 / 3),
                         0.5, 0.9)
    seen = set(list(grad)[:3])
    rand = random_pool(enc, LinearScore(w), space, rng, len(grad), exclude=seen)
    assert len(rand) == len(grad) and not seen & set(rand)
    # a strategy with search=random and no random_samples matches the ascent's pool size per round
    ev = SyntheticNB201(space)
    s = PredNAS(**{**SMALL, "search": "random"})
    s.setup(space, ev.objectives, np.random.default_rng(0))
    first = s.ask(6)
    s.tell(first, ev.evaluate(first))
    assert len(s.ask(5)) == 5 and 5 <= s.rounds[0]["pool"] <= SMALL["starts"] * SMALL["steps"]
    s = PredNAS(**{**SMALL, "search": "random", "random_samples": 37})  # an explicit number of models
    s.setup(space, ev.objectives, np.random.default_rng(0))
    init = s.ask(6)
    s.tell(init, ev.evaluate(init))
    assert len(s.ask(5)) == 5 and s.rounds[0]["pool"] == 37
    with pytest.raises(ConfigError, match="random_samples"):
        PredNAS(search="random", random_samples=0)
