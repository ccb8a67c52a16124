"""The command line: the main job, plug-in strategies, and one clear line on bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"


def cli(args, module="nasframe", cwd=REPO):
    env = {k: v for k, v in os.environ.items() if k != "NASFRAME_DATA"}  # data only where a test gives it
    env["PYTHONPATH"] = f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.mark.data
def test_main_command_with_real_table(shared_data, tmp_path):
    out = tmp_path / "run"
    r = cli(["strategy=rea", "space=nb201", f"data.root={shared_data}", "budget.queries=30",
             f"hydra.run.dir={out}", "progress=false"])
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "complete" and s["queries"] == 30
    assert 0 < s["report"]["test_acc"] <= 94.38 and s["values"]["val_acc"] <= 91.61
    assert (out / "best_so_far.png").stat().st_size > 1000
    assert len((out / "history.jsonl").read_text().splitlines()) == 30


def test_main_command_without_data_falls_back_and_says_so(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.delenv("NASFRAME_DATA", raising=False)  # no data root given at all (a given one must hold data)
    r = cli(["budget.queries=3", f"hydra.run.dir={out}", "progress=false", "plot=false"])
    assert r.returncode == 0, r.stderr
    assert "no benchmark table" in r.stderr and "data.root" in r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["queries"] == 3 and s["report"] == {}


def test_strategy_registered_from_outside_the_package(tmp_path):
    out = tmp_path / "run"
    r = cli([f"hydra.searchpath=[file://{TESTS / 'conf'}]", "strategy=greedy_toy", "evaluator=flops",
             "budget.queries=8", f"hydra.run.dir={out}", "progress=false", "plot=false"])
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["config"]["names"]["strategy"] == "greedy_toy" and s["queries"] == 8


@pytest.mark.parametrize("args, needles", [
    (["budget.queries=0"], ["budget.queries", "positive"]),
    (["budget.queries=-5"], ["budget.queries", "positive"]),
    (["benchmark.dataset=mnist"], ["mnist", "cifar10"]),
    (["benchmark.path=/nonexistent/nb201.csv"], ["/nonexistent/nb201.csv"]),
    (["strategy=rea", "space._target_=toys.LineSpace", "evaluator._target_=toys.Parabola"],
     ["strategy 'rea'", "Mutable", "line"]),
    (["strategy.no_such_option=3"], ["no_such_option"]),
    (["strategy.population_size=0"], ["population_size"]),
])
def test_bad_input_gives_one_line_and_no_run_folder(tmp_path, args, needles):
    out = tmp_path / "run"
    r = cli([*args, f"hydra.run.dir={out}", "progress=false"])
    assert_one_line_error(r, *needles)
    assert not out.exists()


def test_truncated_table_is_one_clear_error(tmp_path):
    bad = tmp_path / "nb201_all_15625.csv"
    bad.write_text("nb201_index,arch_str,cifar10_test_acc\n0,|none~0|+|none~0|no")
    out = tmp_path / "run"
    r = cli([f"benchmark.path={bad}", f"hydra.run.dir={out}", "progress=false"])
    assert_one_line_error(r, str(bad))
    assert not out.exists()


def tiny_nb201_table(folder: Path, seed: int = 0) -> Path:
    """An NB201 table in the tabular CSV format (random accuracies), laid out like a data root."""
    import numpy as np

    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    rng = np.random.default_rng(seed)
    path = folder / "nasbench201" / "nb201_all_15625.csv"
    path.parent.mkdir(parents=True)
    rows = [f"{space[i]},{v:.3f},{v + 3:.3f}" for i, v in enumerate(rng.uniform(10, 90, len(space)))]
    path.write_text("arch_str,cifar10_valid_val_acc_naslib,cifar10_test_acc\n" + "\n".join(rows) + "\n")
    return folder


def test_run_folders_are_named_after_the_resolved_evaluator(tmp_path):
    """The README's order: a data-free run, then the real table; the second must not hit the first's folder."""
    data = tiny_nb201_table(tmp_path / "data")
    common = ["strategy=random", "budget.queries=3", "progress=false", "plot=false"]
    first = cli(common, cwd=tmp_path)  # no data.root (and no NASFRAME_DATA): the data-free proxy
    assert first.returncode == 0, first.stderr
    assert "python -m nasframe.data" in first.stderr and "download" in first.stderr  # how to get data
    second = cli([*common, f"data.root={data}"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    runs = tmp_path / "runs" / "nb201-cifar10"
    assert sorted(p.name for p in runs.iterdir()) == ["random-lookup-q3", "random-zc-q3"]
    assert json.loads((runs / "random-lookup-q3" / "seed0" / "summary.json").read_text())["report"]


def test_a_run_resumes_after_its_data_moved_and_refuses_when_the_data_changed(tmp_path):
    from nasframe.compose import build_run, compose
    from nasframe.errors import ConfigError

    data = tiny_nb201_table(tmp_path / "data")
    run = tmp_path / "run"

    def search(root, queries, resume):
        cfg, names = compose(["strategy=random", "evaluator=lookup", f"data.root={root}",
                              f"budget.queries={queries}", f"resume={resume}", "progress=false", "plot=false"])
        return build_run(cfg, run, names).run()

    search(data, 4, False)
    recorded = json.loads((run / "config.json").read_text())
    assert len(recorded["data_sha256"]) == 1
    moved = data.rename(tmp_path / "elsewhere")
    search(moved, 4, True)  # same data, another place: resumes (finished: the same 4 records)
    history = (run / "history.jsonl").read_text().splitlines()
    assert len(history) == 4
    assert json.loads((run / "config.json").read_text()) == {**recorded, "resume": True}
    csv = moved / "nasbench201" / "nb201_all_15625.csv"
    header, first, *rest = csv.read_text().splitlines()
    arch, val, test = first.split(",")
    csv.write_text("\n".join([header, f"{arch},{float(val) + 1:.3f},{test}", *rest]) + "\n")  # one value differs
    with pytest.raises(ConfigError, match="benchmark data changed"):
        search(moved, 4, True)
    assert (run / "history.jsonl").read_text().splitlines() == history


def test_resume_tolerates_a_nested_progress_flag_but_not_a_setting(tmp_path):
    from nasframe.compose import adopt_moved_data

    old = {"seed": 0, "strategy": {"_target_": "x.PredNAS", "top_k": 40, "progress": True},
           "data": {"root": "/somewhere"}, "progress": True, "data_sha256": ["ab"]}
    (tmp_path / "config.json").write_text(json.dumps(old))
    quiet = {**old, "strategy": {**old["strategy"], "progress": False}, "progress": False,
             "data": {"root": "elsewhere"}}
    assert adopt_moved_data(quiet, tmp_path) == {**old, "progress": False}
    changed = {**quiet, "strategy": {**quiet["strategy"], "top_k": 20}}
    assert adopt_moved_data(changed, tmp_path) is changed  # left to the ledger, which refuses it


@pytest.mark.parametrize("override, needle", [("strategy=nosuch", "strategy/nosuch"),
                                              ("nosuchkey=3", "nosuchkey")])
def test_the_api_raises_config_error_on_a_bad_override(override, needle):
    from nasframe.api import search
    from nasframe.errors import ConfigError

    with pytest.raises(ConfigError, match=needle):
        search([override])
