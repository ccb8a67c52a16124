"""The first run as a new user sees it: `--help`, the main job without data, and with the NB201 table.

    python experiments/bench_first_run.py --data ../shared/data

Each command runs as its own process from an empty folder (so no ``../shared/data`` is found by
accident), exactly as the README prints it; the table runs once with an empty table cache (cold:
the CSV is parsed and cached) and once warm. Prints wall and CPU seconds of each and the goals of
issue 17 (``--help`` <= 1 s, no data <= 30 s, table warm <= 15 s, on the 2-core machine). CPU
seconds are less sensitive to other load than wall seconds; the load average is printed first.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAIN = ["strategy=prednas", "space=nb201"]


def timed(args, cwd, env) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "nasframe", *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"python -m nasframe {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a data root holding the NB201 table (e.g. ../shared/data)")
    args = ap.parse_args(argv)
    data = str(Path(args.data).resolve())
    print(f"cores visible: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "NASFRAME_DATA"}
        env["PYTHONPATH"] = os.pathsep.join([str(repo), env.get("PYTHONPATH", "")])
        env["NASFRAME_CACHE"] = str(tmp / "cache")  # empty: the first table run is cold
        rows = [("python -m nasframe --help", *timed(["--help"], tmp, env), 1.0)]
        for name, extra, goal in (("main job, no data", [], 30.0),
                                  ("main job, NB201 table, cold cache", [f"data.root={data}"], None),
                                  ("main job, NB201 table, warm cache", [f"data.root={data}"], 15.0)):
            run_dir = tmp / "runs" / name.replace(" ", "_").replace(",", "")
            rows.append((name, *timed([*MAIN, *extra, f"hydra.run.dir={run_dir}", "progress=false"], tmp, env), goal))
    print(f"\n| command | wall s | CPU s | goal (wall) |\n|---|---|---|---|")
    for name, wall, cpu, goal in rows:
        verdict = "" if goal is None else f"<= {goal:g} s: {'met' if wall <= goal else 'NOT met'}"
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {verdict} |")


if __name__ == "__main__":
    main()
