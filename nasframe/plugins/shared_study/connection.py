"""Opening the storage: URL checks, the SQLAlchemy engine for nasframe's own tables, the Optuna study."""
from __future__ import annotations

import importlib.util
import json
import time
import warnings
from pathlib import Path

from nasframe.errors import ConfigError

# config keys that may differ between the workers of one study
WORKER_KEYS = ("seed", "resume", "progress", "plot", "storage", "study", "names", "hydra")


def study_fingerprint(config: dict) -> dict:
    return json.loads(json.dumps({k: v for k, v in config.items() if k not in WORKER_KEYS},
                                 sort_keys=True, default=str))


def one_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e)
    return " ".join(text.split())[:300]


def check_url(url) -> str:
    if not url or not isinstance(url, str):
        raise ConfigError(f"storage must be an SQLAlchemy URL such as sqlite:///runs.db, got {url!r}")
    if "://" not in url:
        raise ConfigError(f"storage '{url}' is not a database URL; use e.g. storage=sqlite:///runs.db "
                          "or storage=postgresql://user@host/db")
    return with_driver(url)


def with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only that is installed."""
    if url.startswith(("postgresql://", "postgres://")) and importlib.util.find_spec("psycopg") is None:
        if importlib.util.find_spec("psycopg2") is None:
            raise ConfigError("storage= is a PostgreSQL URL but no PostgreSQL driver is installed; "
                              "pip install psycopg2-binary (or psycopg)")
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def safe_url(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the storage URL"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers and one writer work at once (it persists in the file, so Optuna's own
    # connections use it too); NORMAL sync is safe in WAL against process crashes
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def retry_creation(create, attempts: int = 10):
    """Workers starting together race to create tables; the losers retry."""
    for attempt in range(attempts):
        try:
            return create()
        except Exception as e:
            text = str(e).lower()
            if attempt == attempts - 1 or not any(w in text for w in ("already exists", "locked", "duplicate",
                                                                      "unique")):
                raise
            time.sleep(0.2 * (attempt + 1))


def open_engine_and_study(url: str, name: str, objectives):
    """The engine for nasframe's tables and the Optuna study (created on first use)."""
    import optuna
    import sqlalchemy as sa

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    kwargs = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 120}}
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:" and not Path(path).parent.exists():
            raise ConfigError(f"cannot open storage {url}: the folder {Path(path).parent} "
                              "does not exist; create it or use another storage= URL")
    try:
        engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            with engine.connect():
                pass  # WAL before Optuna creates its tables
        storage = retry_creation(lambda: optuna.storages.RDBStorage(url, engine_kwargs=dict(kwargs)))
    except ConfigError:
        raise
    except Exception as e:  # driver missing, host unreachable, bad credentials, ...
        raise ConfigError(f"cannot open storage {safe_url(url)}: {one_line(e)}; check the storage= URL "
                          "and that the database server is running") from None
    directions = ["maximize" if o.direction == "max" else "minimize" for o in objectives]
    try:
        study = retry_creation(lambda: optuna.create_study(storage=storage, study_name=name, directions=directions,
                                                           load_if_exists=True))
    except ValueError as e:
        raise ConfigError(f"study '{name}' in {safe_url(url)} cannot be joined ({one_line(e)}); "
                          "choose another study= name") from None
    if [d.name.lower() for d in study.directions] != directions:
        raise ConfigError(f"study '{name}' in {safe_url(url)} has directions {[d.name for d in study.directions]}, "
                          f"this search {directions}; choose another study= name")
    return engine, storage, study


def check_same_search(study, config: dict, url: str) -> None:
    """The first worker writes the search's config on the study; the others must match it."""
    new = study_fingerprint(config)
    if "nasframe_config" not in study.user_attrs:
        study.set_user_attr("nasframe_config", json.dumps(new, sort_keys=True))
    old = json.loads(study.user_attrs["nasframe_config"])
    if old != new:
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ConfigError(f"study '{study.study_name}' in {safe_url(url)} belongs to a search with a different "
                          f"config ({', '.join(diff)}); choose another study= name or the original settings")
