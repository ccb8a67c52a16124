"""``evaluator=zc``: zero-cost proxies computed live on the built network.

One proxy (``proxy=synflow``) is its own objective, "higher is better".
An ensemble (``proxy=[synflow,nwot]``) is rank-averaged. A search scores
architectures a few at a time and a value the strategy has seen must never
change afterwards, so ranks cannot be taken within "everything evaluated so
far". Instead each proxy's raw value is ranked against a fixed *reference
sample* of architectures (``reference_size`` archs drawn once from the space
with ``reference_seed``): the value becomes its mid-rank quantile in that
sample (piecewise-linear between the sorted reference values, and extended
linearly beyond them so order is kept at the extremes), and the ensemble
score is the mean quantile over proxies. This is a fixed monotone transform
per proxy: it is stationary, order-independent, and equals the rank average
over the evaluated set in the limit of a large reference sample. Offline
analysis (``nasframe.analysis.correlate``) that sees the whole set also
reports the exact rank average over it (``exact_rank_average``).

Raw values are cached per (architecture, proxy, data seed). Each architecture's
network is built under its own torch seed (``seed``), inside a forked RNG, so
a score does not depend on evaluation order and the run's RNG is untouched.
A proxy that raises or returns NaN/inf is a recorded failure, never a crash.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Sequence

import numpy as np
import torch

from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked
from nasframe.core.space import Buildable, ReferenceNetworks
from nasframe.errors import ConfigError
from nasframe.proxies import Batch, get_proxy
from nasframe.torchutil import torch_threads


def build_network(space, arch, task=None, variant: str = "zc"):
    """The network proxies run on: the space's zero-cost reference network when it declares one
    (``ReferenceNetworks``) and ``variant="zc"``, else ``space.build``."""
    if variant == "zc" and isinstance(space, ReferenceNetworks):
        return space.zero_cost_network(arch, task)
    return space.build(arch, task)


def synflow_bn_quirk(space) -> tuple:
    """BN-owning module types the reference keeps in synflow's BN-free copy (NB201: reduction blocks)."""
    return space.synflow_kept_norms() if isinstance(space, ReferenceNetworks) else ()


def _as_list(proxy) -> list[str]:
    names = [proxy] if isinstance(proxy, str) else list(proxy)
    if not names:
        raise ConfigError("evaluator=zc needs at least one proxy, e.g. proxy=synflow or proxy=[synflow,nwot]")
    for n in names:
        get_proxy(n)  # raises ConfigError naming the choices
    return names


def quantile_transform(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mid-rank quantile of ``values`` within ``reference`` (finite values), extended linearly outside."""
    ref = np.sort(np.asarray(reference, dtype=np.float64)[np.isfinite(reference)])
    values = np.asarray(values, dtype=np.float64)
    if len(ref) == 0:
        return np.full(values.shape, np.nan)
    q = (np.arange(len(ref)) + 0.5) / len(ref)
    span = ref[-1] - ref[0]
    if span <= 0:
        return np.where(values > ref[0], 1.0, np.where(values < ref[0], 0.0, 0.5))
    out = np.interp(values, ref, q)
    out = np.where(values > ref[-1], q[-1] + (values - ref[-1]) / span, out)
    out = np.where(values < ref[0], q[0] - (ref[0] - values) / span, out)
    return np.where(np.isfinite(values), out, np.nan)


def exact_rank_average(raw: np.ndarray) -> np.ndarray:
    """Rank average over a whole evaluated set: raw is [archs, proxies]; NaN where any proxy failed."""
    from scipy.stats import rankdata

    raw = np.asarray(raw, dtype=np.float64)
    ok = np.all(np.isfinite(raw), axis=1)
    out = np.full(len(raw), np.nan)
    if ok.any():
        ranks = np.column_stack([rankdata(raw[ok, j]) / ok.sum() for j in range(raw.shape[1])])
        out[ok] = ranks.mean(axis=1)
    return out


class ZeroCostEvaluator(Evaluator):
    requires = (Buildable,)

    def __init__(self, space, proxy="synflow", dataset: str | None = None, root=None, path=None,
                 batch_size: int = 64, nwot_batch_size: int = 128, data_seed: int = 42, seed: int = 42,
                 network: str = "zc", synflow_reference_bn: bool = True, reference_size: int = 64,
                 reference_seed: int = 0, threads: int | None = 1, zen_repeat: int = 32,
                 nwot_relu_match: str = "name", **_ignored):
        self.space = space
        self.names = _as_list(proxy)
        self.task = dataset
        self.root, self.batch_size, self.nwot_batch_size = root, int(batch_size), int(nwot_batch_size)
        self.data_seed, self.seed, self.network = int(data_seed), int(seed), network
        self.synflow_keep = synflow_bn_quirk(space) if synflow_reference_bn else ()
        self.reference_size, self.reference_seed = int(reference_size), int(reference_seed)
        self.threads = threads  # fixed, so scores do not depend on the process's thread default
        if int(zen_repeat) < 1 or nwot_relu_match not in ("module", "name"):
            raise ConfigError(f"evaluator=zc needs zen_repeat >= 1 and nwot_relu_match=module|name, "
                              f"got {zen_repeat} and {nwot_relu_match!r}")
        self.options = {"zen": {"repeat": int(zen_repeat)}, "nwot": {"relu_match": nwot_relu_match}}
        self._cache: dict[tuple, tuple[float, float, str | None]] = {}  # (arch, proxy, data seed) -> (v, s, err)
        self._batches: dict[int, object] = {}
        self._reference: dict[str, np.ndarray] | None = None
        if len(self.names) == 1:
            p = get_proxy(self.names[0])
            self.objectives = (Objective(p.name, p.direction, description=p.description),)
        else:
            self.objectives = (Objective("zc_rank", "max", description="mean reference-quantile of "
                                         + ", ".join(self.names)),)

    # ------------------------------------------------------------ inputs

    def _images(self, n: int):
        if n not in self._batches:
            from nasframe.datasets import image_batch

            self._batches[n] = image_batch(self.root, self._image_dataset(), n=n, seed=self.data_seed,
                                           shape=tuple(self.space.input_shape(self.task)))
        return self._batches[n]

    def _image_dataset(self) -> str:
        from nasframe.datasets import canonical_name

        name = canonical_name(self.task or "cifar10")  # ImageNet16-120 tasks read NB201's ImageNet16 files
        return name if name in ("cifar100", "imagenet16-120") else "cifar10"

    def _num_classes(self, net) -> int:
        last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
        return last[-1].out_features if last else 10

    def _batch(self, name: str, net, arch) -> Batch:
        p = get_proxy(name)
        shape = tuple(self.space.input_shape(self.task))
        flops = self.space.flops(arch, self.task) if name == "flops" else None
        if not p.needs_data:
            return Batch.shape_only(shape, flops=flops, seed=self.seed)
        imgs = self._images(self.nwot_batch_size if name == "nwot" else self.batch_size)
        y = imgs.y % self._num_classes(net)
        return Batch(imgs.x, y, self._num_classes(net), shape, flops=flops, seed=self.seed)

    # ------------------------------------------------------------ scoring

    @contextmanager
    def network_and_batch(self, arch, name: str):
        """The network and input batch proxy ``name`` sees for ``arch`` (built under ``seed``, in a
        forked RNG and the evaluator's thread count, which hold while the block runs)."""
        with torch.random.fork_rng(devices=[]), torch_threads(self.threads):
            torch.manual_seed(self.seed)
            net = build_network(self.space, arch, self.task, self.network)
            yield net, self._batch(name, net, arch)

    def raw(self, arch, name: str) -> tuple[float, float, str | None]:
        """(value, seconds, failure) of one proxy on one architecture, cached."""
        key = (str(arch), name, self.data_seed)
        if key not in self._cache:
            t0 = time.perf_counter()
            try:
                if name == "params":
                    value, err = float(self.space.params(arch, self.task)), None
                else:
                    with self.network_and_batch(arch, name) as (net, batch):
                        if name == "synflow":
                            from nasframe.proxies.synflow import synflow

                            value = synflow(net, batch, self.synflow_keep)
                        else:
                            value = get_proxy(name)(net, batch, **self.options.get(name, {}))
                    err = None
            except Exception as e:  # a proxy failing on one architecture must not stop a search
                value, err = float("nan"), f"{name} failed: {type(e).__name__}: {e}"
            self._cache[key] = (value, time.perf_counter() - t0, err)
        return self._cache[key]

    def reference(self) -> dict[str, np.ndarray]:
        """Raw values of every proxy on the fixed reference sample (ensembles only)."""
        if self._reference is None:
            rng = np.random.default_rng(self.reference_seed)
            archs = [self.space.sample(rng) for _ in range(self.reference_size)]
            self._reference = {n: np.array([self.raw(a, n)[0] for a in archs]) for n in self.names}
        return self._reference

    def evaluate(self, archs: Sequence) -> list[Evaluation]:
        return [self._evaluate_one(a) for a in archs]

    def _evaluate_one(self, arch) -> Evaluation:
        results = {n: self.raw(arch, n) for n in self.names}
        cost = sum(r[1] for r in results.values())
        failures = [r[2] for r in results.values() if r[2]]
        report = {f"proxy.{n}": r[0] for n, r in results.items()} if len(self.names) > 1 else {}
        if len(self.names) == 1:
            value = results[self.names[0]][0]
        else:
            ref = self.reference()
            value = float(np.mean([quantile_transform(ref[n], np.array([results[n][0]]))[0] for n in self.names]))
        return checked({self.primary.name: value}, self.objectives, report, cost,
                       "; ".join(failures) if failures else None)

    def describe(self) -> dict:
        d = {"evaluator": "zc", "proxy": list(self.names), "network": self.network, "seed": self.seed,
             "data_seed": self.data_seed}
        if any(get_proxy(n).needs_data for n in self.names):
            d["inputs"] = self._images(self.batch_size).source
        else:
            d["inputs"] = "none (data-free proxies)"
        if len(self.names) > 1:
            d["ensemble"] = (f"mean quantile against a fixed reference sample of {self.reference_size} archs "
                             f"(seed {self.reference_seed})")
        return d
