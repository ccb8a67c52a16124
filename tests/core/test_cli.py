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
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
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
