"""PPO over a ``Sequential`` space, with the TransNAS-Bench-101 settings.

An architecture is one episode of len(decisions) steps: at step t the policy
(an MLP) sees the one-hot choices made so far, the one-hot position t and an
optional context vector (CATCH's task embedding z) and picks an option of
decision t. The reward (the task metric standardised by the running mean/std
of everything evaluated on that task) arrives at the last step; advantages
use GAE. Episodes go to a memory; when it holds ``memory_size`` of them, the
policy is updated for ``epochs`` epochs with the clipped surrogate + value +
entropy terms and the memory is cleared. The paper's "memory size 100" does
not say 100 of what, so ``memory_unit`` names the reading: ``steps`` (default)
counts decision steps (transitions: on the 6-edge micro space an update every
17 architectures, 2 in a 50-query trial), ``episodes`` counts architectures
(an update every 100 architectures: none in a 50-query trial).

Defaults are the TNB supplement's: Adam lr 0.01 decayed x0.999 every 15
steps (one step = one sampled architecture), clip 0.2, memory 100, gamma
0.99, GAE lambda 0.95, value coefficient 1, entropy coefficient 0.01.

Budget is counted in unique architectures: a sample equal to an architecture
already evaluated on the task is not asked again (nor stored: its reward is
no news) and the policy samples again; after ``max_resample`` such samples a
uniformly drawn unseen architecture is asked instead. A decision list the space refuses
(TransNAS macro: e.g. an "end" symbol that leaves too few modules) raises
``ArchitectureError`` in ``from_decisions``; such an episode is stored with
the reward ``invalid_reward`` (in standardised units, i.e. well below an
average architecture), so the policy learns to avoid it, and the policy
samples again. Failed evaluations (NaN scores) get ``failure_reward``.
"""
from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from nasframe.core.evaluator import fitness
from nasframe.core.space import Sequential
from nasframe.core.strategy import SourceTask, Strategy
from nasframe.errors import ArchitectureError, ConfigError

# ---------------------------------------------------------------- encoding


class DecisionCoding:
    """Shapes of a Sequential space: option counts, one-hot offsets, masks."""

    def __init__(self, space):
        self.sizes = [len(d.options) for d in space.decisions()]
        if not self.sizes or min(self.sizes) < 1:
            raise ConfigError(f"space '{space.name}' declares no usable decisions")
        self.steps = len(self.sizes)
        self.width = int(sum(self.sizes))  # concatenated one-hots e(a)
        self.max_options = max(self.sizes)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(int)
        mask = torch.zeros(self.steps, self.max_options, dtype=torch.bool)
        for t, s in enumerate(self.sizes):
            mask[t, :s] = True
        self.mask = mask

    @property
    def state_width(self) -> int:
        return self.width + self.steps

    def onehot(self, choices: np.ndarray) -> torch.Tensor:
        """(n, steps) int choices -> (n, width) concatenated one-hots."""
        choices = np.asarray(choices, dtype=int).reshape(-1, self.steps)
        out = torch.zeros(len(choices), self.width)
        cols = torch.as_tensor(self.offsets[None, :] + choices)
        out.scatter_(1, cols, 1.0)
        return out

    def states(self, choices: np.ndarray) -> torch.Tensor:
        """(n, steps) choices -> (n, steps, state_width): what the policy saw before each step."""
        choices = np.asarray(choices, dtype=int).reshape(-1, self.steps)
        n = len(choices)
        full = self.onehot(choices)
        out = torch.zeros(n, self.steps, self.state_width)
        for t in range(self.steps):
            out[:, t, :self.offsets[t]] = full[:, :self.offsets[t]]
            out[:, t, self.width + t] = 1.0
        return out


# ---------------------------------------------------------------- networks


def mlp(inp: int, hidden: int, layers: int, out: int, act=nn.Tanh) -> nn.Sequential:
    mods, w = [], inp
    for _ in range(layers):
        mods += [nn.Linear(w, hidden), act()]
        w = hidden
    mods.append(nn.Linear(w, out))
    return nn.Sequential(*mods)


class SequentialPolicy(nn.Module):
    """Actor-critic MLP over (choices so far, position, context)."""

    def __init__(self, coding: DecisionCoding, context_dim: int = 0, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.coding = coding
        self.context_dim = context_dim
        self.body = mlp(coding.state_width + context_dim, hidden, layers - 1, hidden)
        self.actor = nn.Linear(hidden, coding.max_options)
        self.critic = nn.Linear(hidden, 1)
        # start from a (nearly) uniform policy
        nn.init.zeros_(self.actor.weight)
        nn.init.zeros_(self.actor.bias)

    def forward(self, states: torch.Tensor, positions: torch.Tensor, context: torch.Tensor | None):
        """states (..., state_width), positions (...) long, context (..., context_dim) or None."""
        x = states if context is None or self.context_dim == 0 else torch.cat([states, context], -1)
        h = torch.tanh(self.body(x))
        logits = self.actor(h).masked_fill(~self.coding.mask[positions], -1e9)
        return logits, self.critic(h).squeeze(-1)

    @torch.no_grad()
    def sample(self, n: int, rng: np.random.Generator, context: torch.Tensor | None = None):
        """Sample n episodes autoregressively (probabilities from torch, draws from ``rng``).

        Returns choices (n, steps) and the per-step log-probs and values (n, steps).
        """
        c = self.coding
        choices = np.zeros((n, c.steps), dtype=int)
        logps = torch.zeros(n, c.steps)
        values = torch.zeros(n, c.steps)
        ctx = None if context is None else context.reshape(1, -1).expand(n, -1)
        state = torch.zeros(n, c.state_width)
        for t in range(c.steps):
            state[:, c.width:] = 0.0
            state[:, c.width + t] = 1.0
            logits, v = self.forward(state, torch.full((n,), t, dtype=torch.long), ctx)
            p = torch.softmax(logits, -1).double().numpy()
            u = rng.random(n)
            a = np.minimum((p.cumsum(1) < u[:, None]).sum(1), c.sizes[t] - 1)
            choices[:, t] = a
            logps[:, t] = torch.log_softmax(logits, -1)[torch.arange(n), torch.as_tensor(a)]
            values[:, t] = v
            state[torch.arange(n), torch.as_tensor(c.offsets[t] + a)] = 1.0
        return choices, logps.numpy(), values.numpy()


# ---------------------------------------------------------------- PPO maths


def gae(reward: torch.Tensor, values: torch.Tensor, gamma: float, lam: float):
    """Terminal reward per episode (n,), values (n, T) -> advantages and returns (n, T)."""
    n, T = values.shape
    adv = torch.zeros(n, T)
    last = torch.zeros(n)
    for t in reversed(range(T)):
        nxt = values[:, t + 1] if t + 1 < T else torch.zeros(n)
        r = reward if t == T - 1 else torch.zeros(n)
        delta = r + gamma * nxt - values[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    return adv, adv + values


def clipped_surrogate(logp_new: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, clip: float):
    """PPO's clipped objective (to maximise) and the clipped ratio it used."""
    ratio = torch.exp(logp_new - logp_old)
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return torch.min(ratio * adv, clipped * adv), clipped


@dataclass
class Episode:
    choices: np.ndarray  # (steps,)
    logp: np.ndarray  # (steps,) log-probs at sampling time
    values: np.ndarray  # (steps,) value estimates at sampling time
    task: str
    value: float | None = None  # metric (higher is better); None for invalid / failed
    fixed_reward: float | None = None  # reward in standardised units, bypassing the task stats


@dataclass
class TaskStats:
    """Running mean/std of the (higher-is-better) metric seen on one task."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    values: dict = field(default_factory=dict)  # arch -> metric, in evaluation order

    def add(self, arch, value: float) -> None:
        self.values[arch] = value
        if value is None or not math.isfinite(value):
            return
        self.n += 1
        d = value - self.mean
        self.mean += d / self.n
        self.m2 += d * (value - self.mean)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n > 1 else 0.0

    def standardise(self, value: float) -> float:
        s = self.std
        return 0.0 if s <= 1e-12 else (value - self.mean) / s


# ---------------------------------------------------------------- the strategy


class _Array:
    """A tensor saved as a NumPy copy (pickles fast; torch storages do not)."""

    def __init__(self, t: torch.Tensor):
        self.array = t.detach().cpu().numpy().copy()


def _tensors_to_numpy(obj):
    if isinstance(obj, torch.Tensor):
        return _Array(obj)
    if isinstance(obj, dict):
        return {k: _tensors_to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors_to_numpy(v) for v in obj)
    return obj


def _numpy_to_tensors(obj):
    if isinstance(obj, _Array):
        return torch.from_numpy(obj.array.copy())
    if isinstance(obj, dict):
        return {k: _numpy_to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_numpy_to_tensors(v) for v in obj)
    return obj


MEMORY_UNITS = ("steps", "episodes")


class PPO(Strategy):
    requires = (Sequential,)

    def __init__(self, lr: float = 0.01, lr_decay: float = 0.999, lr_decay_every: int = 15,
                 clip: float = 0.2, memory_size: int = 100, gamma: float = 0.99, gae_lambda: float = 0.95,
                 value_coef: float = 1.0, entropy_coef: float = 0.01, epochs: int = 4, hidden: int = 64,
                 layers: int = 2, invalid_reward: float = -3.0, failure_reward: float = -3.0,
                 max_resample: int = 200, pretrain_queries: int = 0, memory_unit: str = "steps"):
        if not 0 < clip < 1:
            raise ConfigError(f"PPO clip must be in (0, 1), got {clip}")
        if memory_unit not in MEMORY_UNITS:
            raise ConfigError(f"PPO memory_unit must be one of {', '.join(MEMORY_UNITS)}, got {memory_unit!r}")
        if int(memory_size) < 1 or int(epochs) < 1 or int(pretrain_queries) < 0:
            raise ConfigError("PPO needs memory_size >= 1, epochs >= 1 and pretrain_queries >= 0")
        self.hp = dict(lr=float(lr), lr_decay=float(lr_decay), lr_decay_every=int(lr_decay_every),
                       clip=float(clip), memory_size=int(memory_size), gamma=float(gamma),
                       gae_lambda=float(gae_lambda), value_coef=float(value_coef),
                       entropy_coef=float(entropy_coef), epochs=int(epochs), hidden=int(hidden),
                       layers=int(layers), invalid_reward=float(invalid_reward),
                       failure_reward=float(failure_reward), max_resample=int(max_resample),
                       memory_unit=memory_unit)
        self.pretrain_queries = int(pretrain_queries)

    # ------------------------------------------------------------ setup

    context_dim = 0  # CATCH conditions the policy on z

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        self.coding = DecisionCoding(space)
        self.policy = SequentialPolicy(self.coding, self.context_dim, self.hp["hidden"], self.hp["layers"])
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.hp["lr"], foreach=True)
        self.sampled = 0  # architectures proposed so far (drives the lr decay)
        self.memory: list[Episode] = []
        self.stats: dict[str, TaskStats] = {}
        self.task = "target"
        self.pending: dict = {}  # arch -> Episode, asked but not yet told
        self.updates = 0

    # Networks and optimisers are saved as one torch blob (their state dicts): compact, and it
    # is loaded into the modules setup() built, so optimisers keep pointing at live parameters.

    def _torch_parts(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, (nn.Module, torch.optim.Optimizer))}

    def state_dict(self) -> dict:
        parts = self._torch_parts()
        rest = {k: v for k, v in self.__dict__.items() if k not in parts and k not in ("space", "coding")}
        # pickling round trip: a deep copy, much faster than copy.deepcopy for many small objects
        state = pickle.loads(pickle.dumps(rest, protocol=pickle.HIGHEST_PROTOCOL))
        state["_torch"] = {k: _tensors_to_numpy(v.state_dict()) for k, v in parts.items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        blob = state.pop("_torch")
        parts = self._torch_parts()
        self.__dict__.update(pickle.loads(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))
        for k, sd in blob.items():
            parts[k].load_state_dict(_numpy_to_tensors(sd))
            setattr(self, k, parts[k])

    # ------------------------------------------------------------ sampling

    def _task_stats(self, task: str) -> TaskStats:
        return self.stats.setdefault(task, TaskStats())

    def _context(self, task: str):
        return None

    def _propose(self, task: str, taken: set) -> tuple:
        """Sample until an unevaluated, valid architecture comes up; (arch, episode)."""
        stats = self._task_stats(task)
        batch = 8  # sampled together; those after the first acceptable one are simply discarded
        for _ in range(-(-self.hp["max_resample"] // batch)):
            choices, logp, values = self.policy.sample(batch, self.rng, self._context(task))
            for i in range(batch):
                ep = Episode(choices[i], logp[i], values[i], task)
                try:
                    arch = self.space.from_decisions([int(c) for c in choices[i]])
                except ArchitectureError:
                    ep.fixed_reward = self.hp["invalid_reward"]
                    if self._remember_changed_policy(ep):
                        break  # the rest of the batch came from the old policy: sample afresh
                    continue
                if arch in stats.values or arch in taken:
                    # known on this task: not asked again (the budget counts unique architectures),
                    # and not remembered either: re-feeding known rewards collapses the policy
                    continue
                self._step_lr()
                return arch, ep
        # the policy is stuck on known architectures: fall back to a uniform unseen one
        for _ in range(10 * self.hp["max_resample"]):
            arch = self.space.sample(self.rng)
            key = tuple(self.space.to_decisions(arch))
            if arch not in stats.values and arch not in taken:
                with torch.no_grad():
                    logp, values, _ = self._evaluate_actions(np.array([key]), self._context(task))
                self._step_lr()
                return arch, Episode(np.array(key), logp[0].numpy(), values[0].numpy(), task)
        return None, None

    def _remember_changed_policy(self, ep: Episode) -> bool:
        before = self.updates
        self._remember(ep)
        return self.updates != before

    def _step_lr(self):
        self.sampled += 1
        hp = self.hp
        lr = hp["lr"] * hp["lr_decay"] ** (self.sampled // hp["lr_decay_every"])
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def ask(self, n: int = 1):
        out = []
        for _ in range(n):
            arch, ep = self._propose(self.task, set(out))
            if arch is None:
                break
            self.pending[arch] = ep
            out.append(arch)
        return out

    def tell(self, archs, evaluations):
        super().tell(archs, evaluations)
        for a, ev in zip(archs, evaluations):
            self._observe(self.task, a, self.fitness(ev), self.pending.pop(a, None))

    def _observe(self, task: str, arch, value: float, ep: Episode | None) -> None:
        self._task_stats(task).add(arch, value)
        if ep is not None:
            ep.value = value
            self._remember(ep)

    # ------------------------------------------------------------ learning

    def _remember(self, ep: Episode) -> None:
        self.memory.append(ep)
        held = len(self.memory) * (self.coding.steps if self.hp["memory_unit"] == "steps" else 1)
        if held >= self.hp["memory_size"]:
            self.update()

    def reward(self, ep: Episode) -> float:
        if ep.fixed_reward is not None:
            return ep.fixed_reward
        if ep.value is None or not math.isfinite(ep.value):
            return self.hp["failure_reward"]
        return self._task_stats(ep.task).standardise(ep.value)

    def _evaluate_actions(self, choices: np.ndarray, context):
        """Log-probs, values and entropies of given episodes under the current policy."""
        c = self.coding
        n = len(choices)
        states = c.states(choices)
        pos = torch.arange(c.steps).expand(n, -1)
        ctx = None if context is None else context.reshape(-1, 1, context.shape[-1]).expand(n, c.steps, -1)
        logits, values = self.policy(states, pos, ctx)
        logp_all = torch.log_softmax(logits, -1)
        a = torch.as_tensor(np.asarray(choices, dtype=int))
        logp = logp_all.gather(-1, a.unsqueeze(-1)).squeeze(-1)
        entropy = -(torch.softmax(logits, -1) * logp_all).masked_fill(~c.mask[pos], 0).sum(-1)
        return logp, values, entropy

    def ppo_loss(self, episodes: Sequence[Episode], context=None) -> torch.Tensor:
        """Clipped surrogate + value + entropy loss of a batch (context: (n, dim) or None)."""
        hp = self.hp
        choices = np.stack([e.choices for e in episodes])
        old_logp = torch.from_numpy(np.stack([e.logp for e in episodes]))
        old_v = torch.from_numpy(np.stack([e.values for e in episodes]))
        rewards = torch.tensor([self.reward(e) for e in episodes], dtype=torch.float32)
        adv, ret = gae(rewards, old_v, hp["gamma"], hp["gae_lambda"])
        logp, values, entropy = self._evaluate_actions(choices, context)
        surrogate, _ = clipped_surrogate(logp, old_logp, adv, hp["clip"])
        return (-surrogate.mean() + hp["value_coef"] * ((values - ret) ** 2).mean()
                - hp["entropy_coef"] * entropy.mean())

    def update(self) -> None:
        if not self.memory:
            return
        for _ in range(self.hp["epochs"]):
            loss = self.ppo_loss(self.memory)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.memory = []
        self.updates += 1

    # ------------------------------------------------------------ transfer

    @property
    def transfer(self) -> bool:  # ppo_transfer sets pretrain_queries > 0
        return self.pretrain_queries > 0

    def pretrain(self, sources: Sequence[SourceTask]) -> None:
        """Search each source for ``pretrain_queries`` architectures with the same policy."""
        for src in sources:
            self.search_source(src, self.pretrain_queries)
        self.memory = []  # the target starts with a fresh memory and its own reward statistics
        self.task = "target"

    def search_source(self, src: SourceTask, queries: int) -> None:
        task = f"source:{src.name}"
        for _ in range(queries):
            arch, ep = self._propose(task, set())
            if arch is None:
                return
            ev = src.evaluate([arch])[0]
            self._observe(task, arch, fitness(ev, src.primary), ep)
