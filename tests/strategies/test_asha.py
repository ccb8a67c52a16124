"""Asynchronous successive halving: its rungs, the promotion rule on hand-made results, a whole run
(reproducible, resumable), the plug-in hook that carries a query's fidelity, and the shared-study
refusals."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from nasframe.core.evaluator import Evaluation, Evaluator, MultiFidelity, Objective
from nasframe.core.plugin import RunnerPlugin
from nasframe.core.runner import Budget, Runner
from nasframe.errors import ConfigError
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.asha import AsynchronousSuccessiveHalving, rung_fidelities
from nasframe.strategies.hyperband import Hyperband

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scale"))
from asha_checks import check_promotions  # noqa: E402

SPACE = NB201Space()
OBJ = (Objective("score"),)


class Curve(MultiFidelity, Evaluator):
    """quality(arch) * (1 - exp(-f / 3)) with a little noise per (arch, f); 9 epochs full, 1 s an epoch."""

    objectives = OBJ
    max_fidelity = 9

    def __init__(self):
        self.calls = 0

    @staticmethod
    def score(arch, f):
        rng = np.random.default_rng([SPACE.index(arch), f])
        return float(np.random.default_rng(SPACE.index(arch)).uniform(0, 1) * (1 - math.exp(-f / 3))
                     + rng.normal(0, 0.02))

    def evaluate_at(self, archs, fidelity):
        self.calls += len(archs)
        return [Evaluation({"score": self.score(a, fidelity)}, {"test": 1.0}, float(fidelity), fidelity=fidelity)
                for a in archs]


def asha(low=1, high=9, **kw):
    s = AsynchronousSuccessiveHalving(**kw)
    s.fidelity_range = (low, high)
    s.setup(SPACE, OBJ, np.random.default_rng(0))
    return s


def told(s, arch, f, score=None, failure=None):
    s.tell([arch], [Evaluation({"score": -math.inf if failure else score}, fidelity=f, failure=failure)])


def test_rungs_are_r_min_times_powers_of_eta_topped_by_the_full_fidelity():
    assert rung_fidelities(1, 27, 3) == [1, 3, 9, 27]
    assert rung_fidelities(1, 200, 3) == [1, 3, 9, 27, 81, 200]
    assert rung_fidelities(1, 4, 3) == [1, 3, 4]
    assert rung_fidelities(2, 2, 3) == [2]
    assert asha(1, 12, eta=2, min_fidelity=3).fidelities == [3, 6, 12]


def test_promotion_rule_on_a_hand_made_sequence():
    # eta = 3, rungs at 1, 3, 9: a configuration is promoted once it is in the top floor(n / 3) of its rung
    s = asha()
    a = [SPACE[i] for i in range(10)]
    for arch, score in zip(a[:2], (0.5, 0.9)):
        told(s, arch, 1, score)
    [(x, f)] = s.ask_at(1)
    assert f == 1 and x not in a[:2]  # 2 results: floor(2 / 3) = 0, nothing promotable, a new draw
    told(s, a[2], 1, 0.1)
    assert s.ask_at(1) == [(a[1], 3)]  # 3 results: the best one (0.9) goes up
    assert s.ask_at(1)[0][1] == 1  # a[1] is promoted already: grow the bottom rung
    told(s, a[3], 1, 0.95)  # 4 results: top 1 is a[3]
    assert s.ask_at(1) == [(a[3], 3)]
    for arch, score in zip(a[4:6], (0.2, 0.3)):
        told(s, arch, 1, score)  # 6 results: top 2 = a[3], a[1], both promoted
    assert s.ask_at(1)[0][1] == 1
    told(s, a[1], 3, 0.6)
    told(s, a[3], 3, 0.7)  # rung 3 has 2 results: nothing to promote to 9 yet
    told(s, a[6], 1, 0.92)  # 7 results: top 2 = a[3] (0.95), a[6] (0.92)
    assert s.ask_at(1) == [(a[6], 3)]
    told(s, a[6], 3, 0.8)  # rung 3: 3 results, top 1 = a[6]; the higher rung is looked at first
    told(s, a[7], 1, 0.99)  # 8 results, top 2 = a[7], a[3]: a[7] promotable too, but rung 3 goes first
    assert s.ask_at(2) == [(a[6], 9), (a[7], 3)]  # a batch never repeats a promotion
    assert s.run_stats()["rungs"] == {"1": 8, "3": 3, "9": 0}


def test_ties_keep_the_order_known_failures_are_never_promoted_and_others_promotions_count():
    s = asha()
    a = [SPACE[i] for i in range(7)]
    told(s, a[0], 1, failure="diverged")
    told(s, a[1], 1, failure="diverged")
    told(s, a[2], 1, failure="diverged")
    assert s.ask_at(1)[0][1] == 1  # the top third is a failure: not promoted
    for arch in a[3:6]:
        told(s, arch, 1, 0.5)  # 6 results, top 2: the first two of three equal scores
    assert s.ask_at(2) == [(a[3], 3), (a[4], 3)]
    t = asha()
    for arch, score in zip(a[:3], (0.1, 0.2, 0.3)):
        told(t, arch, 1, score)
    told(t, a[2], 3, 0.4)  # another worker promoted a[2] and told its result: not promoted again
    [(x, f)] = t.ask_at(1)
    assert f == 1 and x not in a[:3]  # the other worker's draws are not drawn here either


def test_a_run_promotes_by_the_rule_reproducibly_and_resumes_to_the_same_history(tmp_path):
    def run(name, queries, resume=False, ev=None):
        r = Runner(SPACE, ev or Curve(), AsynchronousSuccessiveHalving(), Budget(queries=queries), tmp_path / name,
                   seed=4, config={"x": 1}, resume=resume)
        return r.run()

    whole = run("whole", 60)
    rows = whole.history
    assert check_promotions(rows, [1, 3, 9]) >= 15
    assert len({(r["arch"], r["fidelity"]) for r in rows}) == 60  # no (architecture, fidelity) twice
    assert {r["fidelity"] for r in rows} == {1, 3, 9}
    assert [r["arch"] for r in run("again", 60).history] == [r["arch"] for r in rows]
    assert whole.summary["recommended"] == max((r for r in rows if r["fidelity"] == 9),
                                               key=lambda r: r["values"]["score"])["arch"]
    run("cut", 23)
    (tmp_path / "cut" / "summary.json").unlink()
    (tmp_path / "cut" / "checkpoint.pkl").unlink()  # from the ledger alone
    ev = Curve()
    resumed = run("cut", 60, resume=True, ev=ev).history
    key = [(r["arch"], r["fidelity"], r["values"]["score"]) for r in rows]
    assert [(r["arch"], r["fidelity"], r["values"]["score"]) for r in resumed] == key
    assert ev.calls == 60 - 23  # nothing evaluated twice


def test_a_plug_in_that_replaces_an_architecture_does_not_shift_fidelities(tmp_path):
    class ReplaceFirst(RunnerPlugin):  # an after_ask-only plug-in, as written before fidelities existed
        def after_ask(self, archs):
            return [SPACE[0], *archs[1:]] if len(archs) == 3 else archs

    queries = [(SPACE[5], 1), (SPACE[6], 3), (SPACE[7], 9)]
    assert ReplaceFirst().after_ask_at(queries) == [(SPACE[0], None), (SPACE[6], 3), (SPACE[7], 9)]
    assert RunnerPlugin().after_ask_at(queries) == queries


def test_shared_study_refuses_synchronous_halving_and_budget_epochs(tmp_path):
    from nasframe.plugins.shared_study import SharedStudy

    url = f"sqlite:///{tmp_path / 's.db'}"
    with pytest.raises(ConfigError, match="strategy 'Hyperband' promotes a rung only once .* use strategy=asha"):
        Runner(SPACE, Curve(), Hyperband(), Budget(queries=5), tmp_path / "h", plugins=[SharedStudy(url)]).run()
    with pytest.raises(ConfigError, match="budget.epochs counts one run's epochs, not a shared study's"):
        Runner(SPACE, Curve(), AsynchronousSuccessiveHalving(), Budget(queries=5, epochs=20), tmp_path / "e",
               plugins=[SharedStudy(url)]).run()
    assert not (tmp_path / "h").exists() and not (tmp_path / "e").exists()
