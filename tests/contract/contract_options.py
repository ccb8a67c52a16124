"""The extra config folders named by ``--contract-conf`` / ``$NASFRAME_CONTRACT_CONF``."""
import os
from pathlib import Path


def extra_conf_dirs(config) -> list[Path]:
    raw = list(config.getoption("--contract-conf", default=[]) or [])  # unregistered when run from the root
    raw += [p for p in os.environ.get("NASFRAME_CONTRACT_CONF", "").split(os.pathsep) if p]
    dirs = []
    for r in raw:
        for p in str(r).split(os.pathsep):
            if p:
                d = Path(p).expanduser().resolve()
                if not d.is_dir():
                    raise ValueError(f"--contract-conf {p} is not a folder")
                dirs.append(d)
    return dirs
