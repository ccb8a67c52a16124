"""Official NB201 formats: small files written here in the exact official layouts
(NB201 .pth, NATS-Bench tss pickles, NASLib pickles) must load through
``nb201.load`` with the documented semantics (final epoch, seed mean)."""
import bz2
import functools
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

from nasframe.benchmarks import nb201, nb201_official as official
from nasframe.errors import DataError
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.spaces.nb201 import NB201Space

SPACE = NB201Space()
EPOCHS = 200
# official index -> {(run, seed): {set: final accuracy}} for the 200-epoch schedule
RESULTS = {
    6111: {("cifar10-valid", 777): {"x-valid": 91.50, "ori-test": 93.90},
           ("cifar10-valid", 888): {"x-valid": 91.70, "ori-test": 94.00},
           ("cifar10", 777): {"ori-test": 94.30},
           ("cifar10", 888): {"ori-test": 94.50},
           ("cifar10", 999): {"ori-test": 94.32},
           ("cifar100", 777): {"x-valid": 72.00, "x-test": 72.40, "ori-test": 72.20},
           ("ImageNet16-120", 777): {"x-valid": 45.00, "x-test": 45.50, "ori-test": 45.25},
           ("ImageNet16-120", 999): {"x-valid": 46.00, "x-test": 46.50, "ori-test": 46.25}},
    0: {("cifar10-valid", 777): {"x-valid": 80.00, "ori-test": 83.00},
        ("cifar10", 777): {"ori-test": 85.00},
        ("cifar100", 777): {"x-valid": 50.00, "x-test": 51.00, "ori-test": 50.50},
        ("cifar100", 888): {"x-valid": 52.00, "x-test": 53.00, "ori-test": 52.50},
        ("ImageNet16-120", 777): {"x-valid": 25.00, "x-test": 26.00, "ori-test": 25.50}},
}
EPOCH_SECONDS = {"cifar10-valid": 10.0, "cifar10": 12.0, "cifar100": 11.0, "ImageNet16-120": 20.0}


def results_count(run, seed, finals, epochs, with_times, numpy_scalars=False):
    """A ResultsCount state dict as NB201's ResultsCount.state_dict() writes it."""
    # numpy scalars (as np.mean leaves them) only where few, so the files stay quick to load
    num = np.float64 if numpy_scalars else float
    acc, loss, times = OrderedDict(), OrderedDict(), OrderedDict()
    for s, final in finals.items():  # the official update_eval order: per set, every epoch
        for e in range(epochs):
            acc[f"{s}@{e}"] = final - (epochs - 1 - e) * 0.05  # rising curve ending at `final`
            loss[f"{s}@{e}"] = 1.0 / (e + 1)
            times[f"{s}@{e}"] = 0.5
        acc[f"{s}@{epochs - 1}"] = num(final)
    return {"name": run, "net_state_dict": None, "train_acc1es": OrderedDict((e, 50.0) for e in range(epochs)),
            "train_acc5es": None, "train_losses": OrderedDict((e, 1.0) for e in range(epochs)),
            "train_times": (OrderedDict((e, EPOCH_SECONDS[run] + seed / 1000) for e in range(epochs))
                            if with_times else None),
            "arch_config": {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": "", "class_num": 10},
            "params": num(0.1), "flop": num(15.0), "seed": seed, "epochs": epochs, "latency": [num(0.01)],
            "eval_names": list(finals), "eval_acc1es": acc, "eval_times": times, "eval_losses": loss}


def arch_results(index, runs, epochs, with_times, numpy_scalars=False):
    all_results, dataset_seed = OrderedDict(), OrderedDict()
    for (run, seed), finals in runs.items():
        all_results[(run, seed)] = results_count(run, seed, finals, epochs, with_times, numpy_scalars)
        dataset_seed.setdefault(run, []).append(seed)
    return {"arch_index": index, "arch_str": str(SPACE[index]), "all_results": all_results,
            "dataset_seed": dataset_seed, "clear_net_done": True}


def less(index):  # the 12-epoch schedule: must never leak into the 200-epoch columns
    return arch_results(index, {("cifar10-valid", 777): {"x-valid": 10.0, "ori-test": 10.0}}, 12, True)


@functools.lru_cache(maxsize=1)
def meta_archs():
    return [str(SPACE[i]) for i in range(len(SPACE))]


def expected(index, key):
    ds, kind = key.rsplit("_", 1)
    run, sset = {("cifar10", "val"): ("cifar10-valid", "x-valid"), ("cifar10", "test"): ("cifar10", "ori-test"),
                 ("cifar100", "val"): ("cifar100", "x-valid"), ("cifar100", "test"): ("cifar100", "x-test"),
                 ("imagenet16_120", "val"): ("ImageNet16-120", "x-valid"),
                 ("imagenet16_120", "test"): ("ImageNet16-120", "x-test")}[(ds, kind)]
    vals = [f[sset] for (r, _), f in RESULTS[index].items() if r == run]
    return sum(vals) / len(vals)


def write_pth(path, with_times, legacy=False):
    data = {"meta_archs": meta_archs(), "evaluated_indexes": sorted(RESULTS),
            "arch2infos": {i: {"less": less(i), "full": arch_results(i, r, EPOCHS, with_times, numpy_scalars=True)}
                           for i, r in RESULTS.items()}}
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)
    return path


def nats_entry(i, runs):
    return {"12": less(i), "200": arch_results(i, runs, EPOCHS, with_times=True)}


def write_pbz2(path, obj):
    with bz2.BZ2File(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def check_all(bench_by_ds, with_times=True):
    for ds, key in (("cifar10", "cifar10"), ("cifar100", "cifar100"), ("imagenet16-120", "imagenet16_120")):
        b = bench_by_ds(ds)
        for i in RESULTS:
            assert b.table.column(f"{key}_val")[i] == pytest.approx(expected(i, f"{key}_val"))
            assert b.table.column(f"{key}_test")[i] == pytest.approx(expected(i, f"{key}_test"))
        assert np.isnan(b.table.column(f"{key}_val")[1])  # not in the file
        if with_times:
            run = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}[ds]
            seeds = [s for (r, s) in RESULTS[6111] if r == run]
            want = np.mean([(EPOCH_SECONDS[run] + s / 1000) * EPOCHS for s in seeds])
            assert b.cost_column == f"{key}_train_time"
            assert b.table.column(b.cost_column)[6111] == pytest.approx(want)
        else:
            assert b.cost_column is None


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_pth_seed_mean_at_final_epoch(tmp_path, legacy):
    path = write_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", with_times=True, legacy=legacy)
    assert nb201.detect_format(path) == "pth"
    check_all(lambda ds: nb201.load(SPACE, ds, path=path))
    b = nb201.load(SPACE, "cifar10", path=path)
    assert b.table.meta["format"] == "pth" and b.table.meta["epoch"] == 200
    ev = BenchmarkLookup(SPACE, benchmark=b).evaluate([SPACE[6111]])[0]
    assert ev.values["val_acc"] == pytest.approx(91.60)
    assert ev.report["test_acc"] == pytest.approx((94.30 + 94.50 + 94.32) / 3)


def test_pth_v1_0_without_200_epoch_times_has_no_cost(tmp_path):
    path = write_pth(tmp_path / "NAS-Bench-201-v1_0-e61699.pth", with_times=False)
    check_all(lambda ds: nb201.load(SPACE, ds, path=path), with_times=False)


def test_nats_single_file(tmp_path):
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    write_pbz2(path, {"meta_archs": meta_archs(), "evaluated_indexes": set(RESULTS),
                      "arch2infos": {i: nats_entry(i, r) for i, r in RESULTS.items()}})
    assert nb201.detect_format(path) == "nats"
    check_all(lambda ds: nb201.load(SPACE, ds, path=path))


@pytest.mark.parametrize("with_meta", [True, False])
def test_nats_folder(tmp_path, with_meta):
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    if with_meta:
        write_pbz2(folder / "meta.pickle.pbz2", {"meta_archs": meta_archs()})
    for i, runs in RESULTS.items():
        write_pbz2(folder / f"{i:06d}.pickle.pbz2", nats_entry(i, runs))
    assert nb201.detect_format(folder) == "nats"
    check_all(lambda ds: nb201.load(SPACE, ds, path=folder))


def test_nats_full_archive_weights_are_skipped(tmp_path):
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-full"
    folder.mkdir()
    for i, runs in RESULTS.items():
        entry = nats_entry(i, runs)
        for rc in entry["200"]["all_results"].values():
            rc["net_state_dict"] = OrderedDict(w=torch.ones(3, 3), b=torch.zeros(3))
        write_pbz2(folder / f"{i:06d}.pickle.pbz2", entry)
    check_all(lambda ds: nb201.load(SPACE, ds, path=folder))


def naslib_run(final, with_times=True):
    curve = [final - (EPOCHS - 1 - e) * 0.05 for e in range(EPOCHS)]
    run = {"train_losses": [1.0] * EPOCHS, "eval_losses": [1.0] * EPOCHS, "train_acc1es": [50.0] * EPOCHS,
           "eval_acc1es": curve, "cost_info": {"flops": 15.6, "params": 0.13, "latency": 0.014, "train_time": 7.2}}
    if with_times:
        run["train_times"] = [7.5] * EPOCHS
        run["eval_times"] = [0.5] * EPOCHS
    return run


@pytest.mark.parametrize("keys", ["string", "op_tuple"])
def test_naslib_pickles(tmp_path, keys):
    def key(i):
        if keys == "string":
            return str(SPACE[i])
        # NASLib op tuple: edges (1->2, 1->3, 1->4, 2->3, 2->4, 3->4); ops skip, none, conv3, conv1, pool
        ours = SPACE[i].ops  # string order (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)
        to_naslib = {0: 1, 1: 0, 2: 3, 3: 2, 4: 4}
        return tuple(to_naslib[ours[p]] for p in (0, 1, 3, 2, 4, 5))

    files = {"cifar10": ("nb201_cifar10_full_training.pickle", "cifar10-valid", 91.25),
             "cifar100": ("nb201_cifar100_full_training.pickle", "cifar100", 71.0),
             "imagenet16-120": ("nb201_ImageNet16_full_training.pickle", "ImageNet16-120", 44.0)}
    for ds, (name, run, final) in files.items():
        data = {key(6111): {run: naslib_run(final)}, key(0): {run: naslib_run(final - 20)}}
        with open(tmp_path / name, "wb") as f:
            pickle.dump(data, f)
        b = nb201.load(SPACE, ds, path=tmp_path / name)
        col = official.COLUMN_KEY[ds]
        assert b.table.column(f"{col}_val")[6111] == pytest.approx(final)
        assert b.table.column(f"{col}_val")[0] == pytest.approx(final - 20)
        assert np.isnan(b.table.column(f"{col}_test")[6111])  # NASLib keeps no test curve
        assert b.table.column(b.cost_column)[6111] == pytest.approx(7.5 * EPOCHS)
        other = "cifar100" if ds != "cifar100" else "cifar10"
        with pytest.raises(DataError, match="no .* columns"):
            nb201.load(SPACE, other, path=tmp_path / name)


def test_op_tuple_matches_string_convention():
    # PROVENANCE of the shared data: string = |e0~0|+|e1~0|e3~1|+|e2~0|e4~1|e5~2|
    assert official._naslib_arch((2, 0, 1, 3, 4, 1), "x") == \
        "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|none~2|"


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_truncated_pth_is_one_clear_error(tmp_path, legacy):
    path = write_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", with_times=True, legacy=legacy)
    _truncate(path)
    with pytest.raises(DataError) as e:
        nb201.load(SPACE, "cifar10", path=path, use_cache=False)
    assert str(path) in str(e.value) and "re-download" in str(e.value)


def test_truncated_pickles_are_one_clear_error(tmp_path):
    nats = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    write_pbz2(nats, {"meta_archs": meta_archs(), "arch2infos": {i: nats_entry(i, r) for i, r in RESULTS.items()}})
    naslib = tmp_path / "nb201_cifar10_full_training.pickle"
    naslib.write_bytes(pickle.dumps({str(SPACE[0]): {"cifar10-valid": naslib_run(90.0)}}))
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    for i, runs in RESULTS.items():
        write_pbz2(folder / f"{i:06d}.pickle.pbz2", nats_entry(i, runs))
    broken = folder / "006111.pickle.pbz2"
    for path, named in ((nats, nats), (naslib, naslib), (folder, broken)):
        _truncate(named, 0.6)
        with pytest.raises(DataError) as e:
            nb201.load(SPACE, "cifar10", path=path, use_cache=False)
        assert str(named) in str(e.value) and "re-download" in str(e.value)


def test_pickle_with_foreign_objects_is_refused(tmp_path):
    path = tmp_path / "nb201_cifar10_full_training.pickle"
    path.write_bytes(pickle.dumps({str(SPACE[0]): {"cifar10-valid": naslib_run(90.0)}, "x": {"y": print}}))
    with pytest.raises(DataError, match="builtins.print.*NASFRAME_TRUST_PICKLES"):
        nb201.load(SPACE, "cifar10", path=path, use_cache=False)


def test_wrong_layouts_are_clear_errors(tmp_path):
    pth = tmp_path / "transnas-bench_v10141024.pth"
    torch.save({"micro": {}, "macro": {}}, pth)
    with pytest.raises(DataError, match="arch2infos"):
        nb201.load(SPACE, "cifar10", path=pth, use_cache=False)
    pkl = tmp_path / "something.pickle"
    pkl.write_bytes(pickle.dumps({"not an arch": {"cifar10-valid": {}}}))
    with pytest.raises(DataError, match="neither an NB201 string nor a NASLib op tuple"):
        nb201.load(SPACE, "cifar10", path=pkl, use_cache=False)


def test_official_names_are_found_under_a_data_root(tmp_path):
    folder = tmp_path / "nasbench201"
    folder.mkdir()
    write_pth(folder / "NAS-Bench-201-v1_0-e61699.pth", with_times=False)
    b = nb201.load(SPACE, "cifar100", root=tmp_path)
    assert b.table.meta["source"].endswith("NAS-Bench-201-v1_0-e61699.pth")
    assert b.table.column("cifar100_test")[0] == pytest.approx(52.0)
    # second load comes from the cache, with the same values
    again = nb201.load(SPACE, "cifar100", root=tmp_path)
    np.testing.assert_array_equal(again.table.column("cifar100_val"), b.table.column("cifar100_val"))


def test_trusted_mode_reads_the_same_values(tmp_path, monkeypatch):
    path = write_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", with_times=True)
    safe = nb201.load(SPACE, "cifar100", path=path, use_cache=False).table
    monkeypatch.setenv("NASFRAME_TRUST_PICKLES", "1")  # torch.load / pickle.load without the allow-list
    trusted = nb201.load(SPACE, "cifar100", path=path, use_cache=False).table
    for col in safe.columns:
        np.testing.assert_array_equal(safe.column(col), trusted.column(col))
