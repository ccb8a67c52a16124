"""Turn any ``nn.Module`` into a computational graph of primitive operations (torch.fx).

Known layers (convolutions, linear, norms, activations, pools, and the zero /
identity ops of benchmark cells) stay whole; any other module is traced
through, so new bodies and task heads need no registration. Shapes come from
running the traced graph once with convolutions and linear layers replaced by
their shape formula (the arithmetic of the rest is cheap), so extracting a
graph costs milliseconds even at TransNAS-Bench's 256x256 inputs.
"""
from __future__ import annotations

import inspect
import logging
import operator
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.experimental.meta_tracer import MetaProxy, MetaTracer

from nasframe.graphs.vocab import KERNEL_SLOTS, MAX_C, MAX_HW, OP_INDEX, WEIGHTED
from nasframe.spaces.flops import layer_macs

log = logging.getLogger(__name__)

REMOVE = "<remove>"  # a value-preserving node (reshape, dropout, ...): bypassed, edges reconnected
HARDSWISH = "<hardswish>"  # x * relu6(x + 3) / 6 -> relu6 -> mul, as the TF graphs show it
BINARY = {"add", "mul", "concat"}  # kept only with two or more tensor inputs

# Module classes by exact type; subclasses are resolved through their MRO.
MODULE_OPS: dict[type, str] = {
    nn.Linear: "matmul",
    nn.BatchNorm1d: "batchnorm", nn.BatchNorm2d: "batchnorm", nn.BatchNorm3d: "batchnorm",
    nn.GroupNorm: "batchnorm", nn.LayerNorm: "batchnorm", nn.InstanceNorm2d: "batchnorm",
    nn.ReLU: "relu", nn.LeakyReLU: "relu", nn.ReLU6: "relu6", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
    nn.GELU: "gelu", nn.SiLU: "swish", nn.Hardswish: HARDSWISH, nn.Hardsigmoid: "relu6",
    nn.MaxPool1d: "maxpool", nn.MaxPool2d: "maxpool", nn.AdaptiveMaxPool2d: "maxpool",
    nn.AvgPool1d: "avgpool", nn.AvgPool2d: "avgpool",
    nn.Identity: "identity", nn.Upsample: "identity", nn.UpsamplingBilinear2d: "identity",
    nn.UpsamplingNearest2d: "identity",
    nn.ZeroPad2d: "paddings", nn.ConstantPad2d: "paddings", nn.ReflectionPad2d: "paddings",
    nn.Dropout: REMOVE, nn.Dropout2d: REMOVE, nn.Flatten: REMOVE, nn.Unflatten: REMOVE,
}
# Benchmark op classes recognised by name, so spaces need not import this module.
NAMED_OPS = {"zero": "zero", "zeroize": "zero", "zeroop": "zero", "none": "zero",
             "skip": "identity", "skipconnect": "identity", "identityop": "identity"}

FUNCTION_OPS = {
    operator.add: "add", operator.iadd: "add", torch.add: "add", operator.sub: "add", torch.sub: "add",
    operator.mul: "mul", operator.imul: "mul", torch.mul: "mul", operator.truediv: "mul", torch.div: "mul",
    torch.cat: "concat", torch.concat: "concat", torch.stack: "concat",
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.leaky_relu: "relu",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh", F.gelu: "gelu",
    F.silu: "swish", F.hardswish: HARDSWISH, F.hardsigmoid: "relu6",
    F.max_pool2d: "maxpool", F.avg_pool2d: "avgpool", F.adaptive_max_pool2d: "maxpool",
    torch.mean: "mean", F.interpolate: "identity", F.pad: "paddings",
    torch.flatten: REMOVE, torch.reshape: REMOVE, operator.getitem: REMOVE, getattr: REMOVE,
    torch.squeeze: REMOVE, torch.unsqueeze: REMOVE, torch.transpose: REMOVE, torch.permute: REMOVE,
    F.dropout: REMOVE, torch.clone: REMOVE, F.batch_norm: "batchnorm",
}
METHOD_OPS = {
    "relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "mean": "mean",
    "add": "add", "add_": "add", "sub": "add", "mul": "mul", "mul_": "mul", "div": "mul",
    "view": REMOVE, "reshape": REMOVE, "flatten": REMOVE, "size": REMOVE, "permute": REMOVE,
    "transpose": REMOVE, "contiguous": REMOVE, "squeeze": REMOVE, "unsqueeze": REMOVE,
    "clone": REMOVE, "expand": REMOVE, "expand_as": REMOVE, "chunk": REMOVE, "split": REMOVE,
    "float": REMOVE, "to": REMOVE, "detach": REMOVE, "dim": REMOVE,
}


def module_op(m: nn.Module) -> str | None:
    """The graph op a module becomes, or None to trace through it."""
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return "depthwise" if m.groups > 1 and m.groups == m.in_channels else "conv"
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        return "conv"
    if isinstance(m, nn.AdaptiveAvgPool2d):
        size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size,) * 2
        return "mean" if tuple(size) == (1, 1) else "avgpool"
    for cls in type(m).__mro__:
        if cls in MODULE_OPS:
            return MODULE_OPS[cls]
    return NAMED_OPS.get(type(m).__name__.lower().replace("_", ""))


@dataclass(eq=False)
class ComputeGraph:
    """A DAG of primitive ops; weighted nodes (conv, depthwise, matmul) come first.

    ``res`` is (H_in, H_out, W_in, W_out, C_in, C_out) normalised by 256/512;
    ``kernel`` and ``bias`` are meaningful for the first ``n_weighted`` nodes
    only (zeros elsewhere); ``edges`` are sorted (src, dst) pairs in data-flow
    direction; ``flops`` are multiply-accumulates of the whole network in
    millions, the unit of ``Buildable.flops``.
    """

    ops: np.ndarray  # (n,) int64 vocabulary indices
    res: np.ndarray  # (n, 6) float32
    kernel: np.ndarray  # (n, 2) int64
    bias: np.ndarray  # (n,) int64, 1 = has bias
    edges: np.ndarray  # (E, 2) int64
    n_weighted: int
    flops: float
    name: str = ""

    @property
    def n_nodes(self) -> int:
        return len(self.ops)

    @property
    def gflops(self) -> float:
        return self.flops / 1e3

    def op_counts(self) -> dict[str, int]:
        from nasframe.graphs.vocab import OPS

        names, counts = np.unique(self.ops, return_counts=True)
        return {OPS[int(i)]: int(c) for i, c in zip(names, counts)}

    def same_as(self, other: "ComputeGraph") -> bool:
        """Identical structure, features and FLOPs (names may differ)."""
        return (self.n_weighted == other.n_weighted and self.flops == other.flops
                and all(np.array_equal(getattr(self, k), getattr(other, k))
                        for k in ("ops", "res", "kernel", "bias", "edges")))

    def to_networkx(self):
        import networkx as nx
        from nasframe.graphs.vocab import OPS

        g = nx.DiGraph()
        for i, op in enumerate(self.ops):
            g.add_node(i, op=OPS[int(op)])
        g.add_edges_from(map(tuple, self.edges.tolist()))
        return g


class _Node:
    __slots__ = ("op", "parents", "shape_in", "shape_out", "kernel", "bias", "macs")

    def __init__(self, op, parents, shape_in, shape_out, kernel=(0, 0), bias=0, macs=0.0):
        self.op, self.parents = op, list(dict.fromkeys(parents))
        self.shape_in, self.shape_out = shape_in, shape_out
        self.kernel, self.bias, self.macs = kernel, bias, macs


def _flat_nodes(args) -> list[fx.Node]:
    out = []
    for a in args:
        if isinstance(a, fx.Node):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(_flat_nodes(a))
        elif isinstance(a, dict):
            out.extend(_flat_nodes(list(a.values())))
    return out


def _shape(node: fx.Node):
    return node.meta.get("nasframe_shape")


def _conv_out(m: nn.Module, shape) -> tuple[int, ...]:
    spatial = shape[2:]
    n = len(spatial)

    def tup(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n

    k, s, d = tup(m.kernel_size), tup(m.stride), tup(m.dilation)
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        p, op = tup(m.padding), tup(m.output_padding)
        out = [(i - 1) * s_ - 2 * p_ + d_ * (k_ - 1) + o_ + 1 for i, k_, s_, p_, d_, o_ in zip(spatial, k, s, p, d, op)]
    elif m.padding == "same":
        out = list(spatial)
    else:
        p = (0,) * n if m.padding == "valid" else tup(m.padding)
        out = [(i + 2 * p_ - d_ * (k_ - 1) - 1) // s_ + 1 for i, k_, s_, p_, d_ in zip(spatial, k, s, p, d)]
    return (shape[0], m.out_channels, *out)


def _pool_out(m: nn.Module, shape) -> tuple[int, ...]:
    def tup(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * 2

    k, p = tup(m.kernel_size), tup(m.padding)
    s = tup(m.stride if m.stride is not None else m.kernel_size)
    d = tup(getattr(m, "dilation", 1))
    out = [(i + 2 * p_ - d_ * (k_ - 1) - 1) // s_ + 1 for i, k_, s_, p_, d_ in zip(shape[2:], k, s, p, d)]
    return (*shape[:2], *out)


# Layers whose output has their input's shape: the shape run skips their arithmetic.
_SAME_SHAPE = {nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d,
               nn.ReLU, nn.LeakyReLU, nn.ReLU6, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU, nn.Hardswish,
               nn.Hardsigmoid, nn.Identity, nn.Dropout, nn.Dropout2d}


def _fast_output(m: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """The output of a known layer as an empty tensor of the right shape (no arithmetic), else None."""
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
        return x.new_empty(_conv_out(m, tuple(x.shape)))
    if isinstance(m, nn.Linear):
        return x.new_empty((*x.shape[:-1], m.out_features))
    if type(m) in _SAME_SHAPE:
        return x.new_empty(x.shape)
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) and not getattr(m, "ceil_mode", False):
        return x.new_empty(_pool_out(m, tuple(x.shape)))
    if isinstance(m, nn.AdaptiveAvgPool2d):
        size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size,) * 2
        size = tuple(x.shape[2 + i] if v is None else v for i, v in enumerate(size))
        return x.new_empty((*x.shape[:2], *size))
    return None


class _FastTracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return module_op(m) is not None


class _ShapeRun(fx.Interpreter):
    """Runs a traced graph once to learn every value's shape; known layers return
    an empty tensor of their output shape instead of computing."""

    def run_node(self, n):
        out = super().run_node(n)
        if isinstance(out, torch.Tensor):
            n.meta["nasframe_shape"] = tuple(int(v) for v in out.shape)
        return out

    def call_module(self, target, args, kwargs):
        x = args[0] if args else None
        if isinstance(x, torch.Tensor):
            out = _fast_output(self.fetch_attr(target), x)
            if out is not None:
                return out
        return super().call_module(target, args, kwargs)


class _Tracer(MetaTracer):
    """fx tracing that carries meta tensors, so shape-dependent Python (``x.shape[1]``,
    ``if x.dim() != 5``) runs concretely; known layers get their output shape from
    a formula instead of a meta kernel."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return module_op(m) is not None

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        fast = None
        if kind == "call_module" and args and isinstance(args[0], MetaProxy) and hasattr(args[0], "_tensor_meta"):
            fast = _fast_output(self.root.get_submodule(target), args[0]._tensor_meta)
        if fast is not None:
            rv = fx.Tracer.create_proxy(self, kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
            rv.install_tensor_meta(fast)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rv = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        meta = getattr(rv, "_tensor_meta", None)
        if isinstance(meta, torch.Tensor):
            rv.node.meta["nasframe_shape"] = tuple(int(v) for v in meta.shape)
        return rv


def _hwc(shape) -> tuple[int, int, int]:
    if shape is None or len(shape) == 0:
        return (1, 1, 1)
    if len(shape) == 1:
        return (1, 1, shape[0])
    if len(shape) == 2:
        return (1, 1, shape[1])
    if len(shape) == 3:
        return (shape[2], 1, shape[1])
    return (shape[-2], shape[-1], shape[1])


def _weighted_info(m: nn.Module, op: str, shape_in, shape_out):
    """Kernel, bias flag and multiply-accumulates (the framework counter's) of a weighted layer."""
    bias = int(getattr(m, "bias", None) is not None)
    macs = float(layer_macs(m, shape_in, shape_out))
    if op == "matmul":
        return (0, 0), bias, macs
    k = tuple(m.kernel_size) + (1,) * (2 - len(m.kernel_size))
    kernel = tuple(min(int(s), KERNEL_SLOTS - 1) for s in k[:2])
    if max(k) >= KERNEL_SLOTS:
        log.warning("kernel %s clamped to %d for the kernel embedding", k, KERNEL_SLOTS - 1)
    return kernel, bias, macs


def trace(module: nn.Module, input_shape) -> fx.Graph:
    """The fx graph of ``module`` on one input of ``input_shape``, every value's shape
    in ``node.meta["nasframe_shape"]``; known layers stay whole.

    Plain symbolic tracing plus one cheap shape run is tried first; a forward
    whose Python depends on shapes (``for i in range(x.shape[1])``) is traced
    again with meta tensors, which is slower but handles it.
    """
    try:
        graph = _FastTracer().trace(module)
    except Exception:  # fx cannot follow shape-dependent control flow symbolically
        arg = next(iter(inspect.signature(module.forward).parameters))
        return _Tracer().trace(module, meta_args={arg: torch.empty((1, *input_shape), device="meta")})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many tiny ops: threads only add overhead
    try:
        # CPU tensors even for a network built on the meta device: the layers that own
        # weights are answered by formulas, and CPU arithmetic on the rest is faster
        # than meta kernels. Should something need the weights' device, run on it.
        with torch.no_grad():
            try:
                _ShapeRun(module, graph=graph).run(torch.zeros((1, *input_shape)))
            except Exception:
                device = next((p.device for p in module.parameters()), torch.device("cpu"))
                if device.type == "cpu":
                    raise
                _ShapeRun(module, graph=graph).run(torch.zeros((1, *input_shape), device=device))
    finally:
        torch.set_num_threads(threads)
    return graph


def extract(module: nn.Module, input_shape, name: str = "") -> ComputeGraph:
    """The computational graph of ``module`` run on one input of ``input_shape`` (C, H, W)."""
    was_training = module.training
    module.eval()
    try:
        graph = trace(module, input_shape)
    finally:
        module.train(was_training)
    return _graph_from_fx(module, graph, name)


def _graph_from_fx(root: nn.Module, graph: fx.Graph, name: str) -> ComputeGraph:
    nodes: list[_Node] = []
    prod: dict[fx.Node, tuple[int, ...]] = {}  # fx value -> graph nodes producing it
    oov: set[str] = set()

    def add(op, parents, shape_in, shape_out, **kw) -> int:
        nodes.append(_Node(op, parents, shape_in, shape_out, **kw))
        return len(nodes) - 1

    for n in graph.nodes:
        if n.op == "placeholder":
            shape = _shape(n)
            prod[n] = (add("input", [], shape, shape),)
            continue
        if n.op == "get_attr":
            prod[n] = ()
            continue
        inputs = [a for a in _flat_nodes((n.args, n.kwargs)) if prod.get(a)]
        parents = [p for a in inputs for p in prod[a]]
        shape_in = _shape(inputs[0]) if inputs else None
        if n.op == "output":
            last = _shape(inputs[0]) if inputs else None
            add("output", parents, last, last)
            continue
        module = None
        if n.op == "call_module":
            module = root.get_submodule(n.target)
            op = module_op(module)
        elif n.op == "call_function":
            op = FUNCTION_OPS.get(n.target)
            if n.target is torch.mean or n.target is F.adaptive_avg_pool2d:
                op = "mean"
        else:
            op = METHOD_OPS.get(n.target)
        if op is None:
            oov.add(f"{n.op}:{getattr(n.target, '__name__', n.target)}")
            op = "<oov>"
        if not parents:  # a computation on constants only (shapes, buffers)
            prod[n] = ()
            continue
        if op == "mul" and len(inputs) == 1 and any(isinstance(a, (int, float)) and a == 0 for a in n.args):
            op = "zero"  # x * 0: a zero op written inline (a cell node with only 'none' inputs)
        if op == REMOVE or (op in BINARY and len(inputs) < 2):
            prod[n] = tuple(dict.fromkeys(parents))
            continue
        shape_out = _shape(n)
        if op == HARDSWISH:
            r6 = add("relu6", parents, shape_in, shape_out)
            prod[n] = (add("mul", parents + [r6], shape_in, shape_out),)
        elif op in WEIGHTED:
            kernel, bias, macs = _weighted_info(module, op, shape_in, shape_out)
            prod[n] = (add(op, parents, shape_in, shape_out, kernel=kernel, bias=bias, macs=macs),)
        else:
            prod[n] = (add(op, parents, shape_in, shape_out),)
    if oov:
        log.warning("graph %s: operations outside the vocabulary became <oov>: %s", name, ", ".join(sorted(oov)))
    _merge_add_chains(nodes)
    return _finalise(nodes, name)


def _merge_add_chains(nodes: list[_Node]) -> None:
    """``a + b + c`` traces as two adds; fold an add whose only reader is an add (one AddN, as in TF)."""
    children: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    for i, nd in enumerate(nodes):
        for p in nd.parents:
            children[p].append(i)
    for i, nd in enumerate(nodes):
        if nd.op == "add" and len(children[i]) == 1 and nodes[children[i][0]].op == "add":
            c = children[i][0]
            rest = [p for p in nodes[c].parents if p != i]
            nodes[c].parents = list(dict.fromkeys(nd.parents + rest))
            for p in nd.parents:
                children[p] = [c if x == i else x for x in children[p]]
            nd.op = None  # dropped


def _finalise(nodes: list[_Node], name: str) -> ComputeGraph:
    alive = [i for i, nd in enumerate(nodes) if nd.op is not None]
    order = [i for i in alive if nodes[i].op in WEIGHTED] + [i for i in alive if nodes[i].op not in WEIGHTED]
    new = {old: k for k, old in enumerate(order)}
    n = len(order)
    ops = np.zeros(n, dtype=np.int64)
    res = np.zeros((n, 6), dtype=np.float32)
    kernel = np.zeros((n, 2), dtype=np.int64)
    bias = np.zeros(n, dtype=np.int64)
    edges = []
    flops = 0.0
    for k, old in enumerate(order):
        nd = nodes[old]
        ops[k] = OP_INDEX[nd.op]
        hi, wi, ci = _hwc(nd.shape_in)
        ho, wo, co = _hwc(nd.shape_out)
        res[k] = (hi / MAX_HW, ho / MAX_HW, wi / MAX_HW, wo / MAX_HW, ci / MAX_C, co / MAX_C)
        kernel[k] = nd.kernel
        bias[k] = nd.bias
        flops += nd.macs
        edges.extend((new[p], k) for p in nd.parents)
    edges = np.array(sorted(set(edges)), dtype=np.int64).reshape(-1, 2)
    if res.size and (res.min() < 0 or res.max() > 10):
        log.warning("graph %s: resolution features outside [0, 10]", name)
    n_weighted = int(sum(nodes[i].op in WEIGHTED for i in order))
    return ComputeGraph(ops, res, kernel, bias, edges, n_weighted, flops / 1e6, name)
