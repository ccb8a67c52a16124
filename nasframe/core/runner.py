"""The one search loop: ask -> evaluate -> tell, under a budget.

Every query is written to the ledger before the strategy is told about it,
and the strategy's state is checkpointed after every tell. Resuming loads the
checkpoint and replays the queries recorded after it from the ledger (the
strategy asks again, deterministically, and gets the recorded answers), so a
killed run continues to exactly the history of an uninterrupted one without
evaluating anything twice.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from nasframe.core.evaluator import Evaluation, Evaluator, fitness, has_fidelity
from nasframe.core.ledger import Ledger
from nasframe.core.space import Architecture, SearchSpace, require
from nasframe.core.strategy import SourceTask, Strategy
from nasframe.errors import ConfigError, NasframeError


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


def seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # torch is a dependency, but the loop itself does not need it
        pass
    return np.random.default_rng(seed)


def _torch_rng_state():
    try:
        import torch

        return torch.get_rng_state()
    except ImportError:
        return None


def _set_torch_rng_state(state):
    if state is not None:
        import torch

        torch.set_rng_state(state)


class Runner:
    def __init__(self, space: SearchSpace, evaluator: Evaluator, strategy: Strategy,
                 budget: Budget, out_dir, seed: int = 0, config: dict | None = None,
                 resume: bool = False, progress: bool = True, plot: bool = True,
                 sources: Sequence[Source] = (), batch_size: int = 1, names: dict | None = None,
                 shared=None):
        self.space, self.evaluator, self.strategy = space, evaluator, strategy
        self.budget = budget
        self.seed = int(seed)
        self.config = dict(config or {})
        self.resume, self.progress, self.plot = resume, progress, plot
        self.sources = list(sources)
        self.batch_size = int(batch_size)
        self.names = dict(names or {})
        self.ledger = Ledger(out_dir)
        self.shared = shared  # a nasframe.core.shared.SharedStudy when storage= is set
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
        if self.shared is not None:  # before the run folder is touched: a bad storage leaves nothing behind
            from nasframe.core.shared import worker_id

            try:
                self.shared.connect(self.config, self.evaluator.objectives, worker_id(self.ledger.dir))
            except BaseException:
                self.shared.close()
                raise
        checkpoint, recorded = self.ledger.open(self.config, self.resume)
        replay = {(r["phase"], r["index"]): r for r in recorded}
        self._replay = replay
        self._counters: dict[str, int] = {}
        self._records = 0
        rng = seed_everything(self.seed)
        self.strategy.setup(self.space, self.evaluator.objectives, rng)
        sim = 0.0
        step = 0
        self._epochs = 0.0  # summed fidelity of the queries (budget.epochs)
        seen: dict[tuple[Architecture, int | None], Evaluation] = {}  # by (architecture, fidelity)
        # Wall time survives a resume: the checkpoint's total, plus the recorded
        # time of each ledger line replayed past it (all of them when only the
        # ledger is left), plus what this process spends.
        self._t0, self._wall_before = time.perf_counter(), 0.0
        if checkpoint is not None:
            self.strategy.load_state_dict(checkpoint["strategy"])
            _set_torch_rng_state(checkpoint["torch_rng"])
            random.setstate(checkpoint["py_rng"])
            np.random.set_state(checkpoint["np_rng"])
            step, sim = checkpoint["step"], checkpoint["sim"]
            self._counters = dict(checkpoint["counters"])
            self._records = checkpoint["records"]
            self._wall_before = checkpoint["wall"]
            self._epochs = checkpoint.get("epochs", 0.0)
            seen = {(self.space.parse(a), f): Evaluation.from_json(e) for a, f, e in checkpoint["seen"]}
        pretrained = checkpoint is not None and checkpoint["pretrained"]
        try:
            if self.shared is not None:
                self.shared.start(self, checkpoint.get("shared") if checkpoint else None)
            if self.sources and not pretrained:
                self.strategy.pretrain([self._source_task(s) for s in self.sources])
                self._checkpoint(step, sim, seen, self._wall())
            bar = self._bar(step)
            while (step < self.budget.queries and (self.budget.seconds is None or sim < self.budget.seconds)
                   and (self.budget.epochs is None or self._epochs < self.budget.epochs)):
                n = min(self.batch_size, self.budget.queries - step)
                if self.shared is not None:
                    n = self.shared.before_ask(n, _FullFidelity(seen))  # study-wide budget; others' results told
                    if n == 0:
                        break
                queries = list(self.strategy.ask_at(n))
                fids = {}
                if self.strategy.needs_fidelity:
                    if self.shared is not None:
                        raise ConfigError("multi-fidelity strategies do not run in a shared study yet; drop storage=")
                    fids = {i: f for i, (_, f) in enumerate(queries)}
                archs = [a for a, _ in queries]
                if self.shared is not None:
                    archs = self.shared.after_ask(archs)  # claimed; others' duplicates answered free
                if not archs:
                    break  # the strategy has nothing left to propose (e.g. space exhausted)
                if len(archs) > n:
                    raise NasframeError(f"strategy returned {len(archs)} architectures when asked for {n}")
                for a in archs:
                    self.space.check(a)
                fidelities = [self._fidelity(fids.get(i)) for i in range(len(archs))]
                evals = self._evaluate("search", archs, seen, fidelities=fidelities)
                if self.shared is not None:
                    self.shared.after_evaluate(archs, evals)
                for a, f, ev in zip(archs, fidelities, evals):
                    step += 1
                    sim += ev.cost
                    self._epochs += self._spent(f)
                    seen.setdefault((a, f), ev)
                self.strategy.tell(archs, [ev.visible() for ev in evals])
                self._checkpoint(step, sim, seen, self._wall())
                if bar is not None:
                    bar.update(len(archs))
                    best = max((fitness(e, self.evaluator.primary) for e in seen.values()), default=-math.inf)
                    p = self.evaluator.primary
                    bar.set_postfix_str(f"best {p.name}={best if p.direction == 'max' else -best:.4g}")
            if bar is not None:
                bar.close()
            summary = self._summarise(step, sim, seen, self._wall())
        finally:
            self.ledger.close()
            if self.shared is not None:
                self.shared.close()
        history = [r for r in _read(self.ledger)]
        if self.plot:
            from nasframe.analysis.plots import plot_run

            plot_run(history, self.evaluator.primary, self.ledger.plot_path, title=self.names.get("title", ""))
        self.ledger.finish(summary)
        return RunResult(summary=summary, history=history)

    # ------------------------------------------------------------ helpers

    def _wall(self) -> float:
        return self._wall_before + time.perf_counter() - self._t0

    def _bar(self, step):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.budget.queries, initial=step, desc=self.names.get("title", "search"),
                    unit="query", dynamic_ncols=True, leave=False)

    def _fidelity(self, f):
        """A strategy's requested fidelity, checked against the evaluator's range (None: full)."""
        if f is None:
            return None
        try:
            return self.evaluator.check_fidelity(f)
        except ValueError as e:
            raise NasframeError(f"strategy asked for an invalid fidelity: {e}") from None

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
            elif seen is not None and (a, fidelities[i]) in seen:
                out[i] = seen[(a, fidelities[i])]
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
                out[i] = ev
                records[i] = {"wall_time": wall}
        for i, a in enumerate(archs):
            rec = records[i]
            if rec is None or "phase" not in rec:
                rec = {"phase": phase, "index": start + i, "arch": str(a), **out[i].to_json(),
                       "repeat": bool(seen is not None and (a, fidelities[i]) in seen),
                       "wall_time": (rec or {}).get("wall_time", 0.0)}
            self.ledger.append(rec)
            self._records += 1
        self._counters[phase] = start + len(archs)
        return out

    def _source_task(self, source: Source) -> SourceTask:
        phase = f"pretrain:{source.name}"

        def evaluate(archs):
            return [ev.visible() for ev in self._evaluate(phase, archs, None, source.evaluator)]

        return SourceTask(source.name, source.evaluator.objectives, evaluate)

    def _checkpoint(self, step, sim, seen, wall) -> None:
        self.ledger.save_checkpoint({
            "step": step, "sim": sim, "wall": wall, "records": self._records,
            "counters": dict(self._counters), "pretrained": True, "epochs": self._epochs,
            "seen": [(str(a), f, e.to_json()) for (a, f), e in seen.items()],
            "strategy": self.strategy.state_dict(),
            "torch_rng": _torch_rng_state(), "py_rng": random.getstate(), "np_rng": np.random.get_state(),
            **({"shared": self.shared.state()} if self.shared is not None else {}),
        })

    def _summarise(self, step, sim, seen, wall) -> dict:
        rec = self.strategy.recommend()
        info = {}
        if rec is not None:
            ev = _best_fidelity(seen, rec)
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
            "config": self.config,
            **info,
        }


class _FullFidelity:
    """A live, read-only view of ``seen`` by architecture at full fidelity (what a shared study tracks)."""

    def __init__(self, seen: dict):
        self._seen = seen

    def __contains__(self, arch) -> bool:
        return (arch, None) in self._seen

    def __getitem__(self, arch) -> Evaluation:
        return self._seen[(arch, None)]


def _best_fidelity(seen: dict, arch) -> Evaluation | None:
    """The evaluation of ``arch`` at the highest fidelity it was queried at (None = full)."""
    found = [(math.inf if f is None else f, ev) for (a, f), ev in seen.items() if a == arch]
    return max(found, key=lambda x: x[0])[1] if found else None


def _read(ledger: Ledger):
    from nasframe.core.ledger import read_history

    return read_history(ledger.history_path)
