"""Computational graphs per (space, architecture, task), cached on disk.

Graphs live under ``$NASFRAME_CACHE/graphs/<space>-<task>-v<version>/`` as
pickle shards (one per flush, written atomically), so several processes can
fill one cache and a crashed build keeps what it finished.
"""
from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Sequence

import torch

from nasframe.graphs.extract import ComputeGraph, extract

log = logging.getLogger(__name__)
VERSION = 1  # bump when extraction changes: old caches are then ignored


def cache_root() -> Path:
    from nasframe.benchmarks.table import cache_dir

    return cache_dir() / "graphs"


def build_graph(space, arch, task: str | None = None) -> ComputeGraph:
    """Build the network on the meta device (no weights allocated) and extract its graph."""
    try:
        with torch.device("meta"):
            net = space.build(arch, task)
    except Exception:  # a builder that needs real tensors
        net = space.build(arch, task)
    return extract(net, tuple(space.input_shape(task)), name=str(arch))


def _build_chunk(args):
    space, archs, task = args
    return [build_graph(space, a, task) for a in archs]


class GraphCache:
    def __init__(self, space, task: str | None = None, root: str | os.PathLike | None = None):
        self.space, self.task = space, task
        self.dir = Path(root or cache_root()) / f"{space.name}-{task or 'default'}-v{VERSION}"
        self._graphs: dict[str, ComputeGraph] | None = None
        self._pending: dict[str, ComputeGraph] = {}

    @property
    def graphs(self) -> dict[str, ComputeGraph]:
        if self._graphs is None:
            self._graphs = {}
            for shard in sorted(self.dir.glob("*.pkl")):
                try:
                    with open(shard, "rb") as f:
                        self._graphs.update(pickle.load(f))
                except Exception as e:  # a damaged shard is rebuilt, not fatal
                    log.warning("ignoring unreadable graph cache shard %s (%s)", shard, e)
        return self._graphs

    def __contains__(self, arch) -> bool:
        return str(arch) in self.graphs

    def get(self, arch) -> ComputeGraph:
        key = str(arch)
        g = self.graphs.get(key)
        if g is None:
            g = self.graphs[key] = self._pending[key] = build_graph(self.space, arch, self.task)
            if len(self._pending) >= 500:
                self.flush()
        return g

    def many(self, archs: Sequence, progress: bool = True, workers: int = 1, chunk: int = 100) -> list[ComputeGraph]:
        """Graphs of ``archs`` (built where missing, ``workers`` processes, flushed every chunk)."""
        missing = list(dict.fromkeys(str(a) for a in archs if str(a) not in self.graphs))
        if missing:
            from tqdm import tqdm

            by_key = {str(a): a for a in archs}
            chunks = [[by_key[k] for k in missing[i:i + chunk]] for i in range(0, len(missing), chunk)]
            bar = tqdm(total=len(missing), desc=f"graphs {self.space.name}/{self.task or 'default'}",
                       disable=not progress, unit="net")
            jobs = [(self.space, c, self.task) for c in chunks]
            if workers > 1:
                import multiprocessing as mp

                with mp.get_context("fork").Pool(workers) as pool:
                    for built in pool.imap(_build_chunk, jobs):
                        self._add(built)
                        bar.update(len(built))
            else:
                for job in jobs:
                    built = _build_chunk(job)
                    self._add(built)
                    bar.update(len(built))
            bar.close()
        return [self.get(a) for a in archs]

    def _add(self, built: list[ComputeGraph]) -> None:
        for g in built:
            self.graphs[g.name] = self._pending[g.name] = g
        self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.dir.glob("*.pkl")))
        path = self.dir / f"shard-{os.getpid()}-{n:05d}-{len(self._pending)}.pkl"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(self._pending, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        self._pending = {}
