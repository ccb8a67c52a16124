"""AIO-P across families: pre-trained on some families, the predictor must rank a family it never saw
the way its labels go when they follow FLOPs, also at resolutions and widths outside pre-training.

Guards the backwards zero-shot ranking of issue 23: a backbone pre-trained on fixed-skeleton
families learns nothing about how size maps to performance (size never varies inside one family
in a way the labels can pin down), so on a family whose members differ in width or resolution
its ranking takes an arbitrary sign. The graph-level size input (log-FLOPs standardised within
each family, ``size_input=True``) gives every family the same "larger than its siblings" signal.
"""
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from nasframe.graphs import extract
from nasframe.predictors.adapters import AIOPPredictor


class Cells(nn.Module):
    """A fixed skeleton whose three op slots vary (an NB201-like family)."""

    def __init__(self, ops):
        super().__init__()
        make = {0: lambda: nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()),
                1: lambda: nn.Sequential(nn.Conv2d(16, 16, 1), nn.BatchNorm2d(16), nn.ReLU()),
                2: nn.Identity, 3: lambda: nn.AvgPool2d(3, 1, 1)}
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.ops = nn.ModuleList(make[o]() for o in ops)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        for op in self.ops:
            x = x + op(x)
        return self.head(x.mean((2, 3)))


class Chain(nn.Module):
    """conv-BN-ReLU layers of the given widths, stride 2 after the first."""

    def __init__(self, widths):
        super().__init__()
        layers, c = [], 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c, w, 3, stride=2 if i == 1 else 1, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
            c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c, 10)

    def forward(self, x):
        return self.head(self.body(x).mean((2, 3)))


def _family(kind, n, rng):
    graphs = []
    for i in range(n):
        if kind == "cells":
            net, shape = Cells(rng.integers(0, 4, 3)), (3, 32, 32)
        elif kind == "wide":
            net, shape = Chain(rng.choice([8, 16, 24, 32, 48], 4)), (3, 32, 32)
        else:  # held out: other depth, widths beyond the pre-training range, 4x the pixels
            net, shape = Chain(rng.choice([8, 16, 32, 64, 96], 3)), (3, 64, 64)
        graphs.append(extract(net, shape, name=f"{kind}{i}"))
    y = np.log10(np.array([g.flops for g in graphs]))  # labels that follow FLOPs
    return graphs, y


@pytest.fixture(scope="module")
def families():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    return {k: _family(k, n, rng) for k, n in (("cells", 80), ("wide", 80), ("held", 60))}


def _pretrained(families, seed, **kw):
    g = families["cells"][0] + families["wide"][0]
    y = np.concatenate([families["cells"][1], families["wide"][1]])
    groups = ["cells"] * len(families["cells"][0]) + ["wide"] * len(families["wide"][0])
    return AIOPPredictor(scaling="stand", epochs=40, lr=3e-3, batch_size=16, seed=seed, **kw).pretrain(
        g, y, groups=groups)


# Without the size input the same pipeline ranked the held-out family at SRCC 0.481 / -0.629
# (seeds 0 / 3; width monotonicity -1.0 at seed 3), and after pre-training on the fixed-skeleton
# family alone at -0.615 (seed 2): the sign of an extrapolation nothing constrained.
@pytest.mark.parametrize("seed", [0, 3])
def test_a_family_never_seen_is_ranked_with_its_flops(families, seed):
    p = _pretrained(families, seed, size_input=True)
    g, y = families["held"]
    p.calibrate(g[:20], y[:20])  # zero-shot: only the 20 labels' mean and std
    assert spearmanr(p.predict(g[20:]), y[20:])[0] > 0.8
    # the prediction rises with width at a fixed depth, at a resolution pre-training never saw
    widths = [8, 16, 32, 64, 128]
    growing = [extract(Chain([w] * 3), (3, 64, 64), name=f"w{w}") for w in widths]
    assert spearmanr(p.predict(growing), widths)[0] == pytest.approx(1.0)


def test_pretrained_on_a_fixed_skeleton_family_alone_still_ranks_a_wider_family_by_size(families):
    """The NB201-only situation: no pre-training family varies in width or resolution."""
    p = AIOPPredictor(scaling="stand", epochs=40, lr=3e-3, batch_size=16, seed=2, size_input=True)
    p.pretrain(*families["cells"])
    g, y = families["held"]
    p.calibrate(g[:20], y[:20])
    assert spearmanr(p.predict(g[20:]), y[20:])[0] > 0.8


def test_size_input_is_standardised_within_each_family(families):
    """The same architecture gets the same size input whether its family's FLOPs are 1x or 1000x
    larger: only a graph's place among its siblings counts, and that survives a save/load."""
    p = _pretrained(families, 0, size_input=True)
    g, y = families["held"]
    scaled = [type(x)(x.ops, x.res, x.kernel, x.bias, x.edges, x.n_weighted, x.flops * 1000, x.name) for x in g]
    a = p.calibrate(g[:20], y[:20]).predict_scaled(g[20:])
    b = p.calibrate(scaled[:20], y[:20]).predict_scaled(scaled[20:])
    assert np.allclose(a, b, atol=1e-5)
    assert set(p.size_stats) >= {"source", "group:cells", "group:wide", "target"}


def test_size_input_survives_save_and_load(families, tmp_path):
    p = _pretrained(families, 0, size_input=True)
    g, y = families["held"]
    p.calibrate(g[:20], y[:20])
    q = AIOPPredictor.load(p.save(tmp_path / "m.pt"))
    assert q.size_input and np.allclose(q.predict(g[20:]), p.predict(g[20:]))
