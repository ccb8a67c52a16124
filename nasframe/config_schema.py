"""The top-level config's schema, checked before a run folder is touched.

Hydra refuses an unknown key that is *set* (``budjet.queries=10``), but a key
*added* with ``+`` (the fix Hydra itself suggests) lands silently in the
config and is then ignored. The keys allowed at the top level, and inside the
plain sections (``budget``, ``data``, ...), are those of ``conf/config.yaml``
itself plus its config groups: a key a helper adds there is allowed at once,
with no second list to keep in step. (A ConfigStore dataclass schema would
duplicate config.yaml and could not describe the groups, whose keys are the
free-form arguments of each ``_target_``; those are checked when the class
is built.) The scalar settings get their type and range checked here, so
``seed=abc`` or ``seed=-1`` is one sentence instead of a traceback.
"""
from __future__ import annotations

from functools import cache

from omegaconf import DictConfig, OmegaConf

from nasframe.errors import ConfigError

# groups whose keys are the arguments of their _target_ (checked when it is built)
FREE_FORM = ("space", "strategy", "evaluator", "hydra")
MAX_SEED = 2**32 - 1  # numpy's legacy seeding, the narrowest RNG the run seeds


@cache
def _primary(config_name: str = "config") -> dict:
    from nasframe.compose import CONF_DIR  # the packaged configs in a wheel, the repository's in a checkout

    raw = OmegaConf.to_container(OmegaConf.load(CONF_DIR / f"{config_name}.yaml"), resolve=False)
    groups = []
    for entry in raw.pop("defaults", []) or []:
        if isinstance(entry, dict):
            groups += [k.split("@")[0].split(" ")[-1].split("/")[0] for k in entry]
    return {"sections": {k: v for k, v in raw.items() if k not in FREE_FORM},
            "groups": tuple(g for g in groups if g not in ("override", "_self_")),
            "globals": _global_keys(CONF_DIR)}


def _global_keys(conf_dir) -> frozenset[str]:
    """Top-level keys that group configs marked ``# @package _global_`` add (zc's ``proxy``, eproxy's ``eproxy``)."""
    keys: set[str] = set()
    for path in sorted(conf_dir.glob("*/*.yaml")):
        if path.read_text().startswith("# @package _global_"):
            keys |= set(OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {})
    return frozenset(keys)


def _did_you_mean(key: str, known) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_keys(cfg: DictConfig, config_name: str = "config") -> None:
    """Refuse keys that conf/config.yaml does not have (added with ``+key=...``)."""
    primary = _primary(config_name)
    known = set(primary["sections"]) | set(primary["groups"]) | set(FREE_FORM) | primary["globals"]
    for key in cfg:
        if key not in known:
            raise ConfigError(f"unknown config key '{key}'{_did_you_mean(key, known)}; the top-level keys are "
                              f"{', '.join(sorted(known - {'hydra'}))}")
        section = primary["sections"].get(key)
        if isinstance(section, dict) and isinstance(cfg.get(key), DictConfig):
            for sub in cfg[key]:
                if sub not in section:
                    raise ConfigError(f"unknown config key '{key}.{sub}'{_did_you_mean(sub, section)}; "
                                      f"{key} has: {', '.join(section)}")


def _integer(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        rng = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {rng}, got {value}")
    return value


def check_values(cfg: DictConfig) -> None:
    """Type and range of the run-wide scalars, before anything is built or written."""
    _integer(cfg.get("seed"), "seed", 0, MAX_SEED)
    _integer(cfg.get("batch_size", 1), "batch_size", 1)
    for flag in ("resume", "progress", "plot"):
        if flag in cfg and not isinstance(cfg.get(flag), bool):
            raise ConfigError(f"{flag} must be true or false, got {cfg.get(flag)!r}")
    for name in ("storage", "study"):
        if cfg.get(name) is not None and not isinstance(cfg.get(name), str):
            raise ConfigError(f"{name} must be a string or null, got {cfg.get(name)!r}")


def check_config(cfg: DictConfig, config_name: str = "config") -> None:
    """Everything the schema says about a composed top-level config (raises ``ConfigError``)."""
    check_keys(cfg, config_name)
    check_values(cfg)
