"""The NB201 tabular CSV: known rows of the shared file, the cached round trip,
and clear errors for corrupt or incomplete files."""
import csv

import numpy as np
import pytest

from nasframe.benchmarks import nb201
from nasframe.benchmarks.table import BenchmarkTable, cache_dir
from nasframe.errors import DataError
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.spaces.nb201 import NB201Space

SPACE = NB201Space()
HEADER = ["nb201_index", "arch_str", "cifar10_test_acc", "cifar10_valid_val_acc_naslib"]


@pytest.mark.data
def test_shared_csv_known_rows(shared_data):
    b = nb201.load(SPACE, "cifar10", root=shared_data)
    test, val = b.table.column("cifar10_test"), b.table.column("cifar10_val")
    assert b.table.meta["rows"] == 15625 and not np.isnan(test).any()
    # published optimum (PROVENANCE.md): CIFAR-10 test 94.3733 at index 6111
    assert int(np.argmax(test)) == 6111 and test[6111] == pytest.approx(94.37333, abs=1e-4)
    assert val[6111] == pytest.approx(91.18)
    assert test.mean() == pytest.approx(87.06, abs=0.01)
    c100 = nb201.load(SPACE, "cifar100", root=shared_data).table.column("cifar100_test")
    assert int(np.argmax(c100)) == 9930 and c100[9930] == pytest.approx(73.5133, abs=1e-4)
    # every row equals the file read with the csv module, by architecture string
    with open(shared_data / "nasbench201" / nb201.CSV_NAME, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows[:: 1000]:
        i = SPACE.index(SPACE.parse(r["arch_str"]))
        assert i == int(r["nb201_index"])
        assert test[i] == float(r["cifar10_test_acc"]) and val[i] == float(r["cifar10_valid_val_acc_naslib"])
    ev = BenchmarkLookup(SPACE, benchmark=b).evaluate([SPACE[6111]])[0]
    assert ev.values["val_acc"] == pytest.approx(91.18) and ev.report["test_acc"] == pytest.approx(94.37333, abs=1e-4)


@pytest.mark.data
def test_shared_csv_cache_round_trip(shared_data):
    first = nb201.load(SPACE, "cifar10", root=shared_data)
    cached = sorted(cache_dir().glob("nb201-csv-*.npz"))
    assert cached, "the table was not cached"
    again = nb201.load(SPACE, "cifar10", root=shared_data)
    for col in first.table.columns:
        np.testing.assert_array_equal(first.table.column(col), again.table.column(col))
    assert again.table.meta["sha256"] == first.table.meta["sha256"]
    reread = BenchmarkTable.load(cached[-1])
    np.testing.assert_array_equal(reread.column("cifar10_test"), first.table.column("cifar10_test"))


@pytest.mark.data
def test_shared_csv_has_no_imagenet(shared_data):
    with pytest.raises(DataError, match="no imagenet16-120 columns"):
        nb201.load(SPACE, "imagenet16-120", root=shared_data)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_csv_with_imagenet_columns_is_accepted(tmp_path):
    header = HEADER + ["imagenet16_120_test_acc", "imagenet16_120_val_acc_naslib"]
    rows = [[i, str(SPACE[i]), 90 + i / 10000, 88.0, 40 + i / 1000, 39.5] for i in (0, 857, 6111)]
    path = write_csv(tmp_path / "nb201_all_15625.csv", header, rows)
    b = nb201.load(SPACE, "imagenet16-120", path=path, partial=True)  # three rows: a deliberate subset
    assert b.value_column == "imagenet16_120_val" and b.report_columns == {"test_acc": "imagenet16_120_test"}
    assert b.table.column("imagenet16_120_test")[857] == pytest.approx(40.857)
    assert b.table.column("imagenet16_120_val")[6111] == pytest.approx(39.5)
    assert np.isnan(b.table.column("imagenet16_120_val")[1])
    assert nb201.load(SPACE, "cifar10", path=path, partial=True).table.column("cifar10_test")[6111] == \
        pytest.approx(90.6111)


def test_changed_csv_is_not_answered_from_the_cache(tmp_path):
    path = write_csv(tmp_path / "t.csv", HEADER, [[0, str(SPACE[0]), 80.0, 70.0]])
    assert nb201.load(SPACE, "cifar10", path=path, partial=True).table.column("cifar10_test")[0] == 80.0
    write_csv(path, HEADER, [[0, str(SPACE[0]), 81.0, 70.0]])
    assert nb201.load(SPACE, "cifar10", path=path, partial=True).table.column("cifar10_test")[0] == 81.0


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\x00\x01garbage\x00\x9c", "not a readable CSV"),
    (b"index,arch,acc\n0,x,1\n", "no 'arch_str' column"),
    (b"arch_str,zen_cifar10\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1.0\n", "no NB201 metric columns"),
    (("arch_str,cifar10_test_acc,cifar10_valid_val_acc_naslib\n" + str(SPACE[0]) + ",high,1\n").encode(),
     "line 2: 'high' is not a number"),
    (b"arch_str,cifar10_test_acc,cifar10_valid_val_acc_naslib\n|conv~0|,1,1\n", "line 2"),
    (b"arch_str,cifar10_test_acc,cifar10_valid_val_acc_naslib\n", "holds no architectures"),
])
def test_corrupt_csv_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as e:
        nb201.load(SPACE, "cifar10", path=path, use_cache=False)
    assert str(path) in str(e.value)


def test_missing_imagenet_columns_name_the_fix(tmp_path):
    path = write_csv(tmp_path / "t.csv", HEADER, [[0, str(SPACE[0]), 80.0, 70.0]])
    with pytest.raises(DataError, match="no imagenet16-120 columns .*choose benchmark.dataset"):
        nb201.load(SPACE, "imagenet16-120", path=path, partial=True)
