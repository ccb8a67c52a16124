"""The self-contained HTML report: sections, numbers, drawings, learning curves, correlations."""
import base64
import re

import numpy as np
import pytest
from ledgers import EVAL_SYNFLOW, SYNFLOW, arch, line, write_run

from nasframe import report
from nasframe.analysis.draw import DRAWERS, cell_edges, complexity, draw_architecture
from nasframe.analysis.html import epoch_series, html_report
from nasframe.errors import ConfigError, NasframeError


def images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def table_rows(page: str, section: str) -> list[str]:
    body = page.split(f"<h2>{section}</h2>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1])


@pytest.fixture
def sweep(tmp_path):
    for strategy, base in (("random", 80.0), ("rea", 85.0)):
        for seed in range(3):
            write_run(tmp_path / f"{strategy}{seed}", [line(i, arch(100 * seed + i + (strategy == "rea") * 50),
                                                            base + i + seed, report={"test_acc": base + 1 + i})
                                                       for i in range(5)], strategy=strategy, seed=seed)
    write_run(tmp_path / "proxy", [line(i, arch(i), 1e45 * (i + 1), "synflow") for i in range(5)],
              evaluator=EVAL_SYNFLOW, objectives=(SYNFLOW,))
    return tmp_path


def test_the_page_is_self_contained_and_holds_every_section(sweep):
    path = html_report(sweep)
    assert path == sweep / "report.html"
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page  # nothing fetched
    for section in ("Anytime performance", "Final table", "Recommended architectures"):
        assert f"<h2>{section}</h2>" in page
    assert "Pareto fronts" not in page and "Learning curves" not in page  # nothing of the kind here
    pngs = images(page)
    assert len(pngs) >= 2 + 3 and all(p.startswith(b"\x89PNG") for p in pngs)  # 2 objectives' curves, 3 cells
    assert "7 run(s)" in page and "3 group(s)" in page


def test_the_table_holds_the_group_means_and_the_best_run(sweep):
    page = html_report(sweep).read_text()
    rows = {tuple(re.findall(r'<td class="k">(.*?)</td>', r)[:2]): r for r in table_rows(page, "Final table")}
    # the proxy run of rea sits in its own row, keyed by what it measured
    assert set(rows) == {("random", "lookup"), ("rea", "lookup"), ("rea", "zc:synflow")}
    rea = rows[("rea", "lookup")]
    header = re.findall(r"<th[^>]*>(.*?)<", page.split("<h2>Final table</h2>", 1)[1].split("</thead>", 1)[0])
    metrics = [h for h in header if h.startswith(("values.", "report."))]
    values = dict(zip(metrics, re.findall(r'data-v="([^"]*)"', rea)))
    assert float(values["values.val_acc"]) == pytest.approx(np.mean([89.0, 90.0, 91.0]))  # each run's best
    assert float(values["report.test_acc"]) == pytest.approx(90.0)
    assert values["values.synflow"] == ""  # no synflow in a table run
    assert ">rea2<" in rea and "val_acc=91" in rea
    assert page.count('class="sortable"') == 1 and "addEventListener('click'" in page


def test_cli_html_writes_the_report_where_asked(sweep, tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("out") / "r.html"
    assert report.main([str(sweep), "--plot", "none", "--html", str(out)]) == 0
    assert out.stat().st_size > 10_000 and f"report: {out}" in capsys.readouterr().out
    assert report.main([str(sweep), "--plot", "none", "--html", str(sweep / "no" / "such" / "r.html")]) == 2
    assert "could not write the HTML report" in capsys.readouterr().err


def test_a_folder_without_runs_is_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match="no finished runs"):
        html_report(tmp_path)
    with pytest.raises(ConfigError, match="is not a folder"):
        html_report(tmp_path / "missing")
    assert not (tmp_path / "report.html").exists()


def test_learning_curves_are_drawn_from_the_ledger_curve(tmp_path):
    lines = [line(i, arch(i), 60.0 + i, report={"test_acc": 59.0 + i,
                                                 "curve": [{"epoch": e, "train_loss": 2.0 / (e + 1 + i),
                                                            "val_acc": 10.0 * e + i} for e in range(4)]})
             for i in range(3)]
    write_run(tmp_path / "train0", lines, report={"test_acc": 61.0, "curve": lines[-1]["report"]["curve"]})
    page = html_report(tmp_path).read_text()
    assert "<h2>Learning curves</h2>" in page and "3 of the 3 trained architectures" in page
    # a curve in the summary's report is drawn, never averaged into the table
    assert "report.curve" not in page and "report.test_acc" in page


def test_epoch_series_reads_numbers_or_dicts():
    assert epoch_series([0.5, 0.25, None]) == {"value": [0.5, 0.25, pytest.approx(np.nan, nan_ok=True)]}
    s = epoch_series([{"epoch": 0, "loss": 2.0}, {"epoch": 1, "loss": 1.0, "acc": 50.0}])
    assert s["loss"] == [2.0, 1.0] and np.isnan(s["acc"][0]) and s["acc"][1] == 50.0 and "epoch" not in s
    assert epoch_series("not a curve") == {}
    with pytest.raises(NasframeError, match="mixes numbers"):
        epoch_series([{"loss": 1.0}, 0.5])


def test_correlation_outputs_get_their_scatter_and_rank_correlations(tmp_path):
    from nasframe.analysis.correlate import rank_correlations, write_outputs

    rng = np.random.default_rng(0)
    val = rng.normal(size=60)
    rows = [{"arch": arch(i), "score": float(v + rng.normal(scale=0.5)), "cost": 0.01, "wall": 0.01, "failure": "",
             "val": float(v), "report.test_acc": float(v + 0.1)} for i, v in enumerate(val)]
    scores = [r["score"] for r in rows]
    result = {"label": "synflow", "n": 60, "failures": 0, "objective": "synflow", "direction": "max",
              "val": rank_correlations(scores, val), "test": rank_correlations(scores, val + 0.1),
              "cost_per_arch_s": 0.01}
    write_outputs(tmp_path / "corr", rows, result, "report.test_acc")
    page = html_report(tmp_path).read_text()
    assert "<h2>Proxy and predictor correlations</h2>" in page
    row = table_rows(page, "Proxy and predictor correlations")[0]
    assert f'data-v="{result["val"]["spearman"]}"' in row and ">corr<" in row
    assert len(images(page)) == 1


@pytest.mark.parametrize("name", sorted(DRAWERS))
def test_every_drawer_draws_a_sampled_architecture(name):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from nasframe.analysis.plots import _pyplot

    space = instantiate(OmegaConf.load(f"conf/space/{name}.yaml"), _convert_="all")
    arch_ = space.sample(np.random.default_rng(3))
    fig, ax = _pyplot().subplots()
    assert draw_architecture(name, space, arch_, ax)
    assert len(ax.texts) + len(ax.patches) + len(ax.collections) >= 3
    _pyplot().close(fig)


def test_a_cell_is_drawn_from_the_spaces_own_decisions():
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    a = space.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert cell_edges(space, a) == [(0, 1, "nor_conv_3x3"), (0, 2, "none"), (1, 2, "skip_connect"),
                                    (0, 3, "avg_pool_3x3"), (1, 3, "nor_conv_1x1"), (2, 3, "none")]
    cx = complexity(space, a, "cifar10")
    assert cx["MFLOPs"] == pytest.approx(space.flops(a, "cifar10")) and cx["M params"] > 0


def test_multi_objective_runs_get_fronts_against_the_true_front(shared_data, tmp_path):
    from nasframe.api import search

    for strategy in ("random", "rea"):
        search([f"strategy={strategy}", "evaluator=multi", f"data.root={shared_data}", "budget.queries=20",
                "plot=false"], out_dir=tmp_path / strategy, progress=False)
    page = html_report(tmp_path).read_text()
    assert "<h2>Pareto fronts</h2>" in page and "true front:" in page
    rows = table_rows(page, "Pareto fronts")
    assert len(rows) == 2
    ratios = [float(re.findall(r'data-v="([^"]*)"', r)[1]) for r in rows]
    assert all(0.0 < r <= 1.0 for r in ratios)  # 20 queries reach part, never more, of the true front


def test_table_optimum_and_ceiling_come_from_the_table(shared_data, tmp_path):
    from nasframe.analysis.aggregate import find_runs
    from nasframe.analysis.html import Tables
    from nasframe.api import search

    search(["strategy=random", f"data.root={shared_data}", "budget.queries=5", "plot=false"],
           out_dir=tmp_path / "r", progress=False)
    (record,), _ = find_runs(tmp_path)
    ref = Tables().reference(record)
    # nb201_all_15625.csv, CIFAR-10: best cifar10-valid accuracy 91.57; that cell's test accuracy 94.30
    # (the ceiling of a search on validation) below the best test accuracy of the table, 94.37
    assert ref["optimum"] == pytest.approx(91.57)
    assert ref["ceiling"]["test_acc"] == pytest.approx(94.2967, abs=1e-4)
    assert ref["report_best"]["test_acc"] == pytest.approx(94.3733, abs=1e-4)
    page = html_report(tmp_path).read_text()
    assert "Anytime performance" in page


def test_no_optimum_for_a_run_measured_by_a_proxy(tmp_path):
    from nasframe.analysis.aggregate import find_runs
    from nasframe.analysis.html import Tables

    write_run(tmp_path / "p", [line(0, arch(0), 1e40, "synflow")], evaluator=EVAL_SYNFLOW, objectives=(SYNFLOW,))
    (record,), _ = find_runs(tmp_path)
    assert Tables().reference(record) is None
