"""The framework's one complexity counter: multiply-accumulates (MACs) of one
forward pass on one input, measured with forward hooks on the leaf modules of
any ``nn.Module``.

Every space, Eproxy's MACs term and AIO-P's FLOPs labels go through this module
so that numbers (and normalisation constants computed from them) are comparable.
As in most of the NAS literature (NAS-Bench-201, ptflops, thop) the result is
called "FLOPs" although one multiply-add counts once.

Papers count different things, so the counter has named conventions. Each one
says, per leaf-module type, what one call costs (x = input, y = output, numel =
elements of the whole tensor, per sample):

``"macs"`` (default; what the NAS-Bench-201 / NATS-Bench API reports, computed
by the AutoDL ``get_model_infos`` counter)
    Conv1d/2d/3d: prod(kernel) * C_in/groups * C_out * prod(y spatial), plus
    numel(y) when the conv has a bias; ConvTranspose: prod(kernel) * C_in *
    C_out/groups * prod(x spatial) (+ bias as above); Linear: in_features *
    numel(y) (+ numel(y) for a bias). Nothing else: normalisation,
    activations and pooling are free.

``"ptflops"`` (the module hooks of ptflops' default pytorch backend; the Eproxy
reference used ptflops, methods.md §1.4)
    "macs", plus BatchNorm/InstanceNorm/GroupNorm/LayerNorm numel(x) (x2 when
    affine), ReLU/ReLU6/PReLU/ELU/LeakyReLU/GELU numel(y), every Avg/Max pool
    (adaptive or not, 1-3d) numel(x), Upsample numel(y). Checked equal to
    ptflops 0.7.5 ``get_model_complexity_info(..., backend="pytorch",
    backend_specific_config={"count_functional": False})`` on NB201 networks.
    With its default ``count_functional=True`` ptflops also counts functional
    and tensor ops (``F.relu``, ``torch.add``, ...; +0.5 to +0.8 M on NB201
    networks, from the cell sums); those are not counted here.

``"torchstat"`` (tensorwatch's ``ModelStats.Flops``, the torchstat counter; the
``flops`` column of NAS-Bench-Suite-Zero / NASLib, e.g. ``nb201_zc_proxies.csv``)
    Conv2d as in "macs" (bias included); Linear in_features * out_features per
    row, *no* bias; BatchNorm2d numel(x) (x2 when affine); ReLU/ReLU6/PReLU/
    ELU/LeakyReLU numel(x); AvgPool2d/MaxPool2d prod(kernel) * numel(y);
    AdaptiveAvg/MaxPool2d: for every output cell (h_end - h_start + 1) *
    (w_end - w_start + 1) input elements per channel (torchstat's formula, one
    row and column more than the window); Upsample numel(y).

In every convention: anything done by functions rather than modules
(``torch.add``, the sums of cell inputs, ``F.relu``, reshapes) is free, modules
that are built but never called cost nothing, and a module called several
times is counted at every call.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from nasframe.errors import ConfigError
from nasframe.torchutil import torch_threads

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_POOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
_ADAPTIVE_POOL = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                  nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_NORM = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm, nn.LayerNorm)
_PTFLOPS_ACT = (nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6, nn.GELU)
_TORCHSTAT_ACT = (nn.ReLU, nn.ReLU6, nn.PReLU, nn.ELU, nn.LeakyReLU)


def layer_macs(m: nn.Module, in_shape: Sequence[int], out_shape: Sequence[int]) -> int:
    """The "macs" convention for one call of a convolution or linear layer, from its input and
    output shapes (batch first); 0 for any other module. ``profile_macs`` and the computational
    graphs of ``nasframe.graphs`` both count through this."""
    bias = math.prod(out_shape) if getattr(m, "bias", None) is not None else 0
    if isinstance(m, _CONV_T):
        return math.prod(m.kernel_size) * m.in_channels * (m.out_channels // m.groups) * math.prod(
            in_shape[2:]) * out_shape[0] + bias
    if isinstance(m, _CONV):
        return math.prod(m.kernel_size) * (m.in_channels // m.groups) * m.out_channels * math.prod(
            out_shape[2:]) * out_shape[0] + bias
    if isinstance(m, nn.Linear):
        return m.in_features * math.prod(out_shape) + bias
    return 0


def _norm_ops(m: nn.Module, x: torch.Tensor) -> int:
    affine = getattr(m, "affine", getattr(m, "elementwise_affine", False))
    return x.numel() * (2 if affine else 1)


def _macs(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    return layer_macs(m, x.shape, y.shape)


def _ptflops(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    if isinstance(m, _NORM):
        return _norm_ops(m, x)
    if isinstance(m, _PTFLOPS_ACT) or isinstance(m, nn.Upsample):
        return y.numel()
    if isinstance(m, _POOL + _ADAPTIVE_POOL):
        return x.numel()
    return _macs(m, x, y)


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _torchstat(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    if isinstance(m, nn.Conv2d):
        return layer_macs(m, x.shape, y.shape)
    if isinstance(m, nn.Linear):
        return m.in_features * y.numel()  # torchstat leaves the bias out
    if isinstance(m, nn.BatchNorm2d):
        return _norm_ops(m, x)
    if isinstance(m, _TORCHSTAT_ACT):
        return x.numel()
    if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
        return math.prod(_pair(m.kernel_size)) * y.numel()
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        (h, w), (oh, ow) = x.shape[2:], y.shape[2:]
        rows = sum(math.ceil((i + 1) * h / oh) - math.floor(i * h / oh) + 1 for i in range(oh))
        cols = sum(math.ceil((j + 1) * w / ow) - math.floor(j * w / ow) + 1 for j in range(ow))
        return x.shape[0] * x.shape[1] * rows * cols
    if isinstance(m, nn.Upsample):
        return y.numel()
    return 0


CONVENTIONS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], int]] = {
    "macs": _macs,
    "ptflops": _ptflops,
    "torchstat": _torchstat,
}


def _rule(convention: str):
    if convention not in CONVENTIONS:
        raise ConfigError(f"unknown FLOP counting convention '{convention}'; choose one of "
                          f"{', '.join(CONVENTIONS)}")
    return CONVENTIONS[convention]


def profile_macs(module: nn.Module, input_shape: Sequence[int], convention: str = "macs") -> dict[str, int]:
    """Exact MACs of one forward pass on one input, per leaf module (by qualified name).

    ``input_shape`` excludes the batch dimension, e.g. ``(3, 32, 32)``. The
    network runs once on zeros in eval mode, without gradients and on one
    thread (so BN uses its running statistics and never sees a batch of one);
    training flags and the thread count are restored afterwards. Leaf modules
    that cost nothing are left out.
    """
    rule = _rule(convention)
    names = {m: name for name, m in module.named_modules() if not any(True for _ in m.children())}
    counts: dict[str, int] = {}

    def hook(m, inputs, output):
        x = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else output
        n = int(rule(m, x, output))
        if n:
            counts[names[m]] = counts.get(names[m], 0) + n

    handles = [m.register_forward_hook(hook) for m in names]
    modes = {m: m.training for m in module.modules()}
    # One sample through a small net: intra-op threads only add overhead, and on a
    # busy machine they made this forward pass 30x slower.
    try:
        p = next(module.parameters(), None)
        x = torch.zeros((1, *input_shape), dtype=p.dtype if p is not None else torch.float32,
                        device=p.device if p is not None else None)
        module.eval()
        with torch.no_grad(), torch_threads(1):
            module(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return counts


def count_macs(module: nn.Module, input_shape: Sequence[int], convention: str = "macs") -> int:
    """Exact MACs of one forward pass on one input, in the given convention."""
    return sum(profile_macs(module, input_shape, convention).values())


def count_flops(module: nn.Module, input_shape: Sequence[int], convention: str = "macs") -> float:
    """``count_macs`` in millions: what ``Buildable.flops`` returns."""
    return count_macs(module, input_shape, convention) / 1e6


__all__ = ["CONVENTIONS", "layer_macs", "profile_macs", "count_macs", "count_flops"]
