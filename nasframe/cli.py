"""Turn a composed Hydra config into a search and run it.

``python -m nasframe`` lands here through ``nasframe.__main__``. User errors
(``NasframeError``) become one line on stderr and exit status 2; a run folder
that holds nothing of ours is removed so no empty run is left behind.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nasframe.errors import ConfigError, NasframeError, report

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("first"):
        # first non-null argument: ${first:${benchmark.task},${benchmark.dataset}}
        OmegaConf.register_new_resolver("first", lambda *xs: next((x for x in xs if x is not None), None))


def instantiate(node, what: str, **kwargs):
    """hydra.utils.instantiate, with errors the user can act on surfaced as themselves."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate

    if node is None or "_target_" not in node:
        raise ConfigError(f"the {what} config has no _target_; each conf/{what}/*.yaml names a class")
    try:
        return hydra_instantiate(node, **kwargs, _convert_="all")
    except InstantiationException as e:
        cause, root = e, e
        while cause is not None:
            if isinstance(cause, NasframeError):
                raise cause from None
            root = cause
            cause = cause.__cause__ or cause.__context__
        detail = f"{type(root).__name__}: {root}" if root is not e else str(e)
        raise ConfigError(f"cannot create the {what} from {node.get('_target_')} ({detail}); "
                          f"check the keys of conf/{what}/ and your overrides") from None


def choices() -> dict:
    try:
        from hydra.core.hydra_config import HydraConfig

        ch = HydraConfig.get().runtime.choices
        return {k: ch.get(k) for k in ("space", "strategy", "evaluator")}
    except Exception:  # not under Hydra (API use)
        return {}


def build_run(cfg: DictConfig, out_dir: str | Path, names: dict | None = None):
    """Everything a run needs, validated before any file is written."""
    from nasframe.core.runner import Budget, Runner, Source

    names = names if names is not None else choices()
    budget = Budget(**OmegaConf.to_container(cfg.budget, resolve=True))  # cheapest checks first
    space = instantiate(cfg.space, "space")
    strategy = instantiate(cfg.strategy, "strategy")
    evaluator = instantiate(cfg.evaluator, "evaluator", space=space)
    sources = []
    src_names = list(cfg.get("transfer", {}).get("sources", []) or [])
    target = cfg.benchmark.get("task") or cfg.benchmark.get("dataset")
    if target in src_names:
        raise ConfigError(f"the target task '{target}' is also a transfer source; leave it out of "
                          f"transfer.sources (leave-one-out)")
    for name in src_names:
        sources.append(Source(name, instantiate(cfg.evaluator, "evaluator", space=space, dataset=name)))
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("hydra", None)
    config["names"] = names
    title = f"{names.get('strategy') or type(strategy).__name__} on {names.get('space') or space.name}"
    from nasframe.plugins import BestSoFarPlot, ProgressBar
    from nasframe.plugins.shared_study import make_shared

    shared = make_shared(cfg.get("storage"), cfg.get("study"))  # one search shared by many workers
    plugins = [p for p, on in ((shared, shared is not None), (ProgressBar(), bool(cfg.progress)),
                               (BestSoFarPlot(), bool(cfg.plot))) if on]
    return Runner(space, evaluator, strategy, budget, out_dir, seed=int(cfg.seed), config=config,
                  resume=bool(cfg.resume), sources=sources, batch_size=int(cfg.batch_size),
                  names={**names, "title": title}, plugins=plugins)


def output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


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
