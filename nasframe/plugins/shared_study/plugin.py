"""The runner plug-in that makes a run one worker of a study shared through an RDB storage."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from nasframe.core.evaluator import Evaluation
from nasframe.core.plugin import RunContext, RunnerPlugin
from nasframe.errors import ConfigError
from nasframe.plugins.shared_study.budget import Slots
from nasframe.plugins.shared_study.claims import Claims
from nasframe.plugins.shared_study.connection import (
    check_same_search,
    check_url,
    open_engine_and_study,
)
from nasframe.plugins.shared_study.heartbeat import Heartbeat, free_rows_of
from nasframe.plugins.shared_study.tables import create_tables
from nasframe.plugins.shared_study.trials import TrialMirror


def worker_id(out_dir) -> str:
    """Stable across a worker's resumes: host plus its run folder."""
    return f"{socket.gethostname()}:{Path(out_dir).resolve()}"


class SharedStudy(RunnerPlugin):
    """One worker of a shared study (see the package docstring for what it adds to the loop)."""

    def __init__(self, url: str, name: str | None = None, heartbeat_interval: float = 10,
                 grace_period: float | None = None, poll_seconds: float = 0.2):
        self.url = check_url(url)
        self.name_in_storage = name or "nasframe"
        self.heartbeat_interval = max(0.5, float(heartbeat_interval))
        self.grace_period = float(grace_period) if grace_period else 2 * self.heartbeat_interval
        self.poll_seconds = poll_seconds
        self.engine = self.slots = self.trials = self.heartbeat = None  # set by open(), which may stop midway
        self.pending: list[tuple[int, object]] = []  # (slot, open trial) of the queries being evaluated
        self.reserved: list[int] = []  # slots held for the next queries

    # ------------------------------------------------------------ connecting

    def open(self, ctx: RunContext) -> None:
        from nasframe.plugins.shared_study.connection import one_line, safe_url

        if ctx.strategy.needs_fidelity:  # budget slots and claims count architectures, not (architecture, fidelity)
            raise ConfigError("multi-fidelity strategies (hyperband, sh) do not run in a shared study yet; drop storage=")
        self.ctx = ctx
        self.owner = worker_id(ctx.run_dir)
        self.engine, self.storage, self.study = open_engine_and_study(self.url, self.name_in_storage,
                                                                      ctx.objectives)
        try:
            create_tables(self.engine)
        except Exception as e:
            raise ConfigError(f"cannot create nasframe's tables in {safe_url(self.url)}: {one_line(e)}") from None
        check_same_search(self.study, ctx.config, self.url)
        name, owner = self.name_in_storage, self.owner
        self.slots = Slots(self.engine, name, owner, ctx.budget.queries)
        self.claims = Claims(self.engine, name, owner)
        self.trials = TrialMirror(self.study, ctx.space, ctx.objectives, owner)
        self.heartbeat = Heartbeat(self.engine, name, owner, self.heartbeat_interval, self.grace_period)
        # this worker's leftovers from before a kill: its running trials fail, its rows go back
        self.trials.fail_running(owner)
        free_rows_of(self.engine, name, owner)
        self.heartbeat.start()

    def start(self, ctx: RunContext, state) -> None:
        self.mine = self.trials.finished_by(self.owner)  # my search query index -> trial number
        shared = ctx.recorded_lines("shared")
        self.told = {r["trial"] for r in shared}  # trials told from other workers (replayed or to replay)
        self.last_replayed_shared = max((r["index"] for r in shared), default=-1)

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.slots is not None:  # connected and checked: give back what this worker holds
            for _, trial in self.pending:  # evaluation interrupted by an error
                self.trials.fail(trial.number)
            self.slots.release(self.reserved + [s for s, _ in self.pending])  # reserved, never used
        if self.engine is not None:
            self.engine.dispose()

    # ------------------------------------------------------------ the budget

    def before_ask(self, n: int) -> int:
        """Tell the strategy what other workers finished; reserve up to ``n`` study budget slots."""
        self._sync()
        query = self.ctx.count("search")
        replayed = sum(1 for i in range(n) if self._replayed(query + i))
        if replayed == n:
            return n  # these queries are already in the study; the runner replays them
        while len(self.reserved) < n - replayed:
            slot = self._reserve()
            if slot is None:
                break
            self.reserved.append(slot)
        return min(n, replayed + len(self.reserved))

    def _reserve(self) -> int | None:
        while True:
            self._take_over_dead()
            slot, wait = self.slots.try_reserve()
            if slot is not None or not wait:
                return slot
            # every slot is taken and one is still running elsewhere: it completes, or its worker
            # dies and the slot comes free; wait, so the study's budget is never left short
            time.sleep(self.poll_seconds)

    def _take_over_dead(self) -> None:
        if not self.heartbeat.due():
            return
        for owner in self.heartbeat.dead_workers():
            self.trials.fail_running(owner)
            free_rows_of(self.engine, self.name_in_storage, owner)
            self.heartbeat.forget(owner)

    def _replayed(self, query: int) -> bool:
        """A query of this worker that its ledger and the study both hold (a resumed run replays it)."""
        return query in self.mine and self.ctx.recorded("search", query) is not None

    # ------------------------------------------------------------ claims

    def after_ask(self, archs: list) -> list:
        """Claim each architecture; answer others' finished ones free and ask again in their place."""
        out, slot = [], 0  # slot: index into self.reserved of the next query that needs one
        pending = list(archs)
        strategy = self.ctx.strategy
        while pending:
            a = pending.pop(0)
            query = self.ctx.count("search") + len(out)
            if self._replayed(query):
                out.append(a)  # replayed: already in the study
                continue
            if a in self.ctx.seen:  # my own repeat: charged as in a serial run
                answer = None
            else:
                answer = self._replayed_duplicate(a) or self._claim(a)
            if answer is None:
                out.append(a)
                self.pending.append((self.reserved[slot], self.trials.open(a, self.reserved[slot])))
                if a not in self.ctx.seen:
                    self.claims.set_trial(str(a), self.pending[-1][1].number)
                slot += 1
                continue
            trial, evaluation = answer
            self.told.add(trial)
            self.ctx.record("shared", [a], [evaluation], kind="duplicate", at=self.ctx.count("search"),
                            trial=trial)
            strategy.tell([a], [evaluation.visible()])
            pending.extend(strategy.ask(1))
        del self.reserved[:slot]
        return out

    def _replayed_duplicate(self, arch):
        rec = self.ctx.recorded("shared", self.ctx.count("shared"))
        if rec is None or rec.get("kind") != "duplicate":
            return None
        if rec["arch"] != str(arch):
            from nasframe.errors import NasframeError

            raise NasframeError(f"resume diverged: the ledger has {rec['arch']} answered by another worker but "
                                f"the strategy asked {arch}; start a new run folder")
        return rec.get("trial"), Evaluation.from_json(rec)

    def _claim(self, arch):
        """None when this worker now owns ``arch``; else ``(trial, evaluation)`` of another worker."""
        while True:
            status, answer = self.claims.try_claim(str(arch))
            if status == "mine":
                return None
            if status == "done":
                return answer
            time.sleep(self.poll_seconds)  # being evaluated elsewhere: wait for it (or for its worker to die)
            self._take_over_dead()

    def after_evaluate(self, archs: list, evals: list) -> None:
        """Record this batch's queries as finished trials (the ledger already has them)."""
        start = self.ctx.count("search") - len(archs)  # the ledger counted them already
        for i, (a, ev) in enumerate(zip(archs, evals)):
            if self._replayed(start + i):
                continue  # replayed: the study has it already
            slot, trial = self.pending.pop(0)
            repeat = a in self.ctx.seen
            if not repeat:
                self.claims.finish(str(a), ev)
            self.trials.finish(trial, ev, {"arch": str(a), "query": start + i, "repeat": repeat,
                                           "worker": self.owner})
            self.slots.mark_done(slot)
            self.mine[start + i] = trial.number

    # ------------------------------------------------------------ others' results

    def _sync(self) -> None:
        """Tell the strategy the trials other workers finished (replayed from the ledger when resuming)."""
        ctx = self.ctx
        at, idx = ctx.count("search"), ctx.count("shared")
        replayed = []
        while True:
            rec = ctx.recorded("shared", idx + len(replayed))
            if rec is None or rec.get("kind") != "sync" or rec.get("at") != at:
                break
            replayed.append(rec)
        if replayed:
            self._tell([ctx.space.parse(r["arch"]) for r in replayed], [Evaluation.from_json(r) for r in replayed],
                       [r["trial"] for r in replayed])
            return
        if idx <= self.last_replayed_shared:
            return  # still replaying: no live sync before the recorded ones are used up
        fresh = [(t, ctx.space.parse(a), e) for t, a, e in self.claims.finished_by_others() if t not in self.told]
        fresh = [(t, a, e) for t, a, e in fresh if a not in ctx.seen]
        if fresh:
            self._tell([a for _, a, _ in fresh], [e for _, _, e in fresh], [t for t, _, _ in fresh])

    def _tell(self, archs, evals, trials) -> None:
        """Record others' results in this worker's ledger (phase "shared": resume replays them), then
        let the strategy observe them."""
        self.told.update(trials)
        self.ctx.record("shared", archs, evals, kind="sync", at=self.ctx.count("search"), trial=list(trials))
        self.ctx.strategy.observe(archs, [ev.visible() for ev in evals])


def make_shared(storage, study, heartbeat_interval=None, grace_period=None) -> SharedStudy | None:
    """The plug-in for ``storage=URL study=NAME`` (None without storage)."""
    if storage in (None, "", "null"):
        if study not in (None, "", "null"):
            raise ConfigError("study= names a shared study but no storage= URL is given; "
                              "add storage=sqlite:///runs.db (or drop study=)")
        return None
    hb = heartbeat_interval or float(os.environ.get("NASFRAME_HEARTBEAT", "10"))
    return SharedStudy(str(storage), None if study in (None, "", "null") else str(study), hb, grace_period)
