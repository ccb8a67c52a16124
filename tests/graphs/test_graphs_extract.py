"""Computational-graph extraction: hand counts, determinism, FLOPs, fallbacks, cache."""
import numpy as np
import pytest
import torch
from torch import nn

from nasframe.graphs import GraphCache, OPS, build_graph, extract
from nasframe.graphs.vocab import OP_INDEX


def edge_ops(g):
    return sorted((OPS[int(g.ops[s])], OPS[int(g.ops[d])]) for s, d in g.edges)


def test_nb201_cell_matches_hand_count():
    from nasframe.spaces.nb201_net import NB201Cell

    # edges 1<-0 conv3x3, 2<-0 skip, 2<-1 none, 3<-0 conv1x1, 3<-1 avgpool, 3<-2 conv3x3
    cell = NB201Cell(["nor_conv_3x3", "skip_connect", "none", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3"], 16)
    g = extract(cell, (16, 8, 8))
    # 3 ReLU-conv-BN (9) + identity + avgpool + one 3-input add (node 3) + input + output;
    # 'none' builds nothing and nodes 1, 2 have a single input (no add)
    assert g.op_counts() == {"input": 1, "output": 1, "conv": 3, "batchnorm": 3, "relu": 3, "identity": 1,
                             "avgpool": 1, "add": 1}
    assert g.n_nodes == 14 and g.n_weighted == 3
    # input->3 branches, 3x (relu->conv->bn), bn1->avgpool, identity->relu, 3 add inputs, add->output
    assert len(g.edges) == 15
    add = int(np.flatnonzero(g.ops == OP_INDEX["add"])[0])
    assert sorted(OPS[int(g.ops[s])] for s, d in g.edges if d == add) == ["avgpool", "batchnorm", "batchnorm"]
    assert [tuple(k) for k in g.kernel[:3]] == [(3, 3), (1, 1), (3, 3)]  # weighted first, topological
    assert (g.ops[:3] == OP_INDEX["conv"]).all() and not g.bias[:3].any()
    # resolution features: 16 channels at 8x8, normalised by 256 / 512
    conv = g.res[0]
    assert np.allclose(conv, [8 / 256, 8 / 256, 8 / 256, 8 / 256, 16 / 512, 16 / 512])


def test_all_none_node_is_a_zero_op():
    from nasframe.spaces.nb201_net import NB201Cell

    cell = NB201Cell(["none", "skip_connect", "none", "none", "none", "skip_connect"], 8)
    g = extract(cell, (8, 4, 4))
    assert g.op_counts() == {"input": 1, "output": 1, "zero": 1, "identity": 2}


def test_resnet_block_and_linear_classifier():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
            self.c2, self.b2 = nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            y = torch.relu(y + x)
            return self.fc(y.mean((2, 3)))

    g = extract(Block(), (8, 6, 6))
    names = [OPS[int(o)] for o in g.ops]
    assert names == ["conv", "conv", "matmul", "input", "batchnorm", "relu", "batchnorm", "add", "relu", "mean",
                     "output"]
    chain = [("input", "conv"), ("conv", "batchnorm"), ("batchnorm", "relu"), ("relu", "conv"),
             ("batchnorm", "add"), ("input", "add"), ("add", "relu"), ("relu", "mean"), ("mean", "matmul"),
             ("matmul", "output")]
    assert edge_ops(g) == sorted(chain + [("conv", "batchnorm")])
    fc = names.index("matmul")
    assert tuple(g.kernel[fc]) == (0, 0) and g.bias[fc] == 1
    assert np.allclose(g.res[fc], [1 / 256, 1 / 256, 1 / 256, 1 / 256, 8 / 512, 5 / 512])
    # conv MACs 2 * 9*8*8*36 + linear 8*5 + its bias 5
    assert g.flops == pytest.approx((2 * 9 * 8 * 8 * 36 + 40 + 5) / 1e6)


def test_hardswish_dropout_and_unknown_module_traced_through():
    class Custom(nn.Module):  # not a known layer: its internals are traced
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return torch.sigmoid(self.conv(x)) * x

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardswish(), nn.Dropout(0.5), Custom(), nn.Flatten())
    g = extract(net, (3, 8, 8))
    assert g.op_counts() == {"input": 1, "output": 1, "conv": 2, "relu6": 1, "mul": 2, "sigmoid": 1}
    assert g.bias[:2].tolist() == [1, 1]


def test_shape_dependent_forward_uses_meta_fallback():
    class Tiles(nn.Module):  # fx cannot trace range(x.shape[1]) symbolically
        def __init__(self):
            super().__init__()
            self.enc = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(12, 2)

        def forward(self, x):
            if x.dim() != 5:
                raise ValueError("tiles expected")
            feats = [self.enc(x[:, i]).mean((2, 3)) for i in range(x.shape[1])]
            return self.fc(torch.cat(feats, 1))

    g = extract(Tiles(), (3, 3, 8, 8))
    assert g.op_counts() == {"input": 1, "output": 1, "conv": 3, "mean": 3, "concat": 1, "matmul": 1}
    assert g.flops == pytest.approx((3 * (27 * 4 * 64 + 4 * 64) + 12 * 2 + 2) / 1e6)


def test_same_network_twice_gives_identical_graphs_and_meta_build_agrees():
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
    net = space.build(arch)
    a, b = extract(net, (3, 32, 32)), extract(net, (3, 32, 32))
    assert a.same_as(b)
    assert build_graph(space, arch).same_as(a)  # built on the meta device
    other = build_graph(space, space.parse("|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
                                           "nor_conv_3x3~1|none~2|"))
    assert not other.same_as(a)


@pytest.mark.parametrize("index", [0, 1, 77, 9000])
def test_graph_flops_match_space_flops(index):
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    arch = space[index]
    assert build_graph(space, arch).flops == pytest.approx(space.flops(arch), rel=0.01)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["class_object", "segmentsemantic", "autoencoder", "jigsaw"])
def test_transnas_graph_flops_match_space_flops(task):
    from nasframe.spaces.transnas import TransNASMicroSpace

    space = TransNASMicroSpace()
    arch = space.parse("64-41414-3_02_133")
    g = build_graph(space, arch, task)
    assert g.flops == pytest.approx(space.flops(arch, task), rel=0.01)
    assert g.op_counts().get("<oov>", 0) == 0


def test_cache_round_trip(tmp_path):
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    archs = [space[i] for i in range(3)]
    built = GraphCache(space, "cifar10", root=tmp_path).many(archs, progress=False)
    again = GraphCache(space, "cifar10", root=tmp_path)
    assert all(a in again for a in archs)  # read from disk, not rebuilt
    assert all(x.same_as(again.get(a)) for x, a in zip(built, archs))
    assert GraphCache(space, "cifar100", root=tmp_path).graphs == {}  # keyed by task


class _Mixed(torch.nn.Module):
    """Every weighted layer kind the counter knows: grouped/strided/dilated/transposed convs, 1-d conv,
    a linear layer on a 3-d tensor, with and without bias."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 12, 3, stride=2, padding=1, bias=True)
        self.g = torch.nn.Conv2d(12, 12, 3, padding=2, dilation=2, groups=3, bias=False)
        self.dw = torch.nn.Conv2d(12, 12, 5, padding=2, groups=12, bias=True)
        self.t = torch.nn.ConvTranspose2d(12, 6, 2, stride=2, groups=2, bias=True)
        self.c1d = torch.nn.Conv1d(6, 4, 3, bias=False)
        self.lin = torch.nn.Linear(30, 7)

    def forward(self, x):
        x = self.t(self.dw(self.g(self.c1(x))))
        x = self.c1d(x.flatten(2)[:, :, :32])
        return self.lin(x[:, :, :30])


def test_graph_macs_are_the_framework_counters_for_every_weighted_layer_kind():
    """One MACs counter: the graph's FLOPs come from spaces/flops.layer_macs, per node and in total."""
    from nasframe.spaces.flops import count_macs, profile_macs

    net = _Mixed()
    g = extract(net, (3, 16, 16))
    assert g.flops * 1e6 == pytest.approx(count_macs(net, (3, 16, 16)), rel=1e-12)
    assert len(profile_macs(net, (3, 16, 16))) == g.n_weighted == 6
