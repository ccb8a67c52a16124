"""REINFORCE with a context-free policy, as NATS-Bench's "RL" baseline (AutoDL-Projects).

The policy is one row of logits per decision of a ``Sequential`` space (6 edges
x 5 ops on NAS-Bench-201), initialised 1e-3 * N(0, 1); each decision is drawn
independently from the softmax of its row. After every evaluated architecture
the baseline (an exponential moving average of the rewards, momentum 0.9,
debiased as in the reference) is updated *first*, then one Adam step (lr 0.01)
minimises -log pi(a) * (r - b). The reward is the primary objective as the
evaluator reports it (NB201 validation accuracy in percent, as the reference's
``simulate_train_eval``). The recommendation is the best architecture
evaluated, as the reference's final version does.

Like the reference, a sample equal to an architecture already evaluated is
asked (and charged) again: it is an on-policy draw. Choices the space refuses
(``from_decisions`` raises ``ArchitectureError``) are drawn again without
learning from them; a failed evaluation teaches nothing (no update). Tell
accepts architectures it did not ask for (a shared study): their
log-probability comes from ``to_decisions``.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from nasframe.core.space import Sequential
from nasframe.core.strategy import Strategy
from nasframe.errors import ArchitectureError, ConfigError


class Reinforce(Strategy):
    requires = (Sequential,)

    def __init__(self, lr: float = 0.01, ema_momentum: float = 0.9, init_std: float = 1e-3,
                 max_invalid: int = 1000):
        if not float(lr) > 0 or not 0 <= float(ema_momentum) < 1 or float(init_std) < 0 or int(max_invalid) < 1:
            raise ConfigError(f"REINFORCE needs lr > 0, 0 <= ema_momentum < 1, init_std >= 0 and "
                              f"max_invalid >= 1, got {lr}, {ema_momentum}, {init_std}, {max_invalid}")
        self.lr = float(lr)
        self.ema_momentum = float(ema_momentum)
        self.init_std = float(init_std)
        self.max_invalid = int(max_invalid)

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        sizes = [len(d.options) for d in space.decisions()]
        if not sizes or min(sizes) < 1:
            raise ConfigError(f"space '{space.name}' declares no usable decisions")
        # rows padded to the widest decision; padded options are masked out of the softmax
        self.mask = torch.zeros(len(sizes), max(sizes), dtype=torch.bool)
        for row, size in enumerate(sizes):
            self.mask[row, :size] = True
        init = self.init_std * rng.standard_normal(self.mask.shape)
        self.logits = torch.nn.Parameter(torch.as_tensor(init, dtype=torch.float32))
        self.optimizer = torch.optim.Adam([self.logits], lr=self.lr)
        self.ema_num = 0.0  # the reference's debiased EMA: numerator / denominator
        self.ema_den = 0.0
        self.updates = 0

    # ------------------------------------------------------------ policy

    def log_probs(self) -> torch.Tensor:
        """(decisions, max options) log-softmax of each row, padded options at -inf."""
        return torch.log_softmax(self.logits.masked_fill(~self.mask, -torch.inf), dim=-1)

    def probabilities(self) -> np.ndarray:
        with torch.no_grad():
            return self.log_probs().exp().double().numpy()

    def _draw(self, probs: np.ndarray) -> list[int]:
        return [int(self.rng.choice(len(p), p=p / p.sum())) for p in probs]

    def ask(self, n: int = 1):
        probs = self.probabilities()
        out = []
        for _ in range(n):
            for _ in range(self.max_invalid):
                try:
                    out.append(self.space.from_decisions(self._draw(probs)))
                    break
                except ArchitectureError:
                    continue
            else:
                raise ArchitectureError(f"REINFORCE drew {self.max_invalid} decision lists in a row that "
                                        f"space '{self.space.name}' refuses")
        return out

    # ------------------------------------------------------------ learning

    @property
    def baseline(self) -> float:
        return self.ema_num / self.ema_den if self.ema_den else 0.0

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for arch, ev in zip(archs, evaluations):
            if ev.failed:
                continue
            reward = self.fitness(ev)
            m = self.ema_momentum
            self.ema_num = m * self.ema_num + (1 - m) * reward
            self.ema_den = m * self.ema_den + (1 - m)
            choices = torch.as_tensor(self.space.to_decisions(arch))
            log_prob = self.log_probs()[torch.arange(len(choices)), choices].sum()
            loss = -log_prob * (reward - self.baseline)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.updates += 1

    # ------------------------------------------------------------ checkpoint

    # The logits and Adam's moments are saved as arrays and loaded into the parameter and the
    # optimiser setup() built, so the optimiser keeps pointing at the live parameter.

    def state_dict(self) -> dict:
        plain = {k: v for k, v in self.__dict__.items() if k not in ("space", "logits", "optimizer", "mask")}
        state = copy.deepcopy(plain)
        state["logits"] = self.logits.detach().numpy().copy()
        opt = self.optimizer.state_dict()
        state["adam"] = {"param_groups": opt["param_groups"],
                         "state": {k: {n: t.detach().numpy().copy() for n, t in s.items()}
                                   for k, s in opt["state"].items()}}
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        logits, adam = state.pop("logits"), state.pop("adam")
        super().load_state_dict(state)
        with torch.no_grad():
            self.logits.copy_(torch.from_numpy(logits))
        self.optimizer.load_state_dict({
            "param_groups": adam["param_groups"],
            "state": {k: {n: torch.from_numpy(a.copy()) for n, a in s.items()} for k, s in adam["state"].items()}})

