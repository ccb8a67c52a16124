"""Optuna samplers: checkpoint round trip, no repeat ever charged, CMA-ES refused, Pareto front."""
import copyreg
import functools
import pickle
from dataclasses import dataclass

import numpy as np
import optuna
import pytest

from nasframe.core.evaluator import Evaluation, Objective
from nasframe.core.space import Architecture, Decision, SearchSpace, Sequential
from nasframe.errors import ArchitectureError, ConfigError
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.optuna_sampler import OptunaSampler

TWO = (Objective("val_acc", "max"), Objective("flops", "min"))
SAMPLERS = {"tpe": optuna.samplers.TPESampler, "nsgaii": optuna.samplers.NSGAIISampler,
            "random": optuna.samplers.RandomSampler}


def make(name, **kw):
    return OptunaSampler(functools.partial(SAMPLERS[name]), **kw)


def objectives(name):
    return TWO if name == "nsgaii" else TWO[:1]


def told(strategy, archs):
    strategy.tell(archs, [Evaluation({"val_acc": float(sum(a.ops)), "flops": float(a.ops[0])}) for a in archs])


@dataclass(frozen=True)
class Cell(Architecture):
    ops: tuple

    def __str__(self):
        return ",".join(map(str, self.ops))


class Grid(SearchSpace, Sequential):
    """2 decisions x 3 options: 9 architectures, so every sampler soon proposes repeats."""

    name = "grid"

    def sample(self, rng):
        return Cell(tuple(int(x) for x in rng.integers(3, size=2)))

    def parse(self, text):
        return Cell(tuple(int(x) for x in text.split(",")))

    def __contains__(self, a):
        return isinstance(a, Cell) and len(a.ops) == 2

    def decisions(self):
        return [Decision("a", ("0", "1", "2")), Decision("b", ("0", "1", "2"))]

    def from_decisions(self, choices):
        if len(choices) != 2:
            raise ArchitectureError("two choices")
        return Cell(tuple(int(c) for c in choices))

    def to_decisions(self, arch):
        return list(arch.ops)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_checkpointed_sampler_asks_what_the_original_asks(sampler):
    space = NB201Space()
    original = make(sampler)
    original.setup(space, objectives(sampler), np.random.default_rng(3))
    for _ in range(12):
        told(original, original.ask(1))
    state = pickle.loads(pickle.dumps(original.state_dict()))  # the checkpoint is a pickle
    restored = make(sampler)
    restored.setup(space, original.objectives, np.random.default_rng(99))
    restored.load_state_dict(state)
    for _ in range(5):
        a, b = original.ask(1), restored.ask(1)
        assert a == b
        told(original, a)
        told(restored, b)


def test_the_lock_fix_is_local_to_the_checkpoint():
    import _thread

    assert _thread.LockType not in copyreg.dispatch_table  # no process-wide pickling rule for locks
    with pytest.raises(TypeError):
        pickle.dumps(_thread.allocate_lock())


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_no_repeat_is_ever_charged(sampler):
    s = make(sampler, max_repeats=200)
    s.setup(Grid(), objectives(sampler), np.random.default_rng(0))
    asked = []
    for _ in range(20):
        batch = s.ask(2)  # batches too: a repeat of an open proposal waits for its result
        if not batch:
            break
        asked += batch
        told(s, batch)
    assert len(asked) == 9 and len(set(asked)) == 9  # the whole space, each architecture once
    assert s.repeats > 0 and s.run_stats() == {"repeats": s.repeats}
    trials = s.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 9 + s.repeats  # every repeat was told its known value, free
    assert len(s.history) == 9


def test_no_repeat_charged_through_the_runner(tmp_path):
    from nasframe.api import search

    r = search(["strategy=optuna", "space=nb201", "evaluator=params", "budget.queries=60", "seed=1"],
               out_dir=tmp_path / "run", progress=False, plot=False)
    archs = [h["arch"] for h in r.history if h["phase"] == "search"]
    assert len(archs) == 60 and len(set(archs)) == 60
    assert not any(h["repeat"] for h in r.history)
    # the repeats the sampler proposed, answered free, are counted in the summary
    assert r.summary["strategy_stats"]["repeats"] > 0


def test_results_it_did_not_ask_for_become_finished_trials():
    s = make("tpe")
    space = NB201Space()
    s.setup(space, TWO[:1], np.random.default_rng(0))
    other = space.sample(np.random.default_rng(5))
    s.observe([other], [Evaluation({"val_acc": 50.0})])
    (t,) = s.study.trials
    assert t.state == optuna.trial.TrialState.COMPLETE and t.value == 50.0 and t.user_attrs["arch"] == str(other)


def test_pareto_front_is_the_studys_best_trials():
    s = make("nsgaii")
    space = NB201Space()
    s.setup(space, TWO, np.random.default_rng(0))
    for _ in range(30):
        told(s, s.ask(1))
    pts = {a: (float(sum(a.ops)), float(a.ops[0])) for a, _ in s.history}
    front = set(s.pareto_front())
    dominated = {a for a, (v, f) in pts.items()
                 if any(v2 >= v and f2 <= f and (v2, f2) != (v, f) for v2, f2 in pts.values())}
    assert front == set(pts) - dominated
    assert s.recommend() in front


def test_cmaes_and_bare_names_are_refused():
    with pytest.raises(ConfigError, match="random search"):
        OptunaSampler(functools.partial(optuna.samplers.CmaEsSampler))
    with pytest.raises(ConfigError, match="strategy/sampler=nsgaii"):
        OptunaSampler("nsgaii")
