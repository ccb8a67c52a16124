"""Worker liveness: each worker beats in ``nasframe_workers``; one silent past the grace period is dead.

A dead worker's running trials are failed in the Optuna study and its unfinished budget
slots and claims are freed, so the others take them over and the study still spends its
whole budget. Beats use the workers' clocks (as Optuna's heartbeats do): keep hosts in sync.
"""
from __future__ import annotations

import math
import threading
import time

import sqlalchemy as sa

from nasframe.plugins.shared_study.tables import CLAIMS, SLOTS, WORKERS, insert


class Heartbeat:
    def __init__(self, engine, study_name: str, owner: str, interval: float, grace: float):
        self.engine, self.study_name, self.owner = engine, study_name, owner
        self.interval, self.grace = interval, grace
        self._stop = threading.Event()
        self._thread = None
        self._checked = -math.inf

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._run, name="nasframe-heartbeat", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        w = WORKERS.c
        with self.engine.begin() as conn:
            done = conn.execute(WORKERS.update().where(w.study == self.study_name, w.owner == self.owner)
                                .values(beat=time.time())).rowcount
        if not done:
            insert(self.engine, WORKERS, study=self.study_name, owner=self.owner, beat=time.time())

    def _run(self) -> None:
        while not self._stop.wait(self.interval / 2):
            try:
                self.beat()
            except Exception:
                pass  # the next beat retries; a lost beat only risks a needless takeover elsewhere

    def stop(self) -> None:
        """Stop beating and leave the study (a stopped worker holds nothing the others could take)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self.forget(self.owner)

    def forget(self, owner: str) -> None:
        w = WORKERS.c
        with self.engine.begin() as conn:
            conn.execute(WORKERS.delete().where(w.study == self.study_name, w.owner == owner))

    def dead_workers(self) -> list[str]:
        w = WORKERS.c
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(w.owner).where(w.study == self.study_name, w.owner != self.owner,
                                                         w.beat < time.time() - self.grace)).all()
        return [r[0] for r in rows]

    def due(self) -> bool:
        """Throttle: look for dead workers at most twice per interval."""
        now = time.monotonic()
        if now - self._checked < self.interval / 2:
            return False
        self._checked = now
        return True


def free_rows_of(engine, study_name: str, owner: str) -> None:
    """Unfinished slots and claims of ``owner`` go back to the study."""
    s, c = SLOTS.c, CLAIMS.c
    with engine.begin() as conn:
        conn.execute(SLOTS.delete().where(s.study == study_name, s.owner == owner, s.done.is_(False)))
        conn.execute(CLAIMS.delete().where(c.study == study_name, c.owner == owner, c.evaluation.is_(None)))
