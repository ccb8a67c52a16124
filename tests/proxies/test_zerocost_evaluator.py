"""The zero-cost evaluator (failures, cache, ensembles), the image reader, and auto's fallback."""
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from nasframe.core.space import Architecture, Buildable, SearchSpace
from nasframe.datasets import image_batch, synthetic_images
from nasframe.errors import ConfigError, DataError
from nasframe.evaluators.zerocost import ZeroCostEvaluator, exact_rank_average, quantile_transform


class Depth(Architecture):
    def __init__(self, d):
        self.d = d

    def __str__(self):
        return f"d{self.d}"

    def __eq__(self, o):
        return isinstance(o, Depth) and o.d == self.d

    def __hash__(self):
        return hash(self.d)


class MLPSpace(SearchSpace, Buildable):
    """Conv nets of depth d; depth 0 builds a network whose forward raises."""

    name = "mlp"

    def __init__(self):
        self.builds = 0

    def sample(self, rng):
        return Depth(int(rng.integers(1, 4)))

    def parse(self, t):
        return Depth(int(t[1:]))

    def __contains__(self, a):
        return isinstance(a, Depth)

    def input_shape(self, task=None):
        return (3, 8, 8)

    def build(self, arch, task=None):
        self.builds += 1
        if arch.d == 0:
            raise RuntimeError("cannot build d0")
        layers = [nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()]
        for _ in range(arch.d - 1):
            layers += [nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()]
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

    def flops(self, arch, task=None):
        return float(arch.d)

    def params(self, arch, task=None):
        return float(arch.d)


def test_a_failing_architecture_is_a_recorded_failure_and_the_next_one_scores():
    ev = ZeroCostEvaluator(MLPSpace(), proxy="synflow")
    bad, good = ev.evaluate([Depth(0), Depth(2)])
    assert bad.failed and "cannot build d0" in bad.failure and bad.values["synflow"] == -math.inf
    assert not good.failed and good.values["synflow"] > 0


def test_nan_scores_are_failures():
    ev = ZeroCostEvaluator(MLPSpace(), proxy="jacob_cov", batch_size=1)  # one sample: corrcoef undefined
    out = ev.evaluate([Depth(1)])[0]
    assert out.failed and "non-finite" in out.failure


def test_scores_are_cached_per_arch_proxy_and_data_seed():
    space = MLPSpace()
    ev = ZeroCostEvaluator(space, proxy="snip", batch_size=8)
    a = ev.evaluate([Depth(2)])[0]
    n = space.builds
    b = ev.evaluate([Depth(2)])[0]
    assert space.builds == n and a.values == b.values
    other = ZeroCostEvaluator(space, proxy="snip", batch_size=8, data_seed=7).evaluate([Depth(2)])[0]
    assert other.values != a.values


def test_same_seed_same_score_regardless_of_order():
    e1 = ZeroCostEvaluator(MLPSpace(), proxy="nwot", nwot_batch_size=8)
    e2 = ZeroCostEvaluator(MLPSpace(), proxy="nwot", nwot_batch_size=8)
    e2.evaluate([Depth(3)])
    assert e1.evaluate([Depth(2)])[0].values == e2.evaluate([Depth(2)])[0].values


def test_ensemble_is_a_stationary_mean_of_reference_quantiles():
    ev = ZeroCostEvaluator(MLPSpace(), proxy=["params", "flops"], reference_size=20)
    vals = [ev.evaluate([Depth(d)])[0].values["zc_rank"] for d in (1, 2, 3)]
    assert vals[0] < vals[1] < vals[2]
    assert ev.evaluate([Depth(2)])[0].values["zc_rank"] == vals[1]
    assert ev.describe()["ensemble"].startswith("mean quantile")


def test_quantile_transform_is_monotone_beyond_the_reference_range():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    x = np.array([-5.0, 0.0, 1.0, 2.5, 4.0, 10.0, 100.0])
    q = quantile_transform(ref, x)
    assert np.all(np.diff(q) > 0) and q[2] == pytest.approx(0.125) and q[4] == pytest.approx(0.875)
    assert np.isnan(quantile_transform(ref, np.array([np.nan]))[0])


def test_exact_rank_average_over_a_set():
    raw = np.array([[1, 30], [2, 10], [3, 20], [np.nan, 5]], float)
    r = exact_rank_average(raw)  # mean ranks 2, 1.5, 2.5 (of 3)
    assert np.isnan(r[3]) and r[1] < r[0] < r[2]
    assert r[2] == pytest.approx(2.5 / 3)


def test_unknown_proxy_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown zero-cost proxy"):
        ZeroCostEvaluator(MLPSpace(), proxy=["synflow", "bogus"])


def _write_cifar10(root, n_per_batch=4):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        d = {b"batch_label": f"training batch {i} of 5".encode(), b"labels": list(rng.integers(0, 10, n_per_batch)),
             b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
             b"filenames": [b"x.png"] * n_per_batch}
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(d, f)
    return folder


def test_cifar_python_batches_are_read_when_present(tmp_path):
    _write_cifar10(tmp_path)
    b = image_batch(tmp_path, "cifar10", n=8, seed=1)
    assert not b.synthetic and "cifar10 training images" in b.source
    assert b.x.shape == (8, 3, 32, 32) and b.y.dtype == torch.int64 and int(b.y.max()) < 10
    again = image_batch(tmp_path, "cifar10", n=8, seed=1)
    assert torch.equal(b.x, again.x)


def test_corrupt_cifar_batch_is_a_data_error(tmp_path):
    folder = _write_cifar10(tmp_path)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3"):
        image_batch(tmp_path, "cifar10", n=4)


def test_synthetic_images_are_seeded_and_reported(tmp_path):
    b = image_batch(tmp_path, "cifar10", n=4, seed=3)
    assert b.synthetic and "synthetic" in b.source
    x1, _ = synthetic_images(4, seed=3)
    x2, _ = synthetic_images(4, seed=4)
    assert torch.equal(b.x, x1) and not torch.equal(x1, x2)
    assert "synthetic" in ZeroCostEvaluator(MLPSpace(), proxy="nwot", root=tmp_path).describe()["inputs"]


def test_auto_falls_back_to_synflow_and_says_so(tmp_path, capsys, monkeypatch):
    from nasframe.evaluators.auto import auto_evaluator
    from nasframe.spaces.nb201 import NB201Space

    monkeypatch.delenv("NASFRAME_DATA", raising=False)
    ev = auto_evaluator(NB201Space(), dataset="cifar10", root=None)  # no data root at all (a given one must hold data)
    assert isinstance(ev, ZeroCostEvaluator) and ev.primary.name == "synflow"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'synflow'" in err[0]
