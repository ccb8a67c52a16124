"""PredNAS (Yuan, Huang, Wang 2022): predictor-guided projected gradient ascent.

One round: fit a differentiable predictor on everything evaluated so far,
start ``starts`` random architectures, move each uphill on the predictor for
``steps`` SGD steps in a relaxed encoding (row softmax over op logits for
topology spaces, standardised numeric vectors for size spaces), project after
every step and collect the projections in a model pool, then queue the top
``top_k`` unseen pool members by predicted score. The first round is preceded
by ``n_init`` random architectures; if the budget outlasts a round, the next
round refits on all results (so 110 queries = 30 random + 40 + 40).

With ``cost`` set, an auxiliary predictor of the same kind learns the exact
cost (FLOPs, params or a cost-table column such as HW-NAS-Bench latency) from
free cost look-ups; the ascent maximises ``score - alpha * cost`` (both
standardised) for each alpha of the grid, and only projections whose exact
cost lies in ``[target·(1-tolerance), target·(1+tolerance)]`` enter the pool.
Costs are not test numbers: they are properties of the architecture, computed
or read from a table, never the search objective's held-out values.
"""
from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasframe.core.parallel import fork_map, worker_count
from nasframe.core.space import (
    Architecture,
    Bounded,
    Buildable,
    CostSampled,
    GraphEncoded,
    Relaxable,
)
from nasframe.core.strategy import Strategy
from nasframe.errors import ConfigError, DataError, DataNotFound

# ---------------------------------------------------------------- encodings


class TopologyEncoding:
    """Op-choice matrices relaxed by a row softmax; projection is the space's per-row argmax.

    When the space offers an ``adjacency`` with two more nodes than op rows
    (NB201's op-as-node graph: input, ops, output), the predictor is the GCN
    over that graph and the node features gain input/output columns (8 x 7).
    """

    kind = "topology"

    def __init__(self, space):
        self.space = space
        self.rows, self.options = np.asarray(space.encode(space.sample(np.random.default_rng(0)))).shape
        self.adjacency = np.asarray(space.adjacency, dtype=np.float32) if isinstance(space, GraphEncoded) else None
        self.graph = self.adjacency is not None and len(self.adjacency) == self.rows + 2

    def start(self, archs) -> np.ndarray:
        """Initial logits: the one-hot op matrices of the start architectures."""
        return np.stack([self.space.encode(a) for a in archs]).astype(np.float32)

    def relax(self, z):
        import torch

        p = torch.softmax(z, dim=-1)
        if not self.graph:
            return p.reshape(len(p), -1)
        b = len(p)
        nodes = torch.zeros(b, self.rows + 2, self.options + 2, dtype=p.dtype)
        nodes[:, 0, self.options] = 1.0  # input node
        nodes[:, -1, self.options + 1] = 1.0  # output node
        nodes[:, 1:-1, :self.options] = p
        return nodes

    def exact(self, archs):
        """The relaxed input of discrete architectures (one-hot rows)."""
        import torch

        onehot = torch.as_tensor(np.stack([self.space.encode(a) for a in archs]), dtype=torch.float32)
        return self.relax(torch.log(onehot.clamp_min(1e-30)))  # softmax(log one-hot) = one-hot

    def project(self, z: np.ndarray) -> list:
        return [self.space.project(x) for x in z]

    def predictor(self, cfg: dict, seed: int):
        if self.graph:
            from nasframe.predictors.gcn import GCNPredictor

            return GCNPredictor(self.adjacency, seed=seed, **cfg)
        from nasframe.predictors.mlp import MLPPredictor

        return MLPPredictor(seed=seed, **cfg)


class SizeEncoding:
    """Numeric vectors; the ascent runs in standardised coordinates so one lr fits every dimension.

    Projection is the space's round-and-clip; the continuous state is also
    clipped to the space's ``bounds`` when the space declares them.
    """

    kind = "size"

    def __init__(self, space):
        self.space = space
        probe = np.stack([np.asarray(space.encode(space.sample(np.random.default_rng(i))), dtype=np.float64)
                          for i in range(256)])
        self.mean = probe.mean(0)
        self.std = np.where(probe.std(0) > 1e-12, probe.std(0), 1.0)
        self.bounds = (tuple(np.asarray(b, dtype=np.float64) for b in space.bounds())
                       if isinstance(space, Bounded) else None)

    def start(self, archs) -> np.ndarray:
        x = np.stack([np.asarray(self.space.encode(a), dtype=np.float64) for a in archs])
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_raw(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64) * self.std + self.mean

    def relax(self, z):
        import torch

        return z * torch.as_tensor(self.std, dtype=z.dtype) + torch.as_tensor(self.mean, dtype=z.dtype)

    def exact(self, archs):
        import torch

        return torch.as_tensor(np.stack([np.asarray(self.space.encode(a), dtype=np.float32) for a in archs]))

    def clamp(self, z):
        if self.bounds is None:
            return
        import torch

        lo = torch.as_tensor((self.bounds[0] - self.mean) / self.std, dtype=z.dtype)
        hi = torch.as_tensor((self.bounds[1] - self.mean) / self.std, dtype=z.dtype)
        z.data = torch.maximum(torch.minimum(z.data, hi), lo)

    def project(self, z: np.ndarray) -> list:
        return [self.space.project(x) for x in self.to_raw(z)]

    def predictor(self, cfg: dict, seed: int):
        from nasframe.predictors.mlp import MLPPredictor

        return MLPPredictor(seed=seed, **cfg)


def encoding_for(space):
    probe = np.asarray(space.encode(space.sample(np.random.default_rng(0))))
    return TopologyEncoding(space) if probe.ndim == 2 else SizeEncoding(space)


# ---------------------------------------------------------------- costs


class CostTable:
    """A per-architecture cost column from a CSV (key column: canonical strings or NASLib keys),
    read by the one cost-CSV reader, ``nasframe.benchmarks.costs.read_cost_csv``."""

    def __init__(self, space, path, column: str, key: str = "net"):
        from nasframe.benchmarks.costs import read_cost_csv

        path = Path(path).expanduser()
        if not path.is_file():
            raise DataNotFound(f"cost table {path} does not exist; give strategy.cost.path a CSV with a "
                               f"'{key}' column and a '{column}' column")
        archs, columns = read_cost_csv(space, path, [column], key=key)
        self.values: dict[Architecture, float] = dict(zip(archs, columns[column].tolist()))
        self.name = f"{path.name}:{column}"

    def __call__(self, arch) -> float:
        if arch not in self.values:
            raise DataError(f"cost table {self.name} has no row for {arch}")
        return self.values[arch]


@dataclass
class Constraint:
    cost: object  # arch -> float (exact)
    target: float | None
    tolerance: float

    def inside(self, value: float) -> bool:
        if self.target is None:
            return True
        return abs(value - self.target) <= self.tolerance * abs(self.target) + 1e-9


def make_cost(space, kind: str, path=None, column=None):
    if kind in ("flops", "params"):
        if not isinstance(space, Buildable):
            raise ConfigError(f"strategy.cost.kind={kind} needs a Buildable space; '{space.name}' is not "
                              "(use kind=table with a cost CSV)")
        return getattr(space, kind)
    if kind == "table":
        if not path or not column:
            raise ConfigError("strategy.cost.kind=table needs cost.path (a CSV) and cost.column")
        return CostTable(space, path, column)
    raise ConfigError(f"unknown strategy.cost.kind '{kind}'; choose flops, params or table")


# ---------------------------------------------------------------- search


ASCENT_BATCHES = 4  # starts ascend in this many batches whatever the worker count: the same pool on every machine


def ascend(encoding, predictor, starts, steps: int, lr: float, milestones, gamma: float, momentum: float,
           aux=None, alphas=(0.0,), admit=None, bar=None):
    """Projected gradient ascent from the architectures ``starts`` (Eq. 3, batched).

    Maximises ``predictor - alpha * aux`` through the relaxation, projects
    after every step and returns (every admitted projection, the final
    projection of each start). Starts are spread over the ``alphas`` grid;
    ``admit(arch)`` filters what enters the pool (the cost interval); ``bar`` (a tqdm bar) advances
    once per step.
    """
    import torch

    from nasframe.torchutil import MomentumSGD, multistep_schedule

    z = torch.tensor(encoding.start(starts), requires_grad=True)
    alpha = torch.as_tensor(np.resize(np.asarray(alphas, dtype=np.float32), len(starts)))
    opt = MomentumSGD([z], momentum=momentum)
    lrs = multistep_schedule(lr, steps, [max(1, int(round(m * steps))) for m in milestones], gamma)
    pool: set = set()
    rejected: set = set()
    final: list = []
    for step in range(steps):
        opt.zero_grad()
        x = encoding.relax(z)
        objective = predictor.score(x)
        if aux is not None:  # alpha trades one std of cost against one std of the objective
            objective = objective - alpha * aux.score(x) * (_std(predictor) / _std(aux))
        (-objective.sum()).backward()
        opt.step(lrs[step])
        if hasattr(encoding, "clamp"):
            encoding.clamp(z)
        final = encoding.project(z.detach().numpy())
        for a in final:
            if a in pool or a in rejected:
                continue
            (pool if admit is None or admit(a) else rejected).add(a)
        if bar is not None:
            bar.update()
        if not torch.isfinite(z).any():
            # diverged (a predictor of astronomically spread targets, e.g. synflow): z stays NaN, so every
            # later step projects the same point again and adds nothing; stopping leaves the pool as it is
            break
    return pool, final


def _std(predictor) -> float:
    return float(getattr(predictor, "y_std", 1.0))


def gradient_pool(encoding, predictor, starts, steps: int, lr: float, milestones, gamma: float,
                  momentum: float, aux=None, alphas=(0.0,), admit=None, bar=None, workers: int = 1) -> dict:
    """The model pool of Algorithm 1: {arch: predicted score} over every admitted projection.

    The starts ascend in ``ASCENT_BATCHES`` independent batches (each start's path depends only on
    itself), spread over ``workers`` forked processes; ``bar`` follows this process's batches.
    """
    alpha = np.resize(np.asarray(alphas, dtype=np.float32), len(starts))
    batches = [([starts[i] for i in idx], alpha[idx])
               for idx in np.array_split(np.arange(len(starts)), min(ASCENT_BATCHES, len(starts)))]

    def run(batch, bar=None):
        return ascend(encoding, predictor, batch[0], steps, lr, milestones, gamma, momentum, aux, batch[1],
                      admit, bar)[0]

    def forked(batch):
        import torch

        torch.set_num_threads(1)  # one thread per process: the processes are the parallelism
        return run(batch)

    if bar is not None:
        bar.total = steps * len(range(0, len(batches), max(1, min(workers, len(batches)))))
        bar.refresh()
    pool: set = set()
    for part in fork_map(forked, batches, workers, local=lambda batch: run(batch, bar)):
        pool |= part
    return score_pool(encoding, predictor, pool)


def random_pool(encoding, predictor, space, rng, n: int, admit=None, exclude=(), sample=None) -> dict:
    """Random shooting (the paper's Fig. 4 baseline): ``n`` distinct random architectures scored by the predictor.

    Draws until ``n`` distinct admitted architectures outside ``exclude`` are
    found or ``20 n + 1000`` draws are spent (a small space may hold fewer);
    ``sample(rng)`` replaces ``space.sample`` (e.g. a sampler inside a cost interval).
    """
    sample = sample or space.sample
    archs: dict = {}
    exclude = set(exclude)
    for _ in range(20 * int(n) + 1000):
        if len(archs) >= n:
            break
        a = sample(rng)
        if a not in archs and a not in exclude and (admit is None or admit(a)):
            archs[a] = None
    return score_pool(encoding, predictor, list(archs))


def score_pool(encoding, predictor, archs) -> dict:
    import torch

    archs = list(archs)
    if not archs:
        return {}
    with torch.no_grad():
        scores = predictor.score(encoding.exact(archs)).numpy()
    return {a: float(s) for a, s in zip(archs, scores)}


class PredNAS(Strategy):
    requires = (Relaxable,)

    def __init__(self, n_init: int = 30, top_k: int = 40, starts: int = 300, steps: int = 200,
                 lr: float = 0.02, lr_milestones=(1 / 3, 2 / 3), lr_gamma: float = 0.1, momentum: float = 0.9,
                 search: str = "gradient", random_samples: int | None = None, max_start_batches: int = 10,
                 predictor: dict | None = None,
                 cost: dict | None = None, threads: int | None = 1, workers="auto", refit_every: int | None = None,
                 progress: bool = False):
        if int(n_init) < 2 or int(top_k) < 1 or int(starts) < 1 or int(steps) < 1 or not lr > 0:
            raise ConfigError(f"prednas needs n_init >= 2, top_k >= 1, starts >= 1, steps >= 1 and lr > 0, "
                              f"got n_init={n_init}, top_k={top_k}, starts={starts}, steps={steps}, lr={lr}")
        if search not in ("gradient", "random"):
            raise ConfigError(f"prednas search must be 'gradient' or 'random' (random shooting), got '{search}'")
        self.n_init, self.top_k, self.starts, self.steps = int(n_init), int(top_k), int(starts), int(steps)
        self.lr, self.lr_milestones, self.lr_gamma = float(lr), tuple(lr_milestones), float(lr_gamma)
        self.momentum, self.search = float(momentum), search
        if random_samples is not None and int(random_samples) < 1:
            raise ConfigError(f"prednas random_samples must be a positive integer or null, got {random_samples}")
        self.random_samples = None if random_samples is None else int(random_samples)
        self.max_start_batches = int(max_start_batches)
        self.predictor_cfg = dict(predictor or {})
        if threads is not None and (isinstance(threads, bool) or not str(threads).isdigit() or int(threads) < 1):
            raise ConfigError(f"prednas threads must be a positive integer or null, got {threads!r}")
        self.threads = None if threads is None else int(threads)
        self.workers = worker_count(workers, ASCENT_BATCHES, "prednas workers")  # no effect on results
        if refit_every is not None and int(refit_every) < 1:
            raise ConfigError(f"prednas refit_every must be a positive integer or null, got {refit_every}")
        self.refit_every = None if refit_every is None else int(refit_every)
        self.progress = bool(progress)  # say what each round does (a round takes seconds)
        self.cost_cfg = dict(cost or {})
        if self.cost_cfg:
            unknown = set(self.cost_cfg) - {"kind", "path", "column", "target", "tolerance", "alpha", "aux_samples"}
            if unknown:
                raise ConfigError(f"unknown strategy.cost keys {sorted(unknown)}; use kind, path, column, "
                                  "target, tolerance, alpha, aux_samples")

    def setup(self, space, objectives, rng):
        super().setup(space, objectives, rng)
        self.asked: set = set()
        self.queue: list = []
        self.rounds: list[dict] = []  # what each round did (pool size, fills), for inspection
        self.main = None
        self.aux = None
        self._cost_cache: dict = {}
        self._constraint_ready = False
        self._round_start = 0  # results known when the current round was planned

    # ------------------------------------------------------------ progress

    def _say(self, line: str) -> None:
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(line, file=sys.stderr)

    def _bar(self, what: str, total: int):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=what, unit="step", leave=False, disable=not self.progress,
                    dynamic_ncols=True, file=sys.stderr)

    # ------------------------------------------------------------ state

    def state_dict(self) -> dict:
        # The cost function is rebuilt from config on demand (it may hold a large table); the worker count
        # belongs to the machine that resumes.
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("space", "_constraint", "workers")}
        state["_constraint_ready"] = False
        return state

    # ------------------------------------------------------------ constraint (lazy: needs the space)

    @property
    def constraint(self) -> Constraint | None:
        if not self.cost_cfg:
            return None
        if not self._constraint_ready:
            c = self.cost_cfg
            self._constraint = Constraint(make_cost(self.space, c.get("kind", "flops"), c.get("path"),
                                                    c.get("column")),
                                          None if c.get("target") is None else float(c["target"]),
                                          float(c.get("tolerance", 0.05)))
            self._constraint_ready = True
        return self._constraint

    def cost(self, arch) -> float:
        if arch not in self._cost_cache:
            self._cost_cache[arch] = float(self.constraint.cost(arch))
        return self._cost_cache[arch]

    def inside(self, arch) -> bool:
        return self.constraint is None or self.constraint.inside(self.cost(arch))

    # ------------------------------------------------------------ ask / tell

    def ask(self, n: int = 1):
        out = []
        while len(out) < n:
            if self.queue and self.refit_every and len(self.history) >= self._round_start + self.refit_every:
                self.queue = []  # refit on the new results before querying the rest of the pool
            if not self.queue:
                if len(self.asked) < self.n_init:
                    a = self._random_unseen()
                    if a is None:
                        break
                    out.append(a)
                    self.asked.add(a)
                    continue
                if out or len(self.history) < len(self.asked):
                    break  # a round needs every result of the previous one
                self._plan_round()
                if not self.queue:
                    break
            a = self.queue.pop(0)
            out.append(a)
            self.asked.add(a)
        return out

    def recommend(self):
        if self.constraint is not None and self.constraint.target is not None:
            inside = [(a, e) for a, e in self.history if self.inside(a)]
            if inside:
                return max(inside, key=lambda ae: self.fitness(ae[1]))[0]
        return super().recommend()

    # ------------------------------------------------------------ one round

    def _interval(self):
        """(lo, hi) of the cost target, or None without one."""
        c = self.constraint
        if c is None or c.target is None:
            return None
        return c.target - c.tolerance * abs(c.target), c.target + c.tolerance * abs(c.target)

    def _direct_interval(self):
        """The cost interval when the space can sample inside it directly, else None."""
        interval = self._interval()
        if interval is None or not isinstance(self.space, CostSampled) or \
                self.cost_cfg.get("kind", "flops") not in ("flops", "params"):
            return None
        return interval

    def _sample(self, rng=None):
        """A random architecture, inside the cost interval when the space can draw there directly
        (``sample_in_range``, e.g. AnyNet's draw-and-repair; for monotone costs such as FLOPs and params)."""
        rng = rng if rng is not None else self.rng
        interval = self._direct_interval()
        if interval is not None:
            a = self.space.sample_in_range(rng, *interval, cost=self.constraint.cost)
            self.cost(a)  # cache it: ``inside`` asks next
            return a
        return self.space.sample(rng)

    def _random_unseen(self, exclude=(), tries: int = 2000):
        """A random architecture not asked yet, inside the cost interval when rejection finds one within
        ``tries`` draws (in a large size space the interval may be too rare: then any unseen one)."""
        fallback = None
        for _ in range(tries):
            a = self._sample()
            if a in self.asked or a in exclude:
                continue
            if self.inside(a):
                return a
            fallback = fallback or a
        return fallback

    def _starts(self) -> list:
        """Random ascent starts; under a cost target, drawn inside the interval (directly when the space has
        ``sample_in_range``, else where rejection finds them)."""
        out = []
        for _ in range(self.starts):
            a = self._sample()
            if self.constraint is not None and self.constraint.target is not None:
                for _ in range(1000):
                    if self.inside(a):
                        break
                    a = self._sample()
            out.append(a)
        return out

    def _aux_archs(self, n: int) -> list:
        """Training archs of the auxiliary cost predictor: uniform draws, or with a direct interval sampler
        half of them spread over [lo/2, 2 hi] so the predictor resolves the cost where the ascent moves."""
        interval = self._direct_interval()
        if interval is None:
            return [self.space.sample(self.rng) for _ in range(n)]
        lo, hi = interval
        near = [self.space.sample_in_range(self.rng, *sorted((lo * f, hi * f)), cost=self.constraint.cost)
                for f in np.exp(self.rng.uniform(np.log(0.5), np.log(2.0), n // 2))]
        return near + [self.space.sample(self.rng) for _ in range(n - len(near))]

    def _plan_round(self) -> None:
        import torch

        before = torch.get_num_threads()
        if self.threads:  # small nets: a 2nd thread made the ascent 15x slower beside one other busy process
            torch.set_num_threads(self.threads)
        try:
            self._fit_and_search()
        finally:
            torch.set_num_threads(before)

    def _fit_and_search(self) -> None:
        self._round_start = len(self.history)
        encoding = encoding_for(self.space)
        done = [(a, self.fitness(e)) for a, e in self.history if math.isfinite(self.fitness(e))]
        if len(done) < 2:
            while len(self.queue) < self.top_k:  # nothing to learn from: stay random
                a = self._random_unseen(exclude=set(self.queue))
                if a is None:
                    break
                self.queue.append(a)
            return
        seed = int(self.rng.integers(2**31 - 1))
        archs, y = zip(*done)
        self._say(f"prednas round {len(self.rounds) + 1}: fitting the predictor on {len(done)} results "
                  f"({self.predictor_cfg.get('epochs', 300)} epochs), then searching its model pool")
        self.main = encoding.predictor(self.predictor_cfg, seed).fit(
            encoding.exact(list(archs)).numpy(), np.asarray(y))
        alphas = (0.0,)
        admit = None
        if self.constraint is not None:
            admit = self.inside
            alphas = tuple(np.atleast_1d(np.asarray(self.cost_cfg.get("alpha", 1.0), dtype=np.float64)))
            if any(alphas) and (self.search == "gradient" or self.random_samples is None):
                aux_archs = self._aux_archs(int(self.cost_cfg.get("aux_samples", 300)))
                self.aux = encoding.predictor(self.predictor_cfg, seed + 1).fit(
                    encoding.exact(aux_archs).numpy(), np.asarray([self.cost(a) for a in aux_archs]))
        pool: dict = {}
        batches = 0
        while batches < self.max_start_batches:
            batches += 1
            if self.search == "gradient":
                starts = self._starts()
                with self._bar(f"prednas round {len(self.rounds) + 1}: ascent from {len(starts)} starts"
                               + (f" (batch {batches})" if batches > 1 else ""), self.steps) as bar:
                    pool.update(gradient_pool(encoding, self.main, starts, self.steps, self.lr,
                                              self.lr_milestones, self.lr_gamma, self.momentum, self.aux, alphas,
                                              admit, bar, self.workers))
            else:  # random shooting over as many models as the gradient ascent explores (paper, Sec. V-A)
                n = self.random_samples
                if n is None:  # count the distinct pool members the ascent would find from these starts
                    n = len(gradient_pool(encoding, self.main, self._starts(), self.steps, self.lr,
                                          self.lr_milestones, self.lr_gamma, self.momentum, self.aux, alphas, admit,
                                          workers=self.workers))
                pool.update(random_pool(encoding, self.main, self.space, self.rng, n, admit,
                                        exclude=set(pool) | self.asked, sample=self._sample))
            if sum(a not in self.asked for a in pool) >= self.top_k:
                break
        ranked = sorted((a for a in pool if a not in self.asked), key=lambda a: -pool[a])[:self.top_k]
        fill = []
        while len(ranked) + len(fill) < self.top_k:  # the pool ran dry: fill with random unseen archs
            a = self._random_unseen(exclude=set(ranked) | set(fill))
            if a is None or (self.constraint is not None and not self.inside(a)):
                break  # never spend queries outside the interval on filler
            fill.append(a)
        self.queue = ranked + fill
        self.rounds.append({"trained_on": len(done), "pool": len(pool), "start_batches": batches,
                            "queued": len(ranked), "random_fill": len(fill)})
