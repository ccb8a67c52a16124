"""The README as written: every shell command of its quick start, Data and Reports sections, in order,
in a fresh clone, each must exit 0.

The clone sits in a scratch folder beside a ``shared`` link to the real data (so ``../shared/data``
means what it says), and the install command runs in a scratch venv that sees this machine's
packages. ``DIR`` (the Data section's placeholder for "your data folder") is a scratch copy-free data
root. Commands not run, and why:
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.data, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("", "## Data", "## Reports")  # "" is the top of the README, up to the first "## "
NOT_RUN = {
    'python -m pytest -m "not slow"': "the test suite itself (CI runs it; running it here would recurse)",
    "python -m nasframe.data --root DIR download nb201-v1_1": "downloads 4.7 GB from Google Drive",
    "python -m nasframe.data --root DIR verify nb201-v1_1": "needs the 4.7 GB download",
    "python -m nasframe.data --root DIR convert nb201-v1_1": "needs the 4.7 GB download",
}
__doc__ += "".join(f"\n- ``{c}``: {why}" for c, why in NOT_RUN.items())


def section(text: str, title: str) -> str:
    if not title:
        return text.split("\n## ", 1)[0]
    return text.split("\n" + title + "\n", 1)[1].split("\n## ", 1)[0]


def commands(text: str) -> list[str]:
    """The shell commands of the ```bash blocks, comments stripped, ``a && b`` kept as one line."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                out.append(" ".join(line.split()))
    return out


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return [c for title in SECTIONS for c in commands(section(text, title))]


def shell(command: str, cwd: Path, env: dict, timeout: float = 1800) -> tuple[int, str, str]:
    """Run through the shell in its own process group, so a timeout ends the command, not just the shell."""
    p = subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    return p.returncode, out, err


def test_the_readme_lists_what_this_test_does_not_run():
    found = readme_commands()
    assert [c for c in NOT_RUN if c not in found] == [], "NOT_RUN names commands the README no longer has"
    assert any(c.startswith("python -m nasframe ") for c in found)


def test_every_command_runs_in_a_fresh_clone(tmp_path, shared_data):
    clone = tmp_path / "nasframe"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    (tmp_path / "shared").symlink_to(shared_data.parent)
    data_dir = tmp_path / "mydata"
    data_dir.mkdir()
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NASFRAME_DATA")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    ran = []
    for command in readme_commands():
        if command in NOT_RUN:
            continue
        if "multirun/<date>/<time>" in command:  # the folder the multirun above printed
            (latest,) = sorted((clone / "multirun").glob("*/*"))[-1:]
            command = command.replace("multirun/<date>/<time>", str(latest.relative_to(clone)))
        if command.startswith("python -m nasframe.report DIR"):
            command = command.replace(" DIR", " multirun", 1)
        command = command.replace("--root DIR", f"--root {shlex.quote(str(data_dir))}")
        if command.startswith("pip install"):  # the venv's pip, no build isolation: nothing downloaded
            command = command.replace("pip install -e", "python -m pip install --no-build-isolation -e")
            command = command.replace("pip install torch", "python -m pip install torch")
        code, out, err = shell(command, clone, env)
        assert code == 0, f"{command}\n{out[-3000:]}\n{err[-3000:]}"
        ran.append(command)
    assert len(ran) >= 6, ran
