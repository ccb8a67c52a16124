"""``python -m nasframe.correlate``: rank correlations of an evaluator with a benchmark table.

The command composes ``conf/correlate.yaml`` through the composition root and calls
``nasframe.analysis.correlate``; it lives above ``compose`` (like ``nasframe.report``) so the
analysis library never imports the composition root.

    python -m nasframe.correlate space=nb201 evaluator=zc proxy=synflow sample=1000 data.root=DIR
"""
from __future__ import annotations

import sys

from nasframe.analysis.correlate import _summary_line, choose_archs, correlate, read_column_by_arch
from nasframe.errors import ConfigError, NasframeError


def run(cfg) -> dict:
    from nasframe.compose import instantiate
    from nasframe.evaluators.lookup import BenchmarkLookup

    space = instantiate(cfg.space, "space")
    evaluator = instantiate(cfg.evaluator, "evaluator", space=space)
    dataset = cfg.benchmark.get("task") or cfg.benchmark.get("dataset")
    truth = BenchmarkLookup(space, dataset=dataset, root=cfg.data.root, path=cfg.benchmark.path,
                            epoch_mode=cfg.benchmark.get("epoch_mode", "final"))
    archs = choose_archs(space, int(cfg.sample), int(cfg.seed), cfg.get("pool"))
    reference = None
    if cfg.get("reference"):
        path, _, column = str(cfg.reference).rpartition(":")
        if not path:
            raise ConfigError(f"reference must be FILE:COLUMN, got '{cfg.reference}'")
        reference = read_column_by_arch(path, column)
    from nasframe.compose import choices

    proxy = cfg.evaluator.get("proxy")
    if proxy is None:
        label = choices().get("evaluator") or type(evaluator).__name__
    else:
        label = proxy if isinstance(proxy, str) else "+".join(proxy)
    from nasframe.compose import output_dir

    result = correlate(space, evaluator, truth, archs, reference, output_dir(), bool(cfg.progress), label)
    print(_summary_line(result))
    print(f"-> {output_dir()}")
    return result


def main() -> None:
    import hydra

    from nasframe.compose import CONF_DIR, register_resolvers

    register_resolvers()

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="correlate")
    def _main(cfg) -> None:
        try:
            run(cfg)
        except NasframeError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    _main()


if __name__ == "__main__":
    main()
