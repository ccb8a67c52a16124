"""The one composition root: where the configs live and how a config becomes objects.

The command line (``nasframe.cli``), the Python API, the report, the analyses
and the data tool all compose through here, so each builds exactly what
``python -m nasframe`` would. Nothing here imports torch.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from nasframe.errors import ConfigError, NasframeError

GROUPS = ("space", "strategy", "evaluator")


def config_dir() -> Path:
    """The config folder: ``nasframe/conf`` inside an installed wheel, ``<checkout>/conf`` otherwise."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    return here.parent / "conf"


CONF_DIR = config_dir()


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("first"):
        # first non-null argument: ${first:${benchmark.task},${benchmark.dataset}}
        OmegaConf.register_new_resolver("first", lambda *xs: next((x for x in xs if x is not None), None))
    if not OmegaConf.has_resolver("evaluator_name"):
        # the run folder is named after the evaluator that will run (auto -> lookup or its fallback)
        OmegaConf.register_new_resolver("evaluator_name", resolved_evaluator_name)


def resolved_evaluator_name(choice: str, evaluator: DictConfig | None = None, space: DictConfig | None = None) -> str:
    """``evaluator=auto`` named after what it resolves to, so data-free and real-data runs differ."""
    if choice != "auto" or evaluator is None or space is None:
        return choice
    from nasframe.evaluators.auto import resolved_name

    return resolved_name(space, evaluator)


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
    """The chosen space/strategy/evaluator names of the running Hydra job ({} outside Hydra)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():  # not under Hydra (API use)
        return {}
    ch = HydraConfig.get().runtime.choices
    return {k: ch.get(k) for k in GROUPS}


def output_dir() -> Path:
    """The running Hydra job's output folder."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> tuple[DictConfig, dict]:
    """The composed config (without its ``hydra`` node) and the chosen group names.

    A bad override (unknown group, option or key) raises ``ConfigError`` with Hydra's sentence."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from hydra.errors import HydraException

    if not (CONF_DIR / f"{config_name}.yaml").is_file():
        raise ConfigError(f"nasframe's config folder {CONF_DIR} has no {config_name}.yaml; reinstall nasframe")
    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = hydra_compose(config_name, overrides=list(overrides), return_hydra_config=True)
    except HydraException as e:  # an unknown group, option or key: Hydra's own sentence, as ours
        raise ConfigError(" ".join(str(e).split()).split(" Config search path:")[0]) from None
    ch = cfg.hydra.runtime.choices
    names = {k: ch.get(k) for k in GROUPS}
    with read_write(cfg), open_dict(cfg):
        del cfg["hydra"]
    return cfg, names


def build_run(cfg: DictConfig, out_dir: str | Path, names: dict | None = None):
    """Everything a run needs, validated before any file is written: a ready ``Runner``."""
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
    config["data_sha256"] = data_hashes(evaluator.describe())
    if cfg.resume:
        config = adopt_moved_data(config, Path(out_dir))
    title = f"{names.get('strategy') or type(strategy).__name__} on {names.get('space') or space.name}"
    from nasframe.plugins import BestSoFarPlot, ProgressBar

    shared = None
    if any(cfg.get(k) not in (None, "", "null") for k in ("storage", "study")):
        from nasframe.plugins.shared_study import make_shared  # SQLAlchemy costs 0.2 s: only when asked

        shared = make_shared(cfg.get("storage"), cfg.get("study"))  # one search shared by many workers
    plugins = [p for p, on in ((shared, shared is not None), (ProgressBar(), bool(cfg.progress)),
                               (BestSoFarPlot(), bool(cfg.plot))) if on]
    return Runner(space, evaluator, strategy, budget, out_dir, seed=int(cfg.seed), config=config,
                  resume=bool(cfg.resume), sources=sources, batch_size=int(cfg.batch_size),
                  names={**names, "title": title}, plugins=plugins)


# ---------------------------------------------------------------- data identity

PATH_KEYS = ("root", "path")  # where data is read from; the data itself is identified by data_sha256
NESTED_RUNTIME_KEYS = ("progress",)  # e.g. strategy.progress: ${progress}, free to change on resume


def data_hashes(described) -> list[str]:
    """Every table's SHA-256 an evaluator's ``describe()`` names, sorted (what a run's data *is*)."""
    found: set[str] = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "sha256" and isinstance(v, str):
                    found.add(v)
                else:
                    walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(described)
    return sorted(found)


def _identity(x, top: bool = True):
    """A config without what may change on resume: data paths, the hashes (checked apart), nested progress."""
    if isinstance(x, dict):
        drop = {"data_sha256"} | (set() if top else set(NESTED_RUNTIME_KEYS))
        return {k: (None if k in PATH_KEYS else _identity(v, False)) for k, v in x.items() if k not in drop}
    if isinstance(x, list):
        return [_identity(v, False) for v in x]
    return x


def _recorded_hashes(run: Path, old: dict) -> list[str] | None:
    """The data hashes a run folder recorded: in its config, else in a finished run's summary; None if neither."""
    if "data_sha256" in old:
        return list(old["data_sha256"])
    summary = run / "summary.json"
    if summary.is_file():
        import json

        return data_hashes(json.loads(summary.read_text()).get("evaluator"))
    return None


def adopt_moved_data(config: dict, run: Path) -> dict:
    """A resumed run identifies its data by content, not by where it lies.

    When the config differs from the run folder's only in data paths (``root``/``path`` keys) or a
    nested ``progress`` and the data hashes match, the run continues under its recorded config (so the folder is not rewritten);
    when the hashes differ, one sentence refuses. Anything else is left to the ledger's config check.
    """
    import json

    recorded = run / "config.json"
    if not recorded.is_file():
        return config
    try:
        old = json.loads(recorded.read_text())
    except (OSError, ValueError):
        return config  # a damaged config.json: the ledger refuses it in one sentence
    if not isinstance(old, dict):
        return config
    from nasframe.core.ledger import comparable_config

    if comparable_config(_identity(old)) != comparable_config(_identity(config)):
        return config  # a real change: the ledger names it
    hashes = _recorded_hashes(run, old)
    if hashes is not None and hashes != config["data_sha256"]:
        raise ConfigError(f"cannot resume {run}: the benchmark data changed (the run used sha256 "
                          f"{', '.join(h[:12] for h in hashes) or 'none'}, the data found now has "
                          f"{', '.join(h[:12] for h in config['data_sha256']) or 'none'}); resume with the "
                          "data the run started with or start a new run folder")
    # the budget may grow on resume (the ledger checks how): it is the new one, like the runtime keys
    adopted = {**old, **{k: config[k] for k in ("resume", "progress", "plot", "budget") if k in config}}
    if "data_sha256" not in old:
        adopted.pop("data_sha256", None)
    return adopted
