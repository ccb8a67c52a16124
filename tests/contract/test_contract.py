"""The contract every strategy, space and evaluator config keeps (what a new one must pass).

Every entry of conf/strategy, conf/space and conf/evaluator (plus those of
any ``--contract-conf`` folder, see conftest.py) is composed through Hydra
exactly as ``python -m nasframe`` composes it, for every pair that the
runner's capability check (``nasframe.core.space.require``) allows:

* strategy x space, scored by an instant hash evaluator: a short search,
  the same search killed mid-way and resumed from its run folder (identical
  history), ``ask`` deterministic given the rng and the state, the state
  surviving a ``state_dict`` round trip (identical continuation), and
  ``tell`` accepting architectures it did not ask for (a shared study tells
  every worker the others' results);
* evaluator x space, searched by random search: a two-query run that is
  killed after its first query and resumed, identical to the uninterrupted
  one. A benchmark the evaluator needs is a generated NB201 table; the real
  tables are used only for the other spaces, when present.

Run one entry with ``pytest tests/contract -k <name>``.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from contract_toys import Crash, HashEvaluator
from hydra import compose, initialize_config_dir
from hydra.utils import get_class

from nasframe.core.space import Baselined, Buildable, require
from nasframe.core.strategy import SourceTask
from nasframe.errors import CapabilityError, DataNotFound

CONF = Path(__file__).resolve().parents[2] / "conf"
QUERIES = 6
CRASH_AT = 3

# Small knobs for the shipped strategies, so a whole search takes a second; a user's
# strategy runs with its own config (keep its defaults cheap or test it with -k).
SMALL = {
    "rea": ["strategy.population_size=3", "strategy.sample_size=2"],
    "rea_tnb": ["strategy.population_size=3", "strategy.sample_size=2"],
    "rea_transfer": ["strategy.population_size=3", "strategy.sample_size=2", "strategy.pretrain_queries=4",
                     "strategy.seeds=2"],
    "dps": ["strategy.population_size=3", "strategy.sample_size=2"],
    "ppo": ["strategy.memory_size=4"],
    "ppo_transfer": ["strategy.memory_size=4", "strategy.pretrain_queries=4"],
    "catch": ["strategy.memory_size=4", "strategy.meta_queries=4", "strategy.steps_per_iteration=2",
              "strategy.candidates=4", "strategy.evaluator_epochs=2", "strategy.adapt_update_every=2"],
    "prednas": ["strategy.n_init=3", "strategy.top_k=2", "strategy.starts=4", "strategy.steps=3",
                "strategy.predictor.epochs=2", "strategy.max_start_batches=2"],
    "prednas_size": ["strategy.n_init=3", "strategy.top_k=2", "strategy.starts=4", "strategy.steps=3",
                     "strategy.predictor.epochs=2", "strategy.max_start_batches=2"],
}
# The default suite runs each strategy on one space (its own, else nb201), random search on
# every space, and each evaluator on one space; every other allowed pair is marked slow.
HOME = {"rea_tnb": "transnas_micro", "prednas_size": "anynet", "dps": "eproxy_config",
        "dps_fitness": "eproxy_config"}
# Entries that declare no ``requires`` but only make sense on some spaces (the capability a
# factory function needs is only known once it picked what to build).
INTENDED = {"dps_fitness": lambda space: isinstance(space, Baselined),  # the Eproxy genome space
            "auto": lambda space: isinstance(space, Buildable),  # its data-free fallback builds networks
            "multi": lambda space: isinstance(space, Buildable)}
NEEDS_TABLE = {"lookup", "multi", "dps_fitness"}


def shared_data_or_none() -> Path | None:
    for cand in (os.environ.get("NASFRAME_DATA"), CONF.parent.parent / "shared" / "data"):
        if cand and (Path(cand) / "nasbench201").is_dir():
            return Path(cand)
    return None


def entries(group: str, dirs) -> list[str]:
    names = set()
    for d in dirs:
        names |= {p.stem for p in (Path(d) / group).glob("*.yaml")}
    return sorted(names)


@dataclass
class Conf:
    extra: list = field(default_factory=list)

    @property
    def dirs(self):
        return [CONF, *self.extra]

    def compose(self, overrides):
        search = [f"hydra.searchpath=[{','.join('file://' + str(d) for d in self.extra)}]"] if self.extra else []
        with initialize_config_dir(config_dir=str(CONF), version_base=None):
            return compose("config", overrides=[*search, *overrides])

    def target(self, group: str, name: str) -> str:
        key = (group, name)
        if key not in _TARGETS:
            _TARGETS[key] = self.compose([f"{group}={name}"])[group]["_target_"]
        return _TARGETS[key]


_SPACES: dict = {}
_TARGETS: dict = {}


def space_of(conf: Conf, name: str):
    if name not in _SPACES:
        from hydra.utils import instantiate

        _SPACES[name] = instantiate(conf.compose([f"space={name}"]).space)
    return _SPACES[name]


def allowed(space, target: str) -> bool:
    try:
        needs = getattr(get_class(target), "requires", ())
    except ValueError:  # a factory function: it declares nothing up front
        needs = ()
    try:
        require(space, needs, target)
        return True
    except CapabilityError:
        return False


def home(name: str, allowed_spaces: list[str]) -> str | None:
    pick = HOME.get(name, "nb201")
    return pick if pick in allowed_spaces else (allowed_spaces[0] if allowed_spaces else None)


def pairs_of(conf: Conf, group: str, spaces: list[str], everywhere=()) -> list:
    out = []
    for name in entries(group, conf.dirs):
        target = conf.target(group, name)
        ok = [sp for sp in spaces if allowed(space_of(conf, sp), target)
              and INTENDED.get(name, lambda _: True)(space_of(conf, sp))]
        default = home(name, ok)
        out += [pytest.param((conf, name, sp), id=f"{name}-{sp}",
                             marks=[] if sp == default or name in everywhere else [pytest.mark.slow])
                for sp in ok]
    return out


def generate(metafunc, extra) -> None:
    conf = Conf(list(extra))
    spaces = entries("space", conf.dirs)
    if "strategy_pair" in metafunc.fixturenames:
        metafunc.parametrize("strategy_pair", pairs_of(conf, "strategy", spaces, everywhere=("random",)))
    if "evaluator_pair" in metafunc.fixturenames:
        metafunc.parametrize("evaluator_pair", pairs_of(conf, "evaluator", spaces))


def pytest_generate_tests(metafunc):
    from contract_options import extra_conf_dirs

    generate(metafunc, extra_conf_dirs(metafunc.config))


# ------------------------------------------------------------------ helpers


def build(cfg, out, names, evaluator=None):
    from nasframe.compose import build_run, register_resolvers

    register_resolvers()
    runner = build_run(cfg, out, names)
    if evaluator is not None:
        runner.evaluator = evaluator
        for s in runner.sources:
            s.evaluator = HashEvaluator(runner.space, dataset=s.name)
    return runner


def history(run_dir) -> list[dict]:
    out = []
    for line in (Path(run_dir) / "history.jsonl").read_text().splitlines():
        r = json.loads(line)
        r.pop("wall_time", None)
        out.append(r)
    return out


_TRANSFER: dict = {}


def uses_sources(conf, st) -> bool:
    """Whether the composed strategy pre-trains on source tasks (then it gets one)."""
    if st not in _TRANSFER:
        from hydra.utils import instantiate

        _TRANSFER[st] = bool(instantiate(conf.compose([f"strategy={st}", *SMALL.get(st, [])]).strategy).transfer)
    return _TRANSFER[st]


def strategy_overrides(conf, st, sp, out, queries, resume=False):
    ov = [f"strategy={st}", f"space={sp}", "evaluator=lookup",
          f"budget.queries={queries}", "seed=3", "progress=false", "plot=false", f"resume={str(resume).lower()}",
          *SMALL.get(st, [])]
    if uses_sources(conf, st):
        ov.append("transfer.sources=[src]")
    return ov


def strategy_runner(conf, st, sp, out, queries=QUERIES, resume=False, crash_at=None):
    cfg = conf.compose(strategy_overrides(conf, st, sp, out, queries, resume))
    # the lookup evaluator entry is only composed, never built: the hash evaluator scores
    cfg.evaluator = {"_target_": "contract_toys.HashEvaluator", "dataset": "target"}
    runner = build(cfg, out, {"strategy": st, "space": sp, "evaluator": "hash"})
    runner.evaluator.crash_at = crash_at
    for s in runner.sources:
        s.evaluator = HashEvaluator(runner.space, dataset=s.name)
    return runner


# ------------------------------------------------------------------ strategy x space


def test_strategy_search_resumes_identically_after_a_kill(strategy_pair, tmp_path):
    conf, st, sp = strategy_pair
    strategy_runner(conf, st, sp, tmp_path / "a").run()
    reference = history(tmp_path / "a")
    assert len([r for r in reference if r["phase"] == "search"]) == QUERIES
    killed = strategy_runner(conf, st, sp, tmp_path / "b", crash_at=CRASH_AT)
    with pytest.raises(Crash):
        killed.run()
    assert not (tmp_path / "b" / "summary.json").exists()
    strategy_runner(conf, st, sp, tmp_path / "b", resume=True).run()
    assert history(tmp_path / "b") == reference
    a, b = (json.loads((tmp_path / d / "summary.json").read_text()) for d in "ab")
    assert a["recommended"] == b["recommended"] and a["values"] == b["values"]


def _fresh(conf, st, sp, tmp_path, name):
    """A set-up strategy (after any pre-training) and its space, seeded as the runner seeds a run
    (``seed_everything`` also seeds torch, ``random`` and numpy's global state)."""
    from nasframe.core.runner import seed_everything

    runner = strategy_runner(conf, st, sp, tmp_path / name, queries=1)
    strategy, space = runner.strategy, runner.space
    strategy.setup(space, runner.evaluator.objectives, seed_everything(5))
    if runner.sources:
        strategy.pretrain([SourceTask(s.name, s.evaluator.objectives,
                                      lambda archs, e=s.evaluator: [v.visible() for v in e.evaluate(archs)])
                           for s in runner.sources])
    return strategy, space, runner.evaluator


def _step(strategy, evaluator, n=2):
    archs = list(strategy.ask(n))
    strategy.tell(archs, [e.visible() for e in evaluator.evaluate(archs)])
    return [str(a) for a in archs]


def _global_rngs():
    """What the runner checkpoints next to ``state_dict``: the global torch, ``random`` and numpy states."""
    import random

    import torch

    return torch.get_rng_state(), random.getstate(), np.random.get_state()


def _set_global_rngs(states):
    import random

    import torch

    torch.set_rng_state(states[0])
    random.setstate(states[1])
    np.random.set_state(states[2])


def test_ask_is_deterministic_and_the_state_round_trips(strategy_pair, tmp_path):
    conf, st, sp = strategy_pair
    s1, space, ev = _fresh(conf, st, sp, tmp_path, "one")
    first = [_step(s1, ev) for _ in range(2)]
    s2, _, _ = _fresh(conf, st, sp, tmp_path, "two")
    assert [_step(s2, ev) for _ in range(2)] == first  # same seed and history: same asks
    state, rngs = copy.deepcopy(s1.state_dict()), _global_rngs()
    s3, _, _ = _fresh(conf, st, sp, tmp_path, "three")
    s3.load_state_dict(state)
    _set_global_rngs(rngs)
    restored = [_step(s3, ev) for _ in range(2)]
    _set_global_rngs(rngs)
    # the restored copy continues exactly as the original (and the state did not alias it)
    assert restored == [_step(s1, ev) for _ in range(2)]


def test_tell_accepts_architectures_it_did_not_ask_for(strategy_pair, tmp_path):
    conf, st, sp = strategy_pair
    strategy, space, ev = _fresh(conf, st, sp, tmp_path, "one")
    _step(strategy, ev)
    rng = np.random.default_rng(123)
    foreign = [space.sample(rng) for _ in range(3)]
    strategy.tell(foreign, [e.visible() for e in ev.evaluate(foreign)])  # another worker's results
    asked = strategy.ask(2)
    assert 1 <= len(asked) <= 2 and all(a in space for a in asked)


# ------------------------------------------------------------------ evaluator x space


def nb201_table(path: Path) -> Path:
    """An NB201 CSV over all 15,625 cells with made-up accuracies (a generated benchmark)."""
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["nb201_index", "arch_str", "cifar10_test_acc", "cifar10_valid_val_acc_naslib"])
        for i in range(len(space)):
            w.writerow([i, str(space[i]), f"{rng.uniform(10, 94):.4f}", f"{rng.uniform(10, 91):.4f}"])
    return path


def aiop_model(tmp_path) -> Path:
    from nasframe.graphs import build_graph
    from nasframe.predictors.adapters import AIOPPredictor
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    graphs = [build_graph(space, space[i], "cifar10") for i in range(0, 15625, 1500)]
    p = AIOPPredictor(epochs=2, adapter_epochs=1, seed=0)
    p.fit(graphs, np.linspace(0.0, 1.0, len(graphs)))
    return p.save(tmp_path / "aiop.pt")


@pytest.fixture(scope="session")
def generated_nb201(tmp_path_factory) -> Path:
    return nb201_table(tmp_path_factory.mktemp("tables") / "nb201.csv")


def evaluator_overrides(ev, sp, tmp_path, shared, table):
    ov = [f"evaluator={ev}", f"space={sp}", "strategy=random", "budget.queries=2", "seed=1", "progress=false",
          "plot=false"]
    if ev in NEEDS_TABLE or ev == "auto":
        if sp == "nb201" or ev == "dps_fitness":
            ov.append(f"benchmark.path={table}")
        elif ev != "auto":
            if shared is None:
                pytest.skip(f"evaluator={ev} on {sp} needs its benchmark table (../shared/data)")
            ov.append(f"data.root={shared}")
            if sp.startswith("transnas"):
                ov.append("benchmark.task=class_scene")
    if ev == "dps_fitness":
        ov += ["evaluator.n_archs=2", "evaluator.eproxy.iterations=2", "evaluator.eproxy.batch_size=2"]
    if ev == "eproxy":
        ov += ["evaluator.iterations=2", "evaluator.batch_size=2"]
    if ev == "zc":
        ov.append("evaluator.reference_size=4")
    if ev == "aiop":
        ov.append(f"evaluator.model={aiop_model(tmp_path)}")
    if ev == "train":  # a few 32x32 images in an ImageFolder, one epoch: seconds, not minutes
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))
        from train_layouts import write_image_folder

        write_image_folder(tmp_path / "data" / "tiny", classes=tuple("abcdefghij"), per_class=2, side=32,
                           splits=("train", "val", "test"))
        ov += [f"data.root={tmp_path / 'data'}", "benchmark.dataset=tiny", "evaluator.epochs=1",
               "evaluator.batch_size=4", "evaluator.eval_batch_size=8", "evaluator.threads=1"]
    if sp.startswith("transnas") and not any(o.startswith("benchmark.task") for o in ov):
        ov.append("benchmark.task=class_scene")
    return ov


def test_evaluator_run_resumes_identically(evaluator_pair, tmp_path, generated_nb201):
    conf, ev, sp = evaluator_pair
    ov = evaluator_overrides(ev, sp, tmp_path, shared_data_or_none(), generated_nb201)
    names = {"strategy": "random", "space": sp, "evaluator": ev}
    try:
        runner = build(conf.compose(ov), tmp_path / "a", names)
    except DataNotFound as e:
        pytest.skip(f"evaluator={ev} on {sp}: {e}")
    result = runner.run()
    reference = history(tmp_path / "a")
    assert len(reference) == 2 and result.summary["recommended"] is not None
    primary = runner.evaluator.primary.name
    assert all(primary in r["values"] for r in reference)

    # killed inside the second evaluation, then resumed: the same two records
    killed = build(conf.compose(ov), tmp_path / "b", names)
    real, calls = killed.evaluator.evaluate, []

    def crash_second(archs):
        calls.append(archs)
        if len(calls) == 2:
            raise Crash("simulated kill")
        return real(archs)

    killed.evaluator.evaluate = crash_second
    with pytest.raises(Crash):
        killed.run()
    build(conf.compose([*ov, "resume=true"]), tmp_path / "b", names).run()
    again = history(tmp_path / "b")
    assert [r["arch"] for r in again] == [r["arch"] for r in reference]
    for r, s in zip(again, reference):
        for k, v in r["values"].items():  # same machine, same process: equal up to float noise
            assert v == pytest.approx(s["values"][k], rel=1e-6, abs=1e-9), (k, r["arch"])


def test_every_config_entry_is_covered():
    """Each shipped entry composes into at least one contract pair."""
    conf = Conf()
    for group in ("strategy", "space", "evaluator"):
        names = entries(group, [CONF])
        assert names, group
        for n in names:
            assert conf.target(group, n)  # composes
    covered_spaces = {sp for st in entries("strategy", [CONF]) for sp in entries("space", [CONF])
                      if allowed(space_of(conf, sp), conf.target("strategy", st))}
    assert covered_spaces == set(entries("space", [CONF]))
