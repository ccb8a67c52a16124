"""The compact table every benchmark loader produces.

One float64 array per metric column, indexed by the space's official index
(NaN where the source has no value), plus metadata: where it came from and
the SHA-256 of the source file. Tables are cached as ``.npz`` under
``$NASFRAME_CACHE`` (default ``~/.cache/nasframe``), keyed by the source's
checksum, so a changed or replaced file is never answered from a stale cache.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from nasframe.errors import DataError

TABLE_VERSION = 1


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def source_digest(path: Path) -> str:
    """SHA-256 of a source file, remembered per (path, size, mtime) so a multi-GB
    official file is hashed once, not at every load."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    if path.is_dir():  # a folder of per-architecture files: stamp its listing too
        files = sorted(f for f in path.rglob("*") if f.is_file())
        stamp += "|" + hashlib.sha256("".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
                                              for f in files).encode()).hexdigest()
    index_path = cache_dir() / "digests.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    if stamp in index:
        return index[stamp]
    digest = sha256_of(path)
    index[stamp] = digest
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = index_path.with_name(f".digests.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index))
        os.replace(tmp, index_path)
    except OSError:
        pass  # a read-only cache only costs speed
    return digest


def cache_dir() -> Path:
    return Path(os.environ.get("NASFRAME_CACHE", Path.home() / ".cache" / "nasframe"))


@dataclass
class BenchmarkTable:
    name: str
    size: int
    columns: dict = field(default_factory=dict)  # column -> float64 array of length size
    meta: dict = field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise DataError(f"benchmark table '{self.name}' ({self.meta.get('source', '?')}) has no column "
                            f"'{name}'; it has: {', '.join(sorted(self.columns))}")
        return self.columns[name]

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        meta = dict(self.meta, name=self.name, size=self.size, version=TABLE_VERSION)
        with open(tmp, "wb") as f:
            np.savez(f, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                     **{f"col:{k}": v for k, v in self.columns.items()})
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BenchmarkTable":
        try:
            with np.load(path) as z:
                meta = json.loads(z["__meta__"].tobytes().decode())
                cols = {k[4:]: z[k] for k in z.files if k.startswith("col:")}
        except Exception as e:
            raise DataError(f"cached table {path} is unreadable ({e}); delete it and it will be rebuilt") from None
        if meta.get("version") != TABLE_VERSION:
            raise DataError(f"cached table {path} has an old format; delete it and it will be rebuilt")
        return cls(name=meta.pop("name"), size=meta.pop("size"), columns=cols, meta=meta)


def cached(source: str | os.PathLike, kind: str, build: Callable[[], BenchmarkTable],
           use_cache: bool = True) -> BenchmarkTable:
    """Load the table built from ``source`` from the cache, or build and cache it.

    ``build`` turns the source file into a table; the cache key is the
    checksum of the source plus ``kind`` (which names loader and options).
    """
    source = Path(source)
    if not source.exists():
        raise DataError(f"benchmark file {source} does not exist")
    digest = source_digest(source)
    path = cache_dir() / f"{kind}-{digest[:20]}.npz"
    if use_cache and path.exists():
        try:
            table = BenchmarkTable.load(path)
            if table.meta.get("sha256") == digest:
                return table
        except DataError:
            pass  # rebuilt below
    table = build()
    table.meta.update(source=str(source), sha256=digest, kind=kind)
    if use_cache:
        try:
            table.save(path)
        except OSError:
            pass  # a read-only cache only costs speed
    return table


@contextmanager
def csv_rows(path, what: str, key: str = "arch_str"):
    """``(header, numbered rows)`` of a benchmark CSV whose rows are keyed by ``key``.

    A missing key column, bytes that are not text and malformed CSV are one
    ``DataError`` naming the file.
    """
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            if key not in header:
                raise DataError(f"{path} is not {what} table: it has no '{key}' column "
                                f"(columns: {', '.join(header[:8]) or 'none'})")
            yield header, enumerate(reader, start=2)
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path} is not a readable CSV file ({e}); re-download or re-export it") from None


def parse_float(text, where: str) -> float:
    """A CSV cell as a float (empty: NaN); anything else is a ``DataError`` saying where."""
    try:
        return float(text) if text not in ("", None) else np.nan
    except (TypeError, ValueError):
        raise DataError(f"{where}: '{text}' is not a number") from None
