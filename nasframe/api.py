"""Run searches from Python with the same configs as the command line.

    from nasframe.api import search
    result = search(["strategy=rea", "data.root=../shared/data", "seed=3"], out_dir="runs/x")
    result.summary["report"]["test_acc"]

Experiments use this to run many trials in one process (no Hydra start-up
per run) while composing exactly what ``python -m nasframe`` would.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nasframe.compose import build_run, compose

__all__ = ["compose", "search"]


def search(overrides: Sequence[str] = (), out_dir: str | Path | None = None, **settings):
    """Compose, build and run one search; ``settings`` override progress/plot/... directly."""
    import tempfile

    from nasframe.config_schema import check_config

    cfg, names = compose([*overrides, *(f"{k}={v}" for k, v in settings.items())])
    check_config(cfg)  # unknown keys and bad scalars, before the run folder exists
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="nasframe-"))
    return build_run(cfg, out, names).run()
