"""The DPS genome space (methods §3.6): Eproxy configurations as architectures.

A genome is a frozen value with a canonical string, so the normal runner,
ledger and report handle DPS like any architecture search. String layout
(``parse(str(g)) == g``)::

    lr=1.0;alpha=0.1;branches=1;init_net=default;init_barrier=default;
    slots=11000.3.3.512.64.1|00000.1.1.16.16.1|00000.1.1.16.16.1

Each slot is ``mask.head_kernel.barrier_kernel.out_channel.last_channel.level``
with ``mask`` the five target bits over (net, wave_l, wave_m, wave_h, dot).
All three slots always exist; only the first ``branches`` are used.
``init_*=default`` (PyTorch's own init) exists only for the base genome: DPS
samples and mutates among the four named schemes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasframe.core.space import Architecture, Mutable, SearchSpace
from nasframe.errors import ArchitectureError

LRS = tuple(round(0.5 + 0.1 * i, 1) for i in range(11))
ALPHAS = tuple(round(-0.5 + 0.1 * i, 1) for i in range(11))
BRANCHES = (1, 2, 3)
INITS = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")
BASES = ("net", "wave_l", "wave_m", "wave_h", "dot")
KERNELS = (1, 3, 7)
CHANNELS = (16, 32, 64, 128, 256, 512)
LEVELS = (0.5, 1.0, 1.5, 2.0)
SLOTS = 3
BIT_PROBABILITY = 0.2  # a random genome's target bit is on with this probability (reference)


@dataclass(frozen=True)
class Slot:
    mask: tuple[int, ...]  # 5 bits over BASES
    head_kernel: int
    barrier_kernel: int
    out_channel: int
    last_channel: int
    level: float

    def __str__(self) -> str:
        return (f"{''.join(map(str, self.mask))}.{self.head_kernel}.{self.barrier_kernel}."
                f"{self.out_channel}.{self.last_channel}.{self.level:g}")

    @property
    def bases(self) -> tuple[str, ...]:
        return tuple(b for b, bit in zip(BASES, self.mask) if bit)


@dataclass(frozen=True)
class EproxyGenome(Architecture):
    lr: float
    alpha: float
    branches: int
    init_net: str
    init_barrier: str
    slots: tuple[Slot, ...]

    def __str__(self) -> str:
        return (f"lr={self.lr:g};alpha={self.alpha:g};branches={self.branches};init_net={self.init_net};"
                f"init_barrier={self.init_barrier};slots=" + "|".join(map(str, self.slots)))

    @property
    def used_slots(self) -> tuple[Slot, ...]:
        return self.slots[:self.branches]

    @property
    def training_key(self) -> str:
        """What the proxy training depends on: every gene but ``alpha`` (it only rescales the final
        loss) and the unused slots (they build nothing). Genomes with one key share loss curves."""
        return (f"lr={self.lr:g};branches={self.branches};init_net={self.init_net};"
                f"init_barrier={self.init_barrier};slots=" + "|".join(map(str, self.used_slots)))


_UNUSED = Slot((0, 0, 0, 0, 0), 1, 1, 16, 16, 1.0)
#: The reference's base configuration ("Eproxy" before DPS, methods §3.5).
BASE_GENOME = EproxyGenome(lr=1.0, alpha=0.1, branches=1, init_net="default", init_barrier="default",
                           slots=(Slot((1, 0, 0, 1, 0), 3, 3, 512, 64, 1.0), _UNUSED, _UNUSED))


def _num(text: str, what: str, options) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ArchitectureError(f"{what} must be a number, got '{text}'") from None
    match = [o for o in options if abs(o - v) < 1e-9]
    if not match:
        raise ArchitectureError(f"{what}={text} is not allowed; choose one of {', '.join(f'{o:g}' for o in options)}")
    return match[0]


def parse_slot(text: str) -> Slot:
    parts = text.split(".")
    # level may itself hold a decimal point ("1.5")
    if len(parts) == 7:
        parts = parts[:5] + [parts[5] + "." + parts[6]]
    if len(parts) != 6 or len(parts[0]) != len(BASES) or set(parts[0]) - {"0", "1"}:
        raise ArchitectureError(f"bad genome slot '{text}': expected mask.head_k.barrier_k.out_ch.last_ch.level "
                                f"like 10010.3.3.512.64.1")
    return Slot(tuple(int(c) for c in parts[0]), int(_num(parts[1], "head kernel", KERNELS)),
                int(_num(parts[2], "barrier kernel", KERNELS)), int(_num(parts[3], "out_channel", CHANNELS)),
                int(_num(parts[4], "last_channel", CHANNELS)), float(_num(parts[5], "level", LEVELS)))


def parse_genome(text: str) -> EproxyGenome:
    fields = dict(kv.split("=", 1) for kv in text.strip().split(";") if "=" in kv)
    need = ("lr", "alpha", "branches", "init_net", "init_barrier", "slots")
    missing = [k for k in need if k not in fields]
    if missing:
        raise ArchitectureError(f"'{text}' is not an Eproxy genome: missing {', '.join(missing)} "
                                f"(example: {BASE_GENOME})")
    for key in ("init_net", "init_barrier"):
        if fields[key] not in INITS + ("default",):
            raise ArchitectureError(f"{key}={fields[key]} is unknown; choose one of {', '.join(INITS)} or default")
    slots = tuple(parse_slot(s) for s in fields["slots"].split("|"))
    if len(slots) != SLOTS:
        raise ArchitectureError(f"an Eproxy genome has {SLOTS} slots, got {len(slots)} in '{text}'")
    return EproxyGenome(_num(fields["lr"], "lr", LRS + (1.2,)), _num(fields["alpha"], "alpha", ALPHAS),
                        int(_num(fields["branches"], "branches", BRANCHES)), fields["init_net"],
                        fields["init_barrier"], slots)


class EproxyConfigSpace(SearchSpace, Mutable):
    """Genomes of Eproxy proxy configurations; mutation is the reference's per-gene resampling."""

    name = "eproxy_config"

    def __init__(self, mutation_rate: float = 0.2):
        self.mutation_rate = float(mutation_rate)

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


def load_genome(spec) -> EproxyGenome:
    """A genome from its string, a text file holding it, or a run's ``summary.json`` (its recommendation)."""
    import json
    from pathlib import Path

    if isinstance(spec, EproxyGenome):
        return spec
    if spec is None or str(spec) in ("", "base"):
        return BASE_GENOME
    text = str(spec)
    path = Path(text)
    if "=" not in text and path.is_file():
        content = path.read_text().strip()
        if content.startswith("{"):
            d = json.loads(content)
            content = d.get("recommended") or d.get("genome") or ""
        return parse_genome(content)
    if "=" not in text:
        raise ArchitectureError(f"eproxy.genome '{text}' is neither a genome string nor an existing file; "
                                "give a DPS run's summary.json, a file with the genome string, or 'base'")
    return parse_genome(text)
