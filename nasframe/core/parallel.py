"""Spreading independent jobs over processes forked from this one.

Forking shares everything already in memory (a fitted predictor, a space, its
tables) without pickling it; only each job's result travels back. A job list is
split the same way whatever the worker count, so results never depend on it.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence

from nasframe.errors import ConfigError


def can_fork() -> bool:
    """Forking is safe here: Linux (macOS's system libraries are not fork-safe; Windows cannot fork)."""
    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # respects taskset / container CPU sets
    except AttributeError:
        return os.cpu_count() or 1


def worker_count(setting, cap: int, what: str) -> int:
    """``setting`` (a positive integer, or ``auto``: the usable cores where forking is safe, else 1),
    at most ``cap``."""
    if setting == "auto":
        return max(1, min(cap, usable_cores())) if can_fork() else 1
    if isinstance(setting, bool) or not str(setting).isdigit() or int(setting) < 1:
        raise ConfigError(f"{what} must be a positive integer or auto, got {setting!r}")
    n = min(int(setting), cap)
    if n > 1 and not can_fork():
        raise ConfigError(f"{what}={setting} needs forked processes, which only Linux offers here; use {what}=1")
    return n


def fork_map(fn: Callable, jobs: Sequence, workers: int, local: Callable | None = None) -> list:
    """``[fn(job) for job in jobs]``, with ``jobs[i::workers]`` run by worker ``i``.

    Worker 0 is this process (it runs ``local(job)`` instead when given, e.g. the
    same call with a progress bar); the others are forked and send their results
    back through a pipe. A worker that dies or raises makes the whole call raise.
    """
    local = local or fn
    workers = max(1, min(int(workers), len(jobs)))
    if workers == 1:
        return [local(job) for job in jobs]
    ctx = mp.get_context("fork")
    children = []
    for w in range(1, workers):
        reader, writer = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_child, args=(fn, jobs, w, workers, reader, writer), daemon=True)
        p.start()
        writer.close()  # the child holds the only write end: its exit ends our read
        children.append((w, p, reader))
    results: dict[int, object] = {}
    try:
        for i in range(0, len(jobs), workers):
            results[i] = local(jobs[i])
        for w, p, reader in children:
            try:
                ok, payload = reader.recv()
            except EOFError:
                p.join()
                raise RuntimeError(f"a forked worker died (exit code {p.exitcode}) before returning its jobs")
            if not ok:
                raise RuntimeError(f"a forked worker failed: {payload}")
            results.update(zip(range(w, len(jobs), workers), payload))
    finally:
        for _, p, reader in children:
            reader.close()
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    return [results[i] for i in range(len(jobs))]


def _child(fn, jobs, w, workers, reader, writer) -> None:
    reader.close()  # if the parent dies, our send fails instead of waiting for a reader forever
    try:
        payload = (True, [fn(jobs[i]) for i in range(w, len(jobs), workers)])
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        payload = (False, f"{type(e).__name__}: {e}")
    writer.send(payload)
    writer.close()
