"""The one search loop: ask -> evaluate -> tell, under a budget.

Every query is written to the ledger (``history.jsonl``) before the strategy
is told about it; the ledger is the run's record. A checkpoint holds only what
the ledger cannot give back: the strategy's state, the RNG states and the
counters, as of a ledger line. It leaves out what grows with the history but
is already on disk (the ``seen`` map is rebuilt from the ledger lines the
checkpoint covers), and it is written on a schedule instead of after every
tell: after the first tell, then whenever ``checkpoint_seconds`` have passed
and at least ``CHECKPOINT_COST_FACTOR`` times the last write's duration. So the
cost per query stays flat as the history grows (a checkpoint's share of the
loop is bounded by ~1/20 even for strategies whose own state grows).

Resuming loads the checkpoint and replays the ledger lines written after it
(all of them when only the ledger is left): the strategy asks again,
deterministically, and is answered from the ledger, so a run killed at any
point continues to exactly the history of an uninterrupted one without
evaluating anything twice; at most one checkpoint interval of strategy work is
redone.

Multi-fidelity strategies ask for ``(architecture, fidelity)`` pairs (``Strategy.ask_at``); each
ledger line records the fidelity it was measured at, and ``seen`` is keyed by (architecture,
fidelity) with a full-fidelity ask and an ask at the evaluator's ``max_fidelity`` sharing one key.

Everything optional (progress bar, plots, a study shared by many workers) is a
``RunnerPlugin`` (``nasframe.core.plugin``) that the composition root attaches.
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from nasframe.core.evaluator import Evaluation, Evaluator, has_fidelity
from nasframe.core.ledger import Ledger, notice, read_history
from nasframe.core.plugin import RunContext, RunnerPlugin
from nasframe.core.seeding import seed_everything, set_torch_rng_state, torch_rng_state
from nasframe.core.space import Architecture, Enumerable, SearchSpace, require
from nasframe.core.strategy import SourceTask, Strategy
from nasframe.errors import ConfigError, NasframeError

CHECKPOINT_SECONDS = 2.0  # at most this much strategy work is redone after a kill (never an evaluation)
CHECKPOINT_COST_FACTOR = 20  # the loop runs >= 20x as long as a checkpoint takes to write


@dataclass
class Budget:
    queries: int = 100
    seconds: float | None = None  # simulated seconds (evaluation cost), optional
    epochs: float | None = None  # summed fidelity (training epochs) of the queries, optional

    def __post_init__(self):
        q = self.queries
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q <= 0:
            raise ConfigError(f"budget.queries must be a positive integer, got {q!r}")
        self.queries = int(q)
        if self.seconds is not None and not (isinstance(self.seconds, (int, float)) and self.seconds > 0):
            raise ConfigError(f"budget.seconds must be a positive number or null, got {self.seconds!r}")
        if self.epochs is not None and (isinstance(self.epochs, bool)
                                        or not isinstance(self.epochs, (int, float)) or self.epochs <= 0):
            raise ConfigError(f"budget.epochs must be a positive number or null, got {self.epochs!r}")


@dataclass
class Source:
    """A source task for transfer: its name and the evaluator that answers it."""

    name: str
    evaluator: Evaluator


@dataclass
class RunResult:
    summary: dict
    history: list = field(default_factory=list)


class Runner:
    def __init__(self, space: SearchSpace, evaluator: Evaluator, strategy: Strategy,
                 budget: Budget, out_dir, seed: int = 0, config: dict | None = None,
                 resume: bool = False, sources: Sequence[Source] = (), batch_size: int = 1,
                 names: dict | None = None, plugins: Sequence[RunnerPlugin] = (),
                 checkpoint_seconds: float = CHECKPOINT_SECONDS, progress: bool = False, plot: bool = False):
        if progress or plot:  # these became plug-ins; the composition root attaches them
            raise TypeError("Runner(progress=..., plot=...) moved to plug-ins: pass plugins=[ProgressBar(), "
                            "BestSoFarPlot()] from nasframe.plugins, or build the run with nasframe.compose.build_run")
        self.space, self.evaluator, self.strategy = space, evaluator, strategy
        self.budget = budget
        self.seed = int(seed)
        self.config = dict(config or {})
        self.resume = resume
        self.sources = list(sources)
        self.batch_size = int(batch_size)
        self.names = dict(names or {})
        self.plugins = list(plugins)
        self.checkpoint_seconds = float(checkpoint_seconds)
        self.ledger = Ledger(out_dir)
        self.context = RunContext(self)
        self.validate()

    # ------------------------------------------------------------ checks

    def validate(self) -> None:
        s_name = self.names.get("strategy", type(self.strategy).__name__)
        e_name = self.names.get("evaluator", type(self.evaluator).__name__)
        require(self.space, self.strategy.requires, f"strategy '{s_name}'")
        require(self.space, self.evaluator.requires, f"evaluator '{e_name}'")
        if not self.evaluator.objectives:
            raise ConfigError(f"evaluator '{e_name}' declares no objective")
        if self.batch_size <= 0:
            raise ConfigError(f"batch_size must be a positive integer, got {self.batch_size}")
        if (self.strategy.needs_fidelity or self.budget.epochs is not None) and not has_fidelity(self.evaluator):
            why = (f"strategy '{s_name}' asks for architectures at a fidelity (training epochs)"
                   if self.strategy.needs_fidelity else "budget.epochs counts training epochs")
            raise ConfigError(f"{why}, but evaluator '{e_name}' answers at one fidelity only; use "
                              "evaluator=train, or a benchmark file with per-epoch curves (an official "
                              "NB201 .pth or NATS-Bench file) with evaluator=lookup")
        if self.strategy.needs_fidelity:
            ev = self.evaluator
            self.strategy.fidelity_range = (int(ev.min_fidelity), int(ev.max_fidelity))
        if self.sources and not self.strategy.transfer:
            raise ConfigError(f"strategy '{s_name}' does not use source tasks; drop transfer.sources "
                              "or pick a transfer strategy (rea_transfer, ppo_transfer, catch)")

    # ------------------------------------------------------------ the loop

    def run(self) -> RunResult:
        ctx = self.context
        try:  # before the run folder is touched: a bad plug-in setting leaves nothing behind
            for p in self.plugins:
                p.open(ctx)
        except BaseException:
            self._close_plugins()
            raise
        try:
            checkpoint = self._open()
            step, sim = self._counters.get("search", 0), self._sim
            pretrained = checkpoint is not None and checkpoint["pretrained"]
            states = (checkpoint or {}).get("plugins", {})
            for p in self.plugins:
                p.start(ctx, states.get(p.name))
            if self.sources and not pretrained:
                self.strategy.pretrain([self._source_task(s) for s in self.sources])
                self._checkpoint(step, sim)  # pre-training is expensive: always kept
            while (step < self.budget.queries and (self.budget.seconds is None or sim < self.budget.seconds)
                   and (self.budget.epochs is None or self._epochs < self.budget.epochs)):
                n = min(self.batch_size, self.budget.queries - step)
                for p in self.plugins:
                    n = p.before_ask(n)
                if n == 0:
                    break
                # each query carries its fidelity through the plug-ins (one may replace a query)
                queries = list(self.strategy.ask_at(n))
                for p in self.plugins:
                    queries = list(p.after_ask_at(queries))
                if not queries:
                    self._say_exhausted(step)
                    break  # the strategy has nothing left to propose (e.g. space exhausted)
                if len(queries) > n:
                    raise NasframeError(f"strategy returned {len(queries)} architectures when asked for {n}")
                archs = [a for a, _ in queries]
                for a in archs:
                    self.space.check(a)
                fidelities = [self._fidelity(f) for _, f in queries]
                evals = self._evaluate("search", archs, self._seen, fidelities=fidelities)
                for p in self.plugins:
                    p.after_evaluate(archs, evals)
                for a, f, ev in zip(archs, fidelities, evals):
                    step += 1
                    sim += ev.cost
                    self._epochs += self._spent(f)
                    self._seen.setdefault(self._key(a, f), ev)
                self.strategy.tell(archs, [ev.visible() for ev in evals])
                for p in self.plugins:
                    p.after_tell(archs, evals)
                if time.perf_counter() >= self._next_checkpoint:
                    self._checkpoint(step, sim)
            self.ledger.close_history()  # the folder lock is kept until the summary is written
            history = read_history(self.ledger.history_path)
            summary = self._summarise(step, sim, history, self._wall())
            for p in self.plugins:
                p.on_finish(summary, history)
            self.ledger.finish(summary)
        finally:
            self.ledger.close()
            self._close_plugins()
        return RunResult(summary=summary, history=history)

    def _open(self) -> dict | None:
        """Open the run folder, set the strategy up and restore the last checkpoint (if any).

        The checkpoint holds no history: ``seen`` and the strategy's ``history`` are rebuilt from
        the ledger lines it covers (search lines, and plug-in lines, which are results the strategy
        was told or observed); the lines after it are replayed as the loop asks again.
        """
        checkpoint, recorded = self.ledger.open(self.config, self.resume, check=self._check_recorded)
        self._say_if_space_runs_out()
        self._recorded = recorded
        self._replay = {(r["phase"], r["index"]): r for r in recorded}
        self._counters: dict[str, int] = {}
        self._records = 0
        self._sim = 0.0
        self._epochs = 0.0  # summed fidelity of the queries (budget.epochs)
        self._seen: dict[tuple[Architecture, int | None], Evaluation] = {}  # by (architecture, fidelity)
        self._seen_full = _FullFidelity(self._seen)
        rng = seed_everything(self.seed)
        self.strategy.setup(self.space, self.evaluator.objectives, rng)
        # Wall time survives a resume: the checkpoint's total, plus the recorded
        # time of each ledger line replayed past it (all of them when only the
        # ledger is left), plus what this process spends.
        self._t0, self._wall_before = time.perf_counter(), 0.0
        self._next_checkpoint = self._t0  # the first tell is checkpointed
        if checkpoint is not None:
            self.strategy.load_state_dict(checkpoint["strategy"])
            set_torch_rng_state(checkpoint["torch_rng"])
            random.setstate(checkpoint["py_rng"])
            np.random.set_state(checkpoint["np_rng"])
            self._sim = checkpoint["sim"]
            self._counters = dict(checkpoint["counters"])
            self._records = checkpoint["records"]
            self._wall_before = checkpoint["wall"]
            self._epochs = checkpoint.get("epochs", 0.0)
            told = []
            for r in recorded[:self._records]:
                if r["phase"].startswith("pretrain:"):
                    continue  # answered to pre-training, never told
                arch, ev = self.space.parse(r["arch"]), Evaluation.from_json(r)
                told.append((arch, ev.visible()))
                if r["phase"] == "search":
                    self._seen.setdefault(self._key(arch, r.get("fidelity")), ev)
            if len(told) != checkpoint.get("told", len(told)):
                raise NasframeError(f"the checkpoint of {self.ledger.dir} says the strategy was told "
                                    f"{checkpoint['told']} results but the ledger holds {len(told)}; the run "
                                    "folder is damaged, start a new one")
            self.strategy.restore_history(told)
        return checkpoint

    def _close_plugins(self) -> None:
        for p in reversed(self.plugins):
            p.close()

    # ------------------------------------------------------------ resume checks

    def _check_recorded(self, recorded: list[dict], checkpoint: dict | None) -> None:
        """Every recorded line names an architecture of this space, and the lines the checkpoint
        covers are the ones it was taken after: an edited or foreign ledger is refused, not replayed."""
        path = self.ledger.history_path
        for line, rec in enumerate(recorded, start=1):
            try:
                self.space.check(self.space.parse(rec["arch"]))
            except (NasframeError, ValueError, TypeError, KeyError, IndexError) as e:
                raise NasframeError(f"{path}, line {line}: {rec['arch']!r} is not an architecture of space "
                                    f"'{self.space.name}' ({e}); the ledger was edited or comes from another "
                                    "run: restore it or start a new run folder") from None
        if checkpoint is None or "ledger_sha256" not in checkpoint:
            return
        n = checkpoint["records"]
        if Ledger.digest_of(recorded[:n]) != checkpoint["ledger_sha256"]:
            raise NasframeError(f"{path}: its first {n} lines are not what the checkpoint recorded; the ledger "
                                "was edited: restore it, or delete checkpoint.pkl to resume from the ledger alone")

    def _say_if_space_runs_out(self) -> None:
        if self.strategy.distinct and isinstance(self.space, Enumerable) and self.budget.queries > len(self.space):
            notice(f"budget.queries={self.budget.queries} exceeds the {len(self.space):,} architectures of space "
                   f"'{self.space.name}', and this strategy never asks one twice: the run stops when the space "
                   "is exhausted")

    def _say_exhausted(self, step: int) -> None:
        if self.strategy.distinct and isinstance(self.space, Enumerable) and step >= len(self.space):
            notice(f"space '{self.space.name}' exhausted after {step:,} queries; stopping")

    # ------------------------------------------------------------ helpers

    def _wall(self) -> float:
        return self._wall_before + time.perf_counter() - self._t0

    def _fidelity(self, f):
        """A strategy's requested fidelity, checked against the evaluator's range (None: full)."""
        if f is None:
            return None
        try:
            return self.evaluator.check_fidelity(f)
        except ValueError as e:
            raise NasframeError(f"strategy asked for an invalid fidelity: {e}") from None

    def _key(self, arch, f):
        """The ``seen`` key: a full-fidelity ask and an ask at ``max_fidelity`` are one measurement."""
        full = self.evaluator.max_fidelity if has_fidelity(self.evaluator) else None
        return arch, (None if f == full else f)

    def _spent(self, f) -> float:
        """What a query charges to budget.epochs: its fidelity, the evaluator's full one if None."""
        if not has_fidelity(self.evaluator):
            return 0.0
        return float(self.evaluator.max_fidelity if f is None else f)

    def _evaluate(self, phase: str, archs: list, seen: dict | None, evaluator=None,
                  fidelities: list | None = None) -> list[Evaluation]:
        """Evaluate (or replay from the ledger) and record one batch of one phase."""
        evaluator = evaluator or self.evaluator
        fidelities = fidelities or [None] * len(archs)
        keys = [self._key(a, f) for a, f in zip(archs, fidelities)]
        start = self._counters.get(phase, 0)
        out: list[Evaluation | None] = [None] * len(archs)
        records: list[dict | None] = [None] * len(archs)
        todo = []
        for i, a in enumerate(archs):
            rec = self._replay.get((phase, start + i))
            if rec is not None:
                # a full-fidelity ask (None) may have been recorded with the epoch it was measured at
                if rec["arch"] != str(a) or (fidelities[i] is not None and rec.get("fidelity") != fidelities[i]):
                    asked = str(a) if fidelities[i] is None else f"{a} at fidelity {fidelities[i]}"
                    had = rec["arch"] if rec.get("fidelity") is None else f"{rec['arch']} at fidelity {rec['fidelity']}"
                    raise NasframeError(f"resume diverged at {phase} query {start + i}: the ledger has "
                                        f"{had} but the strategy asked {asked}; the run is not "
                                        "deterministic, start a new run folder")
                out[i], records[i] = Evaluation.from_json(rec), rec
                self._wall_before += rec.get("wall_time", 0.0)
            elif seen is not None and keys[i] in seen:
                out[i] = seen[keys[i]]
            else:
                todo.append(i)
        for f in dict.fromkeys(fidelities[i] for i in todo):  # one evaluator call per fidelity asked
            group = [i for i in todo if fidelities[i] == f]
            batch = [archs[i] for i in group]
            t = time.perf_counter()
            fresh = evaluator.evaluate(batch) if f is None else evaluator.evaluate_at(batch, f)
            wall = (time.perf_counter() - t) / len(group)
            if len(fresh) != len(group):
                raise NasframeError(f"evaluator returned {len(fresh)} results for {len(group)} architectures")
            for i, ev in zip(group, fresh):
                # the ledger records the fidelity asked for, even on a failure the evaluator built plainly
                out[i] = ev if f is None or ev.fidelity is not None else replace(ev, fidelity=f)
                records[i] = {"wall_time": wall}
        for i, a in enumerate(archs):
            rec = records[i]
            if rec is None or "phase" not in rec:
                rec = {"phase": phase, "index": start + i, "arch": str(a), **out[i].to_json(),
                       "repeat": bool(seen is not None and keys[i] in seen),
                       "wall_time": (rec or {}).get("wall_time", 0.0)}
            self._append(rec)
        self._counters[phase] = start + len(archs)
        return out

    def _append(self, record: dict) -> None:
        self.ledger.append(record)
        self._records += 1

    def _source_task(self, source: Source) -> SourceTask:
        phase = f"pretrain:{source.name}"

        def evaluate(archs):
            return [ev.visible() for ev in self._evaluate(phase, archs, None, source.evaluator)]

        return SourceTask(source.name, source.evaluator.objectives, evaluate)

    def _checkpoint(self, step, sim) -> None:
        """Save the strategy, RNG and counter state; schedule the next save.

        Everything the ledger already holds (evaluations, ``seen``) stays out. The next
        checkpoint waits ``checkpoint_seconds`` and at least 20 times as long as this one
        took, so saving costs at most ~5% of the loop however large the strategy state grows;
        a resumed run replays the ledger lines written since (asks again, evaluates nothing).
        """
        t = time.perf_counter()
        states = {p.name: p.state() for p in self.plugins}
        self.ledger.save_checkpoint({
            "step": step, "sim": sim, "epochs": self._epochs, "wall": self._wall(), "records": self._records,
            "ledger_sha256": self.ledger.digest(),
            "counters": dict(self._counters), "pretrained": True,
            "strategy": self.strategy.state_dict(), "told": len(self.strategy.history),
            "torch_rng": torch_rng_state(), "py_rng": random.getstate(), "np_rng": np.random.get_state(),
            "plugins": {k: v for k, v in states.items() if v is not None},
        })
        now = time.perf_counter()
        self._next_checkpoint = now + max(self.checkpoint_seconds, CHECKPOINT_COST_FACTOR * (now - t))

    def _summarise(self, step, sim, history, wall) -> dict:
        rec = self.strategy.recommend()
        info = {}
        if rec is not None:
            ev = _best_measured(history, rec)
            if ev is None:  # recommended without being queried: look it up, uncharged
                ev = self.evaluator.evaluate([rec])[0]
                info["recommendation_queried"] = False
        else:
            ev = None
        return {
            "status": "complete",
            "recommended": None if rec is None else str(rec),
            "values": None if ev is None else ev.values,
            "report": None if ev is None else ev.report,
            "objectives": [o.__dict__ for o in self.evaluator.objectives],
            "queries": step,
            "pretrain_queries": {k: v for k, v in self._counters.items() if k != "search"},
            "sim_seconds": sim,
            **({"epochs_spent": self._epochs} if has_fidelity(self.evaluator) else {}),
            "wall_seconds": wall,
            "seed": self.seed,
            "evaluator": self.evaluator.describe(),
            **({"strategy_stats": st} if (st := self.strategy.run_stats()) else {}),
            "config": self.config,
            **info,
        }



class _FullFidelity(Mapping):
    """A live, read-only view of ``seen`` by architecture at full fidelity (what plug-ins track)."""

    def __init__(self, seen: dict):
        self._seen = seen

    def __getitem__(self, arch) -> Evaluation:
        return self._seen[(arch, None)]

    def __contains__(self, arch) -> bool:
        return (arch, None) in self._seen

    def __iter__(self):
        return (a for a, f in self._seen if f is None)

    def __len__(self) -> int:
        return sum(1 for _, f in self._seen if f is None)


def _best_measured(history: list[dict], arch) -> Evaluation | None:
    """The evaluation of ``arch`` at the highest fidelity (None = full) a line of the run holds: its own
    queries, or results a plug-in told the strategy (another worker's, in a shared study), so an
    architecture measured elsewhere is not measured again for the summary."""
    name = str(arch)
    found = [(math.inf if r.get("fidelity") is None else r["fidelity"], r) for r in history
             if r["arch"] == name and not r["phase"].startswith("pretrain:")]
    return Evaluation.from_json(max(found, key=lambda x: x[0])[1]) if found else None
