"""TransNAS-Bench-101 networks: the searched backbone plus each task's head.

Follows the structure of the official model code (TransNASBench ``lib/models``):

* Backbone (``64-<modules>-<cell>``): a stem (3x3 conv stride 2 to 32 channels, BN,
  then ReLU-conv3x3 stride 2 -BN to 64 channels: 1/4 resolution), then one module
  per code digit, each two cells (the first carries the module's stride and
  channel change). Digit 1 keeps shape, 2 doubles the channels, 3 halves the
  resolution, 4 does both. The cell is a ResNet basic block (macro space,
  ``-basic``) or the searched 4-node DAG (micro space, ``-a_bc_def``; no residual).
* Heads:
  - class_object (75), class_scene (47), room_layout (9): global average pool + linear.
  - jigsaw (1000): the backbone runs on each of the 9 tiles (shared weights), the
    feature maps are concatenated along channels, then average pool + linear.
  - segmentsemantic (17 x 256 x 256): conv to 1024 channels, halving convs, then
    transposed convs up to the input size, a last conv to the classes.
  - autoencoder and normal (3 x 256 x 256): the 14-layer conv/deconv generator
    (Pix2Pix-style) with a tanh output. The GAN discriminator used in training is
    not part of the inference network and is not built.
"""
from __future__ import annotations

import math

import torch
from torch import fx, nn

from nasframe.torchutil import Taps

BASE_CHANNELS = 64
CELLS_PER_MODULE = 2
IMAGE_SIZE = 256

# --------------------------------------------------------------------- cell ops


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
                         nn.BatchNorm2d(c_out))


class Zero(nn.Module):
    """The 'none' op: zeros of the edge's output shape."""

    def __init__(self, c_out, stride):
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x):
        n, _, h, w = x.shape
        s = self.stride
        return x.new_zeros((n, self.c_out, (h + s - 1) // s, (w + s - 1) // s))


class FactorizedReduce(nn.Module):
    """Skip connection that changes shape: two offset 1x1 convs, each half the channels."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, stride=stride, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def cell_op(op: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    if op == 0:
        return Zero(c_out, stride)
    if op == 1:
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)
    if op == 2:
        return ReLUConvBN(c_in, c_out, 1, stride, 0)
    if op == 3:
        return ReLUConvBN(c_in, c_out, 3, stride, 1)
    raise ValueError(f"unknown TransNAS cell op {op}")


class MicroCell(nn.Module):
    """4-node DAG: node j sums op(i->j)(node i) over i < j; the output is node 3.

    Edges leaving the cell input carry the stride and channel change.
    """

    def __init__(self, ops: tuple[int, ...], c_in: int, c_out: int, stride: int):
        super().__init__()
        self.sources = [s for t in (1, 2, 3) for s in range(t)]  # string order: 1<-0, 2<-0, 2<-1, ...
        self.targets = [t for t in (1, 2, 3) for _ in range(t)]
        self.edges = nn.ModuleList(
            cell_op(op, c_in, c_out, stride) if s == 0 else cell_op(op, c_out, c_out, 1)
            for op, s in zip(ops, self.sources))

    def forward(self, x):
        nodes = [x]
        for t in (1, 2, 3):
            nodes.append(sum(edge(nodes[s]) for edge, s, tt in zip(self.edges, self.sources, self.targets)
                             if tt == t))
        return nodes[3]


class BasicBlock(nn.Module):
    """ResNet basic block in pre-activation order (ReLU-conv-BN twice) with a projection shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        residual = x if self.shortcut is None else self.shortcut(x)
        return residual + self.conv_b(self.conv_a(x))


# --------------------------------------------------------------------- backbone


def parse_code(code: str) -> tuple[str, tuple[int, ...] | None]:
    """``64-41414-1_02_333`` -> ("41414", (1, 0, 2, 3, 3, 3)); ``64-1234-basic`` -> ("1234", None)."""
    base, modules, cell = code.split("-")
    if int(base) != BASE_CHANNELS:
        raise ValueError(f"TransNAS backbones start with 64 channels, got {base}")
    return modules, None if cell == "basic" else tuple(int(ch) for ch in cell if ch != "_")


class Backbone(nn.Module):
    def __init__(self, code: str):
        super().__init__()
        modules, cell_ops = parse_code(code)
        self.code = code
        self.stem = nn.Sequential(
            nn.Conv2d(3, BASE_CHANNELS // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(BASE_CHANNELS // 2),
            ReLUConvBN(BASE_CHANNELS // 2, BASE_CHANNELS, 3, 2, 1))
        channels, layers, downsamples = BASE_CHANNELS, [], 0
        for digit in modules:
            m = int(digit)
            c_out = channels * 2 if m in (2, 4) else channels
            stride = 2 if m in (3, 4) else 1
            downsamples += stride == 2
            for k in range(CELLS_PER_MODULE):
                c_in, s = (channels, stride) if k == 0 else (c_out, 1)
                layers.append(BasicBlock(c_in, c_out, s) if cell_ops is None else MicroCell(cell_ops, c_in, c_out, s))
            channels = c_out
        self.layers = nn.Sequential(*layers)
        self.out_channels = channels
        self.downsamples = downsamples  # the output is at 1 / 2**(2 + downsamples) of the input size

    def forward(self, x):
        return self.layers(self.stem(x))


def _kaiming_init(module: nn.Module) -> None:
    for m in module.modules():
        if getattr(getattr(m, "weight", None), "is_meta", False):
            continue  # built on the meta device for graph extraction: no values to draw (and meta RNG is slow)
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# --------------------------------------------------------------------- heads


class PoolLinear(nn.Sequential):
    """Global average pool + linear: classification, room layout, and the jigsaw head."""

    def __init__(self, c_in: int, n_out: int):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(c_in, n_out))


def _conv(c_in, c_out, act=True, norm=True):
    layers = [nn.Conv2d(c_in, c_out, 3, stride=1, padding=1)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    if act:
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


def _deconv(c_in, c_out):
    """3x3 transposed conv that doubles the resolution."""
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
                         nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))


def num_upsample(feature_size: int, target_size: int = IMAGE_SIZE) -> int:
    n = int(math.log2(target_size / feature_size))
    if n not in (2, 3, 4, 5, 6) or feature_size * 2 ** n != target_size:
        raise ValueError(f"a {feature_size}-pixel feature map cannot be decoded to {target_size} pixels")
    return n


class SegmentationDecoder(nn.Sequential):
    """Conv to 1024 channels, (6 - n) halving convs, (n - 1) halving deconvs, one deconv, a class conv."""

    def __init__(self, c_in: int, feature_size: int, n_classes: int):
        n = num_upsample(feature_size)
        layers, c = [_conv(c_in, 1024)], 1024
        for _ in range(6 - n):
            layers.append(_conv(c, c // 2))
            c //= 2
        for _ in range(n - 1):
            layers.append(_deconv(c, c // 2))
            c //= 2
        layers += [_deconv(c, c), _conv(c, n_classes, act=False, norm=False)]
        super().__init__(*layers)


class GenerativeDecoder(nn.Sequential):
    """The 14-layer generator: five (conv, conv-or-deconv) pairs widen the map as needed, then two fixed
    deconv stages and a tanh conv to the output channels."""

    def __init__(self, c_in: int, feature_size: int, n_out: int = 3):
        n = num_upsample(feature_size)

        def maybe_up(c_a, c_b, up):
            return _deconv(c_a, c_b) if up else _conv(c_a, c_b)

        super().__init__(
            _conv(c_in, 1024), _conv(1024, 1024), maybe_up(1024, 512, n == 6),
            _conv(512, 512), maybe_up(512, 256, n >= 5),
            _conv(256, 128), maybe_up(128, 64, n >= 4),
            _conv(64, 64), maybe_up(64, 32, n >= 3),
            _conv(32, 32), _deconv(32, 16),
            _conv(16, 32), _deconv(32, 16),
            nn.Conv2d(16, n_out, 3, padding=1), nn.Tanh())


# --------------------------------------------------------------------- task networks


class EncoderDecoder(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))


JIGSAW_TILES, JIGSAW_TILE_SIZE = 9, 64


class SiameseNetwork(EncoderDecoder):
    """Jigsaw: input (batch, tiles, 3, H, W); one shared backbone per tile, channel concat, head.

    The tile count is the constant the head was built for, not read from the input, so
    torch.fx traces the forward symbolically (graph extraction's fast path).
    """

    def forward(self, x):
        if not isinstance(x, fx.Proxy):  # a traced input has no concrete shape to check
            _check_tiles(x)
        return self.decoder(torch.cat([self.encoder(x[:, i]) for i in range(JIGSAW_TILES)], dim=1))


def _check_tiles(x: torch.Tensor) -> None:
    if x.dim() != 5 or x.shape[1] != JIGSAW_TILES:
        raise ValueError(f"jigsaw input must be (batch, {JIGSAW_TILES} tiles, 3, H, W), got {tuple(x.shape)}")


def build_network(code: str, task: str) -> nn.Module:
    """The network TransNAS-Bench-101 trained for backbone ``code`` on ``task`` (no discriminator)."""
    encoder = Backbone(code)
    c = encoder.out_channels
    feature = IMAGE_SIZE // 2 ** (2 + encoder.downsamples)
    if task in ("class_object", "class_scene", "room_layout"):
        net = EncoderDecoder(encoder, PoolLinear(c, {"class_object": 75, "class_scene": 47, "room_layout": 9}[task]))
    elif task == "jigsaw":
        net = SiameseNetwork(encoder, PoolLinear(c * JIGSAW_TILES, 1000))
    elif task == "segmentsemantic":
        net = EncoderDecoder(encoder, SegmentationDecoder(c, feature, 17))
    elif task in ("autoencoder", "normal"):
        net = EncoderDecoder(encoder, GenerativeDecoder(c, feature, 3))
    else:
        raise ValueError(f"unknown TransNAS task {task}")
    _kaiming_init(encoder)
    return net


__all__ = ["Backbone", "MicroCell", "BasicBlock", "build_network", "SegmentationDecoder", "GenerativeDecoder"]


def backbone_taps(code: str) -> Taps:
    """Eproxy's taps: the backbone of ``code`` tapped after each module, deepest first."""
    base, modules, cell = code.split("-")
    if cell != "basic" and modules == "41414":
        modules = "41412"  # the reference: the last module of the cell skeleton does not downsample
    body = Backbone(f"{base}-{modules}-{cell}")
    chans, c = [], 64
    for m in modules:
        c = c * 2 if int(m) in (2, 4) else c
        chans.append(c)

    def run(b, x):
        x = b.stem(x)
        feats = []
        layers = list(b.layers)
        for k in range(0, len(layers), CELLS_PER_MODULE):
            for layer in layers[k:k + CELLS_PER_MODULE]:
                x = layer(x)
            feats.append(x)
        return feats[::-1]

    return Taps(body, run, chans[::-1])
