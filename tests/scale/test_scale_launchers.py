"""Sweeps through Hydra launchers: each job's records in its own folder, one report over all."""
import importlib.util
import json
import subprocess
import sys

import pytest
from conftest import REPO, history, run_worker

ARGS = ["evaluator=flops", "strategy=rea", "budget.queries=12", "progress=false", "plot=false", "seed=0,1"]


def report_json(folder):
    r = subprocess.run([sys.executable, "-m", "nasframe.report", str(folder), "--format", "json", "--plot", "none",
                        "--by", "seed"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_sweep_under_launcher_equals_basic(tmp_path, launcher):
    plugin = {"joblib": "hydra_plugins.hydra_joblib_launcher",
              "submitit_local": "hydra_plugins.hydra_submitit_launcher"}[launcher]
    if importlib.util.find_spec(plugin) is None:
        pytest.skip(f"{plugin} is not installed")
    basic, other = tmp_path / "basic", tmp_path / launcher
    assert run_worker(["-m", *ARGS, f"hydra.sweep.dir={basic}"]).returncode == 0
    r = run_worker(["-m", f"hydra/launcher={launcher}", *ARGS, f"hydra.sweep.dir={other}"])
    assert r.returncode == 0, r.stderr[-2000:]
    for job in ("0", "1"):
        assert (other / job / "summary.json").exists()
        assert history(other / job) == history(basic / job)
    assert report_json(other) == report_json(basic)
