"""``python -m nasframe``: the Hydra entry point (see conf/config.yaml)."""
import sys

import hydra

from nasframe.cli import CONF_DIR, register_resolvers, run

register_resolvers()


@hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
def main(cfg) -> None:
    run(cfg)


if __name__ == "__main__":
    if not CONF_DIR.is_dir():
        print(f"error: nasframe's config folder {CONF_DIR} is missing; install from a source checkout "
              "with pip install -e .", file=sys.stderr)
        sys.exit(2)
    main()
