"""Training evaluations through the joblib launcher and shared-study workers, unchanged (slow)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from train_layouts import write_image_folder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    write_image_folder(root / "tiny", classes=tuple("abcdefghij"), per_class=3, side=8, splits=("train", "test"))
    return root


def base(tiny):
    return ["strategy=random", "evaluator=train", "benchmark.dataset=tiny", f"data.root={tiny}",
            "evaluator.epochs=1", "evaluator.batch_size=8", "evaluator.threads=1", "progress=false", "plot=false"]


def cli(args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "nasframe", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def lines(folder):
    return [json.loads(x) for x in (Path(folder) / "history.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_joblib_sweep_one_state_folder_per_job(tiny, tmp_path):
    p = cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *base(tiny), "budget.queries=2",
             "seed=0,1", f"hydra.sweep.dir={tmp_path}"])
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err[-2000:]
    for job in ("0", "1"):
        got = lines(tmp_path / job)
        assert len(got) == 2 and all("curve" in r for r in got)
        assert (tmp_path / job / "train_state").is_dir()  # the evaluator found its own run folder


@pytest.mark.slow
def test_two_shared_study_workers_split_the_budget(tiny, tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    procs = [cli([*base(tiny), f"seed={i}", "budget.queries=4", f"storage={url}", "study=train",
                  f"hydra.run.dir={tmp_path / f'w{i}'}"]) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-2000:]
    own = [r for i in range(2) for r in lines(tmp_path / f"w{i}") if r["phase"] == "search"]
    assert len(own) == 4 and len({r["arch"] for r in own}) == 4 and all("curve" in r for r in own)
