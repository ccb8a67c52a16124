"""The study-wide budget: ``budget.queries`` slots, each held by one query of one worker."""
from __future__ import annotations

import sqlalchemy as sa

from nasframe.plugins.shared_study.tables import SLOTS, insert


class Slots:
    def __init__(self, engine, study_name: str, owner: str, limit: int):
        self.engine, self.study_name, self.owner, self.limit = engine, study_name, owner, limit

    def _rows(self):
        s = SLOTS.c
        with self.engine.begin() as conn:
            return conn.execute(sa.select(s.slot, s.owner, s.done).where(s.study == self.study_name)).all()

    def try_reserve(self) -> tuple[int | None, bool]:
        """``(slot, False)`` when one was reserved; ``(None, wait)`` when none is free, where
        ``wait`` says another worker still runs a query (it completes, or its worker dies)."""
        while True:
            rows = self._rows()
            taken = {r.slot for r in rows}
            free = [i for i in range(self.limit) if i not in taken]
            if not free:
                return None, any(not r.done and r.owner != self.owner for r in rows)
            for i in free:
                if insert(self.engine, SLOTS, study=self.study_name, slot=i, owner=self.owner, done=False):
                    return i, False
            # every free slot went to faster workers meanwhile: look again

    def mark_done(self, slot: int) -> None:
        s = SLOTS.c
        with self.engine.begin() as conn:
            conn.execute(SLOTS.update().where(s.study == self.study_name, s.slot == slot, s.owner == self.owner)
                         .values(done=True))

    def release(self, slots) -> None:
        s = SLOTS.c
        if slots:
            with self.engine.begin() as conn:
                conn.execute(SLOTS.delete().where(s.study == self.study_name, s.owner == self.owner,
                                                  s.slot.in_(list(slots)), s.done.is_(False)))
