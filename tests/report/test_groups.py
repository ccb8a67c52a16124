"""Groups are what a reader means: what a run measured splits groups; a shared study is one run."""
import json

import numpy as np
import pytest
from ledgers import EVAL_SYNFLOW, SYNFLOW, arch, line, write_run

from nasframe import report
from nasframe.analysis.aggregate import anytime, anytime_seconds, default_keys, find_runs, group, merge_histories


def proxy_and_table_runs(root):
    for seed in range(2):
        write_run(root / f"table{seed}", [line(i, arch(i + 10 * seed), 80.0 + i + seed) for i in range(4)], seed=seed)
    write_run(root / "proxy", [line(i, arch(i), 1e45 * (i + 1), "synflow") for i in range(4)],
              evaluator=EVAL_SYNFLOW, objectives=(SYNFLOW,))


def test_a_proxy_run_and_a_table_run_of_one_strategy_are_never_averaged(tmp_path, capsys):
    proxy_and_table_runs(tmp_path)
    assert report.main([str(tmp_path), "--format", "json", "--by", "strategy", "--plot", "none"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2  # --by strategy alone would have put all three runs in one row
    by = {r["measured_by"]: r for r in rows}
    assert by["lookup"]["runs"] == 2 and by["zc:synflow"]["runs"] == 1
    assert by["lookup"]["objective"] == "val_acc (max)" and by["zc:synflow"]["objective"] == "synflow (max)"
    assert by["lookup"]["values.val_acc mean"] == pytest.approx(np.mean([83.0, 84.0]))
    assert np.isnan(by["lookup"]["values.synflow mean"])  # 4e45 never reaches the table run's mean
    assert by["zc:synflow"]["values.synflow mean"] == pytest.approx(4e45)


def test_default_keys_add_what_the_runs_measured_only_when_it_varies(tmp_path):
    proxy_and_table_runs(tmp_path)
    runs, _ = find_runs(tmp_path)
    assert default_keys(runs) == ["strategy", "measured_by", "objective"]
    same = [r for r in runs if r.key("measured_by") == "lookup"]
    assert default_keys(same) == ["strategy"]
    assert [len(m) for m in group(runs, ["strategy"]).values()] == [2, 1]


def two_workers(root, study="s1"):
    """Trials 0 w0, 1 w1, 2 w0, 3 w1, then w0's repeat of its own a0 and w1's a4, which nobody was told of:
    both come after trial 3 (w0 was told of it before its repeat; w1 evaluated it)."""
    a = [arch(i) for i in range(6)]
    w0 = [line(0, a[0], 70.0), line(0, a[1], 71.0, phase="shared", kind="sync", at=1, trial=1),
          line(1, a[2], 75.0), line(1, a[3], 72.0, phase="shared", kind="sync", at=2, trial=3),
          line(2, a[0], 70.0, repeat=True)]
    w0[-1]["repeat"] = True
    w1 = [line(0, a[1], 71.0), line(0, a[0], 70.0, phase="shared", kind="sync", at=1, trial=0),
          line(1, a[3], 72.0), line(1, a[2], 75.0, phase="shared", kind="sync", at=2, trial=2),
          line(2, a[4], 90.0)]
    url = f"sqlite:///{root / 'study.db'}"
    write_run(root / "w0", w0, seed=0, storage=url, study=study)
    write_run(root / "w1", w1, seed=1, storage=url, study=study)
    return a


def test_the_workers_of_a_shared_study_are_one_run_in_study_order(tmp_path):
    a = two_workers(tmp_path)
    write_run(tmp_path / "plain", [line(0, a[5], 60.0)], seed=7)
    runs, _ = find_runs(tmp_path)
    assert len(runs) == 2
    study = next(r for r in runs if r.workers)
    assert sorted(p.name for p in study.workers) == ["w0", "w1"]
    assert study.summary["queries"] == 6 and study.summary["workers"] == 2
    assert study.summary["values"] == {"val_acc": 90.0}  # the best worker's recommendation
    merged = study.history()
    assert [r["arch"] for r in merged] == [a[0], a[1], a[2], a[3], a[0], a[4]]
    assert [r["worker"] for r in merged] == [0, 1, 0, 1, 0, 1]
    assert [r["index"] for r in merged] == list(range(6))
    xs, mean, _ = anytime([study])
    assert list(xs) == list(range(1, 7)) and list(mean) == [70, 71, 75, 75, 75, 90]


def test_merge_keeps_each_workers_own_order_when_nobody_was_told():
    h0 = [line(i, arch(i), float(i)) for i in range(3)]
    h1 = [line(i, arch(10 + i), float(10 + i)) for i in range(2)]
    merged = merge_histories([h0, h1])
    assert [r["arch"] for r in merged if r["worker"] == 0] == [r["arch"] for r in h0]
    assert [r["arch"] for r in merged if r["worker"] == 1] == [r["arch"] for r in h1]
    assert len(merged) == 5


def test_two_studies_in_one_sweep_stay_two_runs(tmp_path):
    two_workers(tmp_path / "a", study="s1")
    two_workers(tmp_path / "b", study="s2")
    runs, _ = find_runs(tmp_path)
    assert len(runs) == 2 and all(len(r.workers) == 2 for r in runs)


def test_anytime_over_simulated_seconds_is_the_best_finished_by_then(tmp_path):
    write_run(tmp_path / "r0", [line(0, arch(0), 70.0, cost=10.0), line(1, arch(1), 80.0, cost=30.0)])
    write_run(tmp_path / "r1", [line(0, arch(2), 60.0, cost=20.0), line(1, arch(3), 90.0, cost=20.0)], seed=1)
    runs, _ = find_runs(tmp_path)
    grid, mean, std = anytime_seconds(runs, "sim", points=50)
    assert grid[0] == pytest.approx(10.0) and grid[-1] == pytest.approx(40.0)
    at = lambda t: mean[np.searchsorted(grid, t)]  # noqa: E731
    assert at(10.0) == pytest.approx(70.0)  # only r0's first query has finished
    assert at(20.0) == pytest.approx(65.0)  # 70 and 60
    assert at(40.0) == pytest.approx(85.0)  # 80 and 90
    assert anytime_seconds(runs, "wall") is None  # no wall time recorded: no such axis
