"""The runner plug-in that makes a run one worker of a study shared through an RDB storage."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from nasframe.core.evaluator import Evaluation, has_fidelity
from nasframe.core.plugin import RunContext, RunnerPlugin
from nasframe.errors import ConfigError, NasframeError
from nasframe.plugins.shared_study.budget import Slots
from nasframe.plugins.shared_study.claims import BUSY, Claims, claim_key
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

        if ctx.strategy.needs_fidelity and not ctx.strategy.asynchronous:
            name = ctx.names.get("strategy") or type(ctx.strategy).__name__
            raise ConfigError(f"strategy '{name}' promotes a rung only once all its results are in, which workers "
                              "sharing a study cannot do; use strategy=asha (asynchronous successive halving) "
                              "or drop storage=")
        if ctx.budget.epochs is not None:
            raise ConfigError("budget.epochs counts one run's epochs, not a shared study's; bound the study "
                              "with budget.queries (its total over all workers) and drop budget.epochs")
        self.ctx = ctx
        self.full = ctx.evaluator.max_fidelity if has_fidelity(ctx.evaluator) else None
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
        finished = self.trials.finished_by(self.owner)
        self.mine = {q: n for q, (n, _) in finished.items()}  # my search query index -> trial number
        self.skips = {q: s for q, (_, s) in finished.items() if s}  # query -> claims skipped before it
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

    def _fidelity(self, f):
        """The canonical fidelity of a query or an evaluation: None for full fidelity."""
        return None if f == self.full else f

    def after_ask_at(self, queries: list) -> list:
        """Claim each ``(architecture, fidelity)``; answer others' finished ones free and ask again in
        their place. An asynchronous strategy (asha) skips one another worker is evaluating (its result
        arrives later through ``observe``); any other waits for it. The skipped claims go on the trial
        of the query taken instead (user attribute ``skipped``), so a resumed worker skips them again."""
        out, slot, skipped = [], 0, []  # slot: index into self.reserved of the next query that needs one
        pending = list(queries)
        strategy = self.ctx.strategy
        while pending:
            a, asked = pending.pop(0)
            f = self._fidelity(asked)
            query = self.ctx.count("search") + len(out)
            replayed = self._replayed(query)
            if replayed and (self.skips.get(query) or [None])[0] == [str(a), f]:
                self.skips[query].pop(0)  # skipped there before, busy elsewhere: skip it again
                pending.extend(strategy.ask_at(1))
                continue
            answer = self._replayed_duplicate(a, f, strict=replayed)
            if answer is None and replayed:
                if self.skips.get(query):
                    skip = self.skips[query][0]
                    raise NasframeError(f"resume diverged: the study has {skip[0]} at fidelity {skip[1]} skipped "
                                        f"before query {query} but the strategy asked {a} at fidelity {f}; "
                                        "start a new run folder")
                out.append((a, asked))  # replayed: already in the study
                continue
            if answer is None and not self.ctx.evaluated(a, f):  # my own repeat is charged as in a serial run
                answer = self._claim(a, f)
            if answer is BUSY:
                skipped.append([str(a), f])
                pending.extend(strategy.ask_at(1))
                continue
            if answer is None:
                out.append((a, asked))
                trial = self.trials.open(a, self.reserved[slot], self.full if f is None else f, skipped)
                self.pending.append((self.reserved[slot], trial))
                if not self.ctx.evaluated(a, f):
                    self.claims.set_trial(claim_key(a, f), trial.number)
                slot, skipped = slot + 1, []
                continue
            trial, evaluation = answer
            self.told.add(trial)
            self.ctx.record("shared", [a], [evaluation], kind="duplicate", at=self.ctx.count("search"),
                            trial=trial)
            strategy.tell([a], [evaluation.visible()])
            pending.extend(strategy.ask_at(1))
        del self.reserved[:slot]
        return out

    def _replayed_duplicate(self, arch, f, strict: bool):
        """When resuming: ``(trial, evaluation)`` of the recorded answer from another worker to this ask.
        ``strict`` (the query taken after it is replayed too): the ask must be the recorded one; else the
        worker was killed during this ask and what it skipped before is decided again."""
        rec = self.ctx.recorded("shared", self.ctx.count("shared"))
        if rec is None or rec.get("kind") != "duplicate" or rec.get("at") != self.ctx.count("search"):
            return None
        evaluation = Evaluation.from_json(rec)
        if rec["arch"] != str(arch) or self._fidelity(evaluation.fidelity) != f:
            if not strict:
                return None
            raise NasframeError(f"resume diverged: the ledger has {rec['arch']} (fidelity {evaluation.fidelity}) "
                                f"answered by another worker but the strategy asked {arch} (fidelity "
                                f"{self.full if f is None else f}); start a new run folder")
        return rec.get("trial"), evaluation

    def _claim(self, arch, f):
        """None when this worker now owns ``(arch, f)``; ``(trial, evaluation)`` of another worker's;
        BUSY for an asynchronous strategy while another worker evaluates it."""
        while True:
            status, answer = self.claims.try_claim(claim_key(arch, f))
            if status == "mine":
                return None
            if status == "done":
                return answer
            if self.ctx.strategy.asynchronous:
                return BUSY
            time.sleep(self.poll_seconds)  # being evaluated elsewhere: wait for it (or for its worker to die)
            self._take_over_dead()

    def after_evaluate(self, archs: list, evals: list) -> None:
        """Record this batch's queries as finished trials (the ledger already has them)."""
        start = self.ctx.count("search") - len(archs)  # the ledger counted them already
        for i, (a, ev) in enumerate(zip(archs, evals)):
            if self._replayed(start + i):
                continue  # replayed: the study has it already
            slot, trial = self.pending.pop(0)
            f = self._fidelity(ev.fidelity)
            repeat = self.ctx.evaluated(a, f)
            if not repeat:
                self.claims.finish(claim_key(a, f), ev)
            info = {"arch": str(a), "query": start + i, "repeat": repeat, "worker": self.owner}
            if ev.fidelity is not None:
                info["fidelity"] = ev.fidelity
            self.trials.finish(trial, ev, info)
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
        fresh = [(t, ctx.space.parse(a), e) for t, a, e in self.claims.finished_by_others(self._fidelity)
                 if t not in self.told]
        fresh = [(t, a, e) for t, a, e in fresh if not ctx.evaluated(a, self._fidelity(e.fidelity))]
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
