"""``evaluator=auto``: the benchmark table when it is found, else a data-free proxy."""
from __future__ import annotations

import sys

from nasframe.errors import ConfigError, DataNotFound


def fallback_evaluator(space, name: str, dataset=None):
    from nasframe.evaluators.complexity import FlopsEvaluator, ParamsEvaluator
    from nasframe.evaluators.zerocost import ZeroCostEvaluator

    table = {"synflow": lambda: ZeroCostEvaluator(space, proxy="synflow", dataset=dataset),
             "flops": lambda: FlopsEvaluator(space, dataset=dataset),
             "params": lambda: ParamsEvaluator(space, dataset=dataset)}
    if name not in table:
        raise ConfigError(f"unknown fallback evaluator '{name}'; choose one of {', '.join(table)}")
    return table[name]()


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

    fallback = config.get("fallback", "synflow")
    try:
        find_benchmark(instantiate(space_config), config.get("dataset"), root=config.get("root"),
                       path=config.get("path"), epoch_mode=config.get("epoch_mode", "final"))
    except DataNotFound:
        return "lookup" if config.get("path") else {"synflow": "zc"}.get(fallback, fallback)
    except (NasframeError, HydraException, OSError):  # a bad table or space: building the run reports it in one sentence
        return "lookup"
    return "lookup"


def auto_evaluator(space, dataset=None, root=None, path=None, fallback: str = "synflow", **options):
    from nasframe.evaluators.lookup import BenchmarkLookup

    try:
        return BenchmarkLookup(space, dataset=dataset, root=root, path=path, **options)
    except DataNotFound:
        if path is not None or given_root_for(space, root):
            raise  # an explicit file or data root without the table is an error, not a reason to fall back
        if options.get("epochs") is not None or options.get("seed_mode", "mean") != "mean":
            raise  # a benchmark protocol was asked for: a proxy cannot honour it
        ev = fallback_evaluator(space, fallback, dataset)
        print(f"nasframe: no benchmark table for {space.name} found, searching on the data-free proxy "
              f"'{fallback}' instead; to search on the real table, fetch it into a data folder "
              "(python -m nasframe.data --root DIR download NAME; names: python -m nasframe.data list) "
              "and pass data.root=DIR (or set NASFRAME_DATA=DIR), e.g. data.root=../shared/data",
              file=sys.stderr)
        return ev
