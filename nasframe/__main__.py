"""``python -m nasframe`` and the ``nasframe`` console script: the Hydra entry point (conf/config.yaml).

Hydra reports its own config errors (unknown group, unknown key) over several
lines with exit status 1; we hold stderr until the run starts so that those
come out, like every other user error, as one ``error:`` line and status 2.
"""
import sys

import hydra

from nasframe.cli import HeldStderr, run
from nasframe.compose import CONF_DIR, register_resolvers

register_resolvers()


@hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
def _hydra_main(cfg) -> None:
    HeldStderr.release_current()
    run(cfg)


def main() -> None:
    if not (CONF_DIR / "config.yaml").is_file():
        print(f"error: nasframe's config folder {CONF_DIR} is missing; reinstall nasframe "
              "(pip install . from a checkout, or the wheel)", file=sys.stderr)
        sys.exit(2)
    with HeldStderr() as held:
        try:
            _hydra_main()
        except SystemExit as e:
            if held.holding and e.code not in (0, None):
                held.replace_with_one_line()
                sys.exit(2)
            raise


if __name__ == "__main__":
    main()
