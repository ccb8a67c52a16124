"""Multi-fidelity search: the Hyperband / successive-halving schedules, the runner's fidelity
plumbing (ledger, budget.epochs, resume) and the capability check."""
import json
import math

import numpy as np
import pytest

from nasframe.core.evaluator import Evaluation, Evaluator, MultiFidelity, Objective, checked
from nasframe.core.runner import Budget, Runner
from nasframe.errors import ConfigError
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.hyperband import Hyperband, SuccessiveHalving
from nasframe.strategies.random import RandomSearch

SPACE = NB201Space()


class CurveToy(MultiFidelity, Evaluator):
    """A learning curve per architecture: quality(arch) * (1 - exp(-epochs / 8)); one second an epoch."""

    objectives = (Objective("val_acc"),)
    max_fidelity = 27

    def __init__(self, space=SPACE):
        self.space = space
        self.calls = []

    @staticmethod
    def quality(arch) -> float:
        return float(np.random.default_rng(SPACE.index(arch)).uniform(50, 95))

    def evaluate_at(self, archs, fidelity):
        self.calls.append((len(archs), fidelity))
        return [Evaluation({"val_acc": self.quality(a) * (1 - math.exp(-fidelity / 8))}, {"test_acc": self.quality(a)},
                           float(fidelity), fidelity=fidelity) for a in archs]


class FinalOnly(Evaluator):
    objectives = (Objective("val_acc"),)

    def __init__(self, space=SPACE):
        self.space = space

    def evaluate(self, archs):
        return [checked({"val_acc": 1.0}, self.objectives) for _ in archs]


def run(tmp_path, strategy, budget, evaluator=None, resume=False, name="run"):
    r = Runner(SPACE, evaluator or CurveToy(), strategy, budget, tmp_path / name, seed=3,
               config={"x": 1}, resume=resume, progress=False, plot=False)
    return r.run()


def hb(**kw):
    s = Hyperband(**kw)
    s.fidelity_range = (1, 27)
    s.setup(SPACE, CurveToy.objectives, np.random.default_rng(0))
    return s


def test_hyperband_brackets_follow_li_et_al():
    # R = 27, eta = 3: s_max = 3 and the four brackets of the paper's schedule
    s = hb()
    assert s.s_max == 3
    assert s.bracket_rungs(3) == [(27, 1), (9, 3), (3, 9), (1, 27)]
    assert s.bracket_rungs(2) == [(12, 3), (4, 9), (1, 27)]
    assert s.bracket_rungs(1) == [(6, 9), (2, 27)]
    assert s.bracket_rungs(0) == [(4, 27)]
    assert [s.brackets() for s.bracket_count in range(5)] == [3, 2, 1, 0, 3]


def test_successive_halving_keeps_the_best_third_of_each_rung(tmp_path):
    # exactly one bracket: 27 + 9 + 3 + 1 queries
    res = run(tmp_path, SuccessiveHalving(), Budget(queries=40))
    rows = res.history
    assert [r["fidelity"] for r in rows] == [1] * 27 + [3] * 9 + [9] * 3 + [27]
    quality = {r["arch"]: CurveToy.quality(SPACE.parse(r["arch"])) for r in rows}
    first = [r["arch"] for r in rows[:27]]
    promoted = sorted(first, key=quality.get, reverse=True)[:9]
    assert [r["arch"] for r in rows[27:36]] == promoted  # ranked by the rung's value, best first
    assert rows[-1]["arch"] == promoted[0]
    assert res.summary["recommended"] == promoted[0]
    assert res.summary["epochs_spent"] == 27 * 1 + 9 * 3 + 3 * 9 + 27


def test_budget_epochs_stops_the_search_and_every_line_records_its_fidelity(tmp_path):
    res = run(tmp_path, Hyperband(), Budget(queries=10_000, epochs=300))
    spent = sum(r["fidelity"] for r in res.history)
    assert 300 <= spent < 300 + 27  # the query that crosses the budget is the last
    assert res.summary["epochs_spent"] == spent
    assert res.summary["sim_seconds"] == pytest.approx(spent)  # the toy costs a second an epoch
    assert {r["fidelity"] for r in res.history} == {1, 3, 9, 27}


def test_recommendation_is_the_best_at_the_highest_fidelity_reached(tmp_path):
    res = run(tmp_path, Hyperband(), Budget(queries=80))
    top = max(r["fidelity"] for r in res.history)
    best = max((r for r in res.history if r["fidelity"] == top), key=lambda r: r["values"]["val_acc"])
    assert res.summary["recommended"] == best["arch"]
    assert res.summary["values"]["val_acc"] == best["values"]["val_acc"]


@pytest.mark.parametrize("keep_checkpoint", [True, False])
def test_resume_continues_to_the_uninterrupted_history(tmp_path, keep_checkpoint):
    whole = run(tmp_path, Hyperband(), Budget(queries=70), name="whole").history
    run(tmp_path, Hyperband(), Budget(queries=31), name="cut")
    # the 31-query run is finished: turn it back into an unfinished one of the longer budget
    cut = tmp_path / "cut"
    (cut / "summary.json").unlink()
    if not keep_checkpoint:
        (cut / "checkpoint.pkl").unlink()
    ev = CurveToy()
    resumed = run(tmp_path, Hyperband(), Budget(queries=70), evaluator=ev, resume=True, name="cut").history
    key = [(r["arch"], r["fidelity"], r["values"]["val_acc"]) for r in whole]
    assert [(r["arch"], r["fidelity"], r["values"]["val_acc"]) for r in resumed] == key
    assert sum(n for n, _ in ev.calls) == 70 - 31  # nothing evaluated twice


def test_batches_ask_at_most_one_rung_and_group_calls_by_fidelity(tmp_path):
    ev = CurveToy()
    r = Runner(SPACE, ev, SuccessiveHalving(), Budget(queries=40), tmp_path / "b", seed=0,
               progress=False, plot=False, batch_size=10)
    rows = r.run().history
    assert [r["fidelity"] for r in rows] == [1] * 27 + [3] * 9 + [9] * 3 + [27]
    assert all(len({f}) == 1 for _, f in ev.calls)
    assert ev.calls[:3] == [(10, 1), (10, 1), (7, 1)]  # a batch never crosses a rung


def test_a_multi_fidelity_strategy_needs_a_multi_fidelity_evaluator(tmp_path):
    with pytest.raises(ConfigError, match="answers at one fidelity only"):
        Runner(SPACE, FinalOnly(), Hyperband(), Budget(queries=5), tmp_path / "x", progress=False, plot=False)
    with pytest.raises(ConfigError, match="budget.epochs"):
        Runner(SPACE, FinalOnly(), RandomSearch(), Budget(queries=5, epochs=10), tmp_path / "y",
               progress=False, plot=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_single_fidelity_strategies_get_the_full_fidelity_and_old_lines_stay_the_same(tmp_path):
    res = run(tmp_path, RandomSearch(), Budget(queries=5))
    assert {r["fidelity"] for r in res.history} == {27}  # measured at full fidelity, recorded
    plain = run(tmp_path, RandomSearch(), Budget(queries=3), evaluator=FinalOnly(), name="plain")
    lines = (tmp_path / "plain" / "history.jsonl").read_text().splitlines()
    assert all("fidelity" not in json.loads(l) for l in lines)  # single-fidelity ledgers unchanged
    assert "epochs_spent" not in plain.summary


def test_an_invalid_fidelity_from_a_strategy_is_one_clear_error(tmp_path):
    class Greedy(SuccessiveHalving):
        def ask_at(self, n=1):
            return [(a, 99) for a, _ in super().ask_at(n)]

    from nasframe.errors import NasframeError

    with pytest.raises(NasframeError, match=r"invalid fidelity: fidelity must be an integer in 1\.\.27"):
        run(tmp_path, Greedy(), Budget(queries=3))


def test_bad_eta_is_refused():
    with pytest.raises(ValueError, match="eta"):
        Hyperband(eta=1)
