"""One search shared by many workers through an Optuna RDB storage.

``storage=sqlite:///runs.db study=NAME`` (any SQLAlchemy URL, e.g.
``postgresql://host/db``) makes every ``python -m nasframe`` process that
names the same study a worker of one search. Each worker runs the normal
runner loop with its own seed and run folder; this module adds four things:

* **Budget** — ``budget.queries`` counts the queries of the whole study. A
  query holds a *slot* (row ``(study, slot)`` of ``nasframe_slots``, unique)
  tied to an Optuna trial; a worker reserves a slot before it asks, so the
  study never runs more than its budget.
* **No architecture evaluated twice** — before evaluating, a worker claims
  the architecture (row ``(study, arch)`` of ``nasframe_claims``, unique).
  Optuna's storage has no uniqueness on attributes, hence the extra tables in
  the same database. An architecture another worker already evaluated is
  answered from the study and told to the strategy free of charge; one that
  another worker is still evaluating is waited for.
* **Whole-study history** — before each ask, results other workers finished
  since the last ask are told to the strategy (``observe``), so every worker
  asks with everything the study knows.
* **Crash recovery** — trials carry Optuna heartbeats; a dead worker's
  running trial goes stale, is marked failed by ``fail_stale_trials`` and its
  slot and claim are taken over by whoever needs them. A worker resumed with
  ``resume=true`` fails its own leftover trials at once.

A worker's own repeat of an architecture (REA re-proposing its own child) is
charged and recorded exactly as in a serial run, so one worker on a fresh
study produces the serial run's history for the same seed. Results told from
other workers go to the worker's ``history.jsonl`` under ``phase: "shared"``
(with the search step they arrived at), which is how a resumed worker replays
them in the same order.
"""
from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
import warnings
from pathlib import Path

from nasframe.core.evaluator import Evaluation
from nasframe.errors import ConfigError, NasframeError

# config keys that may differ between the workers of one study
WORKER_KEYS = ("seed", "resume", "progress", "plot", "storage", "study", "names", "hydra")


def study_fingerprint(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in WORKER_KEYS}


def _one_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e)
    return " ".join(text.split())[:300]


class SharedStudy:
    """The runner's view of a study shared through an RDB storage."""

    def __init__(self, url: str, name: str | None, heartbeat_interval: int = 10, grace_period: int | None = None,
                 poll_seconds: float = 0.2):
        if not url or not isinstance(url, str):
            raise ConfigError(f"storage must be an SQLAlchemy URL such as sqlite:///runs.db, got {url!r}")
        if "://" not in url:
            raise ConfigError(f"storage '{url}' is not a database URL; use e.g. storage=sqlite:///runs.db "
                              "or storage=postgresql://user@host/db")
        self.url = _with_driver(url)
        self.name = name or "nasframe"
        self.heartbeat_interval = max(1, int(heartbeat_interval))
        self.grace_period = int(grace_period) if grace_period else 2 * self.heartbeat_interval
        self.poll_seconds = poll_seconds
        self._open_trials: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = None

    # ------------------------------------------------------------ connecting

    def connect(self, config: dict, objectives, owner: str) -> None:
        import optuna
        import sqlalchemy as sa

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.owner = owner
        kwargs = {}
        if self.url.startswith("sqlite"):
            kwargs = {"connect_args": {"timeout": 120}}
            folder = self.url.split(":///", 1)[-1]
            if folder and folder != ":memory:" and not Path(folder).parent.exists():
                raise ConfigError(f"cannot open storage {self.url}: the folder {Path(folder).parent} "
                                  "does not exist; create it or use another storage= URL")
        try:
            self.storage = self._open_storage(optuna, kwargs)
            self.engine = sa.create_engine(self.url, **kwargs)
            if self.url.startswith("sqlite"):
                for engine in (self.engine, self.storage.engine):
                    sa.event.listen(engine, "connect", _sqlite_pragmas)
                self.storage.engine.dispose()  # reconnect with the pragmas
            self._tables(sa)
        except ConfigError:
            raise
        except Exception as e:  # driver missing, host unreachable, bad credentials, ...
            raise ConfigError(f"cannot open storage {self._safe_url()}: {_one_line(e)}; check the storage= URL "
                              "and that the database server is running") from None
        fingerprint = study_fingerprint(config)
        directions = ["maximize" if o.direction == "max" else "minimize" for o in objectives]
        try:
            self.study = optuna.create_study(storage=self.storage, study_name=self.name,
                                             directions=directions, load_if_exists=True)
        except ValueError as e:
            raise ConfigError(f"study '{self.name}' in {self._safe_url()} cannot be joined ({_one_line(e)}); "
                              "choose another study= name") from None
        self.study_id = self.study._study_id
        attrs = self.storage.get_study_user_attrs(self.study_id)
        if "nasframe_config" not in attrs:
            self.storage.set_study_user_attr(self.study_id, "nasframe_config", json.dumps(fingerprint, sort_keys=True,
                                                                                          default=str))
            attrs = self.storage.get_study_user_attrs(self.study_id)
        old = json.loads(attrs["nasframe_config"])
        new = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ConfigError(f"study '{self.name}' in {self._safe_url()} belongs to a search with a different "
                              f"config ({', '.join(diff)}); choose another study= name or the original settings")
        self.limit = int(config["budget"]["queries"])
        self._fail_own_leftovers()
        self._beat = threading.Thread(target=self._heartbeat, name="nasframe-heartbeat", daemon=True)
        self._beat.start()

    def _open_storage(self, optuna, kwargs):
        # workers starting together race to create Optuna's tables; the loser retries
        for attempt in range(10):
            try:
                return optuna.storages.RDBStorage(
                    self.url, engine_kwargs=dict(kwargs), heartbeat_interval=self.heartbeat_interval,
                    grace_period=self.grace_period)
            except Exception as e:
                text = str(e).lower()
                if attempt == 9 or not any(w in text for w in ("already exists", "locked", "duplicate", "unique")):
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _safe_url(self) -> str:
        import sqlalchemy as sa

        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "the storage URL"

    def _tables(self, sa) -> None:
        meta = sa.MetaData()
        self.slots = sa.Table("nasframe_slots", meta,
                              sa.Column("study", sa.String(512), primary_key=True),
                              sa.Column("slot", sa.Integer, primary_key=True),
                              sa.Column("trial_id", sa.Integer, nullable=False))
        self.claims = sa.Table("nasframe_claims", meta,
                               sa.Column("study", sa.String(512), primary_key=True),
                               sa.Column("arch", sa.String(1024), primary_key=True),
                               sa.Column("trial_id", sa.Integer, nullable=False),
                               sa.Column("owner", sa.String(1024)),
                               sa.Column("evaluation", sa.Text))  # JSON, set when finished
        for attempt in range(10):
            try:
                meta.create_all(self.engine)
                return
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
                if attempt == 9:  # not the creation race: a real problem
                    raise
                time.sleep(0.2 * (attempt + 1))  # another worker is creating them at this moment

    # ------------------------------------------------------------ heartbeats

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_interval / 2):
            with self._lock:
                ids = list(self._open_trials)
            for tid in ids:
                try:
                    self.storage.record_heartbeat(tid)
                except Exception:
                    pass  # the next beat retries; a lost beat only risks a needless retry elsewhere

    def close(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if not hasattr(self, "study_id"):
            return  # never connected
        for tid in list(self._open_trials):  # a reserved slot the budget loop did not use
            self._set_state(tid, "FAIL")
        try:
            self.engine.dispose()
            self.storage.engine.dispose()
        except Exception:
            pass

    # ------------------------------------------------------------ trials

    def _trials(self, states=None):
        return self.storage.get_all_trials(self.study_id, deepcopy=False, states=states)

    def _state(self, trial_id: int):
        return self.storage.get_trial(trial_id).state

    def _set_state(self, trial_id: int, state: str, values=None) -> None:
        from optuna.trial import TrialState

        try:
            self.storage.set_trial_state_values(trial_id, getattr(TrialState, state), values)
        except Exception:
            pass  # already finished (e.g. failed as stale by another worker)
        with self._lock:
            self._open_trials.discard(trial_id)

    def _fail_own_leftovers(self) -> None:
        from optuna.trial import TrialState

        for t in self._trials(states=(TrialState.RUNNING,)):
            if t.user_attrs.get("owner") == self.owner:
                self._set_state(t._trial_id, "FAIL")

    def _free(self, trial_id: int) -> bool:
        """A slot or claim whose trial failed (its worker died) may be taken over."""
        from optuna.trial import TrialState

        return self._state(trial_id) == TrialState.FAIL

    def _new_trial(self) -> int:
        tid = self.storage.create_new_trial(self.study_id)
        self.storage.set_trial_user_attr(tid, "owner", self.owner)
        with self._lock:
            self._open_trials.add(tid)
        self.storage.record_heartbeat(tid)
        return tid

    def _take(self, table, key: dict, trial_id: int) -> tuple[bool, int | None]:
        """Insert ``key -> trial_id`` or take over a row whose trial failed; else return its holder."""
        import sqlalchemy as sa

        where = sa.and_(*[table.c[k] == v for k, v in key.items()])
        for _ in range(50):
            try:
                with self.engine.begin() as conn:
                    conn.execute(table.insert().values(**key, trial_id=trial_id))
                return True, None
            except sa.exc.IntegrityError:
                pass
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(table.c.trial_id).where(where)).first()
            if row is None:
                continue  # vanished in between; try the insert again
            holder = row[0]
            if holder != trial_id and self._free(holder):
                with self.engine.begin() as conn:
                    done = conn.execute(table.update().where(where, table.c.trial_id == holder)
                                        .values(trial_id=trial_id)).rowcount
                if done == 1:
                    return True, None
                continue
            return False, holder
        raise NasframeError(f"could not claim a row of {table.name} in {self._safe_url()} after 50 tries")

    # ------------------------------------------------------------ runner hooks

    def start(self, runner, state: dict | None = None) -> None:
        """Called once the runner has set up the strategy (and loaded any checkpoint)."""
        self.runner = runner
        # results told so far (replayed from the ledger or restored from the checkpoint)
        self.mine: dict[int, int] = {}  # my search query index -> completed trial id
        self.told: set[int] = set((state or {}).get("told", ()))
        from optuna.trial import TrialState

        for t in self._trials(states=(TrialState.COMPLETE,)):
            info = t.user_attrs.get("nasframe") or {}
            if info.get("worker") == self.owner:
                self.mine[int(info["query"])] = t._trial_id
        self.reserved: list[int] = []  # slot trials held for the next asks
        self.last_replayed_shared = max((k[1] for k in runner._replay if k[0] == "shared"), default=-1)

    def state(self) -> dict:
        return {"told": sorted(self.told)}

    def before_ask(self, n: int, seen: dict) -> int:
        """Tell the strategy what other workers finished; reserve up to ``n`` study budget slots."""
        self.seen = seen
        self._sync()
        query = self.runner._counters.get("search", 0)
        replayed = sum(1 for i in range(n) if self._replayed(query + i))
        if replayed == n:
            return n  # these queries are already in the study; the runner replays them
        while len(self.reserved) < n - replayed:
            tid = self._reserve_slot()
            if tid is None:
                break
            self.reserved.append(tid)
        return min(n, replayed + len(self.reserved))

    def _replayed(self, query: int) -> bool:
        """A query of this worker that its ledger and the study both hold (a resumed run replays it)."""
        return query in self.mine and ("search", query) in self.runner._replay

    def _fail_stale(self) -> None:
        import optuna

        now = time.monotonic()
        if now - getattr(self, "_stale_checked", -math.inf) >= self.heartbeat_interval / 2:
            self._stale_checked = now
            optuna.storages.fail_stale_trials(self.study)

    def _reserve_slot(self) -> int | None:
        import sqlalchemy as sa
        from optuna.trial import TrialState

        while True:
            self._fail_stale()
            with self.engine.begin() as conn:
                rows = conn.execute(sa.select(self.slots.c.slot, self.slots.c.trial_id)
                                    .where(self.slots.c.study == self.name)).all()
            taken = {s: t for s, t in rows}
            free = [s for s in range(self.limit) if s not in taken]
            failed = []
            if free:
                break
            states = {s: self._state(t) for s, t in taken.items()}  # one read per trial per poll
            failed = [s for s, state in states.items() if state == TrialState.FAIL]
            if failed:
                break
            # Every slot is taken. One still running in another worker either completes or, if that
            # worker died, goes stale and is failed: wait, so the study's budget is never left short.
            with self._lock:
                mine = set(self._open_trials)
            if not any(taken[s] not in mine and state == TrialState.RUNNING for s, state in states.items()):
                return None
            time.sleep(self.poll_seconds)
        tid = self._new_trial()
        for s in free + sorted(failed):
            ok, _ = self._take(self.slots, {"study": self.name, "slot": s}, tid)
            if ok:
                self.storage.set_trial_user_attr(tid, "slot", s)
                return tid
        self._set_state(tid, "FAIL")  # every slot went to faster workers
        return None

    def after_ask(self, archs: list) -> list:
        """Claim each architecture; answer others' finished ones free and ask again in their place."""
        out, slot = [], 0  # slot: index into self.reserved of the next query that needs one
        pending = list(archs)
        while pending:
            a = pending.pop(0)
            query = self.runner._counters.get("search", 0) + len(out)
            if self._replayed(query):
                out.append(a)  # replayed: already in the study
                continue
            if a in self.seen:
                out.append(a)  # my own repeat: charged as in a serial run
                slot += 1
                continue
            answer = self._replayed_duplicate(a)
            if answer is None:
                answer = self._claim(a, self.reserved[slot])
            if answer is None:
                out.append(a)
                slot += 1
                continue
            self._tell_shared([a], [answer], "duplicate", [self._dup_trial])
            self.runner.strategy.tell([a], [answer.visible()])
            pending.extend(self.runner.strategy.ask(1))
        return out

    def _replayed_duplicate(self, arch):
        rec = self.runner._replay.get(("shared", self.runner._counters.get("shared", 0)))
        if rec is None or rec.get("kind") != "duplicate":
            return None
        if rec["arch"] != str(arch):
            raise NasframeError(f"resume diverged: the ledger has {rec['arch']} answered by another worker but "
                                f"the strategy asked {arch}; start a new run folder")
        self._dup_trial = rec.get("trial")
        self.told.add(self._dup_trial)
        return Evaluation.from_json(rec)

    def _claim(self, arch, tid: int):
        """None when this worker now owns ``arch``; else the finished evaluation of another worker."""
        while True:
            ok, holder = self._take(self.claims, {"study": self.name, "arch": str(arch)}, tid)
            if ok:
                return None
            import sqlalchemy as sa

            with self.engine.begin() as conn:
                row = conn.execute(sa.select(self.claims.c.evaluation).where(
                    self.claims.c.study == self.name, self.claims.c.arch == str(arch),
                    self.claims.c.trial_id == holder)).first()
            if row is not None and row[0] is not None:
                self.told.add(holder)
                self._dup_trial = holder
                return Evaluation.from_json(json.loads(row[0]))
            time.sleep(self.poll_seconds)  # still being evaluated elsewhere: wait for it (or for it to go stale)
            self._fail_stale()

    def after_evaluate(self, archs: list, evals: list) -> None:
        """Record this batch's queries as completed trials (the ledger already has them)."""
        start = self.runner._counters.get("search", 0) - len(archs)
        for i, (a, ev) in enumerate(zip(archs, evals)):
            if self._replayed(start + i):
                continue  # replayed: the study has it already
            tid = self.reserved.pop(0)
            repeat = a in self.seen
            evaluation = json.dumps(ev.to_json())
            self.storage.set_trial_user_attr(tid, "nasframe", {"arch": str(a), "query": start + i, "repeat": repeat,
                                                               "worker": self.owner})
            self.storage.set_trial_user_attr(tid, "evaluation", evaluation)
            if not repeat:
                with self.engine.begin() as conn:
                    conn.execute(self.claims.update().where(
                        self.claims.c.study == self.name, self.claims.c.arch == str(a),
                        self.claims.c.trial_id == tid).values(owner=self.owner, evaluation=evaluation))
            values = None
            if not ev.failed and all(v is not None and math.isfinite(v) for v in ev.values.values()):
                values = [float(ev.values[o.name]) for o in self.runner.evaluator.objectives]
            self._set_state(tid, "COMPLETE", values)
            self.mine[start + i] = tid

    # ------------------------------------------------------------ telling others' results

    def _sync(self) -> None:
        """Tell the strategy the trials other workers finished (replayed from the ledger when resuming)."""
        at = self.runner._counters.get("search", 0)
        idx = self.runner._counters.get("shared", 0)
        replayed = []
        while True:
            rec = self.runner._replay.get(("shared", idx + len(replayed)))
            if rec is None or rec.get("kind") != "sync" or rec.get("at") != at:
                break
            replayed.append(rec)
        if replayed:
            archs = [self.runner.space.parse(r["arch"]) for r in replayed]
            evals = [Evaluation.from_json(r) for r in replayed]
            self.told.update(r["trial"] for r in replayed)
            self._tell_shared(archs, evals, "sync", [r["trial"] for r in replayed])
            self._observe(archs, evals)
            return
        if idx <= self.last_replayed_shared:
            return  # still replaying: no live sync before the recorded ones are used up
        import sqlalchemy as sa

        c = self.claims.c
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(c.trial_id, c.arch, c.evaluation)
                                .where(c.study == self.name, c.evaluation.is_not(None), c.owner != self.owner)
                                .order_by(c.trial_id)).all()
        fresh = [(t, self.runner.space.parse(a), e) for t, a, e in rows if t not in self.told]
        fresh = [(t, a, e) for t, a, e in fresh if a not in self.seen]
        if not fresh:
            return
        archs = [a for _, a, _ in fresh]
        evals = [Evaluation.from_json(json.loads(e)) for _, _, e in fresh]
        self.told.update(t for t, _, _ in fresh)
        self._tell_shared(archs, evals, "sync", [t for t, _, _ in fresh])
        self._observe(archs, evals)

    def _observe(self, archs, evals) -> None:
        visible = [ev.visible() for ev in evals]
        observe = getattr(self.runner.strategy, "observe", None)
        if observe is not None:
            observe(archs, visible)
            return
        from nasframe.strategies.optuna_sampler import OptunaSampler

        if isinstance(self.runner.strategy, OptunaSampler):
            _observe_optuna(self.runner.strategy, archs, visible)
        else:
            self.runner.strategy.tell(archs, visible)

    def _tell_shared(self, archs, evals, kind: str, trials=None) -> None:
        """Write told results to the worker's ledger (phase "shared") so that resume replays them."""
        r = self.runner
        at = r._counters.get("search", 0)
        idx = r._counters.get("shared", 0)
        for i, (a, ev) in enumerate(zip(archs, evals)):
            rec = {"phase": "shared", "index": idx + i, "arch": str(a), **ev.to_json(), "kind": kind, "at": at,
                   "trial": None if trials is None else trials[i], "repeat": False, "wall_time": 0.0}
            r.ledger.append(rec)
            r._records += 1
        r._counters["shared"] = idx + len(archs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers and one writer work at once; NORMAL sync is safe in WAL against process crashes
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _observe_optuna(strategy, archs, evals) -> None:
    """Add results an Optuna strategy did not ask for as finished trials of its study."""
    import optuna

    for a, ev in zip(archs, evals):
        strategy.history.append((a, ev))
        params = dict(zip(strategy.distributions, strategy.space.to_decisions(a))) \
            if hasattr(strategy.space, "to_decisions") else None
        if params is None:
            continue
        if ev.failed:
            trial = optuna.trial.create_trial(params=params, distributions=strategy.distributions,
                                              state=optuna.trial.TrialState.FAIL)
        else:
            values = [ev.values[o.name] for o in strategy.objectives]
            trial = optuna.trial.create_trial(params=params, distributions=strategy.distributions, values=values)
        strategy.study.add_trial(trial)


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only that is installed."""
    import importlib.util

    if url.startswith(("postgresql://", "postgres://")) and importlib.util.find_spec("psycopg") is None:
        if importlib.util.find_spec("psycopg2") is None:
            raise ConfigError("storage= is a PostgreSQL URL but no PostgreSQL driver is installed; "
                              "pip install psycopg2-binary (or psycopg)")
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def worker_id(out_dir) -> str:
    """Stable across a worker's resumes: host plus its run folder."""
    return f"{socket.gethostname()}:{Path(out_dir).resolve()}"


def make_shared(storage, study, heartbeat_interval=None, grace_period=None) -> SharedStudy | None:
    if storage in (None, "", "null"):
        if study not in (None, "", "null"):
            raise ConfigError("study= names a shared study but no storage= URL is given; "
                              "add storage=sqlite:///runs.db (or drop study=)")
        return None
    hb = heartbeat_interval or int(os.environ.get("NASFRAME_HEARTBEAT", 10))
    return SharedStudy(str(storage), None if study in (None, "", "null") else str(study), hb, grace_period)
