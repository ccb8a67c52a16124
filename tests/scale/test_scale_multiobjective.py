"""Multi-objective evaluation: HW-NAS-Bench costs, the multi evaluator, Pareto report."""
import csv
import json

import numpy as np
import pytest

from nasframe.benchmarks.costs import load_costs, read_hw_csv
from nasframe.errors import ConfigError, DataError
from nasframe.spaces.nb201 import NB201Space

SPACE = NB201Space()


def naslib(ops):
    return str(SPACE.from_naslib(ops))
HW_HEADER = "net,edgegpu_latency,pixel3_latency\n"


def test_naslib_tuple_to_official_string():
    # edge order (1->2),(1->3),(1->4),(2->3),(2->4),(3->4); 0=skip 1=none 2=conv3 3=conv1 4=pool
    assert naslib("(4, 3, 3, 0, 0, 0)") == \
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert naslib((1, 2, 3, 4, 0, 2)) == \
        "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|"
    with pytest.raises(ValueError):
        naslib("(5, 0, 0, 0, 0, 0)")


@pytest.mark.data
def test_conversion_agrees_with_the_joined_table(shared_data):
    with open(shared_data / "nasbench201" / "nb201_all_15625.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(naslib(r["naslib_op_indices"]) == r["arch_str"] for r in rows)


def test_official_layout_file_round_trip(tmp_path):
    f = tmp_path / "hw_cifar10.csv"
    f.write_text(HW_HEADER + '"(4, 3, 3, 0, 0, 0)",5.8,3.6\n"(1, 1, 1, 1, 1, 1)",1.5,0.7\n')
    table = load_costs(SPACE, "cifar10", path=f)
    i = SPACE.index(SPACE.parse(naslib("(4, 3, 3, 0, 0, 0)")))
    assert table.column("edgegpu_latency")[i] == 5.8 and table.column("pixel3_latency")[i] == 3.6
    assert np.isnan(table.column("edgegpu_latency")).sum() == len(SPACE) - 2
    assert load_costs(SPACE, "cifar10", path=f).meta["sha256"] == table.meta["sha256"]  # cached


def test_damaged_cost_file_names_the_line(tmp_path):
    f = tmp_path / "hw_cifar10.csv"
    f.write_text(HW_HEADER + '"(4, 3, 3, 0, 0, 0)",5.8,3.6\n"(9, 1)",1.5,0.7\n')
    with pytest.raises(DataError, match="line 3"):
        read_hw_csv(SPACE, f)
    g = tmp_path / "other.csv"
    g.write_text("arch,latency\nx,1\n")
    with pytest.raises(DataError, match="'net'"):
        read_hw_csv(SPACE, g)


@pytest.mark.data
def test_hw_latency_tracks_convolutions(shared_data):
    # a wrong op numbering would scramble this (edge order is checked against the joined table above)
    from scipy.stats import spearmanr

    lat = load_costs(SPACE, "cifar10", root=shared_data).column("fpga_latency")
    weight = {3: 9.0, 2: 1.0}  # nor_conv_3x3, nor_conv_1x1 multiply-accumulates per pixel and channel
    conv = np.array([sum(weight.get(o, 0.0) for o in SPACE[i].ops) for i in range(len(SPACE))])
    assert spearmanr(lat, conv).statistic > 0.9


@pytest.mark.data
def test_multi_evaluator_values_and_constraints(shared_data):
    from nasframe.evaluators.lookup import BenchmarkLookup
    from nasframe.evaluators.multi import MultiObjective

    ev = MultiObjective(SPACE, objectives=["flops:min", "edgegpu_latency:min"],
                        constraints={"edgegpu_latency": {"max": 5.0}}, dataset="cifar10", root=shared_data)
    assert [(o.name, o.direction) for o in ev.objectives] == \
        [("val_acc", "max"), ("flops", "min"), ("edgegpu_latency", "min")]
    archs = [SPACE[i] for i in range(0, 15625, 97)]
    lat = load_costs(SPACE, "cifar10", root=shared_data).column("edgegpu_latency")
    base = BenchmarkLookup(SPACE, dataset="cifar10", root=shared_data).evaluate(archs)
    for a, e, b in zip(archs, ev.evaluate(archs), base):
        latency = lat[SPACE.index(a)]
        if latency > 5.0:
            assert e.failed and "edgegpu_latency" in e.failure and e.values["val_acc"] == -np.inf
        else:
            assert not e.failed and e.values["val_acc"] == b.values["val_acc"]
            assert e.values["flops"] == pytest.approx(SPACE.flops(a)) and e.values["edgegpu_latency"] == latency
            assert e.report == b.report


@pytest.mark.data
def test_multi_evaluator_bad_config(shared_data):
    from nasframe.evaluators.multi import MultiObjective

    with pytest.raises(DataError, match="edgegpu_latency"):
        MultiObjective(SPACE, objectives=["nosuch:min"], dataset="cifar10", root=shared_data)
    with pytest.raises(ConfigError, match="min or max"):
        MultiObjective(SPACE, objectives=["flops:down"], dataset="cifar10", root=shared_data)
    with pytest.raises(ConfigError, match="max"):
        MultiObjective(SPACE, constraints={"flops": 5}, dataset="cifar10", root=shared_data)


@pytest.mark.data
def test_pareto_report_against_true_front(shared_data, tmp_path):
    from nasframe.analysis.pareto_report import main
    from nasframe.api import search

    for strategy in (["strategy=optuna", "strategy/sampler=nsgaii"], ["strategy=random"]):
        search([*strategy, "evaluator=multi", f"data.root={shared_data}", "budget.queries=40"],
               out_dir=tmp_path / strategy[-1].split("=")[-1], progress=False, plot=False)
    assert main([str(tmp_path)]) == 0
    out = json.loads((tmp_path / "pareto.json").read_text())
    assert out["objectives"] == ["val_acc:max", "flops:min"]
    assert 0 < out["true_hypervolume"] <= 1 and out["true_front_size"] >= 5
    assert {g["group"] for g in out["groups"]} == {"optuna", "random"}
    assert all(0 < g["hv_ratio"] <= 1 for g in out["groups"])
    assert (tmp_path / "pareto.png").stat().st_size > 5000
