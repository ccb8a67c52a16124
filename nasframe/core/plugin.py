"""Plug-ins wrap the search loop; the loop itself knows none of them.

A ``RunnerPlugin`` gets a call at each step of ask -> evaluate -> tell and may
change what flows through two of them (how many architectures to ask for,
which asked architectures go on to be evaluated). Progress bars, the end-of-run
plot and the multi-worker study are plug-ins; the composition root
(``build_run``) decides which ones a run gets. The order of a run::

    open(ctx)                     before the run folder is touched (a bad setting leaves nothing behind)
    start(ctx, state)             strategy set up, checkpoint loaded; state = what state() returned then
    loop:
        n = before_ask(n)         0 stops the search
        queries = after_ask_at(queries)  [] stops the search; queries are (architecture, fidelity)
                                  pairs (fidelity None: full); the default calls after_ask(archs)
        after_evaluate(archs, evaluations)   the ledger holds them; the strategy is not told yet
        after_tell(archs, evaluations)
    on_finish(summary, history)   the run completed (not called when it fails)
    close()                       always, last

Plug-ins see the run only through ``RunContext``: the components, the
recorded lines of the run folder, and ``record`` to write lines of their own
phase (which a resumed run replays), never the Runner's internals.
Like NNI's middleware or Optuna's callbacks, several plug-ins chain in the
order given; each hook's default does nothing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from nasframe.core.evaluator import Evaluation, Evaluator, Objective
from nasframe.core.space import Architecture, SearchSpace
from nasframe.core.strategy import Strategy


class RunContext:
    """The public face of one run, handed to every plug-in."""

    def __init__(self, runner):
        self._runner = runner

    # ------------------------------------------------------------ components and settings

    @property
    def space(self) -> SearchSpace:
        return self._runner.space

    @property
    def strategy(self) -> Strategy:
        return self._runner.strategy

    @property
    def evaluator(self) -> Evaluator:
        return self._runner.evaluator

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return tuple(self._runner.evaluator.objectives)

    @property
    def budget(self):
        return self._runner.budget

    @property
    def config(self) -> dict:
        return self._runner.config

    @property
    def names(self) -> dict:
        return self._runner.names

    @property
    def run_dir(self) -> Path:
        return self._runner.ledger.dir

    @property
    def plot_path(self) -> Path:
        return self._runner.ledger.plot_path

    # ------------------------------------------------------------ progress of the run

    def count(self, phase: str = "search") -> int:
        """Lines recorded so far under ``phase`` (for "search": the queries charged so far)."""
        return self._runner._counters.get(phase, 0)

    @property
    def seen(self) -> Mapping[Architecture, Evaluation]:
        """Every architecture evaluated at full fidelity in the search phase so far, with its first evaluation."""
        return self._runner._seen_full

    def evaluated(self, arch: Architecture, fidelity: int | None = None) -> bool:
        """Whether this run already evaluated ``arch`` at ``fidelity`` (None: full) in the search phase."""
        return self._runner._key(arch, fidelity) in self._runner._seen

    def recorded(self, phase: str, index: int) -> dict | None:
        """The ledger line ``(phase, index)`` a resumed run found on disk, if any."""
        return self._runner._replay.get((phase, index))

    def recorded_lines(self, phase: str) -> list[dict]:
        """Every line of ``phase`` the run folder held when this process opened it, in order."""
        return [r for r in self._runner._recorded if r["phase"] == phase]

    def record(self, phase: str, archs: Sequence[Architecture], evaluations: Sequence[Evaluation],
               **fields) -> None:
        """Append one ledger line per architecture under ``phase`` (not "search"), numbered on from
        ``count(phase)``; ``fields`` are added to each line (a list value gives one item per line).

        Record exactly the results you give the strategy (``tell``/``observe``), in that order: a
        resumed run rebuilds the strategy's ``history`` from these lines and the search lines."""
        if phase == "search" or phase.startswith("pretrain:"):
            raise ValueError(f"plug-ins record under a phase of their own, not '{phase}'")
        start = self.count(phase)
        for i, (a, ev) in enumerate(zip(archs, evaluations)):
            extra = {k: (v[i] if isinstance(v, (list, tuple)) else v) for k, v in fields.items()}
            self._runner._append({"phase": phase, "index": start + i, "arch": str(a), **ev.to_json(),
                                  "repeat": False, "wall_time": 0.0, **extra})
        self._runner._counters[phase] = start + len(archs)


class RunnerPlugin:
    """Base class of plug-ins: override the hooks you need (see the module docstring)."""

    @property
    def name(self) -> str:
        """Key of this plug-in's state in the checkpoint."""
        return type(self).__name__

    def open(self, ctx: RunContext) -> None:
        pass

    def start(self, ctx: RunContext, state: dict | None) -> None:
        pass

    def before_ask(self, n: int) -> int:
        return n

    def after_ask(self, archs: list[Architecture]) -> list[Architecture]:
        return archs

    def after_ask_at(self, queries: list[tuple[Architecture, int | None]]) -> list[tuple[Architecture, int | None]]:
        """The asked ``(architecture, fidelity)`` pairs that go on to be evaluated. Override it to
        replace queries of a multi-fidelity strategy; the default hands the architectures to
        ``after_ask``: a query it keeps keeps its fidelity, one it puts in is asked at full fidelity."""
        archs = self.after_ask([a for a, _ in queries])
        fidelities: dict = {}
        for a, f in queries:
            fidelities.setdefault(a, []).append(f)
        return [(a, fidelities[a].pop(0) if fidelities.get(a) else None) for a in archs]

    def after_evaluate(self, archs: list[Architecture], evaluations: list[Evaluation]) -> None:
        pass

    def after_tell(self, archs: list[Architecture], evaluations: list[Evaluation]) -> None:
        pass

    def state(self) -> dict | None:
        """Saved in each checkpoint; handed back to ``start`` on resume. Keep it small: the
        checkpoint is written often, and whatever the ledger holds can be rebuilt from it."""
        return None

    def on_finish(self, summary: dict, history: list[dict]) -> None:
        pass

    def close(self) -> None:
        pass
