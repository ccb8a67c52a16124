"""The Eproxy configuration (methods §3.5-3.6) as a value: the genome DPS searches and the
evaluator trains with. It is the evaluator's configuration and the DPS space's architecture,
so it lives below both. String layout (``parse_genome(str(g)) == g``)::

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

from nasframe.core.space import Architecture
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
