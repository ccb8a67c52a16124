"""One reader for cost CSVs: HW-NAS-Bench tables (multi-objective search) and PredNAS cost tables."""
import numpy as np
import pytest

from nasframe.benchmarks.costs import read_cost_csv, read_hw_csv
from nasframe.errors import DataError
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.prednas import CostTable

SPACE = NB201Space()


def test_naslib_and_canonical_keys_give_the_same_values_to_both_users(tmp_path):
    f = tmp_path / "hw.csv"
    canonical = str(SPACE.from_naslib("(1, 1, 1, 1, 1, 1)"))  # all none
    f.write_text(f'net,edgegpu_latency,pixel3_latency\n"(4, 3, 3, 0, 0, 0)",5.8,3.6\n"{canonical}",1.5,\n')
    archs, cols = read_cost_csv(SPACE, f)
    assert archs == [SPACE.from_naslib((4, 3, 3, 0, 0, 0)), SPACE.parse(canonical)]
    assert cols["edgegpu_latency"].tolist() == [5.8, 1.5] and np.isnan(cols["pixel3_latency"][1])
    table = read_hw_csv(SPACE, f)
    assert table.column("edgegpu_latency")[SPACE.index(archs[0])] == 5.8
    assert np.isnan(table.column("edgegpu_latency")).sum() == len(SPACE) - 2
    cost = CostTable(SPACE, f, "edgegpu_latency")
    assert cost(archs[0]) == 5.8 and cost(archs[1]) == 1.5
    assert str(SPACE.from_naslib((4, 3, 3, 0, 0, 0))) == \
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_bad_cells_and_columns_name_the_file_and_line(tmp_path):
    f = tmp_path / "hw.csv"
    f.write_text('net,lat\n"(4, 3, 3, 0, 0, 0)",fast\n')
    with pytest.raises(DataError, match="line 2.*'fast' is not a number"):
        CostTable(SPACE, f, "lat")
    with pytest.raises(DataError, match="no column energy"):
        CostTable(SPACE, f, "energy")
    g = tmp_path / "empty.csv"
    g.write_text("net,lat\n")
    with pytest.raises(DataError, match="no architectures"):
        read_hw_csv(SPACE, g)
