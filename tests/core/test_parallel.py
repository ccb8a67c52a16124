"""fork_map: results in job order whatever the worker count, this process runs its share through
``local``, and a worker that fails or dies makes the call raise instead of hanging or losing jobs."""
import os

import pytest

from nasframe.core import parallel
from nasframe.core.parallel import fork_map, worker_count
from nasframe.errors import ConfigError

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="forked workers need Linux")


def square_with_pid(job):
    return job * job, os.getpid()


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_results_come_back_in_job_order(workers):
    jobs = list(range(7))
    seen_locally = []

    def local(job):
        seen_locally.append(job)
        return square_with_pid(job)

    out = fork_map(square_with_pid, jobs, workers, local=local)
    assert [r for r, _ in out] == [j * j for j in jobs]
    assert seen_locally == jobs[::workers]  # worker 0 is this process
    pids = {pid for _, pid in out}
    assert len(pids) == min(workers, len(jobs))
    assert {pid for (_, pid), j in zip(out, jobs) if j in seen_locally} == {os.getpid()}


def test_a_worker_that_raises_fails_the_call():
    def fn(job):
        if job == 1:
            raise ValueError("bad job 1")
        return job

    with pytest.raises(RuntimeError, match="ValueError: bad job 1"):
        fork_map(fn, [0, 1, 2, 3], 2)


def test_a_worker_that_dies_fails_the_call():
    def fn(job):
        if job == 1:
            os._exit(3)  # as if killed: no result, no exception to report
        return job

    with pytest.raises(RuntimeError, match="died"):
        fork_map(fn, [0, 1], 2)


def test_worker_counts(monkeypatch):
    assert worker_count(3, 4, "w") == 3
    assert worker_count(9, 4, "w") == 4
    assert 1 <= worker_count("auto", 4, "w") <= 4
    for bad in (0, -1, "many", True, 1.5):
        with pytest.raises(ConfigError, match="positive integer or auto"):
            worker_count(bad, 4, "w")
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    assert worker_count("auto", 4, "w") == 1
    assert worker_count(1, 4, "w") == 1
    with pytest.raises(ConfigError, match="only Linux"):
        worker_count(2, 4, "w")
