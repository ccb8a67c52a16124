"""One search shared by several worker processes through an Optuna RDB storage."""
import json
import os
import signal

import pytest
from conftest import history, run_worker, start_worker

BASE = ["space=nb201", "evaluator=flops", "progress=false", "plot=false"]


def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'study.db'}"


def run_workers(n, url, study, queries, tmp_path, strategy="random", env=None):
    procs, dirs = [], []
    for i in range(n):
        out = tmp_path / f"w{i}"
        dirs.append(out)
        procs.append(start_worker([*BASE, f"strategy={strategy}", f"seed={i}", f"budget.queries={queries}",
                                   f"storage={url}", f"study={study}", f"hydra.run.dir={out}"], env))
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    return dirs


def study_trials(url, study):
    import optuna

    s = optuna.load_study(study_name=study, storage=url)
    return s.get_trials(deepcopy=False)


def check_shared(url, study, dirs, queries):
    searched = [r for d in dirs for r in history(d)]
    archs = [r["arch"] for r in searched]
    assert len(archs) == queries, (len(archs), [len(history(d)) for d in dirs])  # none lost, none extra
    assert len(set(archs)) == queries  # none duplicated (random search never repeats itself)
    trials = study_trials(url, study)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(done) == queries
    assert sorted(t.user_attrs["nasframe"]["arch"] for t in done) == sorted(archs)
    # every worker saw the others' results (phase "shared") and none was evaluated twice
    for d in dirs:
        told = {r["arch"] for r in history(d, phase="shared")}
        own = {r["arch"] for r in history(d)}
        assert not told & own


@pytest.mark.slow
def test_four_workers_sqlite_small(tmp_path):
    url = sqlite_url(tmp_path)
    dirs = run_workers(4, url, "s", 40, tmp_path, env={"EVAL_SLEEP": "0.02"})
    check_shared(url, "s", dirs, 40)
    assert all(len(history(d)) > 0 for d in dirs)


@pytest.mark.slow
def test_four_workers_sqlite_200(tmp_path):
    url = sqlite_url(tmp_path)
    dirs = run_workers(4, url, "s200", 200, tmp_path)
    check_shared(url, "s200", dirs, 200)


@pytest.mark.slow
def test_four_workers_postgresql_200(postgres_url, tmp_path):
    dirs = run_workers(4, postgres_url, f"pg{os.getpid()}", 200, tmp_path)
    check_shared(postgres_url, f"pg{os.getpid()}", dirs, 200)


@pytest.mark.slow
def test_four_workers_postgresql_small(postgres_url, tmp_path):
    dirs = run_workers(4, postgres_url, f"pgs{os.getpid()}", 40, tmp_path, env={"EVAL_SLEEP": "0.02"})
    check_shared(postgres_url, f"pgs{os.getpid()}", dirs, 40)


def test_one_worker_equals_serial_run(tmp_path):
    # REA repeats some of its own children: those are charged and recorded exactly as serially
    args = [*BASE, "strategy=rea", "seed=5", "budget.queries=60"]
    serial = tmp_path / "serial"
    assert run_worker([*args, f"hydra.run.dir={serial}"]).returncode == 0
    shared = tmp_path / "shared"
    r = run_worker([*args, f"hydra.run.dir={shared}", f"storage={sqlite_url(tmp_path)}", "study=solo"])
    assert r.returncode == 0, r.stderr
    assert history(shared, phase=None) == history(serial, phase=None)
    assert any(r["repeat"] for r in history(serial))  # the check covers repeats
    assert json.loads((shared / "summary.json").read_text())["recommended"] == \
        json.loads((serial / "summary.json").read_text())["recommended"]


def test_crashed_worker_trial_is_failed_and_retried(tmp_path):
    """A worker killed mid-evaluation holds a running trial; its heartbeat stops, another worker
    marks it failed, takes over its budget slot, and the study still completes its budget."""
    url, study = sqlite_url(tmp_path), "crash"
    args = [*BASE, "strategy=random", "budget.queries=20", f"storage={url}", f"study={study}",
            "evaluator._target_=scale_toys.KillingFlops"]
    hb = {"NASFRAME_HEARTBEAT": "1"}
    a = run_worker([*args, "seed=1", f"hydra.run.dir={tmp_path / 'a'}"], {**hb, "KILL_EVAL": "4"})
    assert a.returncode == -signal.SIGKILL
    stuck = [t for t in study_trials(url, study) if t.state.name == "RUNNING"]
    assert len(stuck) == 1
    b = run_worker([*args, "seed=2", f"hydra.run.dir={tmp_path / 'b'}"], hb)
    assert b.returncode == 0, b.stderr
    trials = study_trials(url, study)
    assert [t.number for t in trials if t.state.name == "FAIL"] == [stuck[0].number]
    assert sum(t.state.name == "COMPLETE" for t in trials) == 20
    assert len(history(tmp_path / "a")) + len(history(tmp_path / "b")) == 20
    # the killed worker resumes into a finished study and stops at once, having lost nothing
    again = run_worker([*args, "seed=1", f"hydra.run.dir={tmp_path / 'a'}", "resume=true"], hb)
    assert again.returncode == 0, again.stderr
    assert len(history(tmp_path / "a")) == 3
    assert sum(t.state.name == "COMPLETE" for t in study_trials(url, study)) == 20


@pytest.mark.slow
def test_killed_worker_resumes_its_share(tmp_path):
    """Killed and resumed alone, a worker ends with the same history as if never killed."""
    url = sqlite_url(tmp_path)
    args = [*BASE, "strategy=rea", "seed=7", "budget.queries=30", "evaluator._target_=scale_toys.KillingFlops"]
    ref = tmp_path / "ref"
    assert run_worker([*args, f"hydra.run.dir={ref}", f"storage={url}", "study=ref"]).returncode == 0
    out = tmp_path / "run"
    shared = [f"hydra.run.dir={out}", f"storage={url}", "study=killed"]
    assert run_worker([*args, *shared], {"KILL_EVAL": "17"}).returncode == -signal.SIGKILL
    r = run_worker([*args, *shared, "resume=true"])
    assert r.returncode == 0, r.stderr
    assert history(out) == history(ref)
    trials = study_trials(url, "killed")
    assert sum(t.state.name == "COMPLETE" for t in trials) == 30
