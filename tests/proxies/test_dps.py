"""DPS bookkeeping (methods §3.8), the genome space, and the fitness definition."""
import json
import math

import numpy as np
import pytest

from nasframe.core.evaluator import Evaluator, Objective, checked
from nasframe.core.runner import Budget, Runner
from nasframe.errors import ArchitectureError
from nasframe.evaluators.dps_fitness import fitness_from
from nasframe.spaces.eproxy_config import (BASE_GENOME, BASES, EproxyConfigSpace, EproxyGenome, load_genome,
                                           parse_genome)
from nasframe.strategies.rea import RegularizedEvolution


def DPS(population_size, tournament_size, **kw):  # noqa: N802 - the DPS config of the one aging evolution
    return RegularizedEvolution(population_size, tournament_size, replace=False, **kw)


class ToyFitness(Evaluator):
    """Cheap stand-in for dps_fitness: a deterministic function of the genome."""

    objectives = (Objective("fitness", "max"),)

    def __init__(self):
        self.calls = 0

    def evaluate(self, genomes):
        self.calls += len(genomes)
        out = []
        for g in genomes:
            v = -abs(g.lr - 1.2) - abs(g.alpha) + 0.1 * sum(s.mask[3] for s in g.used_slots)
            out.append(checked({"fitness": v}, self.objectives))
        return out


def run(tmp_path, queries, name="run", resume=False, seed=0, strategy=None):
    space = EproxyConfigSpace(0.2)
    ev = ToyFitness()
    strategy = strategy or DPS(40, 10)
    r = Runner(space, ev, strategy, Budget(queries=queries), tmp_path / name, seed=seed, progress=False,
               plot=False, resume=resume)
    return r.run(), ev, strategy


def history(tmp_path, name="run"):
    return [json.loads(line) for line in (tmp_path / name / "history.jsonl").read_text().splitlines()]


def test_exactly_200_evaluations_and_children_come_from_the_window(tmp_path):
    result, ev, strategy = run(tmp_path, 200)
    assert ev.calls == 200 and result.summary["queries"] == 200
    hist = history(tmp_path)
    assert len(hist) == 200
    space = EproxyConfigSpace()
    genomes = [space.parse(r["arch"]) for r in hist]
    # after the 40 random genomes every child differs from some member of its window in few genes
    for k in range(40, 200):
        window = genomes[k - 40:k]
        assert len(window) == 40
        dist = min(_distance(genomes[k], w) for w in window)
        assert dist <= 25  # a rate-0.2 mutation of a window member, never an unrelated random genome
    best = max(range(200), key=lambda i: hist[i]["values"]["fitness"])
    assert result.summary["recommended"] == hist[best]["arch"]


def _distance(a: EproxyGenome, b: EproxyGenome) -> int:
    d = sum(x != y for x, y in [(a.lr, b.lr), (a.alpha, b.alpha), (a.branches, b.branches),
                                (a.init_net, b.init_net), (a.init_barrier, b.init_barrier)])
    for s, t in zip(a.slots, b.slots):
        d += sum(x != y for x, y in zip(s.mask, t.mask))
        d += sum(x != y for x, y in [(s.head_kernel, t.head_kernel), (s.barrier_kernel, t.barrier_kernel),
                                     (s.out_channel, t.out_channel), (s.last_channel, t.last_channel),
                                     (s.level, t.level)])
    return d


def test_tournament_is_without_replacement_over_the_last_population():
    s = DPS(4, 4)
    space = EproxyConfigSpace()
    s.setup(space, (Objective("fitness"),), np.random.default_rng(0))
    gs = [space.sample(np.random.default_rng(i)) for i in range(6)]
    for g, f in zip(gs, [9, 1, 2, 3, 4, 0]):
        s.tell([g], [checked({"fitness": float(f)}, (Objective("fitness"),))])
    # window = last 4; sampling all 4 without replacement must find the best of the window (fitness 4)
    assert s._parent() == gs[4]


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    run(tmp_path, 60, name="full", seed=5)
    run(tmp_path, 45, name="part", seed=5)
    run(tmp_path, 60, name="part", seed=5, resume=True)
    assert [r["arch"] for r in history(tmp_path, "full")] == [r["arch"] for r in history(tmp_path, "part")]


def test_initial_puts_the_base_genome_first(tmp_path):
    run(tmp_path, 5, strategy=DPS(4, 2, initial=[str(BASE_GENOME)]))
    assert history(tmp_path)[0]["arch"] == str(BASE_GENOME)


def test_mutation_rate_zero_is_identity_and_rate_one_flips_every_bit():
    g = EproxyConfigSpace().sample(np.random.default_rng(3))
    assert EproxyConfigSpace(0.0).mutate(g, np.random.default_rng(0)) == g
    m = EproxyConfigSpace(1.0).mutate(g, np.random.default_rng(0))
    assert all(a != b for s, t in zip(g.slots, m.slots) for a, b in zip(s.mask, t.mask))


def test_random_genomes_round_trip_and_bits_are_sparse():
    space = EproxyConfigSpace()
    rng = np.random.default_rng(0)
    gs = [space.sample(rng) for _ in range(300)]
    assert all(space.parse(str(g)) == g and g in space for g in gs)
    bits = np.array([s.mask for g in gs for s in g.slots])
    assert bits.shape[1] == len(BASES) and 0.15 < bits.mean() < 0.25


@pytest.mark.parametrize("bad", ["lr=1;alpha=0.1", "lr=9;alpha=0;branches=1;init_net=default;init_barrier=default;"
                                 "slots=10010.3.3.512.64.1|00000.1.1.16.16.1|00000.1.1.16.16.1",
                                 str(BASE_GENOME).replace("512.64", "500.64")])
def test_bad_genome_strings_raise_architecture_errors(bad):
    with pytest.raises(ArchitectureError):
        parse_genome(bad)


def test_load_genome_from_a_run_summary_a_file_or_a_string(tmp_path):
    g = EproxyConfigSpace().sample(np.random.default_rng(1))
    (tmp_path / "summary.json").write_text(json.dumps({"recommended": str(g)}))
    (tmp_path / "g.txt").write_text(str(g) + "\n")
    assert load_genome(str(tmp_path / "summary.json")) == g
    assert load_genome(str(tmp_path / "g.txt")) == g
    assert load_genome(str(g)) == g and load_genome("base") == BASE_GENOME
    with pytest.raises(ArchitectureError, match="neither a genome string nor an existing file"):
        load_genome(str(tmp_path / "missing.json"))


def test_fitness_is_spearman_and_undefined_maps_to_minus_one():
    assert fitness_from([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert fitness_from([4, 3, 2, 1], [10, 20, 30, 40]) == pytest.approx(-1.0)
    assert fitness_from([1, 1, 1, 1], [10, 20, 30, 40]) == -1.0  # constant scores: NaN -> -1 (P7)
    assert fitness_from([1, math.nan, 3, 4], [10, 20, 30, 40]) == -1.0


def test_dps_config_replays_the_committed_dps_ledgers_genome_for_genome():
    """The merged aging evolution asks exactly what the former DPS strategy asked (experiments/dps_nb201)."""
    from pathlib import Path

    from nasframe.core.evaluator import Evaluation
    from nasframe.core.runner import seed_everything

    root = Path(__file__).resolve().parents[2] / "experiments" / "dps_nb201"
    for seed in (0, 1, 2):
        hist = [json.loads(line) for line in (root / f"seed{seed}" / "history.jsonl").read_text().splitlines()]
        hist = [h for h in hist if h["phase"] == "search"]
        s = DPS(40, 10)
        s.setup(EproxyConfigSpace(0.2), (Objective("fitness", "max"),), seed_everything(seed))
        for h in hist:
            (a,) = s.ask(1)
            assert str(a) == h["arch"]
            s.tell([a], [Evaluation.from_json(h).visible()])
        assert len(hist) == 200
