"""nasframe's own tables beside Optuna's: Optuna has no uniqueness on attributes, these rows do.

* ``nasframe_slots``   (study, slot) — one row per budget slot in use; ``done`` once its query completed.
* ``nasframe_claims``  (study, arch) — who evaluates an architecture; ``evaluation`` (JSON) once finished.
* ``nasframe_workers`` (study, owner) — each worker's last heartbeat (seconds since the epoch).
"""
from __future__ import annotations

import time

import sqlalchemy as sa

from nasframe.errors import NasframeError

META = sa.MetaData()
SLOTS = sa.Table("nasframe_slots", META,
                 sa.Column("study", sa.String(512), primary_key=True),
                 sa.Column("slot", sa.Integer, primary_key=True),
                 sa.Column("owner", sa.String(1024), nullable=False),
                 sa.Column("done", sa.Boolean, nullable=False, default=False))
CLAIMS = sa.Table("nasframe_claims", META,
                  sa.Column("study", sa.String(512), primary_key=True),
                  sa.Column("arch", sa.String(1024), primary_key=True),
                  sa.Column("owner", sa.String(1024), nullable=False),
                  sa.Column("trial", sa.Integer),  # Optuna trial number of the evaluation
                  sa.Column("evaluation", sa.Text))
WORKERS = sa.Table("nasframe_workers", META,
                   sa.Column("study", sa.String(512), primary_key=True),
                   sa.Column("owner", sa.String(1024), primary_key=True),
                   sa.Column("beat", sa.Float, nullable=False))


def create_tables(engine) -> None:
    for attempt in range(10):
        try:
            META.create_all(engine)
            return
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
            if attempt == 9:  # not the creation race: a real problem
                raise
            time.sleep(0.2 * (attempt + 1))  # another worker is creating them at this moment


def insert(engine, table, **row) -> bool:
    """Insert a row; False when its key is taken."""
    try:
        with engine.begin() as conn:
            conn.execute(table.insert().values(**row))
        return True
    except sa.exc.IntegrityError:
        return False


def insert_or_fail(engine, table, tries: int = 50, **row) -> None:
    for _ in range(tries):
        if insert(engine, table, **row):
            return
    raise NasframeError(f"could not write a row of {table.name} after {tries} tries")
