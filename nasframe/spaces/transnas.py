"""TransNAS-Bench-101: the cell-level (micro) and the macro-level search spaces.

Both spaces share one backbone family (``transnas_net``) and seven Taskonomy
tasks; an architecture is its official string.

* **micro** (4,096 cells): the skeleton ``64-41414`` with one cell searched,
  written ``64-41414-a_bc_def``: node 1 reads node 0 through op ``a``; node 2
  reads nodes 0, 1 through ``b``, ``c``; node 3 reads nodes 0, 1, 2 through
  ``d``, ``e``, ``f``. Ops: 0 none, 1 skip, 2 conv1x1, 3 conv3x3.
  Enumeration: product order of the op tuple ``(a, b, c, d, e, f)`` with ``f``
  varying fastest (index = the base-4 number ``abcdef``). This is the row
  order of ``tnb101_micro_final_val.csv`` and of NASLib's op tuples.
* **macro** (3,256 backbones): ``64-<modules>-basic``, 4 to 6 modules of two
  ResNet basic blocks each, module codes 1 normal, 2 channels x2,
  3 resolution /2, 4 both; 1 to 4 modules downsample ({3, 4}) and 1 to 3 raise
  the channels ({2, 4}). Enumeration: by number of modules, then by the module
  code read as a number (``64-1114-basic`` is index 0). The official API file
  keeps its own order; lookups always go through the string, never the index.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from nasframe.core.space import (Architecture, Buildable, Decision, Enumerable, Mutable, Relaxable,
                                 SearchSpace, Sequential, Tappable)
from nasframe.errors import ArchitectureError, ConfigError

# ------------------------------------------------------------------ tasks

# task -> (input shape without batch, output shape without batch), as trained in TransNAS-Bench-101:
# 256x256 RGB inputs; jigsaw sees 9 shuffled 64x64 tiles (a Siamese backbone); the dense tasks
# predict 256x256 maps.
TASKS = {
    "class_object": ((3, 256, 256), (75,)),
    "class_scene": ((3, 256, 256), (47,)),
    "room_layout": ((3, 256, 256), (9,)),
    "jigsaw": ((9, 3, 64, 64), (1000,)),
    "autoencoder": ((3, 256, 256), (3, 256, 256)),
    "normal": ((3, 256, 256), (3, 256, 256)),
    "segmentsemantic": ((3, 256, 256), (17, 256, 256)),
}


def resolve_task(task: str | None) -> str:
    name = (task or "").strip().lower().replace("-", "_")
    if name not in TASKS:
        raise ConfigError(f"unknown TransNAS-Bench-101 task '{task}'; set benchmark.task to one of "
                          f"{', '.join(TASKS)}")
    return name


class _TransNASBuildable(Buildable, Tappable):
    """``build``/``flops``/``params``/taps shared by both spaces (the network lives in ``transnas_net``)."""

    default_task = "class_scene"

    def build(self, arch, task: str | None = None):
        from nasframe.spaces.transnas_net import build_network

        return build_network(self.check(arch).backbone_code, resolve_task(task or self.default_task))

    def input_shape(self, task: str | None = None) -> tuple[int, ...]:
        return TASKS[resolve_task(task or self.default_task)][0]

    def output_shape(self, task: str | None = None) -> tuple[int, ...]:
        return TASKS[resolve_task(task or self.default_task)][1]

    def flops(self, arch, task: str | None = None) -> float:
        """MACs (millions) of one sample's forward pass, in the framework's default counting convention."""
        from nasframe.spaces.flops import count_flops

        return count_flops(self.build(arch, task), self.input_shape(task))

    def params(self, arch, task: str | None = None) -> float:
        net = self.build(arch, task)
        return sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6

    def backbone_taps(self, arch):
        from nasframe.spaces.transnas_net import backbone_taps

        return backbone_taps(self.check(arch).backbone_code)


def _split(text, space: str) -> list[str]:
    if not isinstance(text, str):
        raise ArchitectureError(f"a TransNAS {space} architecture string is expected, got {type(text).__name__}")
    return text.strip().split("-")


# ------------------------------------------------------------------ micro

MICRO_OPS = ("none", "skip_connect", "conv_1x1", "conv_3x3")
MICRO_EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from), in string order
MICRO_SKELETON = "41414"
N_MICRO = len(MICRO_OPS) ** len(MICRO_EDGES)
_MICRO_CELL = re.compile(r"^[0-3]_[0-3]{2}_[0-3]{3}$")


@dataclass(frozen=True)
class MicroArch(Architecture):
    ops: tuple[int, ...]

    def __str__(self) -> str:
        a, b, c, d, e, f = self.ops
        return f"64-{MICRO_SKELETON}-{a}_{b}{c}_{d}{e}{f}"

    @property
    def backbone_code(self) -> str:
        return str(self)


class TransNASMicroSpace(SearchSpace, Enumerable, Mutable, Sequential, Relaxable, _TransNASBuildable):
    name = "transnas_micro"
    ops = MICRO_OPS
    edges = MICRO_EDGES

    def sample(self, rng: np.random.Generator) -> MicroArch:
        return MicroArch(tuple(int(x) for x in rng.integers(len(MICRO_OPS), size=len(MICRO_EDGES))))

    def largest_backbone(self) -> MicroArch:
        return MicroArch((MICRO_OPS.index("conv_3x3"),) * len(MICRO_EDGES))  # 64-41414-3_33_333

    def parse(self, text: str) -> MicroArch:
        parts = _split(text, "micro")
        example = "like 64-41414-3_13_302"
        if len(parts) != 3:
            raise ArchitectureError(f"'{text}' is not a TransNAS micro string: expected three '-'-separated "
                                    f"parts, {example}")
        if parts[0] != "64":
            raise ArchitectureError(f"bad token '{parts[0]}' in '{text}': the base width is always 64")
        if parts[1] != MICRO_SKELETON:
            raise ArchitectureError(f"bad token '{parts[1]}' in '{text}': the micro skeleton is always "
                                    f"{MICRO_SKELETON} (for other skeletons use space=transnas_macro)")
        if not _MICRO_CELL.match(parts[2]):
            raise ArchitectureError(f"bad token '{parts[2]}' in '{text}': the cell is a_bc_def with ops 0-3 "
                                    f"(0 none, 1 skip, 2 conv1x1, 3 conv3x3), {example}")
        return MicroArch(tuple(int(ch) for ch in parts[2] if ch != "_"))

    def __contains__(self, arch) -> bool:
        return (isinstance(arch, MicroArch) and len(arch.ops) == len(MICRO_EDGES)
                and all(isinstance(o, int) and 0 <= o < len(MICRO_OPS) for o in arch.ops))

    # ------------------------------------------------------------ Enumerable (product order)

    def __len__(self) -> int:
        return N_MICRO

    def __getitem__(self, index: int) -> MicroArch:
        if not 0 <= index < N_MICRO:
            raise IndexError(f"TransNAS micro index {index} out of range [0, {N_MICRO})")
        ops = []
        for _ in MICRO_EDGES:
            index, r = divmod(int(index), len(MICRO_OPS))
            ops.append(r)
        return MicroArch(tuple(reversed(ops)))

    def index(self, arch: MicroArch) -> int:
        v = 0
        for o in arch.ops:
            v = v * len(MICRO_OPS) + o
        return v

    # ------------------------------------------------------------ Mutable

    def neighbors(self, arch: MicroArch) -> list[MicroArch]:
        return [MicroArch(arch.ops[:e] + (o,) + arch.ops[e + 1:])
                for e, cur in enumerate(arch.ops) for o in range(len(MICRO_OPS)) if o != cur]

    def mutate(self, arch: MicroArch, rng: np.random.Generator) -> MicroArch:
        # one random edge gets a different op (the TNB paper's REA mutation)
        e = int(rng.integers(len(MICRO_EDGES)))
        o = int(rng.integers(len(MICRO_OPS) - 1))
        o += o >= arch.ops[e]
        return MicroArch(arch.ops[:e] + (o,) + arch.ops[e + 1:])

    # ------------------------------------------------------------ Sequential

    def decisions(self) -> list[Decision]:
        return [Decision(f"edge_{t}<-{s}", MICRO_OPS) for t, s in MICRO_EDGES]

    def from_decisions(self, choices: Sequence[int]) -> MicroArch:
        choices = tuple(int(c) for c in choices)
        if len(choices) != len(MICRO_EDGES) or not all(0 <= c < len(MICRO_OPS) for c in choices):
            raise ArchitectureError(f"TransNAS micro needs {len(MICRO_EDGES)} choices in "
                                    f"[0, {len(MICRO_OPS)}), got {list(choices)}")
        return MicroArch(choices)

    def to_decisions(self, arch: MicroArch) -> list[int]:
        return list(arch.ops)

    # ------------------------------------------------------------ Relaxable

    def encode(self, arch: MicroArch) -> np.ndarray:
        """One-hot op matrix, one row per edge in string order (6 x 4)."""
        x = np.zeros((len(MICRO_EDGES), len(MICRO_OPS)), dtype=np.float32)
        x[np.arange(len(MICRO_EDGES)), arch.ops] = 1.0
        return x

    def project(self, x) -> MicroArch:
        x = _finite(x, (len(MICRO_EDGES), len(MICRO_OPS)), "micro")
        return MicroArch(tuple(int(i) for i in x.argmax(axis=1)))


# ------------------------------------------------------------------ macro

MODULE_TYPES = (1, 2, 3, 4)  # 1 normal, 2 channels x2, 3 resolution /2, 4 both
MODULE_NAMES = {1: "normal", 2: "channel_x2", 3: "resolution_/2", 4: "both"}
MIN_MODULES, MAX_MODULES = 4, 6
DOWNSAMPLE_RANGE = (1, 4)  # modules of type 3 or 4
WIDEN_RANGE = (1, 3)  # modules of type 2 or 4
END = 0  # the "end" option of the last two sequential positions
N_MACRO = 3256
_MACRO_CODE = re.compile(r"^[1-4]+$")


def macro_violation(modules: Sequence[int]) -> str | None:
    """Why a module list is not a macro backbone, or None if it is one."""
    n = len(modules)
    if not MIN_MODULES <= n <= MAX_MODULES:
        return f"it has {n} modules; a macro backbone has {MIN_MODULES} to {MAX_MODULES}"
    if any(m not in MODULE_TYPES for m in modules):
        return f"module codes must be 1-4, got {list(modules)}"
    down = sum(m in (3, 4) for m in modules)
    if not DOWNSAMPLE_RANGE[0] <= down <= DOWNSAMPLE_RANGE[1]:
        return (f"it downsamples {down} times (modules 3 or 4); the space allows "
                f"{DOWNSAMPLE_RANGE[0]} to {DOWNSAMPLE_RANGE[1]}")
    wide = sum(m in (2, 4) for m in modules)
    if not WIDEN_RANGE[0] <= wide <= WIDEN_RANGE[1]:
        return (f"it doubles the channels {wide} times (modules 2 or 4); the space allows "
                f"{WIDEN_RANGE[0]} to {WIDEN_RANGE[1]}")
    return None


@dataclass(frozen=True)
class MacroArch(Architecture):
    modules: tuple[int, ...]

    def __str__(self) -> str:
        return f"64-{''.join(map(str, self.modules))}-basic"

    @property
    def backbone_code(self) -> str:
        return str(self)


def _finite(x, shape, space: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.size != int(np.prod(shape)):
        raise ArchitectureError(f"a TransNAS {space} encoding has shape {shape}, got {x.shape}")
    if not np.isfinite(x).all():
        raise ArchitectureError(f"a TransNAS {space} encoding must be finite; it holds NaN or inf")
    return x.reshape(shape)


class TransNASMacroSpace(SearchSpace, Enumerable, Mutable, Sequential, Relaxable, _TransNASBuildable):
    name = "transnas_macro"

    @cached_property
    def _archs(self) -> tuple[MacroArch, ...]:
        out = [MacroArch(c) for n in range(MIN_MODULES, MAX_MODULES + 1)
               for c in itertools.product(MODULE_TYPES, repeat=n) if macro_violation(c) is None]
        assert len(out) == N_MACRO, len(out)
        return tuple(out)

    @cached_property
    def _rank(self) -> dict:
        return {a: i for i, a in enumerate(self._archs)}

    @cached_property
    def _encodings(self) -> np.ndarray:
        return np.stack([self.encode(a).ravel() for a in self._archs])

    # ------------------------------------------------------------ core

    def sample(self, rng: np.random.Generator) -> MacroArch:
        # uniform over the 3,256 backbones (not over lengths)
        return self._archs[int(rng.integers(N_MACRO))]

    def parse(self, text: str) -> MacroArch:
        parts = _split(text, "macro")
        example = "like 64-41414-basic or 64-1234-basic"
        if len(parts) != 3:
            raise ArchitectureError(f"'{text}' is not a TransNAS macro string: expected three '-'-separated "
                                    f"parts, {example}")
        if parts[0] != "64":
            raise ArchitectureError(f"bad token '{parts[0]}' in '{text}': the base width is always 64")
        if parts[2] != "basic":
            raise ArchitectureError(f"bad token '{parts[2]}' in '{text}': macro backbones end in '-basic' "
                                    f"(cells like 0_00_000 belong to space=transnas_micro)")
        if not _MACRO_CODE.match(parts[1]):
            raise ArchitectureError(f"bad token '{parts[1]}' in '{text}': module codes are digits 1-4 "
                                    f"(1 normal, 2 channels x2, 3 resolution /2, 4 both)")
        modules = tuple(int(ch) for ch in parts[1])
        why = macro_violation(modules)
        if why:
            raise ArchitectureError(f"bad token '{parts[1]}' in '{text}': {why}")
        return MacroArch(modules)

    def __contains__(self, arch) -> bool:
        return (isinstance(arch, MacroArch) and all(isinstance(m, int) for m in arch.modules)
                and macro_violation(arch.modules) is None)

    # ------------------------------------------------------------ Enumerable

    def __len__(self) -> int:
        return N_MACRO

    def __getitem__(self, index: int) -> MacroArch:
        if not 0 <= index < N_MACRO:
            raise IndexError(f"TransNAS macro index {index} out of range [0, {N_MACRO})")
        return self._archs[index]

    def index(self, arch: MacroArch) -> int:
        try:
            return self._rank[arch]
        except KeyError:
            raise ArchitectureError(f"{arch} is not an architecture of space 'transnas_macro'") from None

    # ------------------------------------------------------------ Mutable

    def _moves(self, arch: MacroArch) -> dict[str, list[MacroArch]]:
        """Valid results of each kind of move: add, delete or change one module."""
        m = arch.modules
        add = {m[:i] + (t,) + m[i:] for i in range(len(m) + 1) for t in MODULE_TYPES}
        delete = {m[:i] + m[i + 1:] for i in range(len(m))}
        change = {m[:i] + (t,) + m[i + 1:] for i in range(len(m)) for t in MODULE_TYPES if t != m[i]}
        out = {}
        for kind, cands in (("add", add), ("delete", delete), ("change", change)):
            valid = sorted(c for c in cands if c != m and macro_violation(c) is None)
            if valid:
                out[kind] = [MacroArch(c) for c in valid]
        return out

    def neighbors(self, arch: MacroArch) -> list[MacroArch]:
        seen = {}
        for cands in self._moves(arch).values():
            for a in cands:
                seen.setdefault(a, None)
        return list(seen)

    def mutate(self, arch: MacroArch, rng: np.random.Generator) -> MacroArch:
        # the paper's move: randomly add, delete or change a module; a kind with no valid
        # result for this backbone (e.g. add at 6 modules) is not drawn
        moves = self._moves(arch)
        kinds = sorted(moves)
        cands = moves[kinds[int(rng.integers(len(kinds)))]]
        return cands[int(rng.integers(len(cands)))]

    # ------------------------------------------------------------ Sequential

    def decisions(self) -> list[Decision]:
        """Six positions: the first four pick a module type, the last two a type or "end"."""
        types = tuple(MODULE_NAMES[t] for t in MODULE_TYPES)
        return ([Decision(f"module_{i + 1}", types) for i in range(MIN_MODULES)]
                + [Decision(f"module_{i + 1}", ("end", *types)) for i in range(MIN_MODULES, MAX_MODULES)])

    def from_decisions(self, choices: Sequence[int]) -> MacroArch:
        """Decode; positions after an "end" are ignored. Rejects counts the space does not allow."""
        choices = [int(c) for c in choices]
        if len(choices) != MAX_MODULES:
            raise ArchitectureError(f"TransNAS macro needs {MAX_MODULES} choices, got {len(choices)}")
        modules = []
        for i, c in enumerate(choices):
            if i < MIN_MODULES:
                if not 0 <= c < len(MODULE_TYPES):
                    raise ArchitectureError(f"choice {i + 1} must be in [0, {len(MODULE_TYPES)}), got {c}")
                modules.append(MODULE_TYPES[c])
            else:
                if not 0 <= c <= len(MODULE_TYPES):
                    raise ArchitectureError(f"choice {i + 1} must be in [0, {len(MODULE_TYPES) + 1}), got {c}")
                if c == END:
                    break
                modules.append(MODULE_TYPES[c - 1])
        why = macro_violation(modules)
        if why:
            raise ArchitectureError(f"decisions {choices} give 64-{''.join(map(str, modules))}-basic, "
                                    f"which is not in the space: {why}")
        return MacroArch(tuple(modules))

    def to_decisions(self, arch: MacroArch) -> list[int]:
        m = arch.modules
        return ([MODULE_TYPES.index(t) for t in m[:MIN_MODULES]]
                + [MODULE_TYPES.index(t) + 1 for t in m[MIN_MODULES:]] + [END] * (MAX_MODULES - len(m)))

    # ------------------------------------------------------------ Relaxable

    def encode(self, arch: MacroArch) -> np.ndarray:
        """One-hot matrix, one row per position (6 x 5); column 0 is "end", columns 1-4 the module types."""
        x = np.zeros((MAX_MODULES, 1 + len(MODULE_TYPES)), dtype=np.float32)
        for i in range(MAX_MODULES):
            x[i, arch.modules[i] if i < len(arch.modules) else END] = 1.0
        return x

    def project(self, x) -> MacroArch:
        """The valid backbone whose encoding scores highest against ``x`` (sum of its chosen entries).

        For a one-hot encoding of a valid backbone that backbone is the unique best; for any
        other real matrix this is the nearest valid backbone in the sense of the row-wise
        argmax relaxed to the space's constraints (ties: lowest index).
        """
        x = _finite(x, (MAX_MODULES, 1 + len(MODULE_TYPES)), "macro")
        return self._archs[int(np.argmax(self._encodings @ x.ravel()))]


__all__ = ["TASKS", "resolve_task", "MicroArch", "MacroArch", "TransNASMicroSpace", "TransNASMacroSpace",
           "macro_violation", "MICRO_OPS", "MODULE_TYPES"]
