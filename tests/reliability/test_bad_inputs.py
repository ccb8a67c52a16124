"""The bad-input table: every input a user can get wrong gives one clear line, a non-zero exit
status and leaves nothing half-written or lost. CLI cases run as real processes, concurrently; a
second table drives the same checks through the Python API. Damage a user can survive (a cut
checkpoint, a space smaller than the budget, NaN cells) gives exit 0 and one ``nasframe:`` notice."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from nasframe.errors import DataError

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
QUICK = ["evaluator=flops", "budget.queries=3", "progress=false", "plot=false"]
NB201_HEADER = "nb201_index,arch_str,cifar10_valid_val_acc_naslib,cifar10_test_acc\n"
SHARED = Path(os.environ.get("NASFRAME_DATA") or REPO.parent / "shared" / "data")
GOOD_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def env(extra=None):
    base = {k: v for k, v in os.environ.items() if k not in ("NASFRAME_DEBUG", "KILL_AT", "DISK_FULL_AT", "GATE_DIR")}
    return {**base, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
            **(extra or {})}


def run(module, args, timeout=300, extra_env=None):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env(extra_env), capture_output=True,
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
    env: Callable | None = None  # tmp folder -> extra environment variables
    prefix: str = "error: "  # "nasframe: " for a notice on a run that goes on
    lines: int = 1  # lines on stderr
    custom: Callable | None = None  # tmp folder -> CompletedProcess, when the case is not one plain run


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
         lambda t: ("nasframe", [f"benchmark.path={csv_with(t, '0,|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,2' + chr(10))}",
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
    Case("prednas threads not a count", lambda t: ("nasframe", [*QUICK, "strategy=prednas", "strategy.threads=many",
                                                                out(t)]), ("threads", "positive integer", "many")),
    Case("prednas workers not a count", lambda t: ("nasframe", [*QUICK, "strategy=prednas", "strategy.workers=0",
                                                                out(t)]), ("workers", "positive integer or auto")),
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


# ------------------------------------------------------------------ damaged files and run folders

def nb201_csv(path, rows=None, nan_val=0, cut=False, duplicate=False):
    """An NB201 CSV over the whole space (or its first ``rows``), as the shared file is laid out;
    ``nan_val`` validation cells empty, the last line ``cut`` mid-row (a half-downloaded file),
    or a row ``duplicate``d (a file appended twice)."""
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    n = len(space) if rows is None else rows
    lines = [NB201_HEADER]
    for i in range(n):
        val = "" if i < nan_val else f"{50 + (i % 500) / 10:.2f}"
        lines.append(f"{i},{space[i]},{val},{60 + (i % 300) / 10:.2f}\n")
    if duplicate:
        lines.append(lines[3])
    text = "".join(lines)
    if cut:
        text = text[:-9]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def in_root(tmp, **kw):
    nb201_csv(tmp / "data" / "nasbench201" / "nb201_all_15625.csv", **kw)
    return f"data.root={tmp / 'data'}"


def _nothing_cached(tmp, r):
    _no_new_files(tmp, r)
    assert not list((tmp / "cache").glob("nb201-csv*.npz"))


def _snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".hydra" not in p.parts and p.name != ".lock"}


def _keep_snapshot(tmp):
    (tmp / "snapshot.json").write_text(json.dumps(_snapshot(tmp / "run")))


def _run_unchanged(tmp, r):
    assert _snapshot(tmp / "run") == json.loads((tmp / "snapshot.json").read_text())


def _damaged(edit):
    """prepare: a run killed at query 5, then ``edit(run folder)``, then a snapshot of the folder."""
    def prepare(tmp):
        _killed_run(tmp)
        edit(tmp / "run")
        _keep_snapshot(tmp)
    return prepare


def _replace_line(n, text):
    def edit(run_dir):
        p = run_dir / "history.jsonl"
        lines = p.read_text().splitlines(keepends=True)
        lines[n - 1] = text(lines[n - 1].rstrip("\n")) + "\n"
        p.write_text("".join(lines))
    return edit


def _other_arch(line):
    from nasframe.spaces.nb201 import NB201Space

    rec = json.loads(line)
    rec["arch"] = str(NB201Space()[1234] if rec["arch"] != str(NB201Space()[1234]) else NB201Space()[4321])
    return json.dumps(rec, sort_keys=True)


KILLED = [*QUICK, "budget.queries=20", "strategy._target_=toys.KillingREA"]


def history_of(run_dir):
    out = []
    for line in (run_dir / "history.jsonl").read_text().splitlines():
        rec = json.loads(line)
        rec.pop("wall_time"), rec.pop("cost")  # wall-clock measurements
        out.append(rec)
    return out


def _same_as_uninterrupted(args, queries=20):
    def check(tmp, r):
        ref = run("nasframe", [*args, f"budget.queries={queries}", f"hydra.run.dir={tmp / 'ref'}"])
        assert ref.returncode == 0, ref.stderr
        assert history_of(tmp / "run") == history_of(tmp / "ref")
        assert (tmp / "run" / "summary.json").exists()
    return check


def _finished(tmp, queries=20):
    r = run("nasframe", [*KILLED, f"budget.queries={queries}", out(tmp)])
    assert r.returncode == 0, r.stderr
    _keep_snapshot(tmp)


def _gated_first(tmp):
    """Start a run that holds its folder open (waiting inside its third evaluation)."""
    (tmp / "gate").mkdir()
    p = subprocess.Popen([sys.executable, "-m", "nasframe", *QUICK, "budget.queries=6",
                          "evaluator._target_=rel_toys.GatedFlops", out(tmp)], cwd=REPO,
                         env=env({"GATE_DIR": str(tmp / "gate")}), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.monotonic() + 240
    while not (tmp / "gate" / "started").exists():
        assert p.poll() is None and time.monotonic() < deadline, p.stderr.read() if p.poll() is not None else "slow"
        time.sleep(0.05)
    return p


def _second_process(tmp):
    first = _gated_first(tmp)
    try:
        second = run("nasframe", [*QUICK, "budget.queries=6", "evaluator._target_=rel_toys.GatedFlops", out(tmp)])
    finally:
        (tmp / "gate" / "release").write_text("")
        _, first_err = first.communicate(timeout=240)
    assert first.returncode == 0, first_err  # the first run was not disturbed
    assert len(history_of(tmp / "run")) == 6 and (tmp / "run" / "summary.json").exists()
    return second


def _interrupted(tmp):
    first = _gated_first(tmp)
    first.send_signal(signal.SIGINT)
    (tmp / "gate" / "release").write_text("")
    stdout, stderr = first.communicate(timeout=240)
    return subprocess.CompletedProcess(first.args, first.returncode, stdout, stderr)


def _resumable_after_interrupt(tmp, r):
    assert len(history_of(tmp / "run")) == 2 and not (tmp / "run" / "summary.json").exists()
    again = run("nasframe", [*QUICK, "budget.queries=6", "evaluator._target_=rel_toys.GatedFlops", out(tmp),
                             "resume=true"])
    assert again.returncode == 0, again.stderr
    assert [h["index"] for h in history_of(tmp / "run")] == list(range(6))


def _disk_full_then_resume(tmp, r):
    hist = history_of(tmp / "run")
    assert 6 <= len(hist) < 20 and not (tmp / "run" / "summary.json").exists()
    again = run("nasframe", [*QUICK, "budget.queries=20", "strategy._target_=rel_toys.DiskFullREA", out(tmp),
                             "resume=true"])
    assert again.returncode == 0, again.stderr
    ref = run("nasframe", [*QUICK, "budget.queries=20", "strategy._target_=rel_toys.DiskFullREA",
                           f"hydra.run.dir={tmp / 'ref'}"])
    assert ref.returncode == 0, ref.stderr
    assert history_of(tmp / "run") == history_of(tmp / "ref")  # nothing lost, nothing evaluated twice


def _exhausted_cleanly(tmp, r):
    hist = history_of(tmp / "run")
    assert len(hist) == 12 and len({h["arch"] for h in hist}) == 12
    assert json.loads((tmp / "run" / "summary.json").read_text())["queries"] == 12


def _nan_failures_say_nan(tmp, r):
    hist = history_of(tmp / "run")
    failed = [h for h in hist if h["failure"]]
    assert len(hist) == 200 and failed  # ~13% of the cells are NaN
    assert all("value for this architecture is NaN" in h["failure"] for h in failed)


def _cut_checkpoint(run_dir):
    p = run_dir / "checkpoint.pkl"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _stale_temporaries(tmp):
    _killed_run(tmp)
    for name in (".checkpoint.pkl.k2j3h.tmp", ".history.jsonl.x81.tmp"):
        (tmp / "run" / name).write_bytes(b"half")
    (tmp / "run" / ".notes.tmp").write_text("not ours")


def _temporaries_gone(tmp, r):
    _same_as_uninterrupted(KILLED)(tmp, r)
    assert [p.name for p in (tmp / "run").glob(".*.tmp")] == [".notes.tmp"]


DEBUG_NEEDLE = ("seed must be an integer",)

CASES += [
    # --------------------------------------------------------------- data files and data roots
    Case("data.root that does not exist (a typo)", lambda t: ("nasframe", [*QUICK[1:], "data.root=/nonexistent/dir", out(t)]),
         ("data.root /nonexistent/dir does not exist", "nasbench201/nb201_all_15625.csv")),
    Case("data.root that is a regular file", lambda t: ("nasframe", [*QUICK[1:], f"data.root={csv_with(t, '')}", out(t)]),
         ("is a file, not a folder", "benchmark.path=FILE")),
    Case("data.root that holds no known file",
         lambda t: ((t / "empty").mkdir(), ("nasframe", [*QUICK[1:], f"data.root={t / 'empty'}", out(t)]))[1],
         ("no NB201 table found under", "nasbench201/nb201_all_15625.csv")),
    Case("NASFRAME_DATA that does not exist", lambda t: ("nasframe", [*QUICK[1:], out(t)]),
         ("NASFRAME_DATA /nonexistent/shared does not exist",), env=lambda t: {"NASFRAME_DATA": "/nonexistent/shared"}),
    Case("NB201 CSV cut mid-file (half-downloaded: 860 rows, last one cut)",
         lambda t: ("nasframe", [*QUICK[1:], in_root(t, rows=860, cut=True), out(t)]),
         ("is truncated", "line 861", "benchmark.partial=true"), check=_nothing_cached),
    Case("NB201 CSV lacking architectures (complete lines)",
         lambda t: ("nasframe", [*QUICK[1:], in_root(t, rows=860), out(t)]),
         ("holds 860 of the 15,625 architectures", "benchmark.partial=true"), check=_nothing_cached),
    Case("full NB201 CSV whose last line is cut (an interrupted cp)",
         lambda t: ("nasframe", [*QUICK[1:], in_root(t, cut=True), out(t)]), ("line 15626", "cut off"),
         check=_nothing_cached),
    Case("NB201 CSV with a row appended twice",
         lambda t: ("nasframe", [*QUICK[1:], in_root(t, duplicate=True), out(t)]),
         ("line 15627 repeats the architecture of line 4",), check=_nothing_cached),
    Case("empty (zero-byte) benchmark file",
         lambda t: ((t / "nb201_all_15625.csv").write_bytes(b""),
                    ("nasframe", [*QUICK[1:], f"benchmark.path={t / 'nb201_all_15625.csv'}", out(t)]))[1],
         ("no 'arch_str' column",)),
    Case("an HTML error page saved as the benchmark CSV",
         lambda t: ((t / "nb201_all_15625.csv").write_text("<html><body>403 Forbidden</body></html>\n"),
                    ("nasframe", [*QUICK[1:], f"benchmark.path={t / 'nb201_all_15625.csv'}", out(t)]))[1],
         ("no 'arch_str' column",)),
    Case("official .pth cut in half", lambda t: ("nasframe", [*QUICK[1:], f"benchmark.path={_half_pth(t)}", out(t)]),
         ("truncated or corrupt", "python -m nasframe.data verify")),
    Case("NaN in 2,000 validation cells", lambda t: ("nasframe", [*QUICK[1:], "evaluator=lookup", "strategy=random",
                                                                 "budget.queries=200", in_root(t, nan_val=2000), out(t)]),
         ("warning: 2,000 of the 15,625 architectures", "(NaN)"), exit=0, prefix="nasframe: ",
         check=_nan_failures_say_nan),
    Case("verify a registry name with no data root",
         lambda t: ("nasframe.data", ["verify", "naslib-nb201-cifar10"]), ("--root DIR",),
         env=lambda t: {"NASFRAME_DATA": ""}),
    # --------------------------------------------------------------- overrides a tired user types
    Case("seed=-1", lambda t: ("nasframe", [*QUICK, "seed=-1", out(t)]), ("seed must be between 0 and",)),
    Case("seed=abc", lambda t: ("nasframe", [*QUICK, "seed=abc", out(t)]), DEBUG_NEEDLE),
    Case("seed=1.5", lambda t: ("nasframe", [*QUICK, "seed=1.5", out(t)]), ("seed must be an integer, got 1.5",)),
    Case("+budjet.queries=10 (Hydra's own hint, misspelt)",
         lambda t: ("nasframe", [*QUICK, "+budjet.queries=10", out(t)]), ("unknown config key 'budjet'", "'budget'")),
    Case("+budget.querys=10", lambda t: ("nasframe", [*QUICK, "+budget.querys=10", out(t)]),
         ("unknown config key 'budget.querys'", "'queries'")),
    Case("+benchmark.parital=true", lambda t: ("nasframe", [*QUICK, "+benchmark.parital=true", out(t)]),
         ("benchmark.parital", "'partial'")),
    Case("resume=yes please", lambda t: ("nasframe", [*QUICK, "resume=maybe", out(t)]),
         ("resume must be true or false",)),
    Case("batch_size=0", lambda t: ("nasframe", [*QUICK, "batch_size=0", out(t)]), ("batch_size must be at least 1",)),
    Case("budget.queries=abc", lambda t: ("nasframe", [*QUICK, "budget.queries=abc", out(t)]),
         ("budget.queries must be a positive integer",)),
    Case("budget.queries=1e3", lambda t: ("nasframe", [*QUICK, "budget.queries=1e3", out(t)]),
         ("budget.queries must be a positive integer",)),
    Case("budget larger than a finite space, non-repeating strategy",
         lambda t: ("nasframe", ["space._target_=rel_toys.TinySpace", "evaluator._target_=rel_toys.TinyParabola",
                                 "strategy=random", "budget.queries=20", "progress=false", "plot=false", out(t)]),
         ("budget.queries=20 exceeds the 12 architectures", "exhausted after 12 queries"), exit=0,
         prefix="nasframe: ", lines=2, check=_exhausted_cleanly),
    # --------------------------------------------------------------- ledger and checkpoint damage
    Case("garbage JSON on a ledger line", lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]),
         ("history.jsonl, line 3 is not valid JSON", "resume=true"),
         prepare=_damaged(_replace_line(3, lambda l: "#@!" + l[3:])), check=_run_unchanged),
    Case("ledger line of NUL bytes (a crash on some filesystems)",
         lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]), ("line 2 is not valid JSON",),
         prepare=_damaged(_replace_line(2, lambda l: "\0" * 40)), check=_run_unchanged),
    Case("ledger line that is JSON but no record", lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]),
         ("line 4 is not a ledger record",), prepare=_damaged(_replace_line(4, lambda l: "[1, 2]")),
         check=_run_unchanged),
    Case("ledger arch edited to an invalid one, checkpoint present",
         lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]), ("line 2", "is not an architecture of space"),
         prepare=_damaged(_replace_line(2, lambda l: l.replace("~0|", "~7|", 1))), check=_run_unchanged),
    Case("ledger arch edited to another valid one, checkpoint present",
         lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]), ("first", "lines are not what the checkpoint recorded"),
         prepare=_damaged(_replace_line(1, _other_arch)), check=_run_unchanged),
    Case("config.json cut by an interrupted cp", lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]),
         ("config.json is unreadable",),
         prepare=_damaged(lambda d: (d / "config.json").write_text((d / "config.json").read_text()[:50])),
         check=_run_unchanged),
    Case("truncated checkpoint.pkl", lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]),
         ("checkpoint.pkl is not usable", "resuming from the ledger alone"), exit=0, prefix="nasframe: ",
         prepare=_damaged(_cut_checkpoint), check=_same_as_uninterrupted(KILLED)),
    Case("zero-byte checkpoint.pkl", lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]),
         ("resuming from the ledger alone",), exit=0, prefix="nasframe: ",
         prepare=_damaged(lambda d: (d / "checkpoint.pkl").write_bytes(b"")), check=_same_as_uninterrupted(KILLED)),
    Case("checkpoint ahead of a ledger cut back by hand", lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]),
         ("the ledger only 0",), exit=0, prefix="nasframe: ",
         prepare=_damaged(lambda d: (d / "history.jsonl").write_text("")),
         check=_same_as_uninterrupted(KILLED)),
    Case("leftover .checkpoint.pkl.*.tmp of a killed run", lambda t: ("nasframe", [*KILLED, "resume=true", out(t)]),
         (), exit=0, lines=0, prepare=_stale_temporaries, check=_temporaries_gone),
    Case("rerun into a finished run without resume", lambda t: ("nasframe", [*KILLED, out(t)]),
         ("already holds a finished run",), prepare=_finished, check=_run_unchanged),
    Case("resume a finished run with a smaller budget",
         lambda t: ("nasframe", [*KILLED, "budget.queries=10", "resume=true", out(t)]),
         ("budget.queries=10", "extended on resume, not reduced"), prepare=_finished, check=_run_unchanged),
    # --------------------------------------------------------------- disk, signals, concurrency
    Case("disk full mid-run", lambda t: ("nasframe", [*QUICK, "budget.queries=20",
                                                      "strategy._target_=rel_toys.DiskFullREA", out(t)]),
         ("cannot write to the run folder", "No space left on device", "resume=true to continue"),
         env=lambda t: {"DISK_FULL_AT": "7"}, check=_disk_full_then_resume),
    Case("a second process in the same run folder", None, ("another nasframe process (pid", "hydra.run.dir=DIR"),
         custom=_second_process, check=lambda t, r: None),
    Case("Ctrl-C mid-run", None, ("interrupted", "resume=true"), exit=130, prefix="interrupted",
         custom=_interrupted, check=_resumable_after_interrupt),
]


def _half_pth(tmp):
    import torch

    p = tmp / "NAS-Bench-201-v1_0-e61699.pth"
    torch.save({"meta_archs": [GOOD_ARCH] * 200, "arch2infos": {i: {"x": list(range(50))} for i in range(200)}}, p)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return p


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run every case at once (each in its own folder): the table costs one slow case, not the sum."""
    def go(case):
        tmp = tmp_path_factory.mktemp("case")
        if case.prepare:
            case.prepare(tmp)
        if case.custom:
            return tmp, case.custom(tmp)
        module, args = case.args(tmp)
        return tmp, run(module, args, extra_env={"NASFRAME_CACHE": str(tmp / "cache"),
                                                 **(case.env(tmp) if case.env else {})})

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {c.name: pool.submit(go, c) for c in CASES}
        # one case's own error fails that case only (test_bad_input re-raises it), not the table
        return {name: (f.exception() or f.result()) for name, f in futures.items()}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_bad_input(case, results):
    if isinstance(results[case.name], BaseException):
        raise results[case.name]
    tmp, r = results[case.name]
    assert r.returncode == case.exit, (r.returncode, r.stderr[-2000:])
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == case.lines and all(l.startswith(case.prefix) for l in lines), r.stderr
    assert "Traceback" not in r.stderr
    for n in case.needles:
        assert n in " ".join(lines), (n, lines)
    (case.check or _no_new_files)(tmp, r)


def test_tables_cover_at_least_forty_inputs():
    assert len(CASES) + len(API_CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


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


# ------------------------------------------------------------------ the same through the Python API

def _api_search(*overrides):
    def call(tmp):
        from nasframe.api import search

        search([*QUICK, *overrides], out_dir=tmp / "run")
    return call


def _api_budget(**kw):
    def call(tmp):
        from nasframe.core.runner import Budget

        Budget(**kw)
    return call


def _api_load(**csv):
    def call(tmp):
        from nasframe.benchmarks import nb201
        from nasframe.spaces.nb201 import NB201Space

        nb201.load(NB201Space(), "cifar10", path=nb201_csv(tmp / "nb201_all_15625.csv", **csv), use_cache=False)
    return call


def _api_history(content: bytes):
    def call(tmp):
        from nasframe.core.ledger import read_history

        (tmp / "history.jsonl").write_bytes(content)
        read_history(tmp / "history.jsonl")
    return call


def _api_two_ledgers(tmp):
    from nasframe.core.ledger import Ledger

    first = Ledger(tmp / "run")
    first.open({"seed": 0}, resume=False)
    try:
        Ledger(tmp / "run").open({"seed": 0}, resume=True)
    finally:
        first.close()
        assert (tmp / "run" / "history.jsonl").read_bytes() == b""


def _api_root(kind):
    def call(tmp):
        from nasframe.benchmarks import check_root

        (tmp / "file").write_text("x")
        check_root(tmp / kind)
    return call


RECORD = b'{"arch": "x", "index": 0, "phase": "search"}\n'
API_CASES = [
    ("+budjet through search()", _api_search("+budjet.queries=10"), "ConfigError", "unknown config key 'budjet'"),
    ("seed=-1 through search()", _api_search("seed=-1"), "ConfigError", "seed must be between 0"),
    ("seed=abc through search()", _api_search("seed=abc"), "ConfigError", "seed must be an integer"),
    ("Budget(queries='10')", _api_budget(queries="10"), "ConfigError", "positive integer"),
    ("Budget(queries=True)", _api_budget(queries=True), "ConfigError", "positive integer"),
    ("Budget(seconds=0)", _api_budget(seconds=0), "ConfigError", "budget.seconds"),
    ("nb201.load of a cut CSV", _api_load(rows=10, cut=True), "DataError", "line 11"),
    ("nb201.load of a subset", _api_load(rows=10), "DataError", "holds 10 of the 15,625"),
    ("read_history with garbage in the middle", _api_history(RECORD + b"{oops\n" + RECORD), "NasframeError",
     "line 2 is not valid JSON"),
    ("read_history with a non-UTF-8 line", _api_history(b"\xff\xfe\n"), "NasframeError", "not UTF-8"),
    ("two Ledgers on one folder in one process", _api_two_ledgers, "ConfigError", "another nasframe process"),
    ("check_root of a missing folder", _api_root("nope"), "DataError", "does not exist"),
    ("check_root of a file", _api_root("file"), "DataError", "is a file, not a folder"),
]


@pytest.mark.parametrize("name, call, error, needle", API_CASES, ids=[c[0] for c in API_CASES])
def test_bad_input_through_the_api(tmp_path, monkeypatch, name, call, error, needle):
    import nasframe.errors

    monkeypatch.setenv("NASFRAME_CACHE", str(tmp_path / "cache"))
    before = set(tmp_path.rglob("*"))
    with pytest.raises(getattr(nasframe.errors, error), match=needle.replace("(", r"\(").replace("+", r"\+")) as e:
        call(tmp_path)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "run" / "config.json").exists() or name.startswith("two Ledgers")
    assert not list((tmp_path / "cache").glob("*.npz"))
    created = set(tmp_path.rglob("*")) - before
    assert all(p.name in ("file", "history.jsonl", "nb201_all_15625.csv", "cache", "digests.json") or "run" in p.parts
               for p in created), created


# ------------------------------------------------------------------ the rows that are not errors

def test_extending_a_finished_budget_continues_exactly(tmp_path):
    args = [*QUICK, "strategy=rea"]
    assert run("nasframe", [*args, "budget.queries=20", f"hydra.run.dir={tmp_path / 'run'}"]).returncode == 0
    r = run("nasframe", [*args, "budget.queries=30", "resume=true", f"hydra.run.dir={tmp_path / 'run'}"])
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    assert run("nasframe", [*args, "budget.queries=30", f"hydra.run.dir={tmp_path / 'ref'}"]).returncode == 0
    assert history_of(tmp_path / "run") == history_of(tmp_path / "ref")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["queries"] == 30 and summary["config"]["budget"]["queries"] == 30


def test_partial_table_loads_when_asked_and_says_missing(tmp_path, monkeypatch):
    from nasframe.benchmarks import nb201
    from nasframe.evaluators.lookup import BenchmarkLookup
    from nasframe.spaces.nb201 import NB201Space

    monkeypatch.setenv("NASFRAME_CACHE", str(tmp_path / "cache"))
    space = NB201Space()
    path = nb201_csv(tmp_path / "nb201_all_15625.csv", rows=860, cut=True)
    b = nb201.load(space, "cifar10", path=path, partial=True)
    assert b.table.meta["rows"] == 859  # the cut line is dropped, not half-read
    ev = BenchmarkLookup(space, benchmark=b)
    assert ev.evaluate([space[5]])[0].values["val_acc"] == pytest.approx(50.5)
    assert ev.evaluate([space[9000]])[0].failure == "architecture missing from the benchmark table"
    with pytest.raises(DataError, match="is truncated"):  # the partial table's cache does not answer a full load
        nb201.load(space, "cifar10", path=path, partial=False)


def test_nasframe_debug_shows_the_traceback_of_an_input_error(tmp_path):
    r = run("nasframe", [*QUICK, "seed=abc", f"hydra.run.dir={tmp_path / 'run'}"], extra_env={"NASFRAME_DEBUG": "1"})
    assert r.returncode == 2 and "Traceback" in r.stderr and "check_values" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: seed must be an integer")
    assert not (tmp_path / "run").exists()


def test_a_genuine_bug_still_shows_its_traceback(tmp_path):
    r = run("nasframe", [*QUICK, "evaluator._target_=rel_toys.BuggyFlops", f"hydra.run.dir={tmp_path / 'run'}"])
    assert r.returncode == 1 and "ZeroDivisionError" in r.stderr and "Traceback" in r.stderr


def test_verify_a_file_as_the_error_message_prints_it(tmp_path):
    """The hint of a damaged file names `python -m nasframe.data verify FILE`: it works without --root."""
    f = nb201_csv(tmp_path / "data" / "nasbench201" / "nb201_all_15625.csv", rows=3)
    r = run("nasframe.data", ["verify", str(f)], extra_env={"NASFRAME_DATA": ""})
    assert r.returncode == 1 and "no known checksum" in r.stdout and not r.stderr, r.stderr
    assert run("nasframe.data", ["verify", str(f), "--record"], extra_env={"NASFRAME_DATA": ""}).returncode == 0
    r = run("nasframe.data", ["verify", str(f)], extra_env={"NASFRAME_DATA": ""})
    assert r.returncode == 0 and "OK" in r.stdout  # the manifest was found under the file's own data root
    assert (tmp_path / "data" / "MANIFEST.json").exists() or list((tmp_path / "data").glob("*.json"))
