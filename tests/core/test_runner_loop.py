"""The loop itself, in-process on toy components: budgets, what strategies see, failures."""
import json
import math

import pytest
from toys import LineSpace, Parabola

from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked
from nasframe.core.plugin import RunnerPlugin
from nasframe.core.runner import Budget, Runner
from nasframe.core.strategy import Strategy
from nasframe.errors import ConfigError


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


# ------------------------------------------------------------ plug-ins

class Recorder(RunnerPlugin):
    """Logs every hook; stops the search after `stop_after` queries; keeps a counter in the checkpoint."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after, self.told = [], stop_after, 0

    def open(self, ctx):
        self.ctx = ctx
        self.calls.append("open")

    def start(self, ctx, state):
        self.calls.append(("start", state))
        self.told = (state or {}).get("told", 0)

    def before_ask(self, n):
        self.calls.append("before_ask")
        return 0 if self.stop_after is not None and self.ctx.count() >= self.stop_after else n

    def after_evaluate(self, archs, evaluations):
        self.calls.append("after_evaluate")
        assert "hidden" in evaluations[0].report  # plug-ins see the full evaluation

    def after_tell(self, archs, evaluations):
        self.calls.append("after_tell")
        self.told += len(archs)

    def state(self):
        return {"told": self.told}

    def on_finish(self, summary, history):
        self.calls.append(("finish", summary["queries"], len(history)))

    def close(self):
        self.calls.append("close")


def test_plugin_hooks_run_in_order_and_can_stop_the_search(tmp_path):
    rec = Recorder(stop_after=3)
    result, _ = run(tmp_path, plugins=[rec])
    assert result.summary["queries"] == 3
    assert rec.calls == ["open", ("start", None), *["before_ask", "after_evaluate", "after_tell"] * 3,
                         "before_ask", ("finish", 3, 3), "close"]


def test_plugin_state_comes_back_on_resume(tmp_path):
    space = LineSpace()
    Runner(space, Parabola(space), Spy(), Budget(5), tmp_path / "run", seed=1, plugins=[Recorder()]).run()
    (tmp_path / "run" / "summary.json").unlink()  # as if killed after the last line
    again = Recorder()
    Runner(space, Parabola(space), Spy(), Budget(5), tmp_path / "run", seed=1, resume=True, plugins=[again]).run()
    start_state = again.calls[1][1]
    assert start_state is not None and 1 <= start_state["told"] <= 5  # what the first run's checkpoint saved


def test_plugin_lines_are_told_again_on_resume(tmp_path):
    """Results a plug-in gives the strategy (recorded with ctx.record) are in its history after a resume."""
    from toys import Point

    from nasframe.core.evaluator import Evaluation

    class Gift(RunnerPlugin):
        def open(self, ctx):
            self.ctx = ctx

        def before_ask(self, n):
            if self.ctx.count("gift") < self.ctx.count() // 2:  # one gift every other query
                ev = Evaluation({"score": -1.0}, {}, 0.0)
                self.ctx.record("gift", [Point(99)], [ev])
                self.ctx.strategy.observe([Point(99)], [ev])
            return n

    space = LineSpace()
    full = Spy()
    Runner(space, Parabola(space), full, Budget(8), tmp_path / "a", seed=2, plugins=[Gift()],
           checkpoint_seconds=0.0).run()
    assert sum(a == Point(99) for a, _ in full.history) == 3
    (tmp_path / "a" / "summary.json").unlink()  # reopen the finished run as if killed after its last line
    again = Spy()
    r = Runner(space, Parabola(space), again, Budget(8), tmp_path / "a", seed=2, resume=True, plugins=[Gift()])
    r.run()
    assert [(str(a), e.values) for a, e in again.history] == [(str(a), e.values) for a, e in full.history]


def test_record_refuses_the_runners_own_phases(tmp_path):
    class Bad(RunnerPlugin):
        def open(self, ctx):
            self.ctx = ctx

        def before_ask(self, n):
            self.ctx.record("search", [], [])
            return n

    with pytest.raises(ValueError, match="phase of their own"):
        run(tmp_path, plugins=[Bad()])


def test_progress_and_plot_flags_moved_to_plugins(tmp_path):
    space = LineSpace()
    with pytest.raises(TypeError, match="plug-ins"):
        Runner(space, Parabola(space), Spy(), Budget(5), tmp_path / "r", plot=True)
