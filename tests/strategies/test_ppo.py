"""PPO over Sequential spaces: maths, learning on a toy task, unique budgets, state round trips.

The toy space and evaluator defined here are also used by test_catch.py and
test_transfer.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from nasframe.core.evaluator import Evaluator, Objective, checked
from nasframe.core.runner import Budget, Runner, Source
from nasframe.core.space import Architecture, Decision, Mutable, SearchSpace, Sequential
from nasframe.errors import ArchitectureError, ConfigError
from nasframe.strategies.ppo import PPO, DecisionCoding, clipped_surrogate, gae

OBJ = (Objective("score", "max"),)



# ---------------------------------------------------------------- toy space and tasks


@dataclass(frozen=True)
class ToyArch(Architecture):
    choices: tuple

    def __str__(self):
        return "-".join(map(str, self.choices))


class ToySpace(SearchSpace, Sequential, Mutable):
    """``len(sizes)`` categorical decisions. With ``forbid`` the list ``forbid`` is refused,
    like a TransNAS macro list that ends too early."""

    name = "toy"

    def __init__(self, sizes=(4, 4, 4, 4), forbid: tuple | None = None):
        self.sizes = tuple(sizes)
        self.forbid = forbid

    def sample(self, rng):
        while True:
            c = tuple(int(rng.integers(s)) for s in self.sizes)
            if c != self.forbid:
                return ToyArch(c)

    def parse(self, text):
        return self.from_decisions([int(x) for x in text.split("-")])

    def __contains__(self, arch):
        return (isinstance(arch, ToyArch) and len(arch.choices) == len(self.sizes)
                and all(0 <= c < s for c, s in zip(arch.choices, self.sizes)) and arch.choices != self.forbid)

    def decisions(self):
        return [Decision(f"d{i}", tuple(str(o) for o in range(s))) for i, s in enumerate(self.sizes)]

    def from_decisions(self, choices):
        c = tuple(int(x) for x in choices)
        if c == self.forbid:
            raise ArchitectureError(f"{c} is refused by the toy space")
        return ToyArch(c)

    def to_decisions(self, arch):
        return list(arch.choices)

    def neighbors(self, arch):
        out = []
        for i, s in enumerate(self.sizes):
            for o in range(s):
                c = arch.choices[:i] + (o,) + arch.choices[i + 1:]
                if o != arch.choices[i] and c != self.forbid:
                    out.append(ToyArch(c))
        return out


def toy_value(choices, optimum, noise_seed: int) -> float:
    """Closer to ``optimum`` is better; a task-specific tie-break below 1 keeps the optimum unique."""
    hamming = sum(a != b for a, b in zip(choices, optimum))
    tie = np.random.default_rng([noise_seed, *choices]).random() * 0.5
    return -float(hamming) + (0.0 if hamming == 0 else tie)


class ToyEvaluator(Evaluator):
    objectives = OBJ

    def __init__(self, optimum=(1, 2, 3, 0), noise_seed=0, fail_after: int | None = None):
        self.optimum, self.noise_seed = tuple(optimum), noise_seed
        self.fail_after, self.calls = fail_after, 0

    def evaluate(self, archs):
        out = []
        for a in archs:
            self.calls += 1
            if self.fail_after is not None and self.calls > self.fail_after:
                raise KeyboardInterrupt("simulated kill")
            out.append(checked({"score": toy_value(a.choices, self.optimum, self.noise_seed)}, OBJ,
                               report={"secret": 1.0}))
        return out


def drive(strategy, space, evaluator, queries, seed=0):
    strategy.setup(space, OBJ, np.random.default_rng(seed))
    for _ in range(queries):
        archs = strategy.ask(1)
        if not archs:
            break
        strategy.tell(archs, [e.visible() for e in evaluator.evaluate(archs)])
    return strategy


def probs_at_start(ppo) -> torch.Tensor:
    """Policy distribution of the first decision."""
    c = ppo.coding
    state = torch.zeros(1, c.state_width)
    state[0, c.width] = 1.0
    with torch.no_grad():
        logits, _ = ppo.policy(state, torch.zeros(1, dtype=torch.long), None)
    return torch.softmax(logits, -1)[0]


# ---------------------------------------------------------------- maths


def test_clipped_ratio_stays_within_bounds_and_objective_is_pessimistic():
    g = torch.Generator().manual_seed(0)
    new, old = torch.randn(1000, generator=g) * 2, torch.randn(1000, generator=g) * 2
    adv = torch.randn(1000, generator=g)
    surrogate, clipped = clipped_surrogate(new, old, adv, 0.2)
    assert clipped.min() >= 0.8 - 1e-6 and clipped.max() <= 1.2 + 1e-6
    ratio = torch.exp(new - old)
    assert torch.all(surrogate <= ratio * adv + 1e-6)  # never more optimistic than the raw objective
    # far outside the trust region with a positive advantage, the gain is capped at (1 + clip) * A
    s, _ = clipped_surrogate(torch.tensor([5.0]), torch.tensor([0.0]), torch.tensor([2.0]), 0.2)
    assert s.item() == pytest.approx(2.4)


def test_gae_of_a_terminal_reward_matches_the_hand_computation():
    values = torch.tensor([[0.5, 0.2, -0.1]])
    adv, ret = gae(torch.tensor([1.0]), values, gamma=0.99, lam=0.95)
    d2 = 1.0 - (-0.1)
    d1 = 0.99 * -0.1 - 0.2
    d0 = 0.99 * 0.2 - 0.5
    a2 = d2
    a1 = d1 + 0.99 * 0.95 * a2
    a0 = d0 + 0.99 * 0.95 * a1
    assert adv[0].tolist() == pytest.approx([a0, a1, a2], abs=1e-6)
    assert torch.allclose(ret, adv + values)


def test_decision_coding_states_show_only_earlier_choices():
    c = DecisionCoding(ToySpace((2, 3)))
    s = c.states(np.array([[1, 2]]))[0]
    assert s[0].tolist() == [0, 0, 0, 0, 0, 1, 0]  # nothing chosen yet, position 0
    assert s[1].tolist() == [0, 1, 0, 0, 0, 0, 1]  # first decision = 1, position 1
    assert c.onehot(np.array([[1, 2]]))[0].tolist() == [0, 1, 0, 0, 1]


def test_bad_hyperparameters_are_config_errors():
    with pytest.raises(ConfigError):
        PPO(clip=1.5)
    with pytest.raises(ConfigError):
        PPO(memory_size=0)


# ---------------------------------------------------------------- learning


def test_probability_of_the_unique_best_option_rises():
    """One decision has a uniquely best option (reward 1, others 0); a wide second decision
    keeps the budget from running out. After a few PPO updates its probability has risen."""
    space = ToySpace((5, 40))

    class Best3(ToyEvaluator):
        def evaluate(self, archs):
            return [checked({"score": float(a.choices[0] == 3)}, OBJ) for a in archs]

    before, after = [], []
    for seed in range(4):
        torch.manual_seed(seed)
        ppo = PPO(memory_size=20)
        ppo.setup(space, OBJ, np.random.default_rng(seed))
        before.append(probs_at_start(ppo)[3].item())
        drive_from_setup(ppo, Best3(), 60)
        assert ppo.updates >= 5
        after.append(probs_at_start(ppo)[3].item())
    assert np.mean(before) == pytest.approx(0.2, abs=1e-6)  # zero-initialised actor: uniform
    assert np.mean(after) > 0.5
    assert all(a > b for a, b in zip(after, before))


def drive_from_setup(strategy, evaluator, queries):
    for _ in range(queries):
        archs = strategy.ask(1)
        if not archs:
            break
        strategy.tell(archs, [e.visible() for e in evaluator.evaluate(archs)])


def test_budget_counts_unique_architectures_and_exhaustion_stops():
    space = ToySpace((3, 3))
    ppo = drive(PPO(), space, ToyEvaluator((1, 2)), 20)
    archs = [a for a, _ in ppo.history]
    assert len(archs) == 9 == len(set(archs))  # the 9 architectures, each once, then nothing left
    assert ppo.ask(1) == []


def test_refused_decision_lists_are_penalised_and_never_asked():
    space = ToySpace((2, 2), forbid=(0, 0))
    ppo = drive(PPO(memory_size=4), space, ToyEvaluator((1, 1)), 3)
    assert sorted(a.choices for a, _ in ppo.history) == [(0, 1), (1, 0), (1, 1)]
    assert ppo.ask(1) == []


def test_seeded_runs_repeat_and_state_round_trip_continues_identically():
    space, ev = ToySpace(), ToyEvaluator()
    torch.manual_seed(0)
    a = drive(PPO(memory_size=20), space, ev, 30, seed=3)
    torch.manual_seed(0)
    b = drive(PPO(memory_size=20), space, ev, 30, seed=3)
    assert [x for x, _ in a.history] == [x for x, _ in b.history]
    state = a.state_dict()
    torch_state = torch.get_rng_state()
    nxt = [a.ask(1)[0] for _ in range(5)]
    c = PPO(memory_size=20)
    c.setup(space, OBJ, np.random.default_rng(99))
    c.load_state_dict(state)
    torch.set_rng_state(torch_state)
    assert [c.ask(1)[0] for _ in range(5)] == nxt
    assert c.optimizer.param_groups[0]["params"][0] is next(c.policy.parameters())


# ---------------------------------------------------------------- through the runner


def run_killed_and_resumed(tmp_path, make_strategy, kill_at, queries=40, sources=(), space=None, kill_in="target"):
    """History of an uninterrupted run and of a run killed at call ``kill_at`` of the target's
    (or, with ``kill_in="source"``, every source's) evaluator, then resumed."""
    space = space or ToySpace()
    config = {"test": "resume"}

    def runner(out, fail_after=None, resume=False):
        src_fail = fail_after if kill_in == "source" else None
        srcs = [Source(name, ToyEvaluator(opt, noise_seed=7, fail_after=src_fail)) for name, opt in sources]
        return Runner(space, ToyEvaluator(fail_after=None if kill_in == "source" else fail_after), make_strategy(),
                      Budget(queries), out, seed=5, config=config, progress=False, plot=False,
                      sources=srcs, resume=resume)

    full = runner(tmp_path / "full").run().history
    with pytest.raises(KeyboardInterrupt):
        runner(tmp_path / "killed", fail_after=kill_at).run()
    resumed = runner(tmp_path / "killed", resume=True).run().history
    strip = [{k: r[k] for k in ("phase", "index", "arch", "values")} for r in full]
    assert strip == [{k: r[k] for k in ("phase", "index", "arch", "values")} for r in resumed]
    return full


def test_ppo_kill_and_resume_through_the_runner_gives_the_same_history(tmp_path):
    hist = run_killed_and_resumed(tmp_path, lambda: PPO(memory_size=30), kill_at=23)
    assert len(hist) == 40


def test_ppo_transfer_pretrains_on_the_source_without_charging_the_target(tmp_path):
    space = ToySpace()
    run = Runner(space, ToyEvaluator(), PPO(pretrain_queries=25), Budget(10), tmp_path / "r", seed=0,
                 progress=False, plot=False, sources=[Source("src", ToyEvaluator(noise_seed=3))]).run()
    phases = [r["phase"] for r in run.history]
    assert phases.count("pretrain:src") == 25 and phases.count("search") == 10
    assert run.summary["queries"] == 10 and run.summary["pretrain_queries"] == {"pretrain:src": 25}
    with pytest.raises(ConfigError, match="does not use source tasks"):
        Runner(space, ToyEvaluator(), PPO(), Budget(10), tmp_path / "s", progress=False, plot=False,
               sources=[Source("src", ToyEvaluator())])


@pytest.mark.data
def test_ppo_runs_on_nb201(shared_data, tmp_path):
    from nasframe.evaluators.lookup import BenchmarkLookup
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    res = Runner(space, BenchmarkLookup(space, "cifar10", root=shared_data), PPO(), Budget(40), tmp_path / "r",
                 seed=0, progress=False, plot=False).run()
    archs = [r["arch"] for r in res.history]
    assert len(archs) == 40 == len(set(archs))
    assert res.summary["values"]["val_acc"] > 80


@pytest.mark.parametrize("which", ["ppo", "catch"])
def test_ppo_and_catch_handle_refused_macro_lists(tmp_path, which):
    """TransNAS macro: random decision lists are often refused (too few/many downsamplings ...);
    both strategies still ask only valid, unique backbones."""
    from nasframe.spaces.transnas import TransNASMacroSpace
    from nasframe.strategies.catch import CATCH

    space = TransNASMacroSpace()

    class Depth(ToyEvaluator):
        def evaluate(self, archs):
            return [checked({"score": len(a.modules) + 0.01 * (sum(map(ord, str(a))) % 7)}, OBJ) for a in archs]

    strategy = PPO() if which == "ppo" else CATCH(meta_queries=10, encoder_hidden=32, evaluator_hidden=32,
                                                 evaluator_epochs=3)
    res = Runner(space, Depth(), strategy, Budget(40), tmp_path / "r", seed=0, progress=False, plot=False,
                 sources=[Source("src", Depth())] if which == "catch" else ()).run()
    archs = [r["arch"] for r in res.history if r["phase"] == "search"]
    assert len(archs) == 40 == len(set(archs))
    assert all(space.parse(a) in space for a in archs)
    if which == "ppo":
        assert strategy.updates >= 1


@pytest.mark.parametrize("unit, updates_at_50, updates_at_100", [("steps", 2, 5), ("episodes", 0, 1)])
def test_memory_unit_counts_decision_steps_or_episodes(unit, updates_at_50, updates_at_100):
    from nasframe.core.evaluator import Evaluation
    from nasframe.spaces.nb201 import NB201Space

    ppo = PPO(memory_size=100, memory_unit=unit)
    ppo.setup(NB201Space(), (Objective("val_acc", "max"),), np.random.default_rng(0))
    counts = []
    for q in range(1, 101):
        archs = ppo.ask(1)
        ppo.tell(archs, [Evaluation({"val_acc": float(sum(a.ops))}) for a in archs])
        if q in (50, 100):
            counts.append(ppo.updates)
    assert counts == [updates_at_50, updates_at_100]  # steps: 6 per NB201 episode, an update every 17 archs


def test_unknown_memory_unit_is_refused():
    with pytest.raises(ConfigError):
        PPO(memory_unit="transitions")
