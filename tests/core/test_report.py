import json

import numpy as np
import pytest

from nasframe import report
from nasframe.api import search


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    runs = {}
    for strategy in ("random", "rea"):
        for seed in range(3):
            r = search([f"strategy={strategy}", "evaluator._target_=toys.Parabola",
                        "space._target_=toys.LineSpace", "budget.queries=6", f"seed={seed}"]
                       if strategy == "random" else
                       [f"strategy={strategy}", "evaluator=flops", "budget.queries=4", f"seed={seed}"],
                       out_dir=root / f"{strategy}-{seed}", progress=False)
            runs[(strategy, seed)] = r.summary
    (root / "unfinished").mkdir()
    (root / "unfinished" / "history.jsonl").write_text("")
    return root, runs


def test_report_means_match_the_runs(sweep, capsys):
    root, runs = sweep
    assert report.main([str(root), "--format", "json", "--by", "strategy"]) == 0
    rows = {r["strategy"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["random"]["runs"] == 3 and rows["rea"]["runs"] == 3
    want = np.mean([runs[("random", s)]["values"]["score"] for s in range(3)])
    assert rows["random"]["values.score mean"] == pytest.approx(want)
    want = [runs[("rea", s)]["values"]["flops"] for s in range(3)]
    assert rows["rea"]["values.flops mean"] == pytest.approx(np.mean(want))
    assert rows["rea"]["values.flops std"] == pytest.approx(np.std(want, ddof=1))
    assert (root / "anytime.png").stat().st_size > 1000


def test_report_markdown_mentions_unfinished_runs(sweep, capsys):
    root, _ = sweep
    assert report.main([str(root), "--plot", "none"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| strategy |") and "1 unfinished run" in out


def test_report_on_a_folder_without_runs_is_an_error(tmp_path, capsys):
    assert report.main([str(tmp_path)]) == 2
    assert "no finished runs" in capsys.readouterr().err
