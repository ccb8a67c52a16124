"""Eproxy's input images: the reference's CIFAR-10 batch (or synthetic, said so) or the task's own."""
import sys
from pathlib import Path

import pytest
import torch
from test_eproxy import GENOME, TinySpace, Width

from nasframe.errors import ConfigError, DataError
from nasframe.evaluators.eproxy import EproxyEvaluator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))
from train_layouts import write_cifar, write_imagenet16  # noqa: E402


def ev(root, **kw):
    return EproxyEvaluator(TinySpace(), genome=GENOME, root=root, iterations=3, **kw)


def test_reference_images_without_cifar_files_are_synthetic_and_the_summary_says_so(tmp_path):
    d = ev(tmp_path, dataset="imagenet16-120").describe()
    assert d["images"] == {"choice": "reference", "dataset": "cifar10", "synthetic": True, "sha256": None}
    assert d["inputs"].startswith("synthetic") and "no CIFAR python batches" in d["inputs"]


def test_reference_images_are_the_cifar10_batch_for_every_task_identified_by_hash(tmp_path):
    write_cifar(tmp_path, "cifar10", n=8)
    write_imagenet16(tmp_path, n=20)
    d10, d120 = (ev(tmp_path, dataset=t).describe() for t in ("cifar10", "imagenet16-120"))
    assert d10 == d120  # task-agnostic, as the reference
    assert not d10["images"]["synthetic"] and "cifar10 training images" in d10["inputs"]
    assert len(d10["images"]["sha256"]) == 64
    assert ev(tmp_path, data_seed=1).describe()["images"]["sha256"] != d10["images"]["sha256"]  # other images
    other = tmp_path / "other"
    write_cifar(other, "cifar10", n=8, seed=5)
    assert ev(other).describe()["images"]["sha256"] != d10["images"]["sha256"]  # other files


def test_task_images_read_imagenet16_in_nb201_layout_at_16x16(tmp_path):
    write_cifar(tmp_path, "cifar10", n=8)
    write_imagenet16(tmp_path, n=20)
    task = ev(tmp_path, dataset="ImageNet16-120", images="task")
    d = task.describe()
    assert d["images"]["choice"] == "task" and d["images"]["dataset"] == "imagenet16-120"
    assert not d["images"]["synthetic"] and "imagenet16-120 training images" in d["inputs"]
    assert task.images.x.shape == (16, 3, 16, 16)
    ref = ev(tmp_path, dataset="ImageNet16-120")
    assert ref.images.x.shape == (16, 3, 32, 32)
    s_task, s_ref = task.score(Width(8))[0], ref.score(Width(8))[0]
    assert torch.isfinite(torch.tensor(s_task)) and s_task != pytest.approx(s_ref, abs=1e-9)
    assert task.macs(Width(8)) == ref.macs(Width(8))  # MACs at the reference's 32x32 either way


def test_a_search_records_the_task_images_in_its_summary_and_data_hashes(tmp_path):
    import json

    from nasframe.api import search

    write_imagenet16(tmp_path / "data", n=20)
    search(["strategy=random", "evaluator=eproxy", "benchmark.dataset=ImageNet16-120", f"data.root={tmp_path / 'data'}",
            "evaluator.images=task", "evaluator.iterations=2", "budget.queries=2", "progress=false", "plot=false"],
           out_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    images = summary["evaluator"]["images"]
    assert images["choice"] == "task" and images["dataset"] == "imagenet16-120" and not images["synthetic"]
    assert "ImageNet16" in summary["evaluator"]["inputs"] and summary["queries"] == 2
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert images["sha256"] in config["data_sha256"]  # a resume checks the images too


def test_task_images_refuse_missing_files_and_tasks_without_images(tmp_path):
    write_cifar(tmp_path, "cifar10", n=8)
    with pytest.raises(DataError, match="ImageNet16") as e:
        ev(tmp_path, dataset="imagenet16-120", images="task")
    assert str(e.value).count(". ") == 0 and "images=reference" in str(e.value)
    with pytest.raises(DataError, match="cifar100"):
        ev(tmp_path, dataset="cifar100", images="task")
    assert not ev(tmp_path, dataset="cifar10-valid", images="task").describe()["images"]["synthetic"]
    for task in ("class_scene", None):
        with pytest.raises(ConfigError, match="images=reference"):
            ev(tmp_path, dataset=task, images="task")
    with pytest.raises(ConfigError):
        ev(tmp_path, images="own")


def test_task_images_gone_before_first_use_is_a_data_error(tmp_path):
    folder = write_imagenet16(tmp_path, n=20)
    task = ev(tmp_path, dataset="imagenet16-120", images="task")
    (folder / "val_data").unlink()
    with pytest.raises(DataError, match="images=reference"):
        task.describe()
