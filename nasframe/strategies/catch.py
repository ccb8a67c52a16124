"""CATCH: context-based meta-RL for transferable architecture search (Chen et al., 2020).

Three learnable parts share one task embedding z:

* a probabilistic context encoder q(z | c): each (e(a), reward) pair of the
  task's history becomes a Gaussian factor; the posterior is their product
  (permutation invariant, the prior N(0, I) for an empty context) and z is
  drawn with the reparameterisation trick;
* the controller: the PPO policy of ``ppo.py`` with z appended to its input;
* an evaluator f(e(a), z) that predicts the reward and filters the
  controller's proposals: M candidates are sampled, and with probability
  epsilon one of them is taken at random, else the one with the highest
  prediction. Only that one is evaluated.

Meta-training (``pretrain``) searches the source tasks in iterations of
``steps_per_iteration`` queries on one randomly chosen task (each source gets
``meta_queries`` queries: the same budget as the target search), with epsilon
1.0 - 0.025 every 4 steps; after each iteration the controller (PPO on that
iteration's episodes), the evaluator (MSE on the task's history) and the
encoder are updated with one joint loss, so the controller and evaluator
gradients reach the encoder through z, plus ``kl_weight`` x KL(q || prior).
Adaptation (the target search) starts epsilon again at 0.5, -0.025 every 2
steps, and fine-tunes all three every ``adapt_update_every`` queries.

Rewards are the task metric standardised by the running statistics of that
task's own history. The controller is updated on CATCH's own schedule (per
iteration), not when PPO's memory fills; ``memory_size`` still bounds the
decision steps used per update (the most recent ones).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from nasframe.core.evaluator import fitness
from nasframe.core.strategy import SourceTask
from nasframe.errors import ArchitectureError, ConfigError
from nasframe.strategies.ppo import PPO, Episode, mlp


def epsilon(step: int, start: float, decrease: float, every: int) -> float:
    """Step schedule: ``start - decrease * (step // every)``, clamped at 0."""
    return max(0.0, round(start - decrease * (step // every), 12))


def kl_to_prior(mu: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag var) || N(0, I)), summed over the dimensions of z."""
    posterior = Normal(mu, var.sqrt())
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_divergence(posterior, prior).sum()


class ContextEncoder(nn.Module):
    """(e(a), r) pairs -> Gaussian factors -> product posterior over z."""

    def __init__(self, width: int, z_dim: int = 10, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.z_dim = z_dim
        self.net = mlp(width + 1, hidden, layers, 2 * z_dim, act=nn.ReLU)

    def factors(self, context: torch.Tensor):
        out = self.net(context)
        mu, raw = out[..., :self.z_dim], out[..., self.z_dim:]
        return mu, nn.functional.softplus(raw) + 1e-6

    def posterior(self, context: torch.Tensor):
        """Product of the factors: var = 1 / sum(1/var_n), mu = var * sum(mu_n / var_n)."""
        if context.shape[0] == 0:
            return torch.zeros(self.z_dim), torch.ones(self.z_dim)
        mu_n, var_n = self.factors(context)
        return product_of_gaussians(mu_n, var_n)

    def sample(self, context: torch.Tensor):
        mu, var = self.posterior(context)
        return Normal(mu, var.sqrt()).rsample(), mu, var  # reparameterised: gradients reach mu and var


def product_of_gaussians(mu_n: torch.Tensor, var_n: torch.Tensor):
    precision = (1.0 / var_n).sum(0)
    var = 1.0 / precision
    return var * (mu_n / var_n).sum(0), var


def select(scores: np.ndarray, eps: float, rng: np.random.Generator) -> int:
    """Epsilon-greedy pick among candidates. Draws the same random numbers
    whatever eps is, so runs that differ only in the evaluator stay aligned."""
    u = rng.random()
    pick = int(rng.integers(len(scores)))
    return pick if u < eps else int(np.argmax(scores))


class CATCH(PPO):
    def __init__(self, z_dim: int = 10, encoder_lr: float = 0.0005, evaluator_lr: float = 0.0005,
                 kl_weight: float = 0.1, encoder_hidden: int = 128, encoder_layers: int = 3,
                 evaluator_hidden: int = 128, evaluator_layers: int = 3, candidates: int = 50,
                 meta_queries: int = 50, steps_per_iteration: int = 10,
                 meta_epsilon: Sequence[float] = (1.0, 0.025, 4), adapt_epsilon: Sequence[float] = (0.5, 0.025, 2),
                 adapt_update_every: int = 8, evaluator_epochs: int = 20, context_window: int = 100, **ppo):
        super().__init__(**ppo)
        if int(candidates) < 1 or int(meta_queries) < 1 or int(steps_per_iteration) < 1:
            raise ConfigError("CATCH needs candidates, meta_queries and steps_per_iteration >= 1")
        for name, sched in (("meta_epsilon", meta_epsilon), ("adapt_epsilon", adapt_epsilon)):
            if len(sched) != 3 or int(sched[2]) < 1:
                raise ConfigError(f"CATCH {name} is [start, decrease, every], got {list(sched)}")
        self.context_dim = int(z_dim)
        self.catch = dict(encoder_lr=float(encoder_lr), evaluator_lr=float(evaluator_lr),
                          kl_weight=float(kl_weight), encoder_hidden=int(encoder_hidden),
                          encoder_layers=int(encoder_layers), evaluator_hidden=int(evaluator_hidden),
                          evaluator_layers=int(evaluator_layers), candidates=int(candidates),
                          meta_queries=int(meta_queries), steps_per_iteration=int(steps_per_iteration),
                          meta_epsilon=tuple(float(x) for x in meta_epsilon),
                          adapt_epsilon=tuple(float(x) for x in adapt_epsilon),
                          adapt_update_every=int(adapt_update_every), evaluator_epochs=int(evaluator_epochs),
                          context_window=int(context_window))

    transfer = True

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        c, w = self.catch, self.coding.width
        self.encoder = ContextEncoder(w, self.context_dim, c["encoder_hidden"], c["encoder_layers"])
        self.evaluator = mlp(w + self.context_dim, c["evaluator_hidden"], c["evaluator_layers"], 1, act=nn.ReLU)
        self.encoder_opt = torch.optim.Adam(self.encoder.parameters(), lr=c["encoder_lr"], foreach=True)
        self.evaluator_opt = torch.optim.Adam(self.evaluator.parameters(), lr=c["evaluator_lr"], foreach=True)
        self.meta_steps = 0  # global meta-training step (epsilon schedule)
        self.adapt_steps = 0  # target queries told so far (epsilon schedule)
        self.phase = "adapt"  # "meta" while pre-training
        self.since_update: list[Episode] = []

    # ------------------------------------------------------------ context

    def _context_tensor(self, task: str) -> torch.Tensor:
        """The task's last ``context_window`` (e(a), standardised reward) pairs."""
        stats = self._task_stats(task)
        items = list(stats.values.items())[-self.catch["context_window"]:]
        if not items:
            return torch.zeros(0, self.coding.width + 1)
        choices = np.array([self.space.to_decisions(a) for a, _ in items])
        rewards = torch.tensor([[self._reward_of(task, v)] for _, v in items], dtype=torch.float32)
        return torch.cat([self.coding.onehot(choices), rewards], 1)

    def _reward_of(self, task: str, value: float) -> float:
        if value is None or not math.isfinite(value):
            return self.hp["failure_reward"]
        return self._task_stats(task).standardise(value)

    def _context(self, task: str):
        with torch.no_grad():
            return self.encoder.sample(self._context_tensor(task))[0]

    def _epsilon(self) -> float:
        if self.phase == "meta":
            return epsilon(self.meta_steps, *self.catch["meta_epsilon"])
        return epsilon(self.adapt_steps, *self.catch["adapt_epsilon"])

    # ------------------------------------------------------------ proposing

    def _propose(self, task: str, taken: set) -> tuple:
        stats = self._task_stats(task)
        z = self._context(task)
        for _ in range(self.hp["max_resample"] // 10 + 1):
            choices, logp, values = self.policy.sample(self.catch["candidates"], self.rng, z)
            archs, rows, unique = [], [], set()
            for i, ch in enumerate(choices):
                try:
                    a = self.space.from_decisions([int(x) for x in ch])
                except ArchitectureError:  # macro "end" too early: not a candidate
                    continue
                if a in stats.values or a in taken or a in unique:
                    continue
                unique.add(a)
                archs.append(a)
                rows.append(i)
            if archs:
                break
        else:  # the policy only proposes known architectures: hand over to PPO's uniform fallback
            return super()._propose(task, taken)
        with torch.no_grad():
            enc = self.coding.onehot(choices[rows])
            scores = self.evaluator(torch.cat([enc, z.expand(len(rows), -1)], 1)).squeeze(1).numpy()
        i = select(scores, self._epsilon(), self.rng)
        r = rows[i]
        self._step_lr()
        return archs[i], Episode(choices[r], logp[r], values[r], task)

    def _remember(self, ep: Episode) -> None:
        # CATCH updates on its own schedule (per iteration / every few target queries)
        self.since_update.append(ep)

    # ------------------------------------------------------------ learning

    def update_task(self, task: str) -> None:
        """One joint update of controller, evaluator and encoder on ``task``."""
        episodes = [e for e in self.since_update if e.task == task]
        episodes = episodes[-max(1, self.hp["memory_size"] // self.coding.steps):]
        self.since_update = [e for e in self.since_update if e.task != task]
        stats = self._task_stats(task)
        known = [(a, v) for a, v in stats.values.items() if v is not None and math.isfinite(v)]
        if not known and not episodes:
            return
        ctx = self._context_tensor(task)
        if known:
            x = self.coding.onehot(np.array([self.space.to_decisions(a) for a, _ in known]))
            y = torch.tensor([self._reward_of(task, v) for _, v in known], dtype=torch.float32)
        epochs = max(self.hp["epochs"] if episodes else 0, self.catch["evaluator_epochs"] if known else 0)
        for epoch in range(epochs):
            z, mu, var = self.encoder.sample(ctx)
            loss = self.catch["kl_weight"] * kl_to_prior(mu, var)
            if episodes and epoch < self.hp["epochs"]:
                loss = loss + self.ppo_loss(episodes, z.expand(len(episodes), -1))
            if known:
                pred = self.evaluator(torch.cat([x, z.expand(len(x), -1)], 1)).squeeze(1)
                loss = loss + ((pred - y) ** 2).mean()
            for opt in (self.optimizer, self.evaluator_opt, self.encoder_opt):
                opt.zero_grad()
            loss.backward()
            if episodes and epoch < self.hp["epochs"]:
                self.optimizer.step()
            self.evaluator_opt.step()
            self.encoder_opt.step()
        self.updates += 1

    # ------------------------------------------------------------ meta-training

    def pretrain(self, sources: Sequence[SourceTask]) -> None:
        if not sources:
            raise ConfigError("CATCH needs at least one source task to meta-train on (transfer.sources)")
        c = self.catch
        left = {s.name: c["meta_queries"] for s in sources}
        by_name = {s.name: s for s in sources}
        self.phase = "meta"
        while any(left.values()):
            names = [n for n in by_name if left[n] > 0]
            src = by_name[names[int(self.rng.integers(len(names)))]]
            task = f"source:{src.name}"
            for _ in range(min(c["steps_per_iteration"], left[src.name])):
                arch, ep = self._propose(task, set())
                if arch is None:
                    left[src.name] = 0
                    break
                ev = src.evaluate([arch])[0]
                self._observe(task, arch, fitness(ev, src.primary), ep)
                left[src.name] -= 1
                self.meta_steps += 1
            self.update_task(task)
        self.phase = "adapt"
        self.since_update = []
        self.task = "target"

    # ------------------------------------------------------------ adaptation

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for _ in archs:
            self.adapt_steps += 1
            if self.adapt_steps % self.catch["adapt_update_every"] == 0:
                self.update_task(self.task)
