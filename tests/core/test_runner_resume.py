"""A run killed with SIGKILL and resumed ends with exactly the history of an
uninterrupted run with the same seed (wall-clock fields aside)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"


def cli(args, env_extra=None, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("KILL_AT", None)
    env.pop("KILL_EVAL", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "nasframe", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def history(run_dir):
    lines = (Path(run_dir) / "history.jsonl").read_text().splitlines()
    out = []
    for line in lines:
        r = json.loads(line)
        r.pop("wall_time")
        out.append(r)
    return out


def base_args(data, out, extra=()):
    return ["strategy._target_=toys.KillingREA", "evaluator._target_=toys.KillingLookup",
            f"data.root={data}", "budget.queries=70", "seed=11", "progress=false",
            f"hydra.run.dir={out}", *extra]


@pytest.fixture
def reference(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    r = cli(base_args(shared_data, out))
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.data
@pytest.mark.parametrize("kill", [
    {"KILL_AT": "37"},  # after the ledger line, before the checkpoint: replayed from the ledger
    {"KILL_EVAL": "12"},  # inside the evaluator: asked again and evaluated
    pytest.param({"KILL_AT": "1"}, marks=pytest.mark.slow),
    pytest.param({"KILL_EVAL": "50"}, marks=pytest.mark.slow),
])
def test_sigkill_then_resume_equals_uninterrupted(shared_data, reference, tmp_path, kill):
    out = tmp_path / "run"
    first = cli(base_args(shared_data, out), kill)
    assert first.returncode == -9  # really killed
    assert not (out / "summary.json").exists()
    again = cli(base_args(shared_data, out, ["resume=true"]))
    assert again.returncode == 0, again.stderr
    assert history(out) == history(reference)
    assert json.loads((out / "summary.json").read_text())["recommended"] == \
        json.loads((reference / "summary.json").read_text())["recommended"]


@pytest.mark.data
@pytest.mark.slow
def test_killed_twice_resumed_twice(shared_data, reference, tmp_path):
    out = tmp_path / "run"
    assert cli(base_args(shared_data, out), {"KILL_AT": "20"}).returncode == -9
    assert cli(base_args(shared_data, out, ["resume=true"]), {"KILL_AT": "45"}).returncode == -9
    assert cli(base_args(shared_data, out, ["resume=true"])).returncode == 0
    assert history(out) == history(reference)


@pytest.mark.data
def test_resume_with_changed_config_is_refused(shared_data, tmp_path):
    out = tmp_path / "run"
    assert cli(base_args(shared_data, out), {"KILL_AT": "10"}).returncode == -9
    r = cli(base_args(shared_data, out, ["resume=true", "strategy.sample_size=5"]))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "config changed" in r.stderr and "strategy" in r.stderr


@pytest.mark.data
def test_rerun_into_unfinished_folder_without_resume_is_refused(shared_data, tmp_path):
    out = tmp_path / "run"
    assert cli(base_args(shared_data, out), {"KILL_AT": "10"}).returncode == -9
    r = cli(base_args(shared_data, out))
    assert r.returncode == 2 and "resume=true" in r.stderr


@pytest.mark.data
def test_ledger_alone_resumes_and_a_kill_during_the_replay_loses_nothing(shared_data, reference, tmp_path):
    """A run folder moved without its checkpoint (history.jsonl and config.json, as committed DPS runs
    are) replays from the first query; killed mid-replay, it still holds every recorded line."""
    out = tmp_path / "run"
    assert cli(base_args(shared_data, out), {"KILL_AT": "45"}).returncode == -9
    recorded = history(out)
    assert len(recorded) == 45
    (out / "checkpoint.pkl").unlink()
    assert cli(base_args(shared_data, out, ["resume=true"]), {"KILL_AT": "20"}).returncode == -9  # in the replay
    assert history(out) == recorded
    assert cli(base_args(shared_data, out, ["resume=true"])).returncode == 0
    assert history(out) == history(reference)


@pytest.mark.data
@pytest.mark.parametrize("keep_checkpoint", [True, False])
def test_wall_seconds_counts_the_replayed_lines_once(shared_data, tmp_path, keep_checkpoint):
    """The summary's wall_seconds keeps the time already spent: the checkpoint's total plus the
    recorded wall_time of each line replayed past it (every line when only the ledger is left)."""
    import pickle

    out = tmp_path / "run"
    assert cli(base_args(shared_data, out), {"KILL_AT": "45"}).returncode == -9  # line 45 is past the checkpoint
    covered = pickle.loads((out / "checkpoint.pkl").read_bytes())["records"]
    assert 1 <= covered < 45  # checkpoints are written on a schedule; the ledger has the rest
    replayed = 45 - covered if keep_checkpoint else 45
    path = out / "history.jsonl"
    # only the lines a resume replays: those the checkpoint covers are fixed by its ledger digest
    first = covered if keep_checkpoint else 0
    lines = [{**json.loads(line), **({"wall_time": 100.0} if i >= first else {})}
             for i, line in enumerate(path.read_text().splitlines())]
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in lines))
    if not keep_checkpoint:
        (out / "checkpoint.pkl").unlink()
    assert cli(base_args(shared_data, out, ["resume=true"])).returncode == 0
    wall = json.loads((out / "summary.json").read_text())["wall_seconds"]
    assert 100.0 * replayed <= wall < 100.0 * (replayed + 1)


# ------------------------------------------------------------ a crash at a random point, every strategy, in-process

class Crash(BaseException):
    """Stands for kill -9: nothing after it runs but the ledger's close (the lines are already flushed)."""


def _crashing_scores(at: int):
    """A deterministic score per architecture (no torch, no table) that crashes on call ``at``."""
    import zlib

    from nasframe.core.evaluator import Evaluation, Evaluator, Objective

    class CrashingScores(Evaluator):
        objectives = (Objective("score", "max"),)
        calls = 0

        def evaluate(self, archs):
            self.calls += 1
            if self.calls == at:
                raise Crash()
            return [Evaluation({"score": zlib.crc32(str(a).encode()) / 2**32}, {"test": 1.0}, 1.0) for a in archs]

    return CrashingScores()


STRATEGIES = {
    "random": ["strategy=random"],
    "rea": ["strategy=rea"],
    "optuna_tpe": ["strategy=optuna", "strategy/sampler=tpe"],
    "optuna_nsgaii": ["strategy=optuna", "strategy/sampler=nsgaii", "+strategy.sampler.population_size=8"],
    "ppo": ["strategy=ppo"],
    "prednas": ["strategy=prednas", "strategy.n_init=6", "strategy.top_k=4", "strategy.starts=4", "strategy.steps=4",
                "strategy.predictor.epochs=3", "strategy.max_start_batches=2"],
}


def _crash_run(overrides, out, seed, crash_at=None, resume=False, checkpoint_seconds=0.0, queries=24):
    from omegaconf import OmegaConf

    from nasframe.api import compose
    from nasframe.compose import instantiate
    from nasframe.core.runner import Budget, Runner
    from nasframe.spaces.nb201 import NB201Space

    cfg, _ = compose(overrides)
    space = NB201Space()
    evaluator = _crashing_scores(crash_at or 0)
    runner = Runner(space, evaluator, instantiate(cfg.strategy, "strategy"), Budget(queries), out, seed=seed,
                    config={"strategy": OmegaConf.to_container(cfg.strategy, resolve=True)}, resume=resume, checkpoint_seconds=checkpoint_seconds)
    return runner.run()


def _lines(run_dir):
    return [{k: v for k, v in json.loads(l).items() if k != "wall_time"}
            for l in (Path(run_dir) / "history.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in ("ppo", "prednas") else n
                                  for n in STRATEGIES])
def test_crash_at_random_point_resumes_identically_for_every_strategy(tmp_path, name):
    """Whatever the checkpoint schedule left on disk (a checkpoint some lines back, or none), the
    resumed run replays the ledger and ends with the uninterrupted run's history and recommendation."""
    import zlib

    import numpy as np

    rng = np.random.default_rng(zlib.crc32(name.encode()))
    overrides = STRATEGIES[name]
    ref = _crash_run(overrides, tmp_path / "ref", seed=3)
    for trial, drop_checkpoint in enumerate((False, True)):
        out = tmp_path / f"run{trial}"
        crash_at = int(rng.integers(2, 24))
        with pytest.raises(Crash):
            _crash_run(overrides, out, seed=3, crash_at=crash_at)
        assert crash_at - 1 <= len(_lines(out)) < 24  # repeats (REA) are answered without a call
        if drop_checkpoint and (out / "checkpoint.pkl").exists():
            (out / "checkpoint.pkl").unlink()
        again = _crash_run(overrides, out, seed=3, resume=True)
        assert _lines(out) == _lines(tmp_path / "ref")
        assert again.summary["recommended"] == ref.summary["recommended"]


def test_checkpoints_leave_the_history_to_the_ledger(tmp_path):
    """A checkpoint holds no per-query record: its size does not grow with the queries of a search
    whose strategy state is bounded (REA: a population of 10)."""
    import pickle

    sizes = {}
    for q in (30, 300):
        _crash_run(["strategy=rea"], tmp_path / str(q), seed=1, queries=q, checkpoint_seconds=0.0)
        state = pickle.loads((tmp_path / str(q) / "checkpoint.pkl").read_bytes())
        assert "seen" not in state and "history" not in state["strategy"]
        assert 0 < state["told"] <= q
        sizes[q] = (tmp_path / str(q) / "checkpoint.pkl").stat().st_size
    assert sizes[300] < 1.2 * sizes[30]
