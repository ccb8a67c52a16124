"""The Optuna side: one trial per query, through Optuna's public API only.

A trial is opened (RUNNING) when a worker starts a query and finished when the
evaluation is recorded: COMPLETE with the objective values in the study's
directions, or FAIL for a failed evaluation (and for the query of a worker that
died). On a ``Sequential`` space the trial's parameters are the architecture's
decisions, one ``CategoricalDistribution`` each (fixed with Optuna's
``PartialFixedSampler``, so ``optuna.visualization`` and optuna-dashboard show
them); every trial also carries the architecture string as the user attribute
``arch``.
"""
from __future__ import annotations

import math

from nasframe.core.evaluator import Evaluation
from nasframe.core.space import Sequential


class TrialMirror:
    def __init__(self, study, space, objectives, owner: str):
        import optuna

        self.optuna, self.study, self.space, self.owner = optuna, study, space, owner
        self.objectives = tuple(objectives)
        self.sequential = isinstance(space, Sequential)  # a declared capability, not a concrete class
        self.decisions = space.decisions() if self.sequential else []
        self.distributions = {d.name: optuna.distributions.CategoricalDistribution(list(d.options))
                              for d in self.decisions}
        self.base_sampler = optuna.samplers.RandomSampler()

    def params(self, arch) -> dict:
        if not self.sequential:
            return {}
        return {d.name: d.options[i] for d, i in zip(self.decisions, self.space.to_decisions(arch))}

    def open(self, arch, slot: int, fidelity: int | None = None, skipped=()):
        """A RUNNING trial whose parameters are ``arch``'s decisions; ``fidelity`` (what it is measured
        at, for a multi-fidelity evaluator) and ``skipped`` (``[arch, fidelity]`` claims another worker
        held, passed over before this one) go to its user attributes."""
        self.study.sampler = self.optuna.samplers.PartialFixedSampler(self.params(arch), self.base_sampler)
        trial = self.study.ask(self.distributions)
        trial.set_user_attr("arch", str(arch))
        trial.set_user_attr("owner", self.owner)
        trial.set_user_attr("slot", slot)
        if fidelity is not None:
            trial.set_user_attr("fidelity", fidelity)
        if skipped:
            trial.set_user_attr("skipped", [list(s) for s in skipped])
        return trial

    def finish(self, trial, evaluation: Evaluation, info: dict) -> bool:
        """Record the result; False when the trial was already failed (its worker was taken for dead)."""
        trial.set_user_attr("nasframe", info)
        trial.set_user_attr("evaluation", evaluation.to_json())
        values = [evaluation.values.get(o.name) for o in self.objectives]
        ok = not evaluation.failed and all(v is not None and math.isfinite(v) for v in values)
        try:
            if ok:
                self.study.tell(trial, [float(v) for v in values])
            else:
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
            return True
        except (RuntimeError, ValueError):
            return False

    def fail_running(self, owner: str) -> None:
        """Fail every running trial of ``owner`` (a dead worker, or this one's leftovers after a kill)."""
        running = self.study.get_trials(deepcopy=False, states=(self.optuna.trial.TrialState.RUNNING,))
        for t in running:
            if t.user_attrs.get("owner") == owner:
                self.fail(t.number)

    def fail(self, number: int) -> None:
        try:
            self.study.tell(number, state=self.optuna.trial.TrialState.FAIL)
        except (RuntimeError, ValueError):
            pass  # finished meanwhile (another worker failed it first)

    def finished_by(self, owner: str) -> dict[int, tuple[int, list]]:
        """``{search query index: (trial number, claims skipped before it)}`` of the queries ``owner``
        recorded in the study."""
        states = (self.optuna.trial.TrialState.COMPLETE, self.optuna.trial.TrialState.FAIL)
        out = {}
        for t in self.study.get_trials(deepcopy=False, states=states):
            info = t.user_attrs.get("nasframe")
            if info and info.get("worker") == owner:
                out[int(info["query"])] = (t.number, [list(s) for s in t.user_attrs.get("skipped", [])])
        return out
