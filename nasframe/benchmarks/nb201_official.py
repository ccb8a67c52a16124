"""The official NAS-Bench-201 file formats, read into the NB201 table.

Three layouts are read (facts from the NB201 / NATS-Bench APIs and NASLib):

``pth``
    ``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth``: a
    torch-saved dict ``{'meta_archs': [arch string per index], 'arch2infos':
    {index: {'less': ArchResults, 'full': ArchResults}}, 'evaluated_indexes':
    [...]}``; ``'full'`` holds the 200-epoch schedule.
``nats``
    NATS-Bench topology (``NATS-tss-v1_0-3ffb9``): either one bz2 pickle
    ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` holding the same dict with
    ``arch2infos = {index: {'12': ArchResults, '200': ArchResults}}``, or a
    folder (``-simple`` / ``-full``) with ``meta.pickle.pbz2`` (``meta_archs``)
    and one ``{index:06d}.pickle.pbz2`` per architecture (``{'12': ..., '200': ...}``).
``naslib``
    NASLib's ``nb201_<dataset>_full_training.pickle``: ``{arch: {run:
    {'eval_acc1es': [one value per epoch], 'train_times': [...], 'cost_info':
    {...}, ...}}}`` where ``arch`` is the official string or NASLib's op tuple.

An ``ArchResults`` state dict holds ``all_results = {(run, seed): ResultsCount}``;
a ``ResultsCount`` state dict holds ``epochs``, ``eval_acc1es = {'<set>@<epoch>':
accuracy}`` and ``train_times = {epoch: seconds}`` (None where not recorded).

What the table holds (``pth`` / ``nats``): the 200-epoch schedule, values at
the final epoch (index 199), **averaged over every seed the file has** for that
run (NB201: up to three seeds, 777/888/999):

* ``cifar10_val``: run ``cifar10-valid`` (trained on 25k images), set ``x-valid``;
  ``cifar10_test``: run ``cifar10`` (trained on 50k), set ``ori-test``.
* ``cifar100_val`` / ``cifar100_test`` and ``imagenet16_120_val`` / ``_test``:
  that dataset's run, sets ``x-valid`` / ``x-test`` (the official split).
* ``<d>_train_time``: seconds to train the validation run for all 200 epochs
  (sum of its per-epoch times), seed-averaged; present only when the file
  records times for every architecture (the v1_0 ``.pth`` has no 200-epoch
  times, so it has no cost column).

Learning curves (for multi-fidelity search and the NATS-Bench protocol): per dataset and schedule
(``"12"``: NB201's 12-epoch schedule, ``'less'`` in a ``.pth``, ``'12'`` in NATS-Bench; ``"200"``),
``<d>_val_curve@<schedule>`` holds the validation accuracy after every epoch for every seed of the
validation run (architectures × seeds × epochs, NaN where a seed is missing, seeds in ascending
order), and ``<d>_time_curve@<schedule>`` the recorded seconds to reach that epoch: the summed
per-epoch training times plus that epoch's validation time, which is what NATS-Bench's
``simulate_train_eval`` charges (``train-all-time + valid-per-time``).

NASLib pickles hold one learning curve per run (one seed, as NASLib built
them): ``<d>_val`` is its last entry (epoch 200) of ``cifar10-valid`` /
``cifar100`` / ``ImageNet16-120``; the file has no separate test curve, so
``<d>_test`` is NaN unless a ``cifar10`` run is present (its last entry is
then the CIFAR-10 test accuracy).

Pickles, and the pickle inside a ``.pth``, are read with an allow-list
(containers, numbers, numpy scalars) by the C unpickler, without torch;
trained weights inside a ``-full`` archive are skipped, never rebuilt. A file
that needs anything else is refused with a clear error; set
``NASFRAME_TRUST_PICKLES=1`` to read such a file you trust without the allow-list.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from nasframe.benchmarks.safe_load import load_pickle, load_torch_file
from nasframe.benchmarks.table import BenchmarkTable
from nasframe.errors import ArchitectureError, DataError
from nasframe.spaces.nb201 import NB201Space

# our dataset -> (run, set) for the validation and the test column
SPLITS = {
    "cifar10": (("cifar10-valid", "x-valid"), ("cifar10", "ori-test")),
    "cifar100": (("cifar100", "x-valid"), ("cifar100", "x-test")),
    "imagenet16-120": (("ImageNet16-120", "x-valid"), ("ImageNet16-120", "x-test")),
}
COLUMN_KEY = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet16_120"}
EPOCHS = 200
PTH_HP, NATS_HP = "full", "200"  # where the 200-epoch results live in each layout
# schedule name -> key of its results in each layout
SCHEDULES = {"pth": {"12": "less", "200": "full"}, "nats": {"12": "12", "200": "200"}}

PTH_FILES = ("NAS-Bench-201-v1_1-096897.pth", "NAS-Bench-201-v1_0-e61699.pth")
NATS_FILES = ("NATS-tss-v1_0-3ffb9.pickle.pbz2", "NATS-tss-v1_0-3ffb9-simple", "NATS-tss-v1_0-3ffb9-full")
NASLIB_FILES = {"cifar10": "nb201_cifar10_full_training.pickle",
                "cifar100": "nb201_cifar100_full_training.pickle",
                "imagenet16-120": "nb201_ImageNet16_full_training.pickle"}
NATS_META = ("meta.pickle.pbz2", "meta.pickle")
_ARCH_FILE = re.compile(r"^(\d+)\.pickle(\.pbz2)?$")


def file_names(dataset: str) -> list[str]:
    """Official names to look for under a data root, preferred first: NATS-Bench (the maintained
    successor, same 200-epoch results), NB201 v1_1, v1_0, then NASLib's per-dataset pickle."""
    names = [*NATS_FILES, *PTH_FILES]
    if dataset in NASLIB_FILES:
        names.append(NASLIB_FILES[dataset])
    return names


def detect_format(path) -> str | None:
    path = Path(path)
    if path.is_dir():
        if any((path / m).exists() for m in NATS_META) or any(_arch_files(path)):
            return "nats"
        return None
    name = path.name.lower()
    if name.endswith(".pth"):
        return "pth"
    if name.endswith(".pbz2") or name.startswith("nats-tss"):
        return "nats"
    if name.endswith((".pickle", ".pkl")):
        return "naslib"
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return None
    if magic.startswith(b"PK\x03\x04"):
        return "pth"  # torch's zip serialization
    if magic.startswith(b"BZh"):
        return "nats"
    return None


# ---------------------------------------------------------------- readers


def read_pth(space, path: Path) -> BenchmarkTable:
    data = load_torch_file(path)
    return _from_benchmark_dict(space, data, path, PTH_HP, "pth")


def read_nats(space, path: Path) -> BenchmarkTable:
    if path.is_dir():
        return _from_nats_folder(space, path)
    return _from_benchmark_dict(space, load_pickle(path), path, NATS_HP, "nats")


def read_naslib(space, path: Path) -> BenchmarkTable:
    data = load_pickle(path)
    if isinstance(data, dict) and "arch2infos" in data:  # a NATS dict saved without compression
        return _from_benchmark_dict(space, data, path, NATS_HP, "nats")
    if isinstance(data, dict) and set(data) == {"nb201_data"}:  # NASLib's dataset_api wrapper
        data = data["nb201_data"]
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path} is not a NASLib NB201 pickle: expected a dict keyed by architecture, "
                        f"got {type(data).__name__}; use nb201_<dataset>_full_training.pickle from NASLib")
    builder = _TableBuilder(space, path, "naslib")
    for key, runs in data.items():
        index = builder.index(_naslib_arch(key, path))
        if not isinstance(runs, dict):
            raise DataError(f"{path}: the entry for {key!r} is a {type(runs).__name__}, not a dict of runs; "
                            "the file is not a NASLib NB201 pickle")
        builder.put(index, _naslib_values(runs))
    return builder.table(meta={"epoch": EPOCHS, "seeds": "one learning curve per run (NASLib)",
                               "test": "only where the file has a separate test run (cifar10)"})


READERS = {"pth": read_pth, "nats": read_nats, "naslib": read_naslib}


# ---------------------------------------------------------------- interpretation


class _TableBuilder:
    def __init__(self, space, path: Path, fmt: str):
        self.space, self.path, self.fmt = space, path, fmt
        self.values: dict[str, np.ndarray] = {}
        self.seen = np.zeros(len(space), dtype=bool)
        self.curves: dict[str, dict[int, np.ndarray]] = {}  # column -> index -> seeds × epochs

    def index(self, arch_str) -> int:
        try:
            return self.space.index(self.space.parse(arch_str))
        except Exception as e:
            raise DataError(f"{self.path}: architecture {arch_str!r} is not an NB201 cell ({e}); "
                            "the file is not an NB201 benchmark") from None


    def put(self, index: int, values: dict, curves: dict | None = None) -> None:
        self.seen[index] = True
        for col, v in values.items():
            if col not in self.values:
                self.values[col] = np.full(len(self.space), np.nan)
            self.values[col][index] = v
        for col, arr in (curves or {}).items():
            self.curves.setdefault(col, {})[index] = arr

    def curve_columns(self) -> dict:
        """Per-architecture curves stacked to architectures × seeds × epochs (float32: 200 epochs of
        three seeds for 15,625 cells is 37 MB a column), NaN-padded."""
        out = {}
        for col, by_index in self.curves.items():
            seeds = max(a.shape[0] for a in by_index.values())
            epochs = max(a.shape[1] for a in by_index.values())
            if seeds == 0 or epochs == 0:
                continue
            stacked = np.full((len(self.space), seeds, epochs), np.nan, dtype=np.float32)
            for i, a in by_index.items():
                stacked[i, :a.shape[0], :a.shape[1]] = a
            if not np.isnan(stacked).all():
                out[col] = stacked
        return out

    def table(self, meta: dict) -> BenchmarkTable:
        if not self.seen.any():
            raise DataError(f"{self.path} holds no architectures; the file is empty or truncated")
        cols, dropped = {}, []
        for col, arr in sorted(self.values.items()):
            val = self.values.get(col.rsplit("_", 1)[0] + "_val") if col.endswith("_test") else arr
            if np.isnan(val).all():
                continue  # a dataset or a time the file does not have (a test column stays with its val column)
            if col.endswith("_train_time"):
                val = self.values.get(col.replace("_train_time", "_val"))
                # a cost column with holes would make simulated time meaningless: all or nothing
                if val is not None and np.isnan(arr[~np.isnan(val)]).any():
                    dropped.append(col)
                    continue
            cols[col] = arr
        if not any(c.endswith("_val") for c in cols):
            raise DataError(f"{self.path} has no final-epoch validation accuracies for any NB201 dataset; "
                            "it is not a 200-epoch NB201 benchmark file")
        meta = dict(meta, format=self.fmt, rows=int(self.seen.sum()))
        if dropped:
            meta["incomplete_times_dropped"] = dropped
        curves = self.curve_columns()
        if curves:
            meta["curves"] = sorted(curves)
        return BenchmarkTable("nb201", len(self.space), {**cols, **curves}, meta)


def _from_benchmark_dict(space, data, path: Path, hp: str, fmt: str) -> BenchmarkTable:
    if not isinstance(data, dict) or "arch2infos" not in data:
        keys = ", ".join(map(str, list(data)[:6])) if isinstance(data, dict) else type(data).__name__
        raise DataError(f"{path} is not an NB201/NATS benchmark file: it has no 'arch2infos' (found: {keys})")
    meta_archs = data.get("meta_archs") or []
    builder = _TableBuilder(space, path, fmt)
    for idx, by_hp in data["arch2infos"].items():
        archres = _pick_hp(by_hp, hp, path, idx)
        builder.put(builder.index(_arch_string(meta_archs, idx, archres, path)), _arch_values(archres, path),
                    _schedule_curves(by_hp, SCHEDULES[fmt], path))
    return builder.table(meta={"epoch": EPOCHS, "seeds": "mean over all seeds in the file", "hp": hp})


def _from_nats_folder(space, folder: Path) -> BenchmarkTable:
    from tqdm import tqdm

    meta_file = next((folder / m for m in NATS_META if (folder / m).exists()), None)
    meta_archs = (load_pickle(meta_file) or {}).get("meta_archs", []) if meta_file else []
    files = sorted(_arch_files(folder))
    if not files:
        raise DataError(f"{folder} has no per-architecture files (000000.pickle.pbz2, ...); "
                        "extract the complete NATS-tss-v1_0-3ffb9-simple archive there")
    builder = _TableBuilder(space, folder, "nats")
    for idx, f in tqdm(files, desc=f"reading {folder.name}", unit="arch", disable=None):
        by_hp = load_pickle(f)
        archres = _pick_hp(by_hp, NATS_HP, f, idx)
        builder.put(builder.index(_arch_string(meta_archs, idx, archres, f)), _arch_values(archres, f),
                    _schedule_curves(by_hp, SCHEDULES["nats"], f))
    return builder.table(meta={"epoch": EPOCHS, "seeds": "mean over all seeds in the file", "hp": NATS_HP})


def _arch_files(folder: Path):
    for f in folder.iterdir():
        m = _ARCH_FILE.match(f.name)
        if m:
            yield int(m.group(1)), f


def _pick_hp(by_hp, hp: str, path, idx) -> dict:
    if not isinstance(by_hp, dict) or hp not in by_hp:
        have = ", ".join(map(str, by_hp)) if isinstance(by_hp, dict) else type(by_hp).__name__
        raise DataError(f"{path}: architecture {idx} has no '{hp}' (200-epoch) results (has: {have}); "
                        "the file is not a complete NB201/NATS topology benchmark")
    return by_hp[hp]


def _arch_string(meta_archs, idx, archres, path) -> str:
    if isinstance(idx, int) and 0 <= idx < len(meta_archs):
        return meta_archs[idx]
    if isinstance(archres, dict) and isinstance(archres.get("arch_str"), str):
        return archres["arch_str"]
    raise DataError(f"{path}: architecture {idx} has no architecture string (no meta_archs entry, no arch_str)")


def _arch_values(archres, path) -> dict:
    """Seed-averaged final-epoch values of one ArchResults state dict."""
    try:
        runs = defaultdict(list)
        for (run, _seed), result in archres["all_results"].items():
            runs[run].append(result)
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path}: an architecture entry has no all_results {{(dataset, seed): ...}}; "
                        "the file is not in the NB201/NATS layout") from None
    out = {}
    for ds, ((vrun, vset), (trun, tset)) in SPLITS.items():
        key = COLUMN_KEY[ds]
        out[f"{key}_val"] = _mean(_final_acc(r, vset) for r in runs.get(vrun, ()))
        out[f"{key}_test"] = _mean(_final_acc(r, tset) for r in runs.get(trun, ()))
        out[f"{key}_train_time"] = _mean(_train_seconds(r) for r in runs.get(vrun, ()))
    return out


def _schedule_curves(by_hp: dict, keys: dict, path) -> dict:
    """``<d>_val_curve@<schedule>`` / ``<d>_time_curve@<schedule>``: seeds × epochs arrays of one architecture."""
    out = {}
    for schedule, hp in keys.items():
        archres = by_hp.get(hp)
        if not isinstance(archres, dict) or not isinstance(archres.get("all_results"), dict):
            continue  # e.g. a file without the 12-epoch schedule
        for ds, ((vrun, vset), _) in SPLITS.items():
            runs = sorted(((seed, r) for (run, seed), r in archres["all_results"].items() if run == vrun),
                          key=lambda x: x[0])
            if not runs:
                continue
            val = np.array([_acc_curve(r, vset) for _, r in runs], dtype=np.float64)
            time = np.array([_time_curve(r, vset) for _, r in runs], dtype=np.float64)
            key = COLUMN_KEY[ds]
            out[f"{key}_val_curve@{schedule}"], out[f"{key}_time_curve@{schedule}"] = val, time
    return out


def _epochs_of(result: dict) -> int:
    return int(result.get("epochs") or EPOCHS)


def _acc_curve(result: dict, set_name: str) -> list[float]:
    accs = result.get("eval_acc1es") or {}
    return [_number(accs.get(f"{set_name}@{e}")) for e in range(_epochs_of(result))]


def _time_curve(result: dict, set_name: str) -> list[float]:
    """Seconds to reach each epoch: summed training times plus that epoch's validation time."""
    epochs = _epochs_of(result)
    times = result.get("train_times")
    per_epoch = list(times.values()) if isinstance(times, dict) else list(times or [])
    if len(per_epoch) < epochs:
        return [math.nan] * epochs
    train = np.cumsum([_number(v) for v in per_epoch[:epochs]])
    evals = result.get("eval_times") or {}
    valid = [_number(evals.get(f"{set_name}@{e}")) for e in range(epochs)]
    return [float(train[e]) + (0.0 if math.isnan(v) else v) for e, v in enumerate(valid)]


def _final_acc(result: dict, set_name: str) -> float:
    epochs = int(result.get("epochs") or EPOCHS)
    return _number((result.get("eval_acc1es") or {}).get(f"{set_name}@{epochs - 1}"))


def _train_seconds(result: dict) -> float:
    times = result.get("train_times")
    if not times:
        return math.nan
    values = list(times.values()) if isinstance(times, dict) else list(times)
    epochs = int(result.get("epochs") or len(values))
    if len(values) < epochs:
        return math.nan
    return float(sum(_number(v) for v in values[:epochs]))


def _naslib_values(runs: dict) -> dict:
    out = {}
    for ds, ((vrun, vset), (trun, tset)) in SPLITS.items():
        key = COLUMN_KEY[ds]
        val_run = runs.get(vrun)
        out[f"{key}_val"] = _curve_last(val_run, vset)
        # NASLib keeps one curve per run: a test value exists only as a separate test run
        out[f"{key}_test"] = _curve_last(runs.get(trun), tset) if trun != vrun or _is_set_keyed(val_run) else math.nan
        out[f"{key}_train_time"] = _curve_time(val_run)
    return out


def _is_set_keyed(run) -> bool:
    return isinstance(run, dict) and isinstance(run.get("eval_acc1es"), dict)


def _curve_last(run, set_name: str) -> float:
    if not isinstance(run, dict):
        return math.nan
    accs = run.get("eval_acc1es")
    if isinstance(accs, dict):  # the original '<set>@<epoch>' keys
        epochs = int(run.get("epochs") or EPOCHS)
        return _number(accs.get(f"{set_name}@{epochs - 1}"))
    if isinstance(accs, (list, tuple)) and accs:
        return _number(accs[-1])
    return math.nan


def _curve_time(run) -> float:
    if not isinstance(run, dict):
        return math.nan
    return _train_seconds({"train_times": run.get("train_times"), "epochs": run.get("epochs")})


def _naslib_arch(key, path) -> str:
    if isinstance(key, str) and key.startswith("|"):
        return key
    try:
        return str(NB201Space.from_naslib(key))  # "(0, 1, 2, 3, 4, 0)" as NASLib's JSON files write it
    except ArchitectureError:
        raise DataError(f"{path}: key {key!r} is neither an NB201 string nor a NASLib op tuple of 6 ints in 0..4; "
                        "the file is not a NASLib NB201 pickle") from None


def _number(v) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _mean(values) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(sum(vals) / len(vals)) if vals else math.nan
