"""TransNAS-Bench-101 networks: backbone structure, the seven task heads, FLOPs and parameters."""
import pytest
import torch

from nasframe.spaces.transnas import TASKS, TransNASMacroSpace, TransNASMicroSpace
from nasframe.spaces.transnas_net import Backbone, BasicBlock, MicroCell

MICRO = TransNASMicroSpace()
MACRO = TransNASMacroSpace()
SMALL_TASKS = ("class_object", "class_scene", "room_layout", "jigsaw")
DENSE_TASKS = ("autoencoder", "normal", "segmentsemantic")



def _forward(space, text, task, batch):
    torch.manual_seed(0)
    net = space.build(space.parse(text), task).eval()
    with torch.no_grad():
        return net(torch.randn(batch, *TASKS[task][0]))


@pytest.mark.parametrize("text, task", [("64-41414-3_13_302", t) for t in SMALL_TASKS + DENSE_TASKS]
                         + [("64-41414-1_11_111", t) for t in SMALL_TASKS + ("segmentsemantic",)])
def test_micro_networks_give_the_paper_output_shapes(text, task):
    batch = 2 if task in SMALL_TASKS else 1
    y = _forward(MICRO, text, task, batch)
    assert tuple(y.shape) == (batch, *TASKS[task][1]) and torch.isfinite(y).all()


@pytest.mark.parametrize("task", SMALL_TASKS)
@pytest.mark.parametrize("text", ["64-1114-basic", "64-44431-basic"])
def test_macro_networks_give_the_paper_output_shapes(text, task):
    y = _forward(MACRO, text, task, 2)
    assert tuple(y.shape) == (2, *TASKS[task][1]) and torch.isfinite(y).all()


@pytest.mark.slow
@pytest.mark.parametrize("task", DENSE_TASKS)
@pytest.mark.parametrize("text", ["64-1114-basic", "64-44431-basic", "64-232311-basic"])
def test_macro_dense_networks_give_256px_maps(text, task):
    # 1, 4 and 2 downsamplings: the decoders need 3, 6 and 4 upsamplings
    y = _forward(MACRO, text, task, 1)
    assert tuple(y.shape) == (1, *TASKS[task][1]) and torch.isfinite(y).all()


def test_generator_output_is_tanh_bounded():
    y = _forward(MICRO, "64-41414-3_33_333", "autoencoder", 1)
    assert y.abs().max() <= 1


@pytest.mark.parametrize("text, blocks, channels, size", [
    ("64-1114-basic", 8, 128, 32), ("64-44431-basic", 10, 512, 4), ("64-232311-basic", 12, 256, 16)])
def test_macro_backbone_structure(text, blocks, channels, size):
    bb = Backbone(text)
    assert sum(isinstance(m, BasicBlock) for m in bb.modules()) == blocks  # two per module
    with torch.no_grad():
        y = bb.eval()(torch.zeros(1, 3, 256, 256))
    assert tuple(y.shape) == (1, channels, size, size)


def test_micro_backbone_is_the_41414_skeleton_of_ten_cells():
    bb = Backbone("64-41414-3_13_302")
    assert sum(isinstance(m, MicroCell) for m in bb.modules()) == 10
    with torch.no_grad():
        assert tuple(bb.eval()(torch.zeros(1, 3, 256, 256)).shape) == (1, 512, 8, 8)


def test_all_none_cell_outputs_only_the_head_bias():
    net = MICRO.build(MICRO.parse("64-41414-0_00_000"), "class_scene").eval()
    with torch.no_grad():
        y = net(torch.randn(2, 3, 256, 256))
    assert torch.equal(y, net.decoder[-1].bias.expand(2, -1))


def test_jigsaw_shares_one_backbone_across_the_nine_tiles():
    net = MICRO.build(MICRO.parse("64-41414-3_13_302"), "jigsaw").eval()
    x = torch.randn(1, 9, 3, 64, 64)
    with torch.no_grad():
        y = net(x)
        y_swapped = net(x[:, [1, 0, 2, 3, 4, 5, 6, 7, 8]])
    assert tuple(y.shape) == (1, 1000) and not torch.allclose(y, y_swapped)  # tile order matters
    assert net.decoder[-1].in_features == 9 * 512


# Parameter counts NASLib recorded for 64-41414-1_00_210 in zc_transbench101_micro.json (built from
# the official model code); the classification heads there use 100 / 63 classes, not the paper's 75 / 47.
@pytest.mark.parametrize("task, count", [("room_layout", 882_985), ("jigsaw", 5_487_368),
                                         ("autoencoder", 23_750_227), ("normal", 23_750_227),
                                         ("segmentsemantic", 11_902_545)])
def test_micro_parameter_counts_match_the_reference(task, count):
    assert round(MICRO.params(MICRO.parse("64-41414-1_00_210"), task) * 1e6) == count


def test_class_heads_differ_only_by_the_number_of_classes():
    a = MICRO.parse("64-41414-1_00_210")
    base = MICRO.params(a, "room_layout") * 1e6
    assert round(MICRO.params(a, "class_object") * 1e6 - base) == (75 - 9) * 513
    assert round(MICRO.params(a, "class_scene") * 1e6 - base) == (47 - 9) * 513
    # MACs: the linear layer (512 per output) plus its bias
    assert MICRO.flops(a, "class_object") - MICRO.flops(a, "class_scene") == pytest.approx(28 * 513 / 1e6)


def test_flops_grow_with_the_cell_and_count_nine_tiles_for_jigsaw():
    small, big = MICRO.parse("64-41414-1_00_210"), MICRO.parse("64-41414-3_33_333")
    assert 0 < MICRO.flops(small, "class_scene") < MICRO.flops(big, "class_scene")
    # a 64-px tile is 1/16 of a 256-px image, so 9 tiles cost 9/16 of the backbone; heads differ
    # (the framework's "macs" convention counts convs and linears with their biases, not pooling)
    room_head = (9 * 512 + 9) / 1e6
    jigsaw_head = (1000 * 9 * 512 + 1000) / 1e6
    backbone = MICRO.flops(big, "room_layout") - room_head
    assert MICRO.flops(big, "jigsaw") == pytest.approx(9 / 16 * backbone + jigsaw_head, rel=1e-9)
