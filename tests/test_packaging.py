"""nasframe installed as a stranger installs it: ``pip install .`` and a built wheel, in fresh venvs.

Each venv sees the machine's torch & co. (``--system-site-packages``) and installs nasframe alone
(``--no-deps``, the machine's setuptools: ``--no-build-isolation``), so nothing is downloaded. Every command runs from a folder outside the checkout,
so only the installed package (and the config folder inside it) can answer.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("nasframe", "conf", "setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md")


def sh(args, cwd, env=None, check=True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p


def copy_checkout(dest: Path) -> Path:
    """The files a build reads, copied so that builds never write into the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        src = REPO / name
        (shutil.copytree(src, dest / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, dest / name))
    return dest


def make_venv(where: Path) -> Path:
    """Without its own pip/setuptools: the machine's (visible through the system site) install into it."""
    venv.create(where, system_site_packages=True, with_pip=False)
    return where / "bin" / "python"


@pytest.fixture(scope="module", params=["wheel", "pip install ."])
def installed(request, tmp_path_factory):
    """(python, nasframe script, env, a work folder outside the checkout) for one way of installing."""
    tmp = tmp_path_factory.mktemp("pkg")
    src = copy_checkout(tmp / "src")
    python = make_venv(tmp / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NASFRAME_DATA")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if request.param == "wheel":
        sh([python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", "."],
           src, env)
        (wheel,) = (tmp / "dist").glob("nasframe-*.whl")
        sh([python, "-m", "pip", "install", "--no-deps", "-q", wheel], tmp, env)
    else:
        sh([python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", "."], src, env)
    shutil.rmtree(src)  # the installed package must not lean on the sources
    work = tmp / "work"
    work.mkdir()
    return python, python.parent / "nasframe", env, work


def test_the_package_is_imported_from_the_venv_with_its_configs(installed):
    python, _, env, work = installed
    out = sh([python, "-c", "import json, nasframe, nasframe.compose as c; "
              "print(json.dumps([nasframe.__file__, str(c.CONF_DIR)]))"], work, env).stdout
    module, conf = json.loads(out)
    assert Path(module).is_relative_to(python.parent.parent), module
    assert (Path(conf) / "config.yaml").is_file() and (Path(conf) / "strategy" / "prednas.yaml").is_file()


def test_a_search_runs_from_the_console_script_and_python_m(installed):
    python, script, env, work = installed
    p = sh([script, "strategy=random", "budget.queries=5", "progress=false", "plot=false", "seed=1"], work, env)
    assert "(5 queries)" in p.stdout
    run = work / "runs" / "nb201-cifar10" / "random-zc-q5" / "seed1"  # data-free: named after what ran
    assert len((run / "history.jsonl").read_text().splitlines()) == 5
    p = sh([python, "-m", "nasframe", "strategy=rea", "budget.queries=5", "progress=false", "plot=false"],
           work, env)
    assert (work / "runs" / "nb201-cifar10" / "rea-zc-q5" / "seed0" / "summary.json").is_file()
    assert sh([script, "--help"], work, env).stdout.startswith("nasframe")


def test_a_multirun_then_a_report(installed):
    python, script, env, work = installed
    sh([script, "-m", "strategy=random,rea", "budget.queries=4", "progress=false", "plot=false",
        "hydra.sweep.dir=sweep"], work, env)
    summaries = sorted((work / "sweep").glob("*/summary.json"))
    assert len(summaries) == 2
    table = sh([python, "-m", "nasframe.report", "sweep"], work, env).stdout
    assert "| random | 1 |" in table and "| rea | 1 |" in table


def test_the_python_api_and_the_data_tool(installed):
    python, _, env, work = installed
    code = ("from nasframe.api import search; r = search(['strategy=random', 'budget.queries=3'], "
            "out_dir='api_run', progress=False, plot=False); print(r.summary['queries'])")
    assert sh([python, "-c", code], work, env).stdout.split()[-1] == "3"
    listing = sh([python, "-m", "nasframe.data", "list"], work, env).stdout
    assert "nb201-v1_1" in listing


def test_user_configs_outside_the_package_load_through_the_search_path(installed):
    _, script, env, work = installed
    mine = work / "myconf" / "strategy"
    mine.mkdir(parents=True)
    (mine / "myrandom.yaml").write_text("_target_: nasframe.strategies.random.RandomSearch\n")
    p = sh([script, f"hydra.searchpath=[file://{work / 'myconf'}]", "strategy=myrandom", "budget.queries=3",
            "progress=false", "plot=false"], work, env)
    assert (work / "runs" / "nb201-cifar10" / "myrandom-zc-q3" / "seed0" / "summary.json").is_file(), p.stdout


def test_an_unknown_config_is_one_line_and_status_2(installed):
    _, script, env, work = installed
    p = sh([script, "strategy=nosuch"], work, env, check=False)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "nosuch" in p.stderr, p.stderr
