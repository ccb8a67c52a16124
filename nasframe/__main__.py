"""``python -m nasframe``: the Hydra entry point (see conf/config.yaml).

Hydra reports its own config errors (unknown group, unknown key) over several
lines with exit status 1; we hold stderr until the run starts so that those
come out, like every other user error, as one ``error:`` line and status 2.
"""
import sys

import hydra

from nasframe.cli import CONF_DIR, HeldStderr, register_resolvers, run

register_resolvers()


@hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
def main(cfg) -> None:
    HeldStderr.release_current()
    run(cfg)


if __name__ == "__main__":
    if not CONF_DIR.is_dir():
        print(f"error: nasframe's config folder {CONF_DIR} is missing; install from a source checkout "
              "with pip install -e .", file=sys.stderr)
        sys.exit(2)
    with HeldStderr() as held:
        try:
            main()
        except SystemExit as e:
            if held.holding and e.code not in (0, None):
                held.replace_with_one_line()
                sys.exit(2)
            raise
