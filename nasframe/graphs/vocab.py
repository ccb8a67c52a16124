"""The fixed operation vocabulary of computational graphs and the feature constants.

Index 0 is out-of-vocabulary. The order is part of every saved predictor, so
new operations go into the reserved slots, never in between.
"""
from __future__ import annotations

OPS = (
    "<oov>", "input", "output", "conv", "depthwise", "batchnorm", "relu", "relu6",
    "matmul", "add", "mul", "concat", "maxpool", "avgpool", "sigmoid", "tanh",
    "swish", "gelu", "paddings", "mean", "spacetobatchnd", "batchtospacend", "spacetodepthnd", "depthtospacend",
    "global", "identity", "zero", "reserved1", "reserved2", "reserved3", "reserved4", "reserved5",
)
OP_INDEX = {name: i for i, name in enumerate(OPS)}
WEIGHTED = frozenset({"conv", "depthwise", "matmul"})

MAX_HW = 256.0  # resolution features are H/256, W/256, C/512
MAX_C = 512.0
KERNEL_SLOTS = 8  # kernel sizes are embedded; larger kernels are clamped to 7
