"""Optuna samplers (TPE, CMA-ES, NSGA-II, random) as strategies over a space's decisions.

Each architecture is one Optuna trial whose parameters are the space's
categorical decisions. Decodings the space rejects (e.g. an invalid macro
list) are told to Optuna as failed trials and sampled again, without costing
a query. Multi-objective evaluators (several objectives) make a
multi-objective study, so NSGA-II searches for the Pareto front.
"""
from __future__ import annotations

import _thread
import copyreg
import math

from nasframe.core.evaluator import fitness
from nasframe.core.space import Sequential
from nasframe.core.strategy import Strategy
from nasframe.errors import ArchitectureError, ConfigError

SAMPLERS = ("tpe", "cmaes", "nsgaii", "random")

# Optuna 5's samplers hold a thread lock, which neither deepcopy (state_dict) nor pickle (the
# checkpoint) can copy; a copied or unpickled sampler gets a fresh, unlocked lock of its own instead.
copyreg.pickle(_thread.LockType, lambda lock: (_thread.allocate_lock, ()))
copyreg.pickle(_thread.RLock, lambda lock: (_thread.RLock, ()))


class OptunaSampler(Strategy):
    requires = (Sequential,)

    def __init__(self, sampler: str = "tpe", max_invalid: int = 1000, **sampler_options):
        if sampler not in SAMPLERS:
            raise ConfigError(f"unknown Optuna sampler '{sampler}'; choose one of {', '.join(SAMPLERS)}")
        self.sampler_name = sampler
        self.sampler_options = dict(sampler_options)
        self.max_invalid = int(max_invalid)

    def _sampler(self, seed: int):
        import optuna

        make = {
            "tpe": optuna.samplers.TPESampler,
            "cmaes": optuna.samplers.CmaEsSampler,
            "nsgaii": optuna.samplers.NSGAIISampler,
            "random": optuna.samplers.RandomSampler,
        }[self.sampler_name]
        return make(seed=seed, **self.sampler_options)

    def setup(self, space, objectives, rng):
        import optuna

        super().setup(space, objectives, rng)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.distributions = {
            d.name: optuna.distributions.CategoricalDistribution(list(range(len(d.options))))
            for d in space.decisions()
        }
        directions = ["maximize" if o.direction == "max" else "minimize" for o in self.objectives]
        self.study = optuna.create_study(directions=directions, sampler=self._sampler(int(rng.integers(2**31))))
        self.pending = {}  # arch -> list of open trial numbers

    def ask(self, n: int = 1):
        out = []
        for _ in range(n):
            for _ in range(self.max_invalid):
                trial = self.study.ask(self.distributions)
                try:
                    arch = self.space.from_decisions([trial.params[name] for name in self.distributions])
                except ArchitectureError:
                    self.study.tell(trial, state=_failed())
                    continue
                self.pending.setdefault(arch, []).append(trial.number)
                out.append(arch)
                break
            else:
                raise ArchitectureError(f"the Optuna sampler proposed {self.max_invalid} invalid decision "
                                        f"lists in a row on space '{self.space.name}'")
        return out

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for arch, ev in zip(archs, evaluations):
            number = self.pending[arch].pop(0)
            if not self.pending[arch]:
                del self.pending[arch]
            if ev.failed:
                self.study.tell(number, state=_failed())
                continue
            values = [ev.values[o.name] for o in self.objectives]
            self.study.tell(number, values if len(values) > 1 else values[0])

    def observe(self, archs, evaluations):
        """Results this sampler did not ask for become finished trials of its study."""
        import optuna

        self.history.extend(zip(archs, evaluations))
        for arch, ev in zip(archs, evaluations):
            params = dict(zip(self.distributions, self.space.to_decisions(arch)))
            values = None if ev.failed else [ev.values[o.name] for o in self.objectives]
            self.study.add_trial(optuna.trial.create_trial(
                params=params, distributions=self.distributions, values=values,
                state=_failed() if ev.failed else optuna.trial.TrialState.COMPLETE))

    def recommend(self):
        if len(self.objectives) == 1:
            return super().recommend()
        # several objectives: the Pareto member best on the first one
        return max(self.pareto_front(), key=lambda a: self._primary_fit(a), default=None)

    def _primary_fit(self, arch):
        return max((fitness(ev, self.primary) for a, ev in self.history if a == arch), default=-math.inf)

    def pareto_front(self):
        from nasframe.analysis.pareto import pareto_mask

        pts = [(a, [o.utility(ev.values.get(o.name)) for o in self.objectives])
               for a, ev in self.history if not ev.failed]
        if not pts:
            return []
        mask = pareto_mask([p for _, p in pts])
        return [a for (a, _), keep in zip(pts, mask) if keep]


def _failed():
    import optuna

    return optuna.trial.TrialState.FAIL
