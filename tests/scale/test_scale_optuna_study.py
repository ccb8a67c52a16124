"""A shared study is a real Optuna study: trials, parameters, values and states as Optuna's public
API, optuna.visualization and optuna-dashboard see them."""
import json
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import _free_port, history, run_worker, start_worker

from nasframe.spaces.nb201 import NB201Space

ARGS = ["space=nb201", "evaluator=flops", "evaluator._target_=scale_toys.Scores", "strategy=random",
        "progress=false", "plot=false", "budget.queries=30"]


@pytest.fixture(scope="module")
def two_worker_study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("optuna-study")
    url = f"sqlite:///{tmp / 'study.db'}"
    procs = [start_worker([*ARGS, f"seed={i}", f"storage={url}", "study=two", f"hydra.run.dir={tmp / f'w{i}'}"])
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    return url, [tmp / "w0", tmp / "w1"]


def test_two_worker_study_through_optunas_public_api(two_worker_study):
    import optuna

    url, dirs = two_worker_study
    study = optuna.load_study(study_name="two", storage=url)
    assert [d.name for d in study.directions] == ["MAXIMIZE"]
    trials = study.get_trials(deepcopy=False)
    recorded = {r["arch"]: r for d in dirs for r in history(d)}
    assert len(trials) == 30 and len(recorded) == 30  # one trial per query, none lost or doubled
    space = NB201Space()
    decisions = space.decisions()
    states = {}
    for t in trials:
        arch = t.user_attrs["arch"]
        rec = recorded[arch]
        ops = space.to_decisions(space.parse(arch))
        assert t.params == {d.name: d.options[i] for d, i in zip(decisions, ops)}  # the architecture as params
        assert t.user_attrs["nasframe"]["worker"].endswith(str(dirs[0] if rec in history(dirs[0]) else dirs[1]))
        if rec["failure"]:
            assert t.state.name == "FAIL" and t.values is None
        else:
            assert t.state.name == "COMPLETE" and t.values == [rec["values"]["score"]]
        states[t.state.name] = states.get(t.state.name, 0) + 1
    assert states.get("FAIL", 0) == sum(bool(r["failure"]) for r in recorded.values()) > 0
    assert study.best_value == max(r["values"]["score"] for r in recorded.values())


def test_optuna_visualization_plots_the_study(two_worker_study):
    pytest.importorskip("plotly")
    import optuna

    study = optuna.load_study(study_name="two", storage=two_worker_study[0])
    history_fig = optuna.visualization.plot_optimization_history(study)
    assert len(history_fig.data[0].y) == sum(t.state.name == "COMPLETE" for t in study.trials)
    coords = optuna.visualization.plot_parallel_coordinate(study)
    assert set(coords.layout.xaxis.ticktext) == {"Objective Value", *(d.name for d in NB201Space().decisions())}
    importances = optuna.visualization.plot_param_importances(study)
    assert set(importances.data[0].y) <= {d.name for d in NB201Space().decisions()} and importances.data[0].x


@pytest.mark.slow
def test_a_single_run_mirrored_into_a_study(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'one.db'}"
    r = run_worker([*ARGS, "seed=4", "budget.queries=12", f"storage={url}", "study=one",
                    f"hydra.run.dir={tmp_path / 'run'}"])
    assert r.returncode == 0, r.stderr
    trials = optuna.load_study(study_name="one", storage=url).trials
    assert [t.user_attrs["arch"] for t in trials] == [h["arch"] for h in history(tmp_path / "run")]


def test_optuna_dashboard_serves_the_study(two_worker_study):
    pytest.importorskip("optuna_dashboard")
    url = two_worker_study[0]
    port = _free_port()
    serve = "import sys, optuna_dashboard; optuna_dashboard.run_server(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]))"
    server = subprocess.Popen([sys.executable, "-c", serve, url, str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                studies = json.load(urllib.request.urlopen(f"{base}/api/studies", timeout=5))["study_summaries"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        else:
            pytest.fail("optuna-dashboard did not answer within 20 s")
        study = next(s for s in studies if s["study_name"] == "two")
        detail = json.load(urllib.request.urlopen(f"{base}/api/studies/{study['study_id']}", timeout=10))
        assert len(detail["trials"]) == 30
        assert {t["state"] for t in detail["trials"]} == {"Complete", "Fail"}
        assert all(t["params"] for t in detail["trials"])
    finally:
        server.terminate()
        server.wait(timeout=10)
