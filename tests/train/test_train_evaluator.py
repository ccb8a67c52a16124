"""evaluator=train on tiny generated data: what the strategy sees, determinism, multi-fidelity
continuation, resume inside an architecture, device parsing, bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from train_layouts import write_image_folder, write_imagenet16

from nasframe.errors import ConfigError
from nasframe.evaluators.train import STATE_FILE, TrainEvaluator, TrainedEvaluation, resolve_device
from nasframe.spaces.nb201 import NB201Space

REPO = Path(__file__).resolve().parents[2]
CLASSES = tuple("abcdefghij")
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    write_image_folder(root / "tiny", classes=CLASSES, per_class=3, side=8, splits=("train", "test"))
    return root


def make(tiny, state=None, **kw):
    kw = {"epochs": 2, "batch_size": 8, "threads": 1, "checkpoint": state is not None, "state_dir": state, **kw}
    return TrainEvaluator(NB201Space(), dataset="tiny", root=tiny, **kw)


def test_strategy_sees_validation_only_and_the_ledger_gets_the_curve(tiny):
    ev = make(tiny)
    (e,) = ev.evaluate([NB201Space().parse(ARCH)])
    assert isinstance(e, TrainedEvaluation) and not e.failed
    assert 0.0 <= e.values["val_acc"] <= 100.0 and set(e.values) == {"val_acc"}
    assert set(e.report) == {"test_acc"} and e.cost > 0 and e.fidelity == 2
    line = json.loads(json.dumps(e.to_json()))
    assert set(line["curve"]) == {"train_loss", "val_acc"} and len(line["curve"]["val_acc"]) == 2
    assert line["curve"]["val_acc"][-1] == e.values["val_acc"]
    assert e.visible().report == {} and "test" not in json.dumps(e.visible().curve)
    d = ev.describe()
    assert d["data"]["images"] == {"train": 24, "val": 6, "test": 30} and "seeded 0.2" in d["data"]["split"]
    assert d["recipe"]["lr"] == 0.1 and d["recipe"]["weight_decay"] == 5e-4 and d["recipe"]["nesterov"]


def test_same_seed_same_result_and_seed_changes_it(tiny):
    arch = NB201Space().parse(ARCH)
    a, b = make(tiny).train(arch), make(tiny).train(arch)
    assert a.curve == b.curve and (a.val_acc, a.test_acc) == (b.val_acc, b.test_acc)
    c = make(tiny, seed=1).train(arch)
    assert c.curve["train_loss"] != a.curve["train_loss"]


def test_lower_fidelity_then_continuation_equals_one_full_training(tiny, tmp_path):
    arch = NB201Space().parse(ARCH)
    full = make(tiny, tmp_path / "a").evaluate([arch])[0]
    ev = make(tiny, tmp_path / "b")
    low = ev.evaluate_at([arch], 1)[0]
    assert len(low.curve["val_acc"]) == 1 and low.curve["train_loss"][0] == full.curve["train_loss"][0]
    fresh_process = make(tiny, tmp_path / "b")  # a new evaluator finds the saved epoch-1 state
    high = fresh_process.evaluate_at([arch], 2)[0]
    assert high.curve == full.curve and high.values == full.values and high.report == full.report
    assert high.cost < full.cost  # only the second epoch is charged
    with pytest.raises(ConfigError, match="outside 1..2"):
        ev.evaluate_at([arch], 3)


def test_interrupted_architecture_resumes_from_its_last_epoch(tiny, tmp_path):
    arch = NB201Space().parse(ARCH)
    ref = make(tiny, epochs=3).train(arch)
    ev = make(tiny, tmp_path, epochs=3)
    folder = tmp_path / ev.key(arch)
    ev.train(arch, 2)  # as if killed after epoch 2 of 3: the state is there, no result at 3
    (folder / "results.json").unlink()
    done = make(tiny, tmp_path, epochs=3).train(arch)
    assert done.curve == ref.curve and (done.val_acc, done.test_acc) == (ref.val_acc, ref.test_acc)
    assert not (folder / STATE_FILE).exists()  # trained to the end: nothing left to continue
    again = make(tiny, tmp_path, epochs=3).evaluate([arch])[0]  # answered from results.json, no training
    assert again.values["val_acc"] == done.val_acc and again.report["test_acc"] == done.test_acc


def test_device_parsing_honours_visible_devices():
    assert resolve_device("auto", cuda_count=0).type == "cpu"
    assert str(resolve_device("auto", cuda_count=2)) == "cuda:0"
    assert str(resolve_device("cuda", cuda_count=1)) == "cuda:0"
    assert str(resolve_device("cuda:1", cuda_count=2)) == "cuda:1"
    assert resolve_device("CPU", cuda_count=4).type == "cpu"
    with pytest.raises(ConfigError, match="1 CUDA device"):
        resolve_device("cuda:1", cuda_count=1)
    with pytest.raises(ConfigError, match="not auto, cpu"):
        resolve_device("gpu0", cuda_count=1)
    with pytest.raises(ConfigError, match="not auto, cpu"):
        resolve_device("cuda:x", cuda_count=1)


def test_a_head_of_the_wrong_size_is_one_config_error(tmp_path):
    write_image_folder(tmp_path / "three", per_class=3, side=8)
    with pytest.raises(ConfigError, match="3 classes; set evaluator.task"):
        TrainEvaluator(NB201Space(), dataset="three", root=tmp_path, threads=1)
    write_imagenet16(tmp_path, n=6)  # ImageNet16-120 builds the 120-class head itself
    ev = TrainEvaluator(NB201Space(), dataset="imagenet16-120", root=tmp_path, epochs=1, batch_size=16,
                        threads=1, checkpoint=False)
    assert ev.task == "imagenet16-120" and ev.crop_padding == 2 and ev.data.shape == (3, 16, 16)


def cli(args, module="nasframe"):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def test_search_through_the_cli_records_curves_and_bad_data_exits_2(tiny, tmp_path):
    out = tmp_path / "run"
    base = ["strategy=random", "evaluator=train", "benchmark.dataset=tiny", "evaluator.epochs=1",
            "evaluator.batch_size=8", "evaluator.threads=1", "budget.queries=2", "progress=false", "plot=false"]
    r = cli([*base, f"data.root={tiny}", f"hydra.run.dir={out}"])
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(len(x["curve"]["train_loss"]) == 1 and "test_acc" in x["report"] for x in lines)
    assert not any((out / "train_state").glob("*/state.pt"))  # finished archs keep no weights
    bad = cli([*base, f"data.root={tmp_path / 'missing'}", f"hydra.run.dir={tmp_path / 'bad'}"])
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "ImageFolder" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_train_command_rejects_bad_input_in_one_sentence(tmp_path, capsys):
    from nasframe.train import main

    cases = [([str(tmp_path / "nope")], "is not a folder"),
             ([str(tmp_path)], "holds no finished run"),
             (["space=nb201"], "say what to train"),
             (["space=nb201", "arch=|bogus~0|"], "bogus"),
             ([str(tmp_path), "arch=x"], "not both")]
    for argv, text in cases:
        with pytest.raises(SystemExit) as e:
            main(argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and text in err and err.count("\n") == 1, (argv, err)


def test_zero_cost_proxies_read_imagenet16_when_present(tmp_path):
    from nasframe.evaluators.zerocost import ZeroCostEvaluator

    write_imagenet16(tmp_path, n=40)
    ev = ZeroCostEvaluator(NB201Space(), proxy="nwot", dataset="imagenet16-120", root=tmp_path, nwot_batch_size=16)
    assert "imagenet16-120 training images" in ev.describe()["inputs"]
    assert np.isfinite(ev.evaluate([NB201Space().parse(ARCH)])[0].values["nwot"])
    none = ZeroCostEvaluator(NB201Space(), proxy="nwot", dataset="imagenet16-120", root=tmp_path / "x")
    assert "synthetic" in none.describe()["inputs"]


def test_hyperband_trains_at_rungs_and_promotions_continue_the_saved_state(tiny, tmp_path):
    from nasframe.api import search

    result = search(["strategy=hyperband", "evaluator=train", "benchmark.dataset=tiny", f"data.root={tiny}",
                     "evaluator.epochs=3", "evaluator.batch_size=8", "evaluator.threads=1",
                     f"evaluator.state_dir={tmp_path / 'state'}", "++budget.epochs=9", "budget.queries=50"],
                    out_dir=tmp_path / "run", progress=False, plot=False)
    lines = [r for r in result.history if r["phase"] == "search"]
    # bracket s=1: 3 archs at 1 epoch, the best at 3; bracket s=0 starts at 3 epochs; 9 epochs spent
    assert [r["fidelity"] for r in lines] == [1, 1, 1, 3, 3]
    assert all(len(r["curve"]["val_acc"]) == r["fidelity"] for r in lines)
    first = {r["arch"]: r for r in lines[:3]}
    promoted = lines[3]
    assert promoted["arch"] in first and promoted["values"]["val_acc"] == promoted["curve"]["val_acc"][-1]
    assert promoted["curve"]["train_loss"][0] == first[promoted["arch"]]["curve"]["train_loss"][0]
    assert result.summary["epochs_spent"] == 9


def test_train_command_writes_the_model_and_resumes_an_unfinished_training(tiny, tmp_path, capsys):
    import torch

    from nasframe.train import main

    args = ["space=nb201", f"arch={ARCH}", "benchmark.dataset=tiny", f"data.root={tiny}", "evaluator.epochs=2",
            "evaluator.batch_size=8", "evaluator.threads=1", "progress=false"]
    ref = make(tiny).train(NB201Space().parse(ARCH))
    make(tiny, tmp_path / "o" / "unused").train(NB201Space().parse(ARCH), 1, folder=tmp_path / "o" / "train_state")
    with pytest.raises(SystemExit) as e:  # an epoch-1 state is there: continuing must be asked for
        main([*args, f"out={tmp_path / 'o'}"])
    assert e.value.code == 2 and "resume=true" in capsys.readouterr().err
    m = main([*args, f"out={tmp_path / 'o'}", "resume=true"])
    assert (m["val_acc"], m["test_acc"], m["curve"]) == (ref.val_acc, ref.test_acc, ref.curve)
    saved = torch.load(tmp_path / "o" / "model.pt", weights_only=False)
    assert saved["arch"] == ARCH and saved["config"]["evaluator"]["epochs"] == 2
    net = NB201Space().build(NB201Space().parse(ARCH))
    net.load_state_dict(saved["state_dict"])
    assert not (tmp_path / "o" / "train_state").exists()
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["test_acc"] == ref.test_acc
