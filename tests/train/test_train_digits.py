"""Learning on real data a package ships: scikit-learn's 8x8 digits upscaled to 32x32 (slow)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasframe.datasets import write_digits

REPO = Path(__file__).resolve().parents[2]
# a cheap NB201 cell (55 MFLOPs at 32x32; the all-3x3 cell is 220): 1x1 convs, skips, one 3x3 conv
ARCH = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_digits(root / "digits")
    return root


@pytest.fixture(scope="module")
def digits8(tmp_path_factory):
    """The digits at their native 8x8: 16 times cheaper, for the end-to-end and resume checks."""
    root = tmp_path_factory.mktemp("data8")
    write_digits(root / "digits", side=8)
    return root


def cli(args, module="nasframe", wait=True):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", module, *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=3000)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_nb201_network_learns_digits_above_90_percent(digits):
    from nasframe.evaluators.train import TrainEvaluator
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    ev = TrainEvaluator(space, dataset="digits", root=digits, epochs=6, batch_size=16, checkpoint=False, threads=1)
    r = ev.train(space.parse(ARCH))
    assert r.test_acc >= 90.0, r.curve
    assert r.curve["train_loss"][-1] < r.curve["train_loss"][0]


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_random_search_of_three_archs_two_epochs_through_the_cli(digits8, tmp_path):
    digits = digits8
    out = tmp_path / "run"
    r = cli(["strategy=random", "evaluator=train", "benchmark.dataset=digits", f"data.root={digits}",
             "evaluator.epochs=2", "evaluator.batch_size=64", "evaluator.threads=1", "budget.queries=3",
             "progress=false", "plot=false",
             f"hydra.run.dir={out}"])
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(len(x["curve"]["val_acc"]) == 2 for x in lines)
    assert all(x["curve"]["val_acc"][-1] == x["values"]["val_acc"] for x in lines)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluator"]["data"]["images"] == {"train": 1078, "val": 269, "test": 450}
    assert "test_acc" in summary["report"] and summary["values"]["val_acc"] == max(
        x["values"]["val_acc"] for x in lines)
    # and the recommended network trained again by python -m nasframe.train (2 epochs: same recipe as the search)
    t = cli([str(out), "evaluator.epochs=2", "evaluator.batch_size=64", "evaluator.threads=1", "progress=false"],
            module="nasframe.train")
    assert t.returncode == 0, t.stderr[-2000:]
    metrics = json.loads((out / "trained" / "metrics.json").read_text())
    best = max(lines, key=lambda x: x["values"]["val_acc"])
    assert metrics["arch"] == summary["recommended"]
    assert metrics["val_acc"] == pytest.approx(best["values"]["val_acc"])
    assert metrics["test_acc"] == pytest.approx(best["report"]["test_acc"])
    import torch

    saved = torch.load(out / "trained" / "model.pt", weights_only=False)
    assert saved["arch"] == summary["recommended"] and saved["config"]["evaluator"]["epochs"] == 2


def _wait_for_epoch(state_root: Path, epoch: int, proc, timeout=1500):
    import torch

    t0 = time.time()
    while time.time() - t0 < timeout:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        for f in state_root.glob("**/state.pt"):
            try:
                if torch.load(f, weights_only=True)["epoch"] >= epoch:
                    return
            except Exception:  # being replaced
                pass
        time.sleep(0.2)
    raise AssertionError("training did not reach the epoch in time")


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_kill9_mid_epoch_then_resume_gives_identical_accuracies(digits8, tmp_path):
    digits = digits8
    args = ["strategy=random", "evaluator=train", "benchmark.dataset=digits", f"data.root={digits}",
            "evaluator.epochs=3", "evaluator.batch_size=64", "evaluator.threads=1", "budget.queries=1",
            "progress=false", "plot=false"]
    ref, out = tmp_path / "ref", tmp_path / "run"
    assert cli([*args, f"hydra.run.dir={ref}"]).returncode == 0
    proc = cli([*args, f"hydra.run.dir={out}"], wait=False)
    _wait_for_epoch(out / "train_state", 1, proc)
    assert proc.poll() is None  # epoch 1 is saved and epoch 2 is under way: kill it there
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    r = cli([*args, f"hydra.run.dir={out}", "resume=true"])
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = (json.loads((d / "history.jsonl").read_text().splitlines()[0]) for d in (ref, out))
    assert (a["values"], a["report"], a["curve"]) == (b["values"], b["report"], b["curve"])
