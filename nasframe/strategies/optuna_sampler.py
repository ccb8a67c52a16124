"""Optuna samplers (TPE, NSGA-II, random, ...) as strategies over a space's decisions.

Each architecture is one Optuna trial whose parameters are the space's
categorical decisions. The sampler comes from the config as a Hydra nested
``_target_`` (``strategy/sampler=tpe|nsgaii|random``, files in
``conf/strategy/sampler/``): a factory called with ``seed=``. Decodings the
space rejects (e.g. an invalid macro list) are told to Optuna as failed
trials and sampled again, without costing a query. Multi-objective
evaluators (several objectives) make a multi-objective study, so NSGA-II
searches for the Pareto front.

Repeats are never charged: a proposal equal to an architecture already
evaluated is told its known values at once (the sampler learns it was a
repeat) and the sampler is asked again; a proposal equal to one asked but not
yet told waits for that result. ``repeats`` counts both, and ``run_stats()``
reports it. After ``max_repeats`` repeats in a row the strategy stops
proposing (the runner then ends the run early, as for an exhausted space).

CMA-ES is refused: on categorical parameters Optuna's CmaEsSampler falls back
to random sampling, so "cmaes" would be random search under another name.
"""
from __future__ import annotations

import _thread
import copyreg
import io
import pickle
import threading

from nasframe.core.space import Sequential
from nasframe.core.strategy import Strategy
from nasframe.errors import ArchitectureError, ConfigError

ARCH = "arch"  # the user attribute holding each trial's architecture


def _tpe(seed: int):
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


class OptunaSampler(Strategy):
    requires = (Sequential,)

    def __init__(self, sampler=_tpe, max_invalid: int = 1000, max_repeats: int = 1000):
        import optuna

        if isinstance(sampler, str):
            raise ConfigError(f"the Optuna sampler is a config group: write strategy/sampler={sampler}, "
                              f"not strategy.sampler={sampler}")
        if not callable(sampler):
            raise ConfigError(f"strategy.sampler must be an Optuna sampler factory (a Hydra _target_ with "
                              f"_partial_: true), got {sampler!r}; pick one with strategy/sampler=tpe")
        if isinstance(sampler(seed=0), optuna.samplers.CmaEsSampler):
            raise ConfigError("CMA-ES needs continuous parameters and nasframe's decisions are categorical, so "
                              "Optuna would silently run random search; use strategy/sampler=tpe or random")
        self.make_sampler = sampler
        self.max_invalid = int(max_invalid)
        self.max_repeats = int(max_repeats)

    def setup(self, space, objectives, rng):
        import optuna

        super().setup(space, objectives, rng)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.distributions = {
            d.name: optuna.distributions.CategoricalDistribution(list(range(len(d.options))))
            for d in space.decisions()
        }
        directions = ["maximize" if o.direction == "max" else "minimize" for o in self.objectives]
        self.study = optuna.create_study(directions=directions,
                                         sampler=self.make_sampler(seed=int(rng.integers(2**31))))
        self.pending = {}  # arch -> open trial numbers, answered together when its result arrives
        self.known = {}  # arch -> its evaluation (visible part)
        self.repeats = 0

    # ------------------------------------------------------------ ask / tell

    def ask(self, n: int = 1):
        out = []
        in_a_row = 0
        while len(out) < n:
            trial, arch = self._valid_trial()
            trial.set_user_attr(ARCH, str(arch))
            if arch in self.known or arch in self.pending:
                self.repeats += 1
                in_a_row += 1
                if arch in self.known:
                    self._finish(trial.number, self.known[arch])
                else:
                    self.pending[arch].append(trial.number)
                if in_a_row >= self.max_repeats:
                    break  # the sampler keeps proposing known architectures: propose no more
                continue
            in_a_row = 0
            self.pending[arch] = [trial.number]
            out.append(arch)
        return out

    def _valid_trial(self):
        for _ in range(self.max_invalid):
            trial = self.study.ask(self.distributions)
            try:
                return trial, self.space.from_decisions([trial.params[name] for name in self.distributions])
            except ArchitectureError:
                self.study.tell(trial, state=_failed())
        raise ArchitectureError(f"the Optuna sampler proposed {self.max_invalid} invalid decision "
                                f"lists in a row on space '{self.space.name}'")

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for arch, ev in zip(archs, evaluations):
            self.known.setdefault(arch, ev)
            numbers = self.pending.pop(arch, None)
            if numbers is None:  # not asked by this strategy (a shared study): a finished trial
                self._add_finished(arch, ev)
            for number in numbers or ():
                self._finish(number, ev)

    def observe(self, archs, evaluations):
        """Results other workers of a shared study evaluated: learnt from, not asked."""
        self.tell(archs, evaluations)

    def _finish(self, number: int, ev) -> None:
        values = self._values(ev)
        if values is None:
            self.study.tell(number, state=_failed())
        else:
            self.study.tell(number, values)

    def _add_finished(self, arch, ev) -> None:
        import optuna

        params = dict(zip(self.distributions, self.space.to_decisions(arch)))
        values = self._values(ev)
        self.study.add_trial(optuna.trial.create_trial(
            params=params, distributions=self.distributions, user_attrs={ARCH: str(arch)},
            **({"state": _failed()} if values is None else {"values": values if isinstance(values, list)
                                                            else [values]})))

    def _values(self, ev):
        if ev.failed:
            return None
        values = [ev.values[o.name] for o in self.objectives]
        return values if len(values) > 1 else values[0]

    # ------------------------------------------------------------ results

    def run_stats(self) -> dict:
        """Strategy-level counters for the run summary."""
        return {"repeats": self.repeats}

    def recommend(self):
        if len(self.objectives) == 1:
            return super().recommend()
        # several objectives: the Pareto member best on the first one
        return max(self.pareto_front(), key=lambda a: self.fitness(self.known[a]), default=None)

    def pareto_front(self):
        """Distinct architectures of the study's Pareto-optimal trials (Optuna's ``best_trials``)."""
        front = dict.fromkeys(self.space.parse(t.user_attrs[ARCH]) for t in self.study.best_trials)
        return list(front)

    # ------------------------------------------------------------ checkpoint

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("space", "study")}
        state = pickle.loads(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
        state["study"] = _dumps_without_locks(self.study)
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        study = pickle.loads(state.pop("study"))
        super().load_state_dict(state)
        self.study = study


def _dumps_without_locks(obj) -> bytes:
    """Pickle ``obj``; each thread lock inside (NSGA-II's sampler holds one) comes back as a new lock.

    The reduction lives in this one pickler's dispatch table: the process-wide copyreg table
    and every other lock in the process are left alone.
    """
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table,
                              _thread.LockType: lambda _lock: (_thread.allocate_lock, ()),
                              type(threading.RLock()): lambda _lock: (threading.RLock, ())}
    pickler.dump(obj)
    return buf.getvalue()


def _failed():
    import optuna

    return optuna.trial.TrialState.FAIL

