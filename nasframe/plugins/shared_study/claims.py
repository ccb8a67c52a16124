"""No architecture evaluated twice: a worker claims an architecture (at a fidelity) before evaluating it.

A claim's key is the architecture string, followed by ``@fidelity`` for a query below the evaluator's
full fidelity (a multi-fidelity strategy's lower rungs), so a full-fidelity claim reads as before."""
from __future__ import annotations

import json

import sqlalchemy as sa

from nasframe.core.evaluator import Evaluation
from nasframe.plugins.shared_study.tables import CLAIMS, insert


BUSY = object()  # another worker is evaluating the claimed (architecture, fidelity)


def claim_key(arch, fidelity: int | None) -> str:
    """The claim of ``arch`` at ``fidelity`` (None: full fidelity)."""
    return str(arch) if fidelity is None else f"{arch}@{fidelity}"


class Claims:
    def __init__(self, engine, study_name: str, owner: str):
        self.engine, self.study_name, self.owner = engine, study_name, owner

    def try_claim(self, arch: str):
        """``("mine", None)``, ``("done", (trial, Evaluation))`` when another worker finished it,
        or ``("busy", None)`` while another worker evaluates it."""
        c = CLAIMS.c
        for _ in range(50):
            if insert(self.engine, CLAIMS, study=self.study_name, arch=arch, owner=self.owner):
                return "mine", None
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(c.owner, c.trial, c.evaluation)
                                   .where(c.study == self.study_name, c.arch == arch)).first()
            if row is None:
                continue  # freed in between: insert again
            if row.evaluation is not None:
                return "done", (row.trial, Evaluation.from_json(json.loads(row.evaluation)))
            return "busy", None
        return "busy", None

    def set_trial(self, arch: str, trial: int) -> None:
        self._update(arch, trial=trial)

    def finish(self, arch: str, evaluation: Evaluation) -> None:
        self._update(arch, evaluation=json.dumps(evaluation.to_json()))

    def _update(self, arch: str, **values) -> None:
        c = CLAIMS.c
        with self.engine.begin() as conn:
            conn.execute(CLAIMS.update().where(c.study == self.study_name, c.arch == arch, c.owner == self.owner)
                         .values(**values))

    def finished_by_others(self, canonical=lambda f: f):
        """``(trial, arch string, Evaluation)`` of every claim other workers finished, by trial number;
        ``canonical`` maps an evaluation's fidelity to the one its claim was keyed by (None: full)."""
        c = CLAIMS.c
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(c.trial, c.arch, c.evaluation)
                                .where(c.study == self.study_name, c.evaluation.is_not(None),
                                       c.owner != self.owner).order_by(c.trial)).all()
        out = []
        for t, key, e in rows:
            ev = Evaluation.from_json(json.loads(e))
            f = canonical(ev.fidelity)
            out.append((t, key if f is None else key[:-len(f"@{f}")], ev))
        return out
