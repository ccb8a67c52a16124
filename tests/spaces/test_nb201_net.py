"""The real NB201 network: shapes, exact parameter and MAC counts, variants."""
import csv

import pytest
import torch
from torch import nn

from nasframe.errors import ArchitectureError, ConfigError
from nasframe.spaces.flops import count_macs
from nasframe.spaces.nb201 import NB201Space
from nasframe.spaces.nb201_net import NB201Network

SPACE = NB201Space(use_official_order=False)
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_3X3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
MIXED = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|"



def _skeleton_params(num_classes: int) -> int:
    """Everything outside the cells, by hand (C = 16, convs bias-free, BN affine)."""
    stem = 3 * 16 * 9 + 2 * 16
    red1 = 16 * 32 * 9 + 2 * 32 + 32 * 32 * 9 + 2 * 32 + 16 * 32
    red2 = 32 * 64 * 9 + 2 * 64 + 64 * 64 * 9 + 2 * 64 + 32 * 64
    return stem + red1 + red2 + 2 * 64 + 64 * num_classes + num_classes


def _skeleton_macs(num_classes: int, hw: int) -> int:
    """Conv and linear MACs outside the cells for an hw x hw input."""
    h1, h2, h3 = hw * hw, hw * hw // 4, hw * hw // 16
    stem = 27 * 16 * h1
    red1 = 16 * 32 * 9 * h2 + 32 * 32 * 9 * h2 + 16 * 32 * h2
    red2 = 32 * 64 * 9 * h3 + 64 * 64 * 9 * h3 + 32 * 64 * h3
    return stem + red1 + red2 + 64 * num_classes + num_classes


def _params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("dataset,classes,hw", [("cifar10", 10, 32), ("cifar100", 100, 32),
                                                ("imagenet16-120", 120, 16)])
def test_forward_shapes(dataset, classes, hw):
    arch = SPACE.parse(MIXED)
    net = SPACE.build(arch, dataset)
    assert SPACE.input_shape(dataset) == (3, hw, hw)
    taps = []
    hooks = [s.register_forward_hook(lambda m, i, o: taps.append(tuple(o.shape))) for s in net.stages]
    out = net(torch.randn(2, 3, hw, hw))
    for h in hooks:
        h.remove()
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()
    assert taps == [(2, 16, hw, hw), (2, 32, hw // 2, hw // 2), (2, 64, hw // 4, hw // 4)]


def test_all_none_cell_has_no_params_and_known_counts():
    arch = SPACE.parse(ALL_NONE)
    net = SPACE.build(arch, "cifar10")
    assert all(len(cell.edges) == 0 for stage in net.stages for cell in stage if hasattr(cell, "edges"))
    assert _params(net) == _skeleton_params(10) == 73306
    assert count_macs(net, (3, 32, 32)) == _skeleton_macs(10, 32) == 7783050
    assert SPACE.params(arch) == pytest.approx(0.073306, abs=1e-12)


def test_all_3x3_cell_params_and_macs_by_hand():
    arch = SPACE.parse(ALL_3X3)
    per_cell = {c: 6 * (9 * c * c + 2 * c) for c in (16, 32, 64)}  # conv weights + BN scale/shift
    cells = 5 * sum(per_cell.values())
    for dataset, classes, hw in (("cifar10", 10, 32), ("cifar100", 100, 32), ("imagenet16-120", 120, 16)):
        net = SPACE.build(arch, dataset)
        assert _params(net) == _skeleton_params(classes) + cells
        cell_macs = 5 * sum(6 * 9 * c * c * (hw * hw // s) for c, s in ((16, 1), (32, 4), (64, 16)))
        assert count_macs(net, (3, hw, hw)) == _skeleton_macs(classes, hw) + cell_macs
    assert SPACE.params(arch, "cifar10") == pytest.approx(1.531546, abs=1e-12)
    assert SPACE.flops(arch, "cifar10") == pytest.approx(220.11969, abs=1e-9)
    assert SPACE.flops(arch, "imagenet16-120") == pytest.approx(55.03756, abs=1e-9)


def test_none_edges_add_nothing():
    # replacing a none edge by a conv adds exactly that conv's parameters in every cell
    with_none = SPACE.parse(MIXED)
    ops = list(with_none.ops)
    e = with_none.op_names.index("none")
    ops[e] = SPACE.ops.index("nor_conv_1x1")
    with_conv = type(with_none)(tuple(ops))
    diff = _params(SPACE.build(with_conv)) - _params(SPACE.build(with_none))
    assert diff == 5 * sum(c * c + 2 * c for c in (16, 32, 64))


def test_params_equal_space_params():
    rng = __import__("numpy").random.default_rng(3)
    for _ in range(5):
        arch = SPACE.sample(rng)
        for dataset in ("cifar10", "imagenet16-120"):
            net = SPACE.build(arch, dataset)
            assert SPACE.params(arch, dataset) == pytest.approx(_params(net) / 1e6, abs=1e-12)
            assert SPACE.flops(arch, dataset) == pytest.approx(count_macs(net, SPACE.input_shape(dataset)) / 1e6,
                                                               abs=1e-9)


def test_deterministic_build_and_forward():
    arch = SPACE.parse(MIXED)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        net = SPACE.build(arch)
        outs.append((net.state_dict(), net(x)))
    (s1, y1), (s2, y2) = outs
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)
    assert torch.equal(y1, y2)


def test_bad_inputs_raise():
    arch = SPACE.parse(MIXED)
    with pytest.raises(ConfigError, match="dataset"):
        SPACE.build(arch, "mnist")
    with pytest.raises(ConfigError, match="dataset"):
        SPACE.flops(arch, "svhn")
    with pytest.raises(ConfigError, match="variant"):
        NB201Network(arch.op_names, 10, variant="darts")
    with pytest.raises(ArchitectureError):
        NB201Network(("nor_conv_5x5",) * 6, 10)
    with pytest.raises(ArchitectureError):
        NB201Network(("none",) * 5, 10)


def test_zc_variant_matches_reference_layout():
    arch = SPACE.parse(ALL_3X3)
    off, zc = NB201Network(arch.op_names, 10), NB201Network(arch.op_names, 10, variant="zc")
    cell_convs = [m for s in zc.stages for c in s if hasattr(c, "edges") for m in c.modules()
                  if isinstance(m, nn.Conv2d)]
    cell_bns = [m for s in zc.stages for c in s if hasattr(c, "edges") for m in c.modules()
                if isinstance(m, nn.BatchNorm2d)]
    assert len(cell_convs) == len(cell_bns) == 3 * 5 * 6
    assert all(m.bias is not None for m in cell_convs)
    assert all(not m.affine and not m.track_running_stats for m in cell_bns)
    # outside the cells the zc network is the official one
    assert all(m.affine and m.track_running_stats for m in zc.modules()
               if isinstance(m, nn.BatchNorm2d) and m not in cell_bns)
    assert all(m.bias is None for m in zc.modules() if isinstance(m, nn.Conv2d) and m not in cell_convs)
    # each cell conv trades 2C BN parameters for C conv biases
    assert _params(off) - _params(zc) == 5 * 6 * (16 + 32 + 64)
    zc.train()
    assert zc(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # conv biases are counted as MACs, BN is free in the default convention
    assert count_macs(zc, (3, 32, 32)) - count_macs(off, (3, 32, 32)) == 5 * 6 * (16 * 1024 + 32 * 256 + 64 * 64)


def test_relu_modules_and_connected_graph_for_dead_cells():
    # NASWOT hooks nn.ReLU modules: every ReLU-Conv-BN and the head expose one
    net = SPACE.build(SPACE.parse(ALL_3X3))
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 3 * 5 * 6 + 2 * 2 + 1
    # an all-none cell outputs zeros, but input gradients still exist (zero), not an autograd error
    dead = SPACE.build(SPACE.parse(ALL_NONE))
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    (g,) = torch.autograd.grad(dead(x).sum(), x)
    assert torch.count_nonzero(g) == 0


@pytest.mark.data
def test_sample_matches_suite_zero_params_and_flops(shared_data):
    with open(shared_data / "nasbench201" / "nb201_zc_proxies.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9445
    sample = rows[:: len(rows) // 50][:50]
    for r in sample:
        arch = SPACE.parse(r["net_str"])
        net = SPACE.build(arch, "cifar10")
        assert _params(net) / 1e6 == pytest.approx(float(r["params"]), abs=1e-9), r["net_str"]
        # the column is tensorwatch/torchstat's count: reproduced exactly by that convention
        assert count_macs(net, (3, 32, 32), "torchstat") == round(float(r["flops"]) * 1e6), r["net_str"]
        # our default is smaller: it leaves out BN, ReLU and pooling
        assert float(r["flops"]) - count_macs(net, (3, 32, 32)) / 1e6 > 0.5
