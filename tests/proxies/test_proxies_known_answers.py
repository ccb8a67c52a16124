"""Known-answer and invariant tests for the zero-cost proxies (methods §2.6)."""
import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from nasframe.proxies import Batch, get_proxy, registry
from nasframe.proxies.fisher import fisher
from nasframe.proxies.grasp import hessian_gradient_product
from nasframe.proxies.jacob_cov import K, correlation_score
from nasframe.proxies.nwot import kernel_from_codes, log_abs_det
from nasframe.proxies.snip import snip
from nasframe.proxies.synflow import synflow


def mlp(w1, w2):
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(w1, dtype=torch.float32))
        net[2].weight.copy_(torch.tensor(w2, dtype=torch.float32))
    return net


def test_synflow_exact_value_of_two_layer_mlp():
    net = mlp([[1, -2], [3, 4]], [[1, -1]])
    # after abs: hidden = [3, 7], R = 10; each bias-free layer contributes R
    assert synflow(net, Batch.shape_only((2,))) == pytest.approx(20.0)


def test_synflow_sign_invariance_and_layer_scaling():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU(), nn.Conv2d(4, 5, 3, bias=False),
                        nn.ReLU(), nn.Flatten(), nn.Linear(5 * 4 * 4, 3, bias=False))
    b = Batch.shape_only((3, 8, 8))
    base = synflow(net, b)
    flipped = copy.deepcopy(net)
    with torch.no_grad():
        flipped[2].weight.neg_()
    assert synflow(flipped, b) == pytest.approx(base, rel=1e-12)
    scaled = copy.deepcopy(net)
    with torch.no_grad():
        scaled[0].weight.mul_(2.5)
    assert synflow(scaled, b) == pytest.approx(2.5 * base, rel=1e-6)  # float32 weights scaled before the cast
    # L bias-free layers, no BN: synflow = L * R
    abs_net = copy.deepcopy(net).double()
    with torch.no_grad():
        for p in abs_net.parameters():
            p.abs_()
        r = abs_net(torch.ones(1, 3, 8, 8, dtype=torch.float64)).sum().item()
    assert base == pytest.approx(3 * r, rel=1e-9)


def test_synflow_bypasses_batchnorm_and_does_not_overflow():
    torch.manual_seed(0)
    layers = []
    for _ in range(80):  # deep enough that float32 would overflow (R grows like 4^80)
        layers += [nn.Linear(8, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU()]
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.fill_(0.5)
    value = synflow(net, Batch.shape_only((8,)))
    # all-ones input, 0.5*8 = 4 gain per layer, BN bypassed: R = 8 * 4^80
    assert math.isfinite(value) and value == pytest.approx(80 * 8 * 4.0 ** 80, rel=1e-9)
    assert 8 * 4.0 ** 80 > torch.finfo(torch.float32).max


def test_snip_mask_gradient_equals_weight_times_gradient():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 5))
    x, y = torch.randn(6, 3, 8, 8), torch.randint(0, 5, (6,))
    b = Batch(x, y, 5, (3, 8, 8))
    ref = copy.deepcopy(net)
    nn.functional.cross_entropy(ref(x), y).backward()
    direct = sum((m.weight * m.weight.grad).abs().sum().item() for m in ref if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert snip(net, b) == pytest.approx(direct, rel=1e-6)
    assert net[0].weight.grad is None  # the caller's network is untouched


def test_grasp_hessian_gradient_product_matches_finite_difference():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.randint(0, 3, (5,))
    b = Batch(x, y, 3, (4,))
    weights, hg = hessian_gradient_product(net, b)
    loss = lambda: nn.functional.cross_entropy(net(x), y)  # noqa: E731
    g = torch.autograd.grad(loss(), weights)
    h = 1e-5

    def grads_at(sign):
        with torch.no_grad():
            for w, gi in zip(weights, g):
                w.add_(sign * h * gi)
        out = torch.autograd.grad(loss(), weights)
        with torch.no_grad():
            for w, gi in zip(weights, g):
                w.sub_(sign * h * gi)
        return out

    plus, minus = grads_at(1), grads_at(-1)
    for hgi, p, m in zip(hg, plus, minus):
        assert torch.allclose(hgi, (p - m) / (2 * h), atol=1e-6, rtol=1e-4)


def test_jacob_cov_bound_and_equality_at_identity():
    n = 64
    bound = -n * (math.log(1 + K) + 1 / (1 + K))
    # orthogonal, zero-mean rows -> correlation matrix is exactly I
    a = np.random.default_rng(0).normal(size=(256, n))
    q, _ = np.linalg.qr(a - a.mean(axis=0))  # columns orthonormal and orthogonal to the ones vector
    rows = q.T
    assert correlation_score(rows) == pytest.approx(bound, abs=1e-3)
    assert bound == pytest.approx(-64.0, abs=1e-3)
    correlated = np.random.default_rng(1).normal(size=(n, 300)) + np.random.default_rng(2).normal(size=300)
    assert correlation_score(correlated) < bound


def test_nwot_two_samples_known_kernel():
    codes = torch.tensor([[1, 0, 1], [1, 1, 0]])
    k = kernel_from_codes(codes)
    assert k.tolist() == [[3.0, 1.0], [1.0, 3.0]]
    assert log_abs_det(k) == pytest.approx(math.log(8), abs=1e-4)


def test_nwot_hooks_relu_inputs():
    net = nn.Sequential(nn.Linear(3, 3, bias=False), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(3))
    x = torch.tensor([[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
    assert get_proxy("nwot")(net, Batch(x, None, 3, (3,))) == pytest.approx(math.log(8), abs=1e-6)


def test_fisher_broadcasts_channel_value_over_fan_in():
    torch.manual_seed(3)
    conv = nn.Conv2d(3, 2, 1)
    net = nn.Sequential(conv, nn.Flatten(), nn.Linear(2 * 4 * 4, 4))
    x, y = torch.randn(5, 3, 4, 4), torch.randint(0, 4, (5,))
    score = fisher(net, Batch(x, y, 4, (3, 4, 4)))
    # recompute by hand: conv output a, its gradient g
    a = conv(x)
    a.retain_grad()
    nn.functional.cross_entropy(net[2](net[1](a)), y).backward()
    s = (a * a.grad).sum(dim=(2, 3))
    f_conv = 0.5 * s.pow(2).mean(0)
    out = net[2](net[1](a)).detach()
    out.requires_grad_(True)
    nn.functional.cross_entropy(out, y).backward()
    lin_in = net[1](a).detach()
    f_lin = 0.5 * (net[2](lin_in).detach() * out.grad).pow(2).mean(0)
    expected = 3 * f_conv.sum().item() + 32 * f_lin.sum().item()
    assert score == pytest.approx(expected, rel=1e-5)


def test_registry_declares_direction_data_and_cost():
    reg = registry()
    assert {"synflow", "snip", "grasp", "fisher", "grad_norm", "jacob_cov", "nwot", "zen", "params", "flops"} <= set(reg)
    assert not reg["synflow"].needs_data and reg["snip"].needs_labels and not reg["nwot"].needs_labels
    assert reg["grasp"].cost == "second_order" and reg["params"].cost == "static"
    assert all(p.direction == "max" for p in reg.values())


def test_unknown_proxy_is_a_config_error():
    from nasframe.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown zero-cost proxy 'synflo'"):
        get_proxy("synflo")
