"""The DPS genome space (methods §3.6): Eproxy configurations as architectures.

A genome (``nasframe.eproxy_genome``) is a frozen value with a canonical
string, so the normal runner, ledger and report handle DPS like any
architecture search.
"""
from __future__ import annotations

import numpy as np

from nasframe.core.space import Baselined, Mutable, SearchSpace
from nasframe.eproxy_genome import (ALPHAS, BASE_GENOME, BASES, BIT_PROBABILITY, BRANCHES, CHANNELS,  # noqa: F401
                                    INITS, KERNELS, LEVELS, LRS, SLOTS, EproxyGenome, Slot, load_genome,
                                    parse_genome, parse_slot)
from nasframe.errors import ArchitectureError


class EproxyConfigSpace(SearchSpace, Mutable, Baselined):
    """Genomes of Eproxy proxy configurations; mutation is the reference's per-gene resampling."""

    name = "eproxy_config"

    def __init__(self, mutation_rate: float = 0.2):
        self.mutation_rate = float(mutation_rate)

    def baseline(self) -> EproxyGenome:
        """The reference's base configuration, Eproxy before DPS (methods §3.5)."""
        return BASE_GENOME

    def _slot(self, rng) -> Slot:
        return Slot(tuple(int(b) for b in (rng.random(len(BASES)) < BIT_PROBABILITY)),
                    int(rng.choice(KERNELS)), int(rng.choice(KERNELS)), int(rng.choice(CHANNELS)),
                    int(rng.choice(CHANNELS)), float(rng.choice(LEVELS)))

    def sample(self, rng: np.random.Generator) -> EproxyGenome:
        return EproxyGenome(float(rng.choice(LRS)), float(rng.choice(ALPHAS)), int(rng.choice(BRANCHES)),
                            str(rng.choice(INITS)), str(rng.choice(INITS)),
                            tuple(self._slot(rng) for _ in range(SLOTS)))

    def parse(self, text: str) -> EproxyGenome:
        if not isinstance(text, str):
            raise ArchitectureError(f"an Eproxy genome string is expected, got {type(text).__name__}")
        return parse_genome(text)

    def __contains__(self, g) -> bool:
        if not isinstance(g, EproxyGenome):
            return False
        try:
            return parse_genome(str(g)) == g
        except ArchitectureError:
            return False

    def mutate(self, g: EproxyGenome, rng: np.random.Generator) -> EproxyGenome:
        """Each scalar gene resampled with probability r (may keep its value), each bit flipped with p r."""
        r = self.mutation_rate
        pick = lambda cur, options: (options[int(rng.integers(len(options)))] if rng.random() < r  # noqa: E731
                                     else cur)
        slots = []
        for s in g.slots:
            mask = tuple(1 - b if rng.random() < r else b for b in s.mask)
            slots.append(Slot(mask, int(pick(s.head_kernel, KERNELS)), int(pick(s.barrier_kernel, KERNELS)),
                              int(pick(s.out_channel, CHANNELS)), int(pick(s.last_channel, CHANNELS)),
                              float(pick(s.level, LEVELS))))
        return EproxyGenome(float(pick(g.lr, LRS)), float(pick(g.alpha, ALPHAS)), int(pick(g.branches, BRANCHES)),
                            str(pick(g.init_net, INITS)), str(pick(g.init_barrier, INITS)), tuple(slots))

    def neighbors(self, g: EproxyGenome) -> list[EproxyGenome]:
        """Genomes one gene away (scalar genes and per-slot genes; bits flipped one at a time)."""
        from dataclasses import replace

        out = []
        for name, options in (("lr", LRS), ("alpha", ALPHAS), ("branches", BRANCHES), ("init_net", INITS),
                              ("init_barrier", INITS)):
            out += [replace(g, **{name: o}) for o in options if o != getattr(g, name)]
        for i, s in enumerate(g.slots):
            variants = [replace(s, mask=s.mask[:b] + (1 - s.mask[b],) + s.mask[b + 1:]) for b in range(len(BASES))]
            for name, options in (("head_kernel", KERNELS), ("barrier_kernel", KERNELS), ("out_channel", CHANNELS),
                                  ("last_channel", CHANNELS), ("level", LEVELS)):
                variants += [replace(s, **{name: o}) for o in options if o != getattr(s, name)]
            out += [replace(g, slots=g.slots[:i] + (v,) + g.slots[i + 1:]) for v in variants]
        return out
