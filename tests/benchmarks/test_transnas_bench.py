"""TransNAS-Bench-101 lookup: the CSV and official .pth layouts, epoch modes, objectives, percentile."""
import csv
import math

import numpy as np
import pytest
import torch

from nasframe.analysis.percentile import TARGET_TASKS, average_percentile, benchmark_percentile, percentile
from nasframe.benchmarks import find_benchmark
from nasframe.benchmarks.transnas import PTH_NAME, load
from nasframe.core.runner import Budget, Runner
from nasframe.errors import ConfigError, DataError, DataNotFound
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.spaces.transnas import TASKS, TransNASMacroSpace, TransNASMicroSpace
from nasframe.strategies.rea import RegularizedEvolution

MICRO = TransNASMicroSpace()
MACRO = TransNASMacroSpace()
VALID = {"class_object": "valid_top1", "class_scene": "valid_top1", "jigsaw": "valid_top1",
         "autoencoder": "valid_ssim", "normal": "valid_ssim", "room_layout": "valid_neg_loss",
         "segmentsemantic": "valid_acc"}


def write_csv(path, rows):
    """The tabular layout: arch_str, naslib_op_indices, <task>_val x 7 (+ other columns)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch_str", "naslib_op_indices", *(f"{t}_val" for t in TASKS), "class_scene_zen"])
        for arch, vals in rows:
            w.writerow([arch, "0 0 0 0 0 0", *(vals[t] for t in TASKS), -1e8])


def official_db(per_space):
    """A small file in the official API layout; per_space: {space: {arch: {task: {metric: [per epoch]}}}}."""
    metrics_dict = {t: [VALID[t], VALID[t].replace("valid", "test"), "train_loss", "time_elapsed"]
                    for t in TASKS}
    metrics_dict["segmentsemantic"] += ["valid_mIoU", "test_mIoU"]
    data = {space: {arch: {task: {"metrics": m, "model_info": {"encoder_params": 1.0, "model_FLOPs": 2.0},
                                  "total_epochs": len(next(iter(m.values())))}
                           for task, m in tasks.items()}
                    for arch, tasks in archs.items()}
            for space, archs in per_space.items()}
    return {"task_list": list(TASKS), "metrics_dict": metrics_dict,
            "info_names": ["inference_time", "encoder_params", "model_params", "model_FLOPs", "encoder_FLOPs"],
            "data": data}


def curves(valid, test, extra=None):
    m = {"train_loss": [1.0] * len(valid), "time_elapsed": [10.0 * (i + 1) for i in range(len(valid))]}
    return {**m, **(extra or {}), "VALID": valid, "TEST": test}


def task_metrics(task, valid, test, **extra):
    m = curves(valid, test, extra)
    m[VALID[task]] = m.pop("VALID")
    m[VALID[task].replace("valid", "test")] = m.pop("TEST")
    return m


# ---------------------------------------------------------------- CSV


def test_csv_values_land_at_the_architecture_index(tmp_path):
    p = tmp_path / "tnb101_micro_final_val.csv"
    vals = {t: 1.0 for t in TASKS}
    write_csv(p, [("64-41414-3_13_302", {**vals, "class_scene": 54.5, "room_layout": -0.61}),
                  ("64-41414-0_00_000", {**vals, "class_scene": 7.5})])
    b = load(MICRO, "class_scene", path=p)
    col = b.table.column(b.value_column)
    assert col[MICRO.index(MICRO.parse("64-41414-3_13_302"))] == 54.5
    assert col[0] == 7.5 and np.isnan(col).sum() == 4094
    assert b.objective.name == "val_top1" and b.objective.direction == "max" and b.report_columns == {}
    room = load(MICRO, "room_layout", path=p)
    assert room.objective.direction == "max" and "negat" in room.objective.description
    assert room.table.column(room.value_column)[MICRO.index(MICRO.parse("64-41414-3_13_302"))] == -0.61
    seg = load(MICRO, "segmentsemantic", path=p)
    assert "pixel accuracy" in seg.objective.description and "not the paper's mIoU" in seg.objective.description


def test_macro_csv_with_the_same_column_pattern(tmp_path):
    p = tmp_path / "tnb101_macro_final_val.csv"
    write_csv(p, [("64-1234-basic", {t: 0.5 for t in TASKS}), ("64-41414-basic", {t: 0.25 for t in TASKS})])
    (tmp_path / "transnasbench101").mkdir()
    p.rename(tmp_path / "transnasbench101" / p.name)
    b = find_benchmark(MACRO, "normal", root=tmp_path)
    col = b.table.column("normal_val")
    assert col[MACRO.index(MACRO.parse("64-1234-basic"))] == 0.5
    assert col[MACRO.index(MACRO.parse("64-41414-basic"))] == 0.25
    assert b.objective.name == "val_ssim"


def test_errors_name_the_problem(tmp_path):
    p = tmp_path / "t.csv"
    write_csv(p, [("64-41414-3_13_302", {t: 1.0 for t in TASKS})])
    with pytest.raises(ConfigError) as e:
        load(MICRO, "cifar10", path=p)
    assert all(t in str(e.value) for t in TASKS)
    with pytest.raises(ConfigError, match="final-epoch"):
        load(MICRO, "class_scene", path=p, epoch_mode="best")
    with pytest.raises(ConfigError, match="epoch_mode"):
        load(MICRO, "class_scene", path=p, epoch_mode="last")
    with pytest.raises(DataNotFound):
        load(MICRO, "class_scene", root=tmp_path / "nothing")
    with pytest.raises(DataError, match="does not exist"):
        load(MICRO, "class_scene", path=tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    write_csv(bad, [("64-41414-3_13_302", {t: 1.0 for t in TASKS}), ("64-41414-9_13_302", {t: 1.0 for t in TASKS})])
    with pytest.raises(DataError, match="line 3.*9_13_302"):
        load(MICRO, "class_scene", path=bad)
    # a macro string in a micro table is an error, not a silent skip
    with pytest.raises(DataError, match="64-1234-basic"):
        write_csv(bad, [("64-1234-basic", {t: 1.0 for t in TASKS})])
        load(MICRO, "class_scene", path=bad)


# ---------------------------------------------------------------- official .pth


@pytest.fixture
def pth(tmp_path):
    micro = {
        "64-41414-3_13_302": {
            "class_scene": task_metrics("class_scene", [40.0, 52.0, 50.0], [39.0, 51.0, 49.5]),
            "room_layout": task_metrics("room_layout", [-0.9, -0.62, -0.65], [-0.91, -0.6, -0.66]),
            "segmentsemantic": task_metrics("segmentsemantic", [90.0, 94.0, 93.0], [89.0, 93.5, 92.0],
                                            valid_mIoU=[20.0, 25.0, 24.0], test_mIoU=[19.0, 24.5, 23.0]),
        },
        "64-41414-0_00_000": {"class_scene": task_metrics("class_scene", [7.0, 7.5], [7.1, 7.2])},
    }
    macro = {"64-1234-basic": {"class_scene": task_metrics("class_scene", [45.0, 56.0], [44.0, 55.0])}}
    path = tmp_path / PTH_NAME
    torch.save(official_db({"micro": micro, "macro": macro}), path)
    return path


def test_pth_final_epoch(pth):
    b = load(MICRO, "class_scene", path=pth, epoch_mode="final")
    i = MICRO.index(MICRO.parse("64-41414-3_13_302"))
    assert b.table.column("class_scene_val")[i] == 50.0
    assert b.report_columns == {"test_top1": "class_scene_test"}
    assert b.table.column("class_scene_test")[i] == 49.5
    assert b.table.column("class_scene_val")[0] == 7.5
    assert "final epoch" in b.objective.description


def test_pth_best_epoch_reports_the_test_value_of_the_best_validation_epoch(pth):
    b = load(MICRO, "class_scene", path=pth, epoch_mode="best")
    i = MICRO.index(MICRO.parse("64-41414-3_13_302"))
    assert b.table.column("class_scene_val")[i] == 52.0 and b.table.column("class_scene_test")[i] == 51.0
    room = load(MICRO, "room_layout", path=pth, epoch_mode="best")
    assert room.table.column("room_layout_val")[i] == -0.62  # best = highest negative loss
    assert room.table.column("room_layout_test")[i] == -0.6
    assert room.report_columns == {"test_neg_l2_loss": "room_layout_test"}


def test_pth_segmentation_reports_pixel_accuracy_and_miou(pth):
    b = load(MICRO, "segmentsemantic", path=pth, epoch_mode="final")
    i = MICRO.index(MICRO.parse("64-41414-3_13_302"))
    assert b.report_columns == {"test_pixel_acc": "segmentsemantic_test", "test_miou": "segmentsemantic_test_miou"}
    assert b.table.column("segmentsemantic_val")[i] == 93.0
    assert b.table.column("segmentsemantic_test_miou")[i] == 23.0


def test_pth_macro_space_and_lookup_evaluator(pth):
    ev = BenchmarkLookup(MACRO, dataset="class_scene", path=pth, epoch_mode="best")
    (e,) = ev.evaluate([MACRO.parse("64-1234-basic")])
    assert e.values == {"val_top1": 56.0} and e.report == {"test_top1": 55.0}
    (missing,) = ev.evaluate([MACRO.parse("64-1114-basic")])
    assert missing.failed


def test_pth_layout_errors(tmp_path, pth):
    with pytest.raises(DataError, match="has no jigsaw values"):
        load(MICRO, "jigsaw", path=pth)
    bad = tmp_path / "bad.pth"
    torch.save({"something": 1}, bad)
    with pytest.raises(DataError, match="'data'"):
        load(MICRO, "class_scene", path=bad)
    only_macro = tmp_path / "macro_only.pth"
    torch.save(official_db({"macro": {"64-1234-basic": {"class_scene": task_metrics("class_scene", [1.0], [1.0])}}}),
               only_macro)
    with pytest.raises(DataError, match="no 'micro'"):
        load(MICRO, "class_scene", path=only_macro)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="truncated or corrupt"):
        load(MICRO, "class_scene", path=junk)


# ---------------------------------------------------------------- percentile


def test_percentile_counts_ties_and_direction():
    pop = [1.0, 2.0, 2.0, 3.0, np.nan]
    assert percentile(3.0, pop) == 100.0
    assert percentile(2.0, pop) == 75.0
    assert percentile(2.0, pop, "min") == 75.0  # 2, 2, 3 are no better than 2 when lower is better
    assert percentile(0.5, pop) == 0.0
    assert math.isnan(percentile(float("nan"), pop))


def test_average_percentile_uses_the_six_target_tasks():
    per_task = {t: 90.0 for t in TARGET_TASKS} | {"jigsaw": 0.0}
    per_task["room_layout"] = 96.0
    assert average_percentile(per_task) == pytest.approx(91.0)
    with pytest.raises(ConfigError, match="room_layout"):
        average_percentile({t: 1.0 for t in TARGET_TASKS if t != "room_layout"})


# ---------------------------------------------------------------- shared data


@pytest.mark.data
def test_shared_micro_table_global_bests(shared_data):
    best = {}
    for task in TASKS:
        b = find_benchmark(MICRO, task, root=shared_data)
        col = b.table.column(b.value_column)
        assert np.isfinite(col).all() and len(col) == 4096
        best[task] = col.max()
        assert benchmark_percentile(b, best[task]) == 100.0
    # PROVENANCE.md: micro final-epoch global bests
    assert best["class_scene"] == pytest.approx(54.94, abs=0.005)
    assert best["jigsaw"] == pytest.approx(95.37, abs=0.005)
    assert 100 * best["autoencoder"] == pytest.approx(57.72, abs=0.005)
    assert -100 * best["room_layout"] == pytest.approx(60.10, abs=0.005)


@pytest.mark.data
def test_rea_search_on_the_shared_micro_table(shared_data, tmp_path):
    space = TransNASMicroSpace()
    ev = BenchmarkLookup(space, dataset="class_scene", root=shared_data)
    r = Runner(space, ev, RegularizedEvolution(10, 10), Budget(50), tmp_path / "run", seed=3,
               progress=False, plot=False).run()
    assert r.summary["queries"] == 50
    found = r.summary["values"]["val_top1"]
    assert found == max(h["values"]["val_top1"] for h in r.history)
    assert benchmark_percentile(ev.benchmark, found) > 90
