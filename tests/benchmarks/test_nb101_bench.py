"""NB101 tables from every supported layout, written here in the exact official layouts."""
import base64
import json
import pickle
import struct

import numpy as np
import pytest

from nasframe.benchmarks import find_benchmark
from nasframe.benchmarks.nb101 import load
from nasframe.benchmarks.tfrecord import crc32c, iter_fields, iter_records, masked_crc32c
from nasframe.errors import ConfigError, DataError, DataNotFound
from nasframe.spaces.nb101 import CONV1X1, CONV3X3, INPUT, MAXPOOL3X3, OUTPUT, NB101Space

SPACE = NB101Space()

# Two cells in official (representative) form; the second also appears as three repeats
CELL_A = (np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), [INPUT, CONV3X3, OUTPUT])
CELL_B = (np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]), [INPUT, CONV1X1, MAXPOOL3X3, OUTPUT])
RUNS = {  # cell -> [(val, test, time)] per repeat, fractions as NB101 stores them
    "A": [(0.80, 0.79, 1000.0), (0.82, 0.81, 1100.0), (0.84, 0.83, 1200.0)],
    "B": [(0.90, 0.89, 2000.0), (0.91, 0.90, 2100.0), (0.92, 0.91, 2200.0)],
}
PARAMS = {"A": 1234567, "B": 2345678}


def _hash(cell):
    return SPACE.from_spec(*cell).module_hash


# ------------------------------------------------------------------ encoders (independent of the reader)


def _crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c_bitwise(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint(num << 3 | wire) + payload


def _double(num: int, v: float) -> bytes:
    return _field(num, 1, struct.pack("<d", v))


def _message(num: int, body: bytes) -> bytes:
    return _field(num, 2, _varint(len(body)) + body)


def model_metrics(evals, params: int) -> bytes:
    """nasbench.ModelMetrics: repeated EvaluationData evaluation_data = 1; int32 trainable_parameters = 2;
    double total_time = 3. EvaluationData: current_epoch 1, training_time 2, train/validation/test acc 3/4/5,
    checkpoint_path 6 (string)."""
    out = b""
    for epoch, time, train, val, test in evals:
        body = (_double(1, epoch) + _double(2, time) + _double(3, train) + _double(4, val) + _double(5, test)
                + _field(6, 2, _varint(4) + b"ckpt"))
        out += _message(1, body)
    return out + _field(2, 0, _varint(params)) + _double(3, 9999.0)


def tfrecord_bytes(records) -> bytes:
    out = b""
    for data in records:
        length = struct.pack("<Q", len(data))
        out += length + struct.pack("<I", _masked(length)) + data + struct.pack("<I", _masked(data))
    return out


def official_records(epochs=108):
    recs = []
    for name, cell in (("A", CELL_A), ("B", CELL_B)):
        matrix, ops = cell
        for val, test, time in RUNS[name]:
            evals = [(0.0, 0.0, 0.1, 0.1, 0.1), (epochs / 2, time / 2, 0.5, 0.5, 0.5), (epochs, time, 1.0, val, test)]
            metrics = base64.b64encode(model_metrics(evals, PARAMS[name])).decode()
            row = [_hash(cell), epochs, "".join(str(int(x)) for x in matrix.reshape(-1)), ",".join(ops), metrics]
            recs.append(json.dumps(row).encode())
    return recs


# ------------------------------------------------------------------ format primitives


def test_crc32c_known_vector():
    assert crc32c(b"123456789") == 0xE3069283 == _crc32c_bitwise(b"123456789")
    assert masked_crc32c(b"abc") == _masked(b"abc")


def test_protobuf_fields_decode():
    blob = model_metrics([(1.0, 2.0, 0.3, 0.4, 0.5)], 77)
    fields = list(iter_fields(blob))
    assert [(f, w) for f, w, _ in fields] == [(1, 2), (2, 0), (3, 1)]
    inner = dict((f, v) for f, _, v in iter_fields(fields[0][2]))
    assert struct.unpack("<d", inner[4])[0] == 0.4 and inner[6] == b"ckpt"


def test_tfrecord_rejects_corruption(tmp_path):
    good = tfrecord_bytes([b"hello", b"world"])
    p = tmp_path / "x.tfrecord"
    p.write_bytes(good)
    assert list(iter_records(p)) == [b"hello", b"world"]
    p.write_bytes(good[:-3])
    with pytest.raises(DataError, match="truncated"):
        list(iter_records(p))
    bad = bytearray(good)
    bad[13] ^= 0xFF  # a data byte of the first record
    p.write_bytes(bytes(bad))
    with pytest.raises(DataError, match="bad data checksum"):
        list(iter_records(p))
    p.write_bytes(b"not a tfrecord at all, just text")
    with pytest.raises(DataError, match="not a TFRecord"):
        list(iter_records(p))


# ------------------------------------------------------------------ readers


def _check_table(b, with_test=True):
    a, bb = SPACE.from_spec(*CELL_A), SPACE.from_spec(*CELL_B)
    ia, ib = b.index_of(a), b.index_of(bb)
    assert ia is not None and ib is not None and ia != ib
    val = b.table.column("val_acc")
    assert val[ia] == pytest.approx(82.0) and val[ib] == pytest.approx(91.0)
    assert b.table.column("params")[ib] == pytest.approx(2.345678)
    if with_test:
        assert b.table.column("test_acc")[ia] == pytest.approx(81.0)
        assert b.table.column("train_time")[ib] == pytest.approx(2100.0)
        assert b.report_columns == {"test_acc": "test_acc"} and b.cost_column == "train_time"
    assert b.objective.name == "val_acc" and b.value_column == "val_acc"
    other = SPACE.parse("maxpool3x3|10.1")
    assert b.index_of(other) is None  # a cell the file does not hold


def test_official_tfrecord(tmp_path):
    p = tmp_path / "nasbench_only108.tfrecord"
    p.write_bytes(tfrecord_bytes(official_records()))
    b = load(SPACE, "cifar10", root=tmp_path)
    _check_table(b)
    assert b.table.column("runs").tolist() == [3.0, 3.0]
    # isomorphic / unpruned spellings of a cell find the same row
    m = np.zeros((5, 5), dtype=int)
    m[0, 2] = m[2, 4] = m[0, 3] = 1  # vertex 1 and 3 dangle
    assert b.index_of(SPACE.from_spec(m, [INPUT, MAXPOOL3X3, CONV3X3, CONV1X1, OUTPUT])) == b.index_of(
        SPACE.from_spec(*CELL_A))


def test_tfrecord_other_epochs_and_wrong_hash(tmp_path):
    p = tmp_path / "nasbench_full.tfrecord"
    p.write_bytes(tfrecord_bytes(official_records(epochs=36)))
    with pytest.raises(DataError, match=r"no runs of 108 epochs \(it has \[36\]\)"):
        load(SPACE, root=tmp_path, use_cache=False)
    assert load(SPACE, root=tmp_path, epochs=36).table.size == 2
    rec = json.loads(official_records()[0])
    rec[0] = "0" * 32
    q = tmp_path / "bad.tfrecord"
    q.write_bytes(tfrecord_bytes([json.dumps(rec).encode()]))
    with pytest.raises(DataError, match="does not hash to it"):
        load(SPACE, path=q, use_cache=False)


def test_naslib_pickle(tmp_path):
    data = {}
    for name, cell in (("A", CELL_A), ("B", CELL_B)):
        fixed = {"module_adjacency": cell[0].astype(np.int8), "module_operations": list(cell[1]),
                 "trainable_parameters": PARAMS[name]}
        runs = [{"halfway_training_time": t / 2, "halfway_train_accuracy": 0.5, "halfway_validation_accuracy": 0.5,
                 "halfway_test_accuracy": 0.5, "final_training_time": t, "final_train_accuracy": 1.0,
                 "final_validation_accuracy": v, "final_test_accuracy": te} for v, te, t in RUNS[name]]
        data[_hash(cell)] = (fixed, {108: runs})
    p = tmp_path / "nasbench_only108.pkl"
    p.write_bytes(pickle.dumps(data))
    _check_table(load(SPACE, path=p))


def test_pickle_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    p = tmp_path / "nasbench_only108.pkl"
    p.write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(DataError, match="not NASLib's NB101 pickle"):
        load(SPACE, path=p)


def test_naslib_zc_json_averages_duplicate_keys(tmp_path):
    codes = {INPUT: 0, OUTPUT: 1, MAXPOOL3X3: 2, CONV1X1: 3, CONV3X3: 4}

    def key(matrix, ops):
        full = np.zeros((7, 7), dtype=int)
        n = len(ops)
        idx = list(range(n - 1)) + [6]
        full[np.ix_(idx, idx)] = matrix
        pad = [ops[i] if i < n - 1 else (OUTPUT if i == 6 else CONV3X3) for i in range(7)]
        return str(tuple(int(x) for x in full.reshape(-1)) + tuple(codes[o] for o in pad))

    # CELL_A twice (the second with a dangling vertex 5), CELL_B once
    m = np.zeros((7, 7), dtype=int)
    m[0, 1] = m[1, 6] = m[2, 5] = 1
    dangling = str(tuple(int(x) for x in m.reshape(-1)) + (0, 4, 3, 2, 2, 2, 1))
    doc = {"nasbench101": {"cifar10": {
        key(*CELL_A): {"val_accuracy": 80.0, "params": 1.0, "synflow": 3.0},
        dangling: {"val_accuracy": 84.0, "params": 1.0, "synflow": 5.0},
        key(*CELL_B): {"val_accuracy": 91.0, "params": 2.345678, "synflow": 7.0},
    }}}
    p = tmp_path / "zc_nasbench101.json"
    p.write_text(json.dumps(doc))
    b = load(SPACE, root=tmp_path)
    _check_table(b, with_test=False)
    ia = b.index_of(SPACE.from_spec(*CELL_A))
    assert b.table.column("runs")[ia] == 2 and b.table.column("synflow")[ia] == 4.0
    assert b.report_columns == {} and b.cost_column is None  # validation only


def test_csv(tmp_path):
    a, bb = SPACE.from_spec(*CELL_A), SPACE.from_spec(*CELL_B)
    p = tmp_path / "nb101.csv"
    p.write_text(f"arch,val_acc,test_acc,train_time,params\n{a},82,81,1100,1.234567\n{bb},91,90,2100,2.345678\n")
    _check_table(load(SPACE, path=p))
    p.write_text("arch,val_acc\nconv9x9|11.1,3\n")
    with pytest.raises(DataError, match="line 2: unknown op"):
        load(SPACE, path=p, use_cache=False)


def test_errors(tmp_path):
    with pytest.raises(DataNotFound, match="no NB101 table found"):
        load(SPACE, root=tmp_path)
    with pytest.raises(ConfigError, match="CIFAR-10 results only"):
        load(SPACE, "cifar100", root=tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load(SPACE, path=tmp_path / "missing.tfrecord")
    (tmp_path / "x.bin").write_bytes(b"\0")
    with pytest.raises(DataError, match="cannot tell which NB101 format"):
        load(SPACE, path=tmp_path / "x.bin")


@pytest.mark.data
def test_shared_json_all_archs_look_up(shared_data):
    import ast

    b = find_benchmark(SPACE, "cifar10", root=shared_data)
    recs = json.load(open(shared_data / "nasbench101" / "zc_nasbench101.json"))["nasbench101"]["cifar10"]
    rows = [b.index_of(SPACE.from_naslib(ast.literal_eval(k))) for k in recs]
    assert None not in rows and len(set(rows)) == b.table.size == 292
    val = b.table.column("val_acc")
    assert np.nanmax(val) == pytest.approx(94.7115, abs=1e-3)
    assert b.table.column("runs").sum() == 500
