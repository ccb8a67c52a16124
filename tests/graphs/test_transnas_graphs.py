"""TransNAS graphs: the jigsaw (Siamese) network traces symbolically, its graph is nine backbones + a head."""
import inspect

import pytest
import torch

from nasframe.graphs import build_graph
from nasframe.graphs.extract import _FastTracer, _graph_from_fx, _Tracer, extract
from nasframe.spaces.transnas import TransNASMicroSpace
from nasframe.spaces.transnas_net import JIGSAW_TILES, SiameseNetwork

SPACE = TransNASMicroSpace()
ARCH = SPACE.parse("64-41414-3_02_133")  # all four ops, a FactorizedReduce in every reducing module


def meta_net(arch=ARCH, task="jigsaw"):
    with torch.device("meta"):
        return SPACE.build(arch, task).eval()


def test_jigsaw_is_symbolically_traceable_and_skips_the_meta_fallback(monkeypatch):
    net = meta_net()
    assert isinstance(net, SiameseNetwork)
    _FastTracer().trace(net)  # no shape-dependent Python left in forward

    def no_fallback(*a, **k):
        raise AssertionError("the slow meta-tensor fallback was used")

    monkeypatch.setattr(_Tracer, "trace", no_fallback)
    g = build_graph(SPACE, ARCH, "jigsaw")
    assert g.op_counts().get("<oov>", 0) == 0


def test_jigsaw_graph_is_nine_backbones_and_a_head():
    jig, cls = build_graph(SPACE, ARCH, "jigsaw"), build_graph(SPACE, ARCH, "class_object")
    j, c = jig.op_counts(), cls.op_counts()
    # the pooled head (mean -> matmul) and the graph ends appear once in both networks
    for op in ("input", "output", "mean", "matmul"):
        assert j[op] == c[op] == 1
    # every backbone op nine times over; one more concat joins the nine tile features
    for op in ("conv", "batchnorm", "relu", "add", "paddings", "identity", "zero"):
        assert j[op] == JIGSAW_TILES * c[op]
    assert j["concat"] == JIGSAW_TILES * c["concat"] + 1
    assert (jig.n_nodes, len(jig.edges), jig.n_weighted) == (1625, 1929, 433)  # as the meta-tensor path gave
    # nine 64x64 tiles cost 9/16 of one 256x256 backbone; heads: Linear(512, 75) vs Linear(9 * 512, 1000)
    head_cls, head_jig = (512 * 75 + 75) / 1e6, (9 * 512 * 1000 + 1000) / 1e6
    assert jig.flops == pytest.approx(9 / 16 * (cls.flops - head_cls) + head_jig, rel=1e-9)


@pytest.mark.parametrize("code", ["64-41414-3_02_133", "64-41414-1_01_000", "64-41414-0_00_000"])
def test_fast_path_equals_the_meta_tensor_path(code):
    net = meta_net(SPACE.parse(code))
    fast = extract(net, (JIGSAW_TILES, 3, 64, 64))
    arg = next(iter(inspect.signature(net.forward).parameters))
    slow = _Tracer().trace(net, meta_args={arg: torch.empty((1, JIGSAW_TILES, 3, 64, 64), device="meta")})
    assert fast.same_as(_graph_from_fx(net, slow, code))


def test_jigsaw_forward_is_the_per_tile_backbone_then_the_head():
    torch.manual_seed(0)
    net = SPACE.build(SPACE.parse("64-41414-1_13_302"), "jigsaw").eval()
    x = torch.randn(2, JIGSAW_TILES, 3, 64, 64)
    with torch.no_grad():
        out = net(x)
        ref = net.decoder(torch.cat([net.encoder(x[:, i]) for i in range(x.shape[1])], dim=1))
    assert out.shape == (2, 1000)
    torch.testing.assert_close(out, ref)  # one batch of 18 tiles vs 9 of 2: kernels may round differently
    with pytest.raises(ValueError, match="9 tiles"):
        net(x[:, :8])
    with pytest.raises(ValueError, match="9 tiles"):
        net(x[:, 0])
