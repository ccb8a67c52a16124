"""The bad-input table: every input a user can get wrong gives one clear line, a non-zero exit
status and leaves nothing half-written. All cases run as real processes, concurrently."""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
QUICK = ["evaluator=flops", "budget.queries=3", "progress=false", "plot=false"]
NB201_HEADER = "nb201_index,arch_str,cifar10_valid_val_acc_naslib,cifar10_test_acc\n"
SHARED = Path(os.environ.get("NASFRAME_DATA") or REPO.parent / "shared" / "data")
GOOD_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO / "tests"),
                                                         os.environ.get("PYTHONPATH", "")])}


def run(module, args, timeout=300):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env(), capture_output=True,
                          text=True, timeout=timeout)


@dataclass
class Case:
    name: str
    args: Callable  # tmp folder -> (module, args); may prepare files first
    needles: tuple = ()
    exit: int = 2
    prepare: Callable | None = None  # tmp folder -> None, run before (may itself start a run)
    check: Callable | None = None  # (tmp folder, result) -> None, extra assertions
    marks: tuple = field(default_factory=tuple)


def out(tmp):
    return f"hydra.run.dir={tmp / 'run'}"


def csv_with(tmp, body, name="nb201_all_15625.csv"):
    p = tmp / name
    p.write_text(NB201_HEADER + body)
    return p


def _finished_study(tmp):
    r = run("nasframe", [*QUICK, f"storage=sqlite:///{tmp / 'db.sqlite'}", "study=s", f"hydra.run.dir={tmp / 'first'}"])
    assert r.returncode == 0, r.stderr


def _killed_run(tmp):
    r = subprocess.run([sys.executable, "-m", "nasframe", *QUICK, "budget.queries=20", "strategy._target_=toys.KillingREA",
                        out(tmp)], cwd=REPO, env={**env(), "KILL_AT": "5"}, capture_output=True, text=True, timeout=300)
    assert r.returncode == -9, r.stderr


def _recorded_then_changed(tmp):
    f = tmp / "bench" / "nasbench201" / "nb201_all_15625.csv"
    f.parent.mkdir(parents=True)
    f.write_text(NB201_HEADER + f"0,{GOOD_ARCH},90.1,93.2\n")
    r = run("nasframe.data", ["verify", str(f), "--root", str(tmp / "bench"), "--record"])
    assert r.returncode == 0, r.stderr
    f.write_text(NB201_HEADER + f"0,{GOOD_ARCH},99.9,93.2\n")  # changed after its checksum was pinned


def _no_new_files(tmp, r):
    assert not (tmp / "run").exists()


def _unchanged_killed_run(tmp, r):
    lines = (tmp / "run" / "history.jsonl").read_text().splitlines()
    assert len(lines) == 5 and not (tmp / "run" / "summary.json").exists()


CASES = [
    Case("unknown arch string in a benchmark file",
         lambda t: ("nasframe", [f"benchmark.path={csv_with(t, '0,|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,2')}",
                                 "evaluator=lookup", out(t)]), ("conv_9x9", "line 2")),
    Case("wrong space/strategy pair",
         lambda t: ("nasframe", ["strategy=optuna", "space._target_=toys.LineSpace", "evaluator._target_=toys.Parabola",
                                 out(t)]), ("strategy 'optuna'", "Sequential")),
    Case("strategy needs a capability the space lacks",
         lambda t: ("nasframe", ["strategy=rea", "space._target_=toys.LineSpace", "evaluator._target_=toys.Parabola",
                                 out(t)]), ("Mutable", "line")),
    Case("evaluator needs a capability the space lacks",
         lambda t: ("nasframe", ["strategy=random", "space._target_=toys.LineSpace", "evaluator=lookup", out(t)]),
         ("no benchmark table", "line")),
    Case("missing benchmark file", lambda t: ("nasframe", ["benchmark.path=/nonexistent/nb201.csv", out(t)]),
         ("/nonexistent/nb201.csv",)),
    Case("corrupt (truncated) benchmark file",
         lambda t: ("nasframe", [f"benchmark.path={csv_with(t, '0,|none~0|+|none~0|no')}", out(t)]),
         ("nb201_all_15625.csv",)),
    Case("corrupt (binary) benchmark file",
         lambda t: ("nasframe", [f"benchmark.path={_binary(t)}", out(t)]), ("garbage.pth",)),
    Case("checksum mismatch", lambda t: ("nasframe.data", ["verify", str(t / "bench" / "nasbench201" / "nb201_all_15625.csv"),
                                                          "--root", str(t / "bench")]),
         ("does not match", "checksum"), prepare=_recorded_then_changed, check=lambda t, r: None),
    Case("zero budget", lambda t: ("nasframe", [*QUICK, "budget.queries=0", out(t)]), ("budget.queries", "positive")),
    Case("negative budget", lambda t: ("nasframe", [*QUICK, "budget.queries=-5", out(t)]), ("budget.queries", "positive")),
    Case("negative time budget", lambda t: ("nasframe", [*QUICK, "budget.seconds=-1", out(t)]), ("budget.seconds",)),
    Case("unknown dataset", lambda t: ("nasframe", [*QUICK, "benchmark.dataset=mnist", out(t)]), ("mnist", "cifar10")),
    Case("unknown task", lambda t: ("nasframe", [*QUICK, "space=transnas_micro", "benchmark.task=nosuchtask", out(t)]),
         ("nosuchtask", "jigsaw")),
    Case("unknown config group option", lambda t: ("nasframe", [*QUICK, "strategy=nosuch", out(t)]), ("nosuch",)),
    Case("unknown config key", lambda t: ("nasframe", [*QUICK, "strategy.no_such_option=3", out(t)]), ("no_such_option",)),
    Case("unwritable output folder", lambda t: ("nasframe", [*QUICK, "hydra.run.dir=/etc/hostname/run"]),
         ("/etc/hostname/run",), check=lambda t, r: None),
    Case("rerun into a killed run without resume",
         lambda t: ("nasframe", [*QUICK, "budget.queries=20", "strategy._target_=toys.KillingREA", out(t)]),
         ("resume=true",), prepare=_killed_run, check=_unchanged_killed_run),
    Case("resume with a changed config",
         lambda t: ("nasframe", [*QUICK, "budget.queries=20", "strategy._target_=toys.KillingREA",
                                 "strategy.sample_size=5", "resume=true", out(t)]),
         ("config changed", "strategy"), prepare=_killed_run, check=_unchanged_killed_run),
    Case("study name reused with a different space",
         lambda t: ("nasframe", [*QUICK, "space=transnas_micro", "benchmark.task=jigsaw",
                                 f"storage=sqlite:///{t / 'db.sqlite'}", "study=s", out(t)]),
         ("study 's'", "different config", "space"), prepare=_finished_study),
    Case("storage URL unreachable (server down)",
         lambda t: ("nasframe", [*QUICK, "storage=postgresql://nobody@127.0.0.1:1/db", out(t)]),
         ("cannot open storage", "127.0.0.1")),
    Case("storage URL unreachable (no such folder)",
         lambda t: ("nasframe", [*QUICK, "storage=sqlite:////nonexistent/dir/runs.db", out(t)]),
         ("cannot open storage", "/nonexistent/dir")),
    Case("storage that is not a URL", lambda t: ("nasframe", [*QUICK, "storage=runs.db", out(t)]),
         ("not a database URL",)),
    Case("study without storage", lambda t: ("nasframe", [*QUICK, "study=x", out(t)]), ("storage=",)),
    Case("unknown objective column", lambda t: ("nasframe", ["evaluator=multi", f"data.root={SHARED}",
                                                             "evaluator.objectives=[nosuch_latency:min]", out(t)]),
         ("nosuch_latency", "edgegpu_latency"),
         marks=(pytest.mark.skipif(not (SHARED / "nasbench201").is_dir(), reason="benchmark data not found"),)),
]


def _binary(tmp):
    p = tmp / "garbage.pth"
    p.write_bytes(os.urandom(4096))
    return p


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run every case at once (each in its own folder): the table costs one slow case, not the sum."""
    def go(case):
        tmp = tmp_path_factory.mktemp("case")
        if case.prepare:
            case.prepare(tmp)
        module, args = case.args(tmp)
        return tmp, run(module, args)

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {c.name: pool.submit(go, c) for c in CASES}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_bad_input(case, results):
    tmp, r = results[case.name]
    assert r.returncode == case.exit, (r.returncode, r.stderr[-2000:])
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in case.needles:
        assert n in lines[0], (n, lines[0])
    (case.check or _no_new_files)(tmp, r)


def test_table_covers_at_least_fifteen_inputs():
    assert len(CASES) >= 15


def test_nan_proxy_is_a_recorded_failure_not_a_crash(tmp_path):
    r = run("nasframe", ["evaluator._target_=rel_toys.NaNProxy", "strategy=random", "budget.queries=40",
                         "progress=false", "plot=false", f"hydra.run.dir={tmp_path / 'run'}"])
    assert r.returncode == 0, r.stderr
    hist = [json.loads(l) for l in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    failed = [h for h in hist if h["failure"]]
    assert failed and all("non-finite" in h["failure"] and h["values"]["proxy"] == float("-inf") for h in failed)
    assert len(hist) == 40
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["values"]["proxy"] == max(h["values"]["proxy"] for h in hist)
