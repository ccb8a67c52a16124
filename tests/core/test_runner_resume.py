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
    lines = [{**json.loads(line), "wall_time": 100.0} for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    if not keep_checkpoint:
        (out / "checkpoint.pkl").unlink()
    assert cli(base_args(shared_data, out, ["resume=true"])).returncode == 0
    wall = json.loads((out / "summary.json").read_text())["wall_seconds"]
    assert 100.0 * replayed <= wall < 100.0 * (replayed + 1)
