"""The loop itself, in-process on toy components: budgets, what strategies see, failures."""
import json
import math

import pytest

from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked
from nasframe.core.runner import Budget, Runner
from nasframe.core.strategy import Strategy
from nasframe.errors import ConfigError
from toys import LineSpace, Parabola


class Spy(Strategy):
    def __init__(self, batch=1):
        self.batch = batch
        self.seen_reports = []

    def ask(self, n=1):
        return [self.space.sample(self.rng) for _ in range(min(n, self.batch))]

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        self.seen_reports += [ev.report for ev in evaluations]


class Costly(Parabola):
    def evaluate(self, archs):
        return [Evaluation(ev.values, ev.report, cost=10.0) for ev in super().evaluate(archs)]


class SometimesNaN(Evaluator):
    objectives = (Objective("score", "max"),)

    def __init__(self, space):
        self.space = space

    def evaluate(self, archs):
        return [checked({"score": math.nan if a.x % 3 == 0 else float(a.x)}, self.objectives) for a in archs]


def run(tmp_path, evaluator=Parabola, budget=Budget(20), **kw):
    space = LineSpace()
    strategy = kw.pop("strategy", Spy())
    r = Runner(space, evaluator(space), strategy, budget, tmp_path / "run", seed=1, progress=False,
               plot=False, **kw)
    return r.run(), strategy


def test_strategies_never_see_report_values(tmp_path):
    result, spy = run(tmp_path)
    assert len(spy.seen_reports) == 20 and all(rep == {} for rep in spy.seen_reports)
    assert all("hidden" in r["report"] for r in result.history)  # but the ledger has them
    assert result.summary["report"]["hidden"] == float(str(result.summary["recommended"])[1:])


def test_simulated_seconds_budget_stops_the_search(tmp_path):
    result, _ = run(tmp_path, Costly, Budget(queries=100, seconds=55))
    assert result.summary["queries"] == 6 and result.summary["sim_seconds"] == 60.0


def test_batches_never_exceed_the_budget(tmp_path):
    result, _ = run(tmp_path, budget=Budget(10), strategy=Spy(batch=4), batch_size=4)
    assert result.summary["queries"] == 10 and len(result.history) == 10


def test_nan_scores_are_recorded_failures_and_never_recommended(tmp_path):
    result, spy = run(tmp_path, SometimesNaN, Budget(30))
    failed = [r for r in result.history if r["failure"]]
    assert failed and all(r["values"]["score"] == -math.inf for r in failed)
    assert int(result.summary["recommended"][1:]) % 3 != 0


def test_summary_and_history_are_json(tmp_path):
    result, _ = run(tmp_path)
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["status"] == "complete" and s["seed"] == 1 and s["queries"] == 20
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert [json.loads(l)["index"] for l in lines] == list(range(20))


@pytest.mark.parametrize("queries", [0, -3, 2.5, True, "ten"])
def test_bad_budgets(queries):
    with pytest.raises(ConfigError, match="budget.queries"):
        Budget(queries)


def test_same_seed_same_history(tmp_path):
    a, _ = run(tmp_path / "a")
    b, _ = run(tmp_path / "b")
    strip = lambda h: [{k: v for k, v in r.items() if k != "wall_time"} for r in h]
    assert strip(a.history) == strip(b.history)
