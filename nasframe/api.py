"""Run searches from Python with the same configs as the command line.

    from nasframe.api import search
    result = search(["strategy=rea", "data.root=../shared/data", "seed=3"], out_dir="runs/x")
    result.summary["report"]["test_acc"]

Experiments use this to run many trials in one process (no Hydra start-up
per run) while composing exactly what ``python -m nasframe`` would.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, open_dict, read_write

from nasframe.cli import CONF_DIR, build_run, register_resolvers


def compose(overrides: Sequence[str] = ()) -> tuple[DictConfig, dict]:
    """The composed config and the chosen group names (space/strategy/evaluator)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = hydra_compose("config", overrides=list(overrides), return_hydra_config=True)
    choices = cfg.hydra.runtime.choices
    names = {k: choices.get(k) for k in ("space", "strategy", "evaluator")}
    with read_write(cfg), open_dict(cfg):
        del cfg["hydra"]
    return cfg, names


def search(overrides: Sequence[str] = (), out_dir: str | Path | None = None, **settings):
    """Compose, build and run one search; ``settings`` override progress/plot/... directly."""
    import tempfile

    from nasframe.config_schema import check_config

    cfg, names = compose([*overrides, *(f"{k}={v}" for k, v in settings.items())])
    check_config(cfg)  # unknown keys and bad scalars, before the run folder exists
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="nasframe-"))
    return build_run(cfg, out, names).run()
