"""The command line: run the search Hydra composed, and keep Hydra's own errors to one line.

``python -m nasframe`` and the ``nasframe`` console script land here through
``nasframe.__main__``; composing and building live in ``nasframe.compose``. User errors
(``NasframeError``) become one line on stderr and exit status 2; a run folder
that holds nothing of ours is removed so no empty run is left behind.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from omegaconf import DictConfig

from nasframe.compose import build_run, output_dir
from nasframe.errors import NasframeError, report


def _remove_if_empty_run(out: Path) -> None:
    ours = ("history.jsonl", "config.json", "checkpoint.pkl", "summary.json")
    if out.exists() and not any((out / n).exists() for n in ours):
        shutil.rmtree(out / ".hydra", ignore_errors=True)
        try:
            out.rmdir()
        except OSError:
            pass


def run(cfg: DictConfig) -> dict:
    from nasframe.config_schema import check_config

    out = output_dir()
    try:
        check_config(cfg)  # before anything is built: a typo'd key or seed=abc leaves nothing behind
        runner = build_run(cfg, out)
        result = runner.run()
    except NasframeError as e:
        _remove_if_empty_run(out)
        report(e)
        sys.exit(2)
    except KeyboardInterrupt:
        _remove_if_empty_run(out)
        print(f"interrupted; every query recorded in {out} is kept: rerun with resume=true to continue",
              file=sys.stderr)
        sys.exit(130)
    s = result.summary
    vals = ", ".join(f"{k}={v:.4g}" for k, v in (s["values"] or {}).items())
    rep = ", ".join(f"{k}={v:.4g}" for k, v in (s["report"] or {}).items())
    print(f"best: {s['recommended']}  {vals}  [{rep}]  ({s['queries']} queries) -> {out}")
    return s


class HeldStderr:
    """Buffer stderr until released; on a config error, condense it to one line."""

    _current = None

    def __init__(self):
        self.real = sys.stderr
        self.buffer: list[str] = []
        self.holding = True

    def __enter__(self):
        HeldStderr._current = self
        sys.stderr = self
        return self

    def __exit__(self, *exc):
        self.release()
        sys.stderr = self.real
        HeldStderr._current = None

    @classmethod
    def release_current(cls):
        if cls._current is not None:
            cls._current.release()

    def release(self):
        if self.holding:
            self.holding = False
            self.real.write("".join(self.buffer))
            self.buffer.clear()

    def replace_with_one_line(self):
        lines = [l.strip() for l in "".join(self.buffer).splitlines() if l.strip() and "HYDRA_FULL_ERROR" not in l]
        if any(l.startswith("Traceback") for l in lines):
            lines = lines[-1:]  # Hydra failed outside our code (e.g. an unwritable run folder): keep the reason
        text = " ".join(lines).split(" Config search path:")[0]  # Hydra's provider list is noise here
        self.buffer = [f"error: {text}\n"]
        self.release()

    def write(self, s):
        if self.holding:
            self.buffer.append(s)
            return len(s)
        return self.real.write(s)

    def flush(self):
        if not self.holding:
            self.real.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, ... for tqdm and logging
        return getattr(self.real, name)
