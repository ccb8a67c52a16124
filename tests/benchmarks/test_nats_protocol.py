"""The NATS-Bench protocol and lookup fidelity on official-layout files written here: learning
curves per seed and schedule, a random seed per architecture, recorded seconds as cost."""
import numpy as np
import pytest
from test_nb201_formats import EPOCH_SECONDS, EPOCHS, RESULTS, SPACE, meta_archs, nats_entry, write_pbz2, write_pth

from nasframe.benchmarks import nb201
from nasframe.core.runner import Budget, Runner
from nasframe.errors import ConfigError, DataError
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.strategies.hyperband import Hyperband
from nasframe.strategies.random import RandomSearch

A = SPACE[6111]  # cifar10-valid seeds 777 (final 91.5) and 888 (91.7); 12-epoch: seed 777 ends at 10.0


@pytest.fixture(scope="module")
def pth(tmp_path_factory):
    return write_pth(tmp_path_factory.mktemp("pth") / "NAS-Bench-201-v1_1-096897.pth", with_times=True)


@pytest.fixture(scope="module")
def nats(tmp_path_factory):
    path = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    write_pbz2(path, {"meta_archs": meta_archs(), "arch2infos": {i: nats_entry(i, r) for i, r in RESULTS.items()}})
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NASFRAME_CACHE", str(tmp_path / "cache"))


def lookup(path, **kw):
    return BenchmarkLookup(SPACE, "cifar10", path=path, **kw)


def curve_value(final, epoch, epochs):  # the fixtures' rising curves
    return final - (epochs - epoch) * 0.05


@pytest.mark.parametrize("fmt", ["pth", "nats"])
def test_curves_per_seed_and_schedule(fmt, pth, nats):
    b = nb201.load(SPACE, "cifar10", path=pth if fmt == "pth" else nats)
    assert set(b.curves) == {"12", "200"}
    val, time = (b.table.column(c) for c in b.curves["200"])
    assert val.shape == (len(SPACE), 2, EPOCHS)  # two seeds of cifar10-valid at most
    for slot, (seed, final) in enumerate([(777, 91.5), (888, 91.7)]):
        for epoch in (1, 50, 200):
            assert val[6111, slot, epoch - 1] == pytest.approx(curve_value(final, epoch, EPOCHS), abs=1e-4)
            want = epoch * (EPOCH_SECONDS["cifar10-valid"] + seed / 1000) + 0.5  # train + that epoch's eval
            assert time[6111, slot, epoch - 1] == pytest.approx(want, rel=1e-6)
    short = b.table.column(b.curves["12"][0])
    assert short.shape[2] == 12 and short[6111, 0, 11] == pytest.approx(10.0)
    assert short.shape[1] == 1  # the 12-epoch schedule has one seed in these files
    assert np.isnan(val[1]).all()  # not in the file
    # the 200-epoch seed-mean columns are what they were
    assert b.table.column("cifar10_val")[6111] == pytest.approx(91.6)


def test_nats_protocol_answers_the_12_epoch_run_of_one_seed_and_charges_its_seconds(pth):
    ev = lookup(pth, epochs=12, seed_mode="random", seed=0)
    (e,) = ev.evaluate([A])
    assert e.values["val_acc"] == pytest.approx(10.0)
    assert e.cost == pytest.approx(12 * (EPOCH_SECONDS["cifar10-valid"] + 0.777) + 0.5, rel=1e-6)
    assert e.report["test_acc"] == pytest.approx(np.mean([94.30, 94.50, 94.32]))  # 200-epoch seed mean, report only
    assert ev.describe()["protocol"] == "nats-bench" and ev.max_fidelity == 12


def test_random_seed_is_drawn_per_run_seed_and_architecture(pth):
    finals = {s: lookup(pth, epochs=200, seed_mode="random", seed=s).evaluate([A])[0].values["val_acc"]
              for s in range(40)}
    assert set(np.round(list(finals.values()), 4)) == {91.5, 91.7}  # both seeds get drawn
    again = lookup(pth, epochs=200, seed_mode="random", seed=7)
    assert again.evaluate([A])[0].values["val_acc"] == finals[7]  # reproducible from the seed
    # one training run per architecture: the same seed answers at every fidelity
    slot = again.evaluate_at([A], 200)[0].report["bench_seed_slot"]
    final = (91.5, 91.7)[slot]
    assert again.evaluate_at([A], 37)[0].values["val_acc"] == pytest.approx(curve_value(final, 37, EPOCHS), abs=1e-4)
    mean = lookup(pth, epochs=200, seed_mode="mean").evaluate([A])[0]
    assert mean.values["val_acc"] == pytest.approx(91.6, abs=1e-4)


def test_fidelity_asks_read_the_curve_and_default_lookups_are_unchanged(pth):
    ev = lookup(pth)  # default protocol: final 200-epoch seed mean, as before
    assert not ev.protocol and ev.max_fidelity == 200
    (full,) = ev.evaluate([A])
    assert full.values["val_acc"] == pytest.approx(91.6) and full.fidelity is None
    (early,) = ev.evaluate_at([A], 10)
    assert early.fidelity == 10
    assert early.values["val_acc"] == pytest.approx(np.mean([curve_value(f, 10, EPOCHS) for f in (91.5, 91.7)]),
                                                    abs=1e-4)
    assert early.cost == pytest.approx(np.mean([10 * (10 + s / 1000) + 0.5 for s in (777, 888)]), rel=1e-6)
    with pytest.raises(ValueError, match=r"1\.\.200"):
        ev.evaluate_at([A], 201)


def test_budget_seconds_charges_the_recorded_time(pth, tmp_path):
    class Always(RandomSearch):  # the one cell the tiny file holds, every query (repeats are charged too)
        def ask(self, n=1):
            return [A] * n

    ev = lookup(pth, epochs=12, seed_mode="random")
    per_query = ev.evaluate([A])[0].cost
    res = Runner(SPACE, ev, Always(), Budget(queries=10_000, seconds=4.5 * per_query), tmp_path / "r",
                 progress=False, plot=False).run()
    assert res.summary["queries"] == 5  # the query that crosses the budget is the last, as in NATS-Bench
    assert res.summary["sim_seconds"] == pytest.approx(5 * per_query)


def test_hyperband_on_the_12_epoch_curves(pth, tmp_path):
    ev = lookup(pth, epochs=12, seed_mode="random")
    res = Runner(SPACE, ev, Hyperband(), Budget(queries=30), tmp_path / "h", progress=False, plot=False).run()
    assert {r["fidelity"] for r in res.history} <= {1, 4, 12}
    assert res.history[0]["fidelity"] == 1  # s_max = 2: 9 architectures at 1 epoch first


def test_a_table_without_curves_refuses_the_protocol(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("arch_str,cifar10_valid_val_acc_naslib,cifar10_test_acc\n" + f"{A},91.0,93.0\n")
    with pytest.raises(DataError, match="need per-epoch, per-seed results.*final values only"):
        lookup(csv, epochs=12, partial=True)
    ev = lookup(csv, partial=True)  # the plain lookup still works, with no fidelity axis
    assert ev.max_fidelity is None
    with pytest.raises(ConfigError, match="answers at one fidelity only"):
        Runner(SPACE, ev, Hyperband(), Budget(queries=5), tmp_path / "x", progress=False, plot=False)


@pytest.mark.parametrize("kw, msg", [({"epochs": 50}, "12 or 200"), ({"seed_mode": "best"}, "'mean' or 'random'")])
def test_bad_protocol_options_are_one_sentence(pth, kw, msg):
    with pytest.raises(ConfigError, match=msg):
        lookup(pth, **kw)
