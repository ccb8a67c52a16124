"""Asynchronous successive halving by workers sharing one study: claims on (architecture, fidelity),
promotions by the rule on what each worker knew, the study budget, a worker killed and resumed."""
import os
import signal
import time

import pytest
from asha_checks import check_promotions
from scale_toys import Curves
from conftest import history, run_worker, start_worker

BASE = ["space=nb201", "evaluator=flops", "evaluator._target_=scale_toys.Curves", "strategy=asha", "progress=false",
        "plot=false"]
FIDELITIES = [1, 3, 9]  # scale_toys.Curves: 9 epochs full, eta = 3


def worker_args(i, url, study, queries, out):
    return [*BASE, f"seed={i}", f"budget.queries={queries}", f"storage={url}", f"study={study}",
            f"hydra.run.dir={out}"]


def study_trials(url, study):
    import optuna

    return optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)


def check_study(url, study, dirs, queries) -> int:
    """The study's invariants; returns the number of promotions its workers made."""
    searched = [r for d in dirs for r in history(d)]
    keys = [(r["arch"], r["fidelity"]) for r in searched]
    assert len(keys) == queries, [len(history(d)) for d in dirs]  # the budget, exactly
    assert len(set(keys)) == queries  # no (architecture, fidelity) evaluated twice study-wide
    done = [t for t in study_trials(url, study) if t.state.name == "COMPLETE"]
    assert sorted((t.user_attrs["arch"], t.user_attrs["fidelity"]) for t in done) == sorted(keys)
    promotions = 0
    for d in dirs:
        lines = history(d, phase=None)
        promotions += check_promotions(lines, FIDELITIES)
        told = {(r["arch"], r["fidelity"]) for r in lines if r["phase"] == "shared"}
        assert not told & {(r["arch"], r["fidelity"]) for r in history(d)}  # told is never also evaluated
    return promotions


def run_together(n, url, study, queries, tmp_path, env=None):
    dirs = [tmp_path / f"w{i}" for i in range(n)]
    procs = [start_worker(worker_args(i, url, study, queries, d), env) for i, d in enumerate(dirs)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    return dirs


def test_two_workers_share_the_rungs_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    dirs = run_together(2, url, "asha", 30, tmp_path, env={"EVAL_SLEEP": "0.01"})
    assert check_study(url, "asha", dirs, 30) >= 5
    assert all(len(history(d)) > 0 and history(d, phase="shared") for d in dirs)  # both worked, both were told


@pytest.mark.slow
def test_three_workers_postgresql(postgres_url, tmp_path):
    study = f"asha{os.getpid()}"
    dirs = run_together(3, postgres_url, study, 60, tmp_path, env={"EVAL_SLEEP": "0.01"})
    assert check_study(postgres_url, study, dirs, 60) >= 10


@pytest.mark.slow
def test_one_worker_equals_the_serial_run(tmp_path):
    args = [*BASE, "seed=5", "budget.queries=40"]
    assert run_worker([*args, f"hydra.run.dir={tmp_path / 'serial'}"]).returncode == 0
    r = run_worker([*args, f"hydra.run.dir={tmp_path / 'shared'}", f"storage=sqlite:///{tmp_path / 's.db'}",
                    "study=solo"])
    assert r.returncode == 0, r.stderr
    assert history(tmp_path / "shared", phase=None) == history(tmp_path / "serial", phase=None)


@pytest.mark.slow
def test_a_worker_killed_mid_evaluation_resumes_and_nothing_is_lost_or_repeated(tmp_path):
    url, study, queries = f"sqlite:///{tmp_path / 'study.db'}", "killed", 60
    env = {"EVAL_SLEEP": "0.1", "NASFRAME_HEARTBEAT": "1"}
    a, b = tmp_path / "w0", tmp_path / "w1"
    other = start_worker(worker_args(1, url, study, queries, b), env)
    killed = run_worker(worker_args(0, url, study, queries, a), {**env, "KILL_EVAL": "8"})
    assert killed.returncode == -signal.SIGKILL
    before = history(a)
    assert len(before) == 7  # seven evaluations recorded, the eighth killed in the middle
    time.sleep(0.5)
    again = run_worker([*worker_args(0, url, study, queries, a), "resume=true"], env)
    assert again.returncode == 0, again.stderr
    _, err = other.communicate(timeout=600)
    assert other.returncode == 0, err[-3000:]
    after = history(a)
    assert after[:len(before)] == before and len(after) > len(before)  # kept all, then went on
    check_study(url, study, [a, b], queries)
    states = [t.state.name for t in study_trials(url, study)]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == queries  # only the killed query


class Killed(BaseException):
    """Stands in for kill -9 inside an evaluation (nothing may catch it)."""


class CrashingCurves(Curves):
    def __init__(self, space, crash_at=None):
        super().__init__(space)
        self.crash_at, self.evaluated = crash_at, 0

    def evaluate_at(self, archs, fidelity):
        if self.evaluated == self.crash_at:
            raise Killed
        self.evaluated += 1
        return super().evaluate_at(archs, fidelity)


def held_elsewhere(url, study, key):
    """Another worker, alive, holds the claim ``key`` and has not finished it."""
    import sqlalchemy as sa

    from nasframe.plugins.shared_study.tables import CLAIMS, WORKERS, create_tables, insert

    engine = sa.create_engine(url)
    create_tables(engine)
    assert insert(engine, CLAIMS, study=study, arch=key, owner="elsewhere")
    assert insert(engine, WORKERS, study=study, owner="elsewhere", beat=time.time() + 3600)
    engine.dispose()


def test_a_promotion_held_by_another_worker_is_skipped_and_skipped_again_on_resume(tmp_path):
    from nasframe.core.runner import Budget, Runner
    from nasframe.plugins.shared_study import SharedStudy
    from nasframe.plugins.shared_study.claims import claim_key
    from nasframe.spaces.nb201 import NB201Space
    from nasframe.strategies.asha import AsynchronousSuccessiveHalving

    space, queries = NB201Space(), 14

    def run(name, study=None, crash_at=None, resume=False):
        plugins = [SharedStudy(f"sqlite:///{tmp_path / 's.db'}", study)] if study else []
        return Runner(space, CrashingCurves(space, crash_at), AsynchronousSuccessiveHalving(), Budget(queries=queries),
                      tmp_path / name, seed=2, config={"x": 1}, resume=resume, plugins=plugins).run()

    def plain(rows):  # wall-clock time varies
        return [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]

    serial = plain(run("serial").history)
    first = next(i for i, r in enumerate(serial) if r["fidelity"] == 3)
    held = (serial[first]["arch"], 3)
    url = f"sqlite:///{tmp_path / 's.db'}"
    for study in ("whole", "cut"):
        held_elsewhere(url, study, claim_key(*held))
    whole = plain(run("whole", "whole").history)
    assert held not in {(r["arch"], r["fidelity"]) for r in whole}  # skipped, never evaluated here
    assert whole[:first] == serial[:first] and whole[first] != serial[first]
    with pytest.raises(Killed):
        run("cut", "cut", crash_at=first + 3)
    assert len(history(tmp_path / "cut")) == first + 3  # the skip is in the part a resume replays
    assert plain(run("cut", "cut", resume=True).history) == whole
    trial = next(t for t in study_trials(url, "cut") if t.user_attrs.get("nasframe", {}).get("query") == first)
    assert trial.user_attrs["skipped"] == [list(held)]
