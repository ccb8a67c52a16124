"""Search spaces: the core interface and its optional capabilities.

A space only has to sample, parse and test membership. Strategies and
evaluators that need more declare it through the capability mixins below
(``requires = (Mutable,)`` etc.), and the runner checks them before a search
starts.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from nasframe.errors import ArchitectureError


class Architecture(abc.ABC):
    """An immutable, hashable point of a search space.

    Subclasses are frozen dataclasses holding plain Python values (tuples of
    ints, ...). ``str(arch)`` is the canonical string and
    ``space.parse(str(arch)) == arch`` always holds. No network lives here:
    networks are built on demand by ``Buildable.build``.
    """

    __slots__ = ()

    @abc.abstractmethod
    def __str__(self) -> str: ...


class SearchSpace(abc.ABC):
    """The core of every space: sample, parse, membership."""

    name: str = "space"

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Architecture:
        """Draw one architecture (uniformly where the space allows it)."""

    @abc.abstractmethod
    def parse(self, text: str) -> Architecture:
        """Parse the canonical string; raise ``ArchitectureError`` naming the bad token."""

    @abc.abstractmethod
    def __contains__(self, arch: object) -> bool: ...

    def capabilities(self) -> list[str]:
        return [c.__name__ for c in CAPABILITIES if isinstance(self, c)]

    def check(self, arch: Architecture) -> Architecture:
        if arch not in self:
            raise ArchitectureError(f"{arch!s} is not an architecture of space '{self.name}'")
        return arch


# ---------------------------------------------------------------- capabilities


class Enumerable(abc.ABC):
    """A finite space with a fixed order (the benchmark's official index)."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __getitem__(self, index: int) -> Architecture: ...

    @abc.abstractmethod
    def index(self, arch: Architecture) -> int: ...

    def __iter__(self) -> Iterator[Architecture]:
        for i in range(len(self)):
            yield self[i]


class Mutable(abc.ABC):
    """Local moves, for evolution and local search."""

    @abc.abstractmethod
    def neighbors(self, arch: Architecture) -> list[Architecture]:
        """All architectures one mutation away (never ``arch`` itself)."""

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        options = self.neighbors(arch)
        return options[int(rng.integers(len(options)))]


@dataclass(frozen=True)
class Decision:
    """One categorical choice of a ``Sequential`` space."""

    name: str
    options: tuple[str, ...]


class Sequential(abc.ABC):
    """Architectures as a fixed-length list of categorical decisions (RL, Optuna)."""

    @abc.abstractmethod
    def decisions(self) -> list[Decision]: ...

    @abc.abstractmethod
    def from_decisions(self, choices: Sequence[int]) -> Architecture:
        """Decode; raise ``ArchitectureError`` with the reason if the list is invalid."""

    @abc.abstractmethod
    def to_decisions(self, arch: Architecture) -> list[int]: ...


class Relaxable(abc.ABC):
    """A continuous encoding and a projection back to the nearest valid architecture.

    Topology spaces encode as a (rows x options) matrix whose rows are one-hot
    op choices (plus, where the space has it, the adjacency); size spaces as a
    numeric vector. ``project(encode(a)) == a``.
    """

    @abc.abstractmethod
    def encode(self, arch: Architecture) -> np.ndarray: ...

    @abc.abstractmethod
    def project(self, x: np.ndarray) -> Architecture: ...


class Buildable(abc.ABC):
    """Real networks: ``build(arch, task)`` returns body + task head as ``nn.Module``."""

    @abc.abstractmethod
    def build(self, arch: Architecture, task: str | None = None):  # -> torch.nn.Module
        ...

    @abc.abstractmethod
    def flops(self, arch: Architecture, task: str | None = None) -> float:
        """Multiply-accumulates of one forward pass on one input, in millions."""

    @abc.abstractmethod
    def params(self, arch: Architecture, task: str | None = None) -> float:
        """Trainable parameters, in millions."""

    @abc.abstractmethod
    def input_shape(self, task: str | None = None) -> tuple[int, ...]:
        """Shape of one input of the built network, without the batch dimension, e.g. ``(3, 32, 32)``;
        raise ``ConfigError`` for a task the space does not know."""


class Tappable(abc.ABC):
    """A backbone tapped at several depths, for proxies that train heads on its features (Eproxy)."""

    @abc.abstractmethod
    def backbone_taps(self, arch: Architecture):  # -> nasframe.torchutil.Taps
        """The backbone without classifier; its forward returns feature maps deepest first."""

    def largest_backbone(self) -> Architecture | None:
        """The architecture whose backbone has the most MACs, or None when the space cannot name it."""
        return None


class ReferenceNetworks(abc.ABC):
    """Networks a published proxy reference scored, where they differ from ``Buildable.build``."""

    @abc.abstractmethod
    def zero_cost_network(self, arch: Architecture, task: str | None = None):  # -> torch.nn.Module
        """The network the zero-cost reference code ran its proxies on."""

    def synflow_kept_norms(self) -> tuple[type, ...]:
        """Module types whose BatchNorm the reference keeps in synflow's BN-free copy."""
        return ()


class GraphEncoded(abc.ABC):
    """A fixed op-as-node graph over the rows of ``Relaxable.encode`` (graph predictors)."""

    @property
    @abc.abstractmethod
    def adjacency(self) -> np.ndarray:
        """(rows + 2) x (rows + 2) 0/1 matrix: input node, one node per encoded row, output node."""


class Bounded(abc.ABC):
    """A numeric ``Relaxable`` encoding with box limits (size spaces)."""

    @abc.abstractmethod
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of each entry of ``encode``."""


class CostSampled(abc.ABC):
    """Draws inside a cost interval directly, where rejection sampling would rarely hit it."""

    @abc.abstractmethod
    def sample_in_range(self, rng: np.random.Generator, lo: float, hi: float, cost=None) -> Architecture:
        """An architecture whose ``cost(arch)`` (default: FLOPs in millions) lies in ``[lo, hi]``."""


class NASLibKeyed(abc.ABC):
    """Architectures addressable by NASLib's key, the form published tables (HW-NAS-Bench) use."""

    @abc.abstractmethod
    def from_naslib(self, key) -> Architecture: ...


class Baselined(abc.ABC):
    """A space with a published starting point that a search may seed itself with."""

    @abc.abstractmethod
    def baseline(self) -> Architecture: ...


CAPABILITIES = (Enumerable, Mutable, Sequential, Relaxable, Buildable, Tappable, ReferenceNetworks,
                GraphEncoded, Bounded, CostSampled, NASLibKeyed, Baselined)


def require(space: SearchSpace, needs: Sequence[type], who: str) -> None:
    """Raise one clear sentence if ``space`` lacks a capability ``who`` needs."""
    from nasframe.errors import CapabilityError

    missing = [c.__name__ for c in needs if not isinstance(space, c)]
    if missing:
        offers = ", ".join(space.capabilities()) or "none"
        raise CapabilityError(
            f"{who} needs a space that is {' and '.join(missing)}, but space "
            f"'{space.name}' is not (it offers: {offers}); pick another strategy or space"
        )
