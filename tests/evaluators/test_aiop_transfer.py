"""experiments/aiop_transfer.py: every non-knowledge task in the table, the cross-space (macro) row."""
import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nasframe.errors import ConfigError
from nasframe.graphs import GraphCache
from nasframe.predictors.adapters import AIOPPredictor
from nasframe.spaces.transnas import TASKS, TransNASMacroSpace, TransNASMicroSpace

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("aiop_transfer", REPO / "experiments" / "aiop_transfer.py")
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)
sys.modules.setdefault("aiop_transfer", recipe)
if str(REPO / "experiments") not in sys.path:  # --jobs workers are spawned and import the recipe by name
    sys.path.append(str(REPO / "experiments"))

METRIC = {"class_scene": ("valid_top1", "test_top1"), "segmentsemantic": ("valid_acc", "test_acc")}
MACRO_ARCHS = ("64-1114-basic", "64-1214-basic", "64-2314-basic", "64-4114-basic", "64-1234-basic",
               "64-3412-basic", "64-41414-basic", "64-221413-basic")


def macro_pth(path: Path, tasks=("class_scene", "segmentsemantic")) -> dict:
    """A tiny file in the official API layout holding only the macro space; returns task -> {arch: final valid}."""
    truth, data = {t: {} for t in tasks}, {}
    for i, arch in enumerate(MACRO_ARCHS):
        data[arch] = {}
        for t in tasks:
            final = 30.0 + 3 * i + (5 if t == "segmentsemantic" else 0)
            vname, tname = METRIC[t]
            data[arch][t] = {"metrics": {vname: [final - 10, final], tname: [final - 11, final - 1],
                                         "train_loss": [1.0, 0.5]},
                             "model_info": {"model_FLOPs": 1.0}, "total_epochs": 2}
            truth[t][arch] = final
    torch.save({"task_list": list(TASKS), "metrics_dict": {t: list(METRIC[t]) for t in tasks},
                "info_names": ["model_FLOPs"], "data": {"macro": data}}, path)
    return truth


def args_for(tmp_path, **kw):
    a = dict(knowledge=["class_object"], n_pretrain=24, pretrain_epochs=1, n_target=8, calib=4, n_adapter=10,
             adapter_epochs=1, finetune_epochs=1, finetune_mode="full", seeds=(1,), macro_table=None,
             data=str(tmp_path / "no-data"), scaling="stand", finetune_select_folds=5, jobs=1, base=None)
    a.update(kw)
    return argparse.Namespace(**a)


def test_defaults_are_the_full_protocol():
    ap_defaults = {}

    def capture(args):
        ap_defaults.update(vars(args))

    orig = recipe.run
    recipe.run = capture
    try:
        recipe.main([])
    finally:
        recipe.run = orig
    assert ap_defaults["n_pretrain"] == 15625 and ap_defaults["pretrain_epochs"] == 40
    assert ap_defaults["seeds"] == (12345, 1, 2, 3, 4)
    assert ap_defaults["n_target"] == 520 and ap_defaults["calib"] == 20 and ap_defaults["n_adapter"] == 1000
    assert ap_defaults["targets"] is None  # all non-knowledge tasks, jigsaw included


def test_target_and_adapter_sets_are_disjoint_and_checked():
    space = TransNASMicroSpace()
    targets, adapter = recipe.arch_sets(space, 520, 1000)
    assert len(targets) == 520 and len(adapter) == 1000 and not set(targets) & set(adapter)
    assert recipe.arch_sets(space, 60, 1000)[0] == targets[:60]  # a smaller run evaluates a subset
    with pytest.raises(ConfigError, match="disjoint"):
        recipe.arch_sets(space, 3000, 1500)


def test_table_lists_every_non_knowledge_task_and_asks_for_a_macro_table(tmp_path):
    run = {"srcc": 0.5, "mae": 1.0}
    results = {"class_scene": {m: [run, run] for m in recipe.METHODS[:4]} | {"FLOPs": [run], "synflow": []}}
    path = tmp_path / "tables.md"
    recipe.write_tables(results, args_for(tmp_path), path, {"table": None})
    text = path.read_text()
    micro = text.split("## Cross-space")[0]
    for t in TASKS:
        if t != "class_object":
            assert f"| {t} |" in micro
    assert "| class_object |" not in micro
    # MAE and SRCC tables, 5 tasks not run; each row has as many cells as the header
    assert micro.count("| not run (left out by --targets) | — | — | — | — | — |") == 2 * 5
    assert "| class_scene | top-1 % | 1 ± 0 |" in micro
    assert "Needs a TransNAS-Bench-101 macro table" in text.split("## Cross-space")[1]


def test_macro_targets_read_the_official_layout_and_skip_missing_tasks(tmp_path):
    truth = macro_pth(tmp_path / "transnas-bench_v10141024.pth")
    sets, skipped = recipe.macro_targets(tmp_path / "transnas-bench_v10141024.pth",
                                         ["class_scene", "segmentsemantic", "room_layout"], n_target=6, calib=4)
    assert set(sets) == {"class_scene", "segmentsemantic"} and set(skipped) == {"room_layout"}
    for t, (archs, y) in sets.items():
        assert len(archs) == 6 and len(set(archs)) == 6
        assert all(isinstance(a, type(TransNASMacroSpace()[0])) for a in archs)
        assert y.tolist() == [truth[t][str(a)] for a in archs]  # the final-epoch validation value
    few, why = recipe.macro_targets(tmp_path / "transnas-bench_v10141024.pth", ["class_scene"], 6, calib=6)
    assert few == {} and "need at least 9" in why["class_scene"]
    # --macro-table wins over --data; a wrong path is a one-line config error
    args = args_for(tmp_path, macro_table=tmp_path / "nope.pth")
    with pytest.raises(ConfigError, match="does not exist"):
        recipe.macro_source(args)
    assert recipe.macro_source(args_for(tmp_path)) is None


def test_cross_space_row_from_micro_trained_models(tmp_path):
    """Micro-trained predictor (backbone + class_object adapter) evaluated on macro graphs of a tiny table."""
    micro = TransNASMicroSpace()
    archs = [micro[i * 331] for i in range(12)]
    g = GraphCache(micro, "class_object", root=tmp_path / "g").many(archs, progress=False)
    y = np.array([30 + 5 * np.log10(x.flops) for x in g])
    p = AIOPPredictor(epochs=2, adapter_epochs=2, finetune_epochs=1, seed=0)
    p.pretrain(g, y)
    p.add_adapter("class_object", g, y)
    table = tmp_path / "tnb.pth"
    macro_pth(table)
    sets, skipped = recipe.macro_targets(table, ["class_scene", "segmentsemantic", "jigsaw"], n_target=8, calib=4)
    mres = {}
    for t, (a, yt) in sets.items():
        gm = GraphCache(TransNASMacroSpace(), t, root=tmp_path / "g").many(a, progress=False)
        out, zero, ft = recipe.transfer(p, t, ["class_object"], gm, yt, slice(0, 4), slice(4, None), "full")
        model = out.pop("_model")
        assert model.target_scaler is not None and p.target_scaler is None  # p itself is left untouched
        assert zero.shape == ft.shape == (4,) and np.isfinite(zero).all() and np.isfinite(ft).all()
        assert np.allclose(model.predict(gm[4:]), ft)
        assert all(np.isfinite(r["mae"]) and -1 <= r["srcc"] <= 1 for r in out.values())
        mres[t] = {m: [r] for m, r in out.items()}
        mres[t] |= {m: [r] for m, r in recipe.baselines(gm, yt, slice(0, 4), slice(4, None)).items()}
        mres[t]["synflow"] = []
    path = tmp_path / "tables.md"
    cross = {"table": str(table), "results": mres, "n_target": {t: 8 for t in mres}, "skipped": skipped}
    recipe.write_tables({}, args_for(tmp_path), path, cross)
    part = path.read_text().split("## Cross-space")[1]
    assert "| macro class_scene | top-1 % |" in part and "| macro segmentsemantic | pixel acc. % |" in part
    assert "| macro jigsaw | top-1 % | skipped:" in part
    assert "has no jigsaw values | — | — | — | — | — |" in part
    assert "**mean (2 tasks)**" in part


@pytest.mark.data
@pytest.mark.slow  # ~10 s idle, builds jigsaw graphs
def test_tiny_end_to_end_run_has_jigsaw_and_the_macro_row(shared_data, tmp_path):
    table = tmp_path / "macro.pth"
    macro_pth(table)
    out = tmp_path / "out"
    recipe.main(["--data", str(shared_data), "--out", str(out), "--seeds", "1", "--targets", "jigsaw",
                 "class_scene", "--n-pretrain", "24", "--pretrain-epochs", "1", "--n-target", "8", "--calib", "4",
                 "--n-adapter", "10", "--adapter-epochs", "1", "--finetune-epochs", "1",
                 "--macro-table", str(table), "--plot-task", "jigsaw"])
    res = json.loads((out / "results.json").read_text())
    assert set(res["results"]) == {"jigsaw", "class_scene"}
    for per in res["results"].values():
        assert all(np.isfinite(r["mae"]) for m in recipe.METHODS[:4] for r in per[m])
    assert set(res["cross_space"]["results"]) == {"class_scene"}  # jigsaw is not in the tiny macro table
    text = (out / "tables.md").read_text()
    assert "| jigsaw | top-1 % | " in text and "| macro class_scene |" in text
    assert (out / "scatter_jigsaw.png").exists()


@pytest.mark.data
@pytest.mark.slow  # ~20 s idle: the tiny recipe twice
def test_seeds_in_parallel_processes_give_the_serial_results(shared_data, tmp_path):
    common = ["--data", str(shared_data), "--seeds", "1", "2", "--targets", "class_scene", "--n-pretrain", "24",
              "--pretrain-epochs", "1", "--n-target", "12", "--calib", "8", "--n-adapter", "10",
              "--adapter-epochs", "2", "--finetune-epochs", "3", "--finetune-select-folds", "4"]
    recipe.main(common + ["--out", str(tmp_path / "serial")])
    base = tmp_path / "serial" / "pretrained_nb201_n24_e1.pt"
    recipe.main(common + ["--out", str(tmp_path / "jobs"), "--jobs", "2", "--base", str(base)])
    serial, jobs = (json.loads((tmp_path / d / "results.json").read_text())["results"] for d in ("serial", "jobs"))
    assert serial == jobs  # every metric of every seed, and the fine-tuning lengths CV chose
