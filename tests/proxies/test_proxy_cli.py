"""evaluator=zc and evaluator=eproxy from the command line: their top-level keys (``proxy``, ``eproxy``)
pass the config schema, and Eproxy's images=task without the task's files is one sentence, exit 2."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def nasframe(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k != "NASFRAME_DATA"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "nasframe", "progress=false", "plot=false", "budget.queries=2",
                           "strategy=random", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_zc_with_a_proxy_and_eproxy_with_a_genome_run_from_the_command_line(tmp_path):
    zc = nasframe(tmp_path, "evaluator=zc", "proxy=params")
    assert zc.returncode == 0, zc.stderr
    assert "params=" in zc.stdout
    ep = nasframe(tmp_path, "evaluator=eproxy", "eproxy.genome=base", "evaluator.iterations=1",
                  "evaluator.batch_size=2")
    assert ep.returncode == 0, ep.stderr
    assert "eproxy=" in ep.stdout


def test_eproxy_task_images_missing_is_one_sentence_and_exit_2(tmp_path):
    (tmp_path / "data").mkdir()
    r = nasframe(tmp_path, "evaluator=eproxy", "evaluator.images=task", "benchmark.dataset=imagenet16-120",
                 f"data.root={tmp_path / 'data'}")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "ImageNet16" in lines[0] and "evaluator.images=reference" in lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("history.jsonl"))
