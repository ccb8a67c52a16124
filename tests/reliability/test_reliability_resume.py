"""kill -9 at random points, resumed: the same history as an uninterrupted run; and the same seed
gives the same history serially, under the joblib launcher and as the one worker of a shared study."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
PATHS = [str(REPO / "tests" / "scale"), str(REPO / "tests")]
ARGS = ["strategy._target_=toys.KillingREA", "evaluator=flops", "evaluator._target_=scale_toys.KillingFlops", "space=nb201",
        "budget.queries=40", "progress=false", "plot=false"]


def cli(args, kill=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*PATHS, os.environ.get("PYTHONPATH", "")])}
    for k in ("KILL_AT", "KILL_EVAL"):
        env.pop(k, None)
    env.update(kill or {})
    return subprocess.run([sys.executable, "-m", "nasframe", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def history(run_dir):
    out = []
    for line in (Path(run_dir) / "history.jsonl").read_text().splitlines():
        r = json.loads(line)
        r.pop("wall_time"), r.pop("cost")  # wall-clock measurements
        out.append(r)
    return out


def kill_points(n, seed=2026):
    """n (seed, kill) pairs: a random run seed and a random point (after the ledger line / inside
    the evaluator) at a random query."""
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(1000)), {("KILL_AT", "KILL_EVAL")[int(rng.integers(2))]: str(int(rng.integers(1, 40)))})
            for _ in range(n)]


POINTS = kill_points(20)


@pytest.mark.parametrize("seed, kill", [
    pytest.param(s, k, id=f"seed{s}-{next(iter(k))}={next(iter(k.values()))}",
                 marks=() if i < 2 else pytest.mark.slow) for i, (s, k) in enumerate(POINTS)])
def test_kill9_at_random_point_then_resume(tmp_path, seed, kill):
    ref, out = tmp_path / "ref", tmp_path / "run"
    assert cli([*ARGS, f"seed={seed}", f"hydra.run.dir={ref}"]).returncode == 0
    first = cli([*ARGS, f"seed={seed}", f"hydra.run.dir={out}"], kill)
    assert first.returncode == -9, first.stderr[-2000:]
    assert not (out / "summary.json").exists()
    again = cli([*ARGS, f"seed={seed}", f"hydra.run.dir={out}", "resume=true"])
    assert again.returncode == 0, again.stderr
    assert history(out) == history(ref)


def test_killed_twice_resumed_twice(tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "run"
    assert cli([*ARGS, "seed=4", f"hydra.run.dir={ref}"]).returncode == 0
    assert cli([*ARGS, "seed=4", f"hydra.run.dir={out}"], {"KILL_AT": "9"}).returncode == -9
    assert cli([*ARGS, "seed=4", f"hydra.run.dir={out}", "resume=true"], {"KILL_EVAL": "15"}).returncode == -9
    r = cli([*ARGS, "seed=4", f"hydra.run.dir={out}", "resume=true"])
    assert r.returncode == 0, r.stderr
    assert history(out) == history(ref)


@pytest.mark.slow
def test_same_seed_same_history_serial_joblib_and_shared(tmp_path):
    args = ["strategy=rea", "evaluator=flops", "budget.queries=40", "progress=false", "plot=false"]
    serial = tmp_path / "serial"
    assert cli([*args, "seed=1", f"hydra.run.dir={serial}"]).returncode == 0
    sweep = tmp_path / "sweep"
    r = cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *args, "seed=0,1",
             f"hydra.sweep.dir={sweep}"])
    assert r.returncode == 0, r.stderr[-2000:]
    shared = tmp_path / "shared"
    r = cli([*args, "seed=1", f"hydra.run.dir={shared}", f"storage=sqlite:///{tmp_path / 'db.sqlite'}", "study=one"])
    assert r.returncode == 0, r.stderr
    assert history(sweep / "1") == history(serial) == history(shared)
    assert history(sweep / "0") != history(serial)  # the comparison can tell seeds apart
