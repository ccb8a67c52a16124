"""``evaluator=auto``: the benchmark table when it is found, else a data-free proxy."""
from __future__ import annotations

import sys

from nasframe.errors import ConfigError, DataNotFound


def synflow_fallback(space, dataset=None):
    """The default data-free fallback (conf/evaluator/fallback/synflow.yaml builds the same)."""
    from nasframe.evaluators.zerocost import ZeroCostEvaluator

    return ZeroCostEvaluator(space, proxy="synflow", dataset=dataset)


def auto_evaluator(space, dataset=None, root=None, path=None, fallback=None, **options):
    """``fallback(space, dataset=...)`` builds the data-free evaluator; the config passes it as a
    nested ``_target_`` with ``_partial_: true`` (conf/evaluator/fallback/), the API may pass any callable."""
    from nasframe.evaluators.lookup import BenchmarkLookup

    if fallback is None:
        fallback = synflow_fallback
    if not callable(fallback):
        raise ConfigError(f"evaluator.fallback must be an evaluator config (pick one with "
                          f"evaluator/fallback=synflow|flops|params), got {fallback!r}")
    try:
        return BenchmarkLookup(space, dataset=dataset, root=root, path=path, **options)
    except DataNotFound:
        if path is not None:
            raise  # an explicit file that does not exist is an error, not a reason to fall back
        ev = fallback(space, dataset=dataset)
        print(f"nasframe: no benchmark table for {space.name} found, searching on the data-free proxy "
              f"'{_name(ev)}' instead; set data.root=DIR (a folder like shared/data) or NASFRAME_DATA "
              "to search on the real table", file=sys.stderr)
        return ev


def _name(evaluator) -> str:
    return ", ".join(o.name for o in evaluator.objectives)
