"""The PredNAS predictors: they learn, stay differentiable in the input, and reject bad shapes."""
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from nasframe.errors import ConfigError
from nasframe.predictors.gcn import GCNPredictor
from nasframe.predictors.mlp import MLPPredictor
from nasframe.spaces.nb201 import NB201Space
from nasframe.strategies.prednas import TopologyEncoding

FAST = dict(epochs=100, batch_size=10)




def _nb201_data(n, seed):
    space = NB201Space()
    enc = TopologyEncoding(space)
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(n)]
    w = np.linspace(-1, 1, 5)  # a made-up score: later ops are better, summed over edges
    y = np.array([w[list(a.ops)].sum() for a in archs]) * 3 + 60
    return enc, enc.exact(archs).numpy(), y


def test_gcn_learns_an_additive_score_and_predicts_in_target_units():
    enc, x, y = _nb201_data(60, 0)
    _, xt, yt = _nb201_data(300, 1)
    p = GCNPredictor(enc.adjacency, seed=0, **FAST).fit(x, y)
    pred = p.predict(xt)
    assert pred.shape == (300,)
    assert spearmanr(pred, yt)[0] > 0.8
    assert abs(pred.mean() - yt.mean()) < 2.0  # de-standardised back to the target units


def test_gcn_fit_is_seed_reproducible_and_leaves_global_torch_stream_alone():
    enc, x, y = _nb201_data(20, 2)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = GCNPredictor(enc.adjacency, seed=7, epochs=20).fit(x, y).predict(x)
    after = torch.rand(1)
    b = GCNPredictor(enc.adjacency, seed=7, epochs=20).fit(x, y).predict(x)
    assert np.array_equal(a, b)
    assert torch.equal(before, after)


def test_score_is_differentiable_in_the_relaxed_encoding():
    enc, x, y = _nb201_data(20, 3)
    p = GCNPredictor(enc.adjacency, seed=0, epochs=30).fit(x, y)
    z = torch.zeros(4, 6, 5, requires_grad=True)
    p.score(enc.relax(z)).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(not q.requires_grad for q in p.net.parameters())  # search moves the input only


def test_mlp_learns_a_linear_size_score():
    rng = np.random.default_rng(0)
    scale = np.array([1, 100, 0.1, 10.0])  # raw size encodings mix very different scales
    x = rng.uniform(0, 1, (80, 4)) * scale
    y = (x / scale) @ np.array([1.0, -2.0, 0.5, 3.0])
    xt = rng.uniform(0, 1, (200, 4)) * scale
    yt = (xt / scale) @ np.array([1.0, -2.0, 0.5, 3.0])
    p = MLPPredictor(width=64, seed=0, epochs=100, batch_size=16).fit(x, y)
    assert spearmanr(p.predict(xt), yt)[0] > 0.9


def test_bad_inputs_are_refused():
    enc, x, y = _nb201_data(10, 4)
    with pytest.raises(ValueError, match="as many"):
        GCNPredictor(enc.adjacency, epochs=1).fit(x, y[:5])
    with pytest.raises(ValueError, match="GCN input"):
        GCNPredictor(enc.adjacency, epochs=1).fit(x[:, :5], y)
    with pytest.raises(ConfigError):
        GCNPredictor(enc.adjacency, epochs=0)
    with pytest.raises(ConfigError, match="activation"):
        MLPPredictor(activation="swish", epochs=1).fit(np.ones((3, 2)), np.arange(3.0))
    with pytest.raises(RuntimeError, match="before fit"):
        GCNPredictor(enc.adjacency).predict(x)
