"""The report of a real shared study: its workers are one run, merged in the study's trial order."""
import subprocess
import sys

import pytest

from nasframe.analysis.aggregate import find_runs


@pytest.mark.slow
def test_three_workers_merge_close_to_the_optuna_trial_order(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'study.db'}"
    procs = [subprocess.Popen([sys.executable, "-m", "nasframe", "space=nb201", "evaluator=flops", "strategy=rea",
                               "progress=false", "plot=false", f"seed={i}", "budget.queries=45", f"storage={url}",
                               "study=r", f"hydra.run.dir={tmp_path / f'w{i}'}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    runs, _ = find_runs(tmp_path)
    assert len(runs) == 1 and len(runs[0].workers) == 3
    merged = runs[0].history()
    trials = sorted((t for t in optuna.load_study(study_name="r", storage=url).get_trials()
                     if t.state.name == "COMPLETE"), key=lambda t: t._trial_id)
    study_order = [(t.user_attrs["nasframe"]["worker"].rsplit("/", 1)[-1], t.user_attrs["nasframe"]["query"])
                   for t in trials]
    workers = [p.name for p in runs[0].workers]
    ours = [(workers[r["worker"]], sum(1 for q in merged[:i] if q["worker"] == r["worker"]))
            for i, r in enumerate(merged)]
    assert sorted(ours) == sorted(study_order)  # every query once, each worker's own order kept
    rank = {q: i for i, q in enumerate(study_order)}
    displacement = [abs(rank[q] - i) for i, q in enumerate(ours)]
    assert max(displacement) <= 3, displacement  # at most a few places off where nobody was told
    assert sum(d == 0 for d in displacement) >= 0.8 * len(ours)
