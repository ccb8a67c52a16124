"""Workers as real processes, a throwaway PostgreSQL server when one is installed."""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def worker_env(extra=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO / "tests"),
                                                         os.environ.get("PYTHONPATH", "")])}
    for k in ("KILL_EVAL", "EVAL_SLEEP"):
        env.pop(k, None)
    env.update(extra or {})
    return env


def start_worker(args, env=None):
    return subprocess.Popen([sys.executable, "-m", "nasframe", *args], cwd=REPO, env=worker_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_worker(args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "nasframe", *args], cwd=REPO, env=worker_env(env),
                          capture_output=True, text=True, timeout=timeout)


def history(run_dir, phase="search", drop=("wall_time", "cost")):  # wall-clock fields vary
    out = []
    for line in (Path(run_dir) / "history.jsonl").read_text().splitlines():
        r = json.loads(line)
        if phase is None or r["phase"] == phase:
            for k in drop:
                r.pop(k, None)
            out.append(r)
    return out


def _pg_bin():
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").exists():
            return d
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL cluster in a temp folder (as user postgres when run as root); skipped if not installed."""
    pytest.importorskip("psycopg2")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="nasframe-pg-"))  # not under pytest's 0700 folder: postgres must enter it
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    r = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    f"-k {sock} -p {port} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
