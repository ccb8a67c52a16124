"""``evaluator=auto``: the benchmark table when it is found, else a data-free proxy."""
from __future__ import annotations

import sys

from nasframe.errors import ConfigError, DataNotFound


def synflow_fallback(space, dataset=None):
    """The default data-free fallback (conf/evaluator/fallback/synflow.yaml builds the same)."""
    from nasframe.evaluators.zerocost import ZeroCostEvaluator

    return ZeroCostEvaluator(space, proxy="synflow", dataset=dataset)


def given_root_for(space, root) -> bool:
    """A data root was given (data.root or NASFRAME_DATA) and this space has a benchmark loader to look
    in it: then finding nothing there is an error naming what was looked for."""
    from nasframe.benchmarks import LOADERS, data_root

    return data_root(root) is not None and space.name in LOADERS


def resolved_name(space_config, config) -> str:
    """The config name ``evaluator=auto`` stands for here: ``lookup`` when the table is found, else
    its fallback's (``zc`` for synflow). Cheap: a found table loads from the cache in milliseconds."""
    from hydra.errors import HydraException
    from hydra.utils import instantiate

    from nasframe.benchmarks import find_benchmark
    from nasframe.errors import NasframeError

    fallback = config.get("fallback") or {}
    # the folder is named like the evaluator config of the fallback: zc (a zero-cost proxy), flops, params
    name = "zc" if not fallback or "proxy" in fallback else str(fallback.get("_target_")).rsplit(".", 1)[-1]
    name = name.removesuffix("Evaluator").lower()
    try:
        find_benchmark(instantiate(space_config), config.get("dataset"), root=config.get("root"),
                       path=config.get("path"), epoch_mode=config.get("epoch_mode", "final"))
    except DataNotFound:
        return "lookup" if config.get("path") else name
    except (NasframeError, HydraException, OSError):  # a bad table or space: building the run reports it in one sentence
        return "lookup"
    return "lookup"


def auto_evaluator(space, dataset=None, root=None, path=None, fallback=None, **options):
    """``fallback(space, dataset=...)`` builds the data-free evaluator; the config passes it as a
    nested ``_target_`` with ``_partial_: true`` (conf/evaluator/fallback/), the API may pass any callable.
    auto.yaml sets ``_recursive_: false``, so the fallback arrives as its config and its module (a proxy's
    torch, a second of start-up) is imported only when no table is found."""
    from collections.abc import Mapping

    from nasframe.evaluators.lookup import BenchmarkLookup

    if fallback is None:
        fallback = synflow_fallback
    if isinstance(fallback, Mapping) and "_target_" in fallback:
        fallback_config = fallback

        def fallback(space, dataset=None):
            from hydra.utils import instantiate

            return instantiate(fallback_config)(space, dataset=dataset)
    if not callable(fallback):
        raise ConfigError(f"evaluator.fallback must be an evaluator config (pick one with "
                          f"evaluator/fallback=synflow|flops|params), got {fallback!r}")
    try:
        return BenchmarkLookup(space, dataset=dataset, root=root, path=path, **options)
    except DataNotFound:
        if path is not None or given_root_for(space, root):
            raise  # an explicit file or data root without the table is an error, not a reason to fall back
        if options.get("epochs") is not None or options.get("seed_mode", "mean") != "mean":
            raise  # a benchmark protocol was asked for: a proxy cannot honour it
        ev = fallback(space, dataset=dataset)
        print(f"nasframe: no benchmark table for {space.name} found, searching on the data-free proxy "
              f"'{_name(ev)}' instead; to search on the real table, fetch it into a data folder "
              "(python -m nasframe.data --root DIR download NAME; names: python -m nasframe.data list) "
              "and pass data.root=DIR (or set NASFRAME_DATA=DIR), e.g. data.root=../shared/data",
              file=sys.stderr)
        return ev


def _name(evaluator) -> str:
    return ", ".join(o.name for o in evaluator.objectives)
