"""Every benchmark file nasframe can read, where it comes from and how to check it.

Checksums are listed only where a published one is known; none of these
projects publishes a SHA-256, so every ``sha256`` here is ``None`` (unknown)
and the first verified download records it in the local manifest
(``<data root>/nasframe-manifest.json``), against which later downloads and
``verify`` are checked. Sizes are exact bytes where known, else ``None``;
``note`` quotes the approximate size its source states.

Google Drive is the only official host of most files. Drive answers large
files with a consent page unless ``confirm=t`` is passed; when it still sends
a web page (quota, moved file), the download stops with the page to use by hand.
"""
from __future__ import annotations

from dataclasses import dataclass

from nasframe.errors import ConfigError


def _drive(file_id: str) -> str:
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


def _drive_page(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view"


@dataclass(frozen=True)
class BenchmarkFile:
    name: str  # registry name used on the command line
    benchmark: str  # folder under the data root (as in shared/data)
    filename: str  # official file name
    url: str | None  # direct download, None where only a page/folder exists
    page: str  # where a person gets it by hand
    size: int | None = None  # bytes, None = unknown
    sha256: str | None = None  # None = unknown (recorded on first verified download)
    space: str | None = None  # nasframe space whose loader reads it (for convert)
    dataset: str | None = None  # dataset/task convert builds first
    extract_to: str | None = None  # a .tar: folder its content is unpacked into
    note: str = ""

    def describe_size(self) -> str:
        return f"{self.size:,} B" if self.size else "unknown"


FILES = (
    BenchmarkFile("nb201-v1_0", "nasbench201", "NAS-Bench-201-v1_0-e61699.pth",
                  _drive("1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs"), _drive_page("1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs"),
                  space="nb201", dataset="cifar10",
                  note="NB201 v1.0, ~2.2 GB (NB201 README); no 200-epoch training times"),
    BenchmarkFile("nb201-v1_1", "nasbench201", "NAS-Bench-201-v1_1-096897.pth",
                  _drive("16Y0UwGisiouVRxW-W5hEtbxmcHw_0hF_"), _drive_page("16Y0UwGisiouVRxW-W5hEtbxmcHw_0hF_"),
                  space="nb201", dataset="cifar10", note="NB201 v1.1 (recommended by the authors), ~4.7 GB"),
    BenchmarkFile("nats-tss", "nasbench201", "NATS-tss-v1_0-3ffb9.pickle.pbz2",
                  _drive("1vzyK0UVH2D3fTpa1_dSWnp1gvGpAxRul"), _drive_page("1vzyK0UVH2D3fTpa1_dSWnp1gvGpAxRul"),
                  space="nb201", dataset="cifar10", note="NATS-Bench topology space, one bz2 pickle"),
    BenchmarkFile("nats-tss-simple", "nasbench201", "NATS-tss-v1_0-3ffb9-simple.tar",
                  _drive("17_saCsj_krKjlCBLOJEpNtzPXArMCqxU"), _drive_page("17_saCsj_krKjlCBLOJEpNtzPXArMCqxU"),
                  space="nb201", dataset="cifar10", extract_to="NATS-tss-v1_0-3ffb9-simple",
                  note="NATS-Bench topology archive: 15,625 per-architecture pickles (unpacked after download)"),
    BenchmarkFile("nats-tss-full", "nasbench201", "NATS-tss-v1_0-3ffb9-full", None,
                  "https://drive.google.com/drive/folders/17S2Xg_rVkUul4KuJdq0WaWoUuDbo8ZKB",
                  space="nb201", dataset="cifar10",
                  note="with trained weights, split into 30 GB chunks (join with cat); download by hand"),
    BenchmarkFile("naslib-nb201-cifar10", "nasbench201", "nb201_cifar10_full_training.pickle",
                  _drive("1sh8pEhdrgZ97-VFBVL94rI36gedExVgJ"), _drive_page("1sh8pEhdrgZ97-VFBVL94rI36gedExVgJ"),
                  space="nb201", dataset="cifar10", note="NASLib learning curves, cifar10-valid run"),
    BenchmarkFile("naslib-nb201-cifar100", "nasbench201", "nb201_cifar100_full_training.pickle",
                  _drive("1hV6-mCUKInIK1iqZ0jfBkcKaFmftlBtp"), _drive_page("1hV6-mCUKInIK1iqZ0jfBkcKaFmftlBtp"),
                  space="nb201", dataset="cifar100", note="NASLib learning curves"),
    BenchmarkFile("naslib-nb201-imagenet16-120", "nasbench201", "nb201_ImageNet16_full_training.pickle",
                  _drive("1FVCn54aQwD6X6NazaIZ_yjhj47mOGdIH"), _drive_page("1FVCn54aQwD6X6NazaIZ_yjhj47mOGdIH"),
                  space="nb201", dataset="imagenet16-120", note="NASLib learning curves"),
    BenchmarkFile("transnas", "transnasbench101", "transnas-bench_v10141024.pth", None,
                  "https://drive.google.com/drive/folders/1HlLr2ihZX_ZuV3lJX_4i7q4w-ZBdhJ6o",
                  space="transnas_micro", dataset="class_scene",
                  note="TransNAS-Bench-101 API file (also on the Noah's Ark VEGA datasets page); download by hand"),
    BenchmarkFile("nb101-only108", "nasbench101", "nasbench_only108.tfrecord",
                  "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord",
                  "https://github.com/google-research/nasbench", space="nb101", dataset="cifar10",
                  note="NAS-Bench-101, 108-epoch results, ~499 MB"),
    BenchmarkFile("naslib-nb101", "nasbench101", "nasbench_only108.pkl",
                  _drive("1oORtEmzyfG1GcnPHh0ijCs0gCHKEThNx"), _drive_page("1oORtEmzyfG1GcnPHh0ijCs0gCHKEThNx"),
                  space="nb101", dataset="cifar10", note="NASLib's pickle of nasbench_only108"),
)
REGISTRY = {f.name: f for f in FILES}


def entry(name: str) -> BenchmarkFile:
    """The registry entry called ``name``, or the one whose official file name is ``name``."""
    if name in REGISTRY:
        return REGISTRY[name]
    by_file = [f for f in FILES if name in (f.filename, f.extract_to)]
    if by_file:
        return by_file[0]
    raise ConfigError(f"unknown benchmark file '{name}'; known: {', '.join(REGISTRY)} "
                      "(python -m nasframe.data list shows them)")


def for_path(path) -> BenchmarkFile | None:
    """The entry whose official name matches a file or folder on disk, if any."""
    from pathlib import Path

    name = Path(path).name
    return next((f for f in FILES if name in (f.filename, f.extract_to)), None)
