"""Eproxy (methods §3.8): barrier frozen, determinism, score definition, targets."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from nasframe.core.space import Architecture, Buildable, SearchSpace, Tappable
from nasframe.evaluators import eproxy as ep
from nasframe.evaluators.eproxy import EproxyEvaluator, ProxyNet, Taps, branch_target, load_bases
from nasframe.errors import ConfigError
from nasframe.spaces.eproxy_config import BASE_GENOME, EproxyConfigSpace, Slot


class Width(Architecture):
    def __init__(self, w):
        self.w = w

    def __str__(self):
        return f"w{self.w}"

    def __eq__(self, o):
        return isinstance(o, Width) and o.w == self.w

    def __hash__(self):
        return hash(self.w)


class TinySpace(SearchSpace, Buildable, Tappable):
    """Two-stage conv backbones of width w, tapped like NB201 (deepest first)."""

    name = "tiny"

    def sample(self, rng):
        return Width(int(rng.choice([4, 8, 12])))

    def parse(self, text):
        return Width(int(text[1:]))

    def __contains__(self, a):
        return isinstance(a, Width)

    def backbone_taps(self, arch):
        w = arch.w
        body = nn.ModuleList([nn.Sequential(nn.Conv2d(3, w, 3, stride=2, padding=1), nn.ReLU()),
                              nn.Sequential(nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU())])

        def run(b, x):
            f1 = b[0](x)
            return [b[1](f1), f1]

        return Taps(body, run, [2 * w, w])

    def build(self, arch, task=None):
        return self.backbone_taps(arch)

    def input_shape(self, task=None):
        return (3, 32, 32)

    def flops(self, arch, task=None):
        return float(arch.w)

    def params(self, arch, task=None):
        return float(arch.w)


GENOME = EproxyConfigSpace().parse(
    "lr=1;alpha=0;branches=2;init_net=kaiming_normal;init_barrier=xavier_uniform;"
    "slots=10011.3.3.32.16.1|01001.1.3.16.16.1.5|00000.1.1.16.16.1")


def evaluator(**kw):
    return EproxyEvaluator(TinySpace(), genome=GENOME, root=None, **kw)


def test_barrier_is_frozen_and_bit_identical_while_heads_and_backbone_train(monkeypatch):
    made, first = {}, {}
    real = ep.make_barriers

    def snapshot(module, key):
        # parameters as they are at the first forward pass, i.e. after every init
        def hook(_m, _inp):
            first.setdefault(key, {n: p.detach().clone() for n, p in module.named_parameters()})
        module.register_forward_pre_hook(hook)

    def spy(genome, n):
        made["barriers"] = real(genome, n)
        snapshot(made["barriers"][0], "barrier0")
        snapshot(made["barriers"][1], "barrier1")
        return made["barriers"]

    class SpyNet(ep.ProxyNet):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made["model"] = self
            snapshot(self, "model")

    monkeypatch.setattr(ep, "make_barriers", spy)
    monkeypatch.setattr(ep, "ProxyNet", SpyNet)
    evaluator().loss_curve(Width(8))
    assert all(not p.requires_grad for p in made["barriers"].parameters())
    for i, b in enumerate(made["barriers"]):
        for n, p in b.named_parameters():
            assert torch.equal(first[f"barrier{i}"][n], p)  # bit-identical after 10 iterations
    changed = {n for n, p in made["model"].named_parameters() if not torch.equal(first["model"][n], p)}
    assert any(n.startswith("heads") for n in changed) and any(n.startswith("taps") for n in changed)


def test_same_seed_same_score_and_order_independence():
    a, b = Width(4), Width(8)
    s1 = evaluator().score(a)[0]
    ev = evaluator()
    ev.score(b)
    assert ev.score(a)[0] == pytest.approx(s1, abs=1e-6)
    assert evaluator(seed=1).score(a)[0] != pytest.approx(s1, abs=1e-9)


def test_score_is_minus_the_final_weighted_loss_and_alpha_discounts_by_macs():
    ev = evaluator()
    curve = ev.loss_curve(Width(8))
    assert len(curve) == 10 and all(math.isfinite(c) for c in curve)
    assert ev.score(Width(8))[0] == pytest.approx(-curve[-1], rel=1e-6)
    from dataclasses import replace

    g = replace(GENOME, alpha=0.5)
    ev2 = evaluator(macs_norm=2 * ev.macs(Width(8)))
    assert ev2.score(Width(8), g)[0] == pytest.approx(-curve[-1] * (1 - 0.5 * 0.5), rel=1e-6)


def test_targets_shape_dot_signs_level_linearity_and_empty_selection():
    bases = load_bases()
    assert set(bases) == {"net", "wave_l", "wave_m", "wave_h", "dot"}
    assert all(t.shape == (16, 512, 8, 8) for t in bases.values())
    assert set(bases["dot"].unique().tolist()) == {-1.0, 1.0}
    s1 = Slot((0, 0, 0, 0, 1), 1, 1, 16, 64, 1.0)
    s2 = Slot((0, 0, 0, 0, 1), 1, 1, 16, 64, 2.0)
    assert branch_target(s1).shape == (16, 64, 8, 8)
    assert torch.equal(branch_target(s2), 2 * branch_target(s1))
    empty = Slot((0, 0, 0, 0, 0), 1, 1, 16, 32, 1.5)
    assert not branch_target(empty).any()
    g = EproxyConfigSpace().parse("lr=1;alpha=0;branches=1;init_net=default;init_barrier=default;"
                                  "slots=00000.1.1.16.32.1|00000.1.1.16.16.1|00000.1.1.16.16.1")
    assert math.isfinite(evaluator().score(Width(4), g)[0])  # P5: all-zero target does not crash


def test_stored_targets_regenerate_from_their_seed():
    fresh = ep.generate_stored(ep.TARGETS_SEED)
    stored = np.load(ep.TARGETS_FILE)
    assert set(stored.files) == set(fresh)
    for k, v in fresh.items():
        if k == "net":
            # a torch forward pass: another CPU's kernels may round a value differently, so a few
            # float16 ulps (2^-10 relative each) of slack, not bit equality
            np.testing.assert_allclose(stored[k].astype(np.float32), v.astype(np.float32),
                                       rtol=2 ** -8, atol=2 ** -14, err_msg=k)
        else:  # numpy's seeded generator alone: the same bits on every machine
            assert np.array_equal(stored[k], v), k


def test_head_is_conv_relu_bn_and_failure_is_recorded_not_raised():
    net = ProxyNet(TinySpace().backbone_taps(Width(4)), GENOME)
    assert [type(m) for m in net.heads[0]] == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d]

    class Broken(TinySpace):
        def backbone_taps(self, arch):
            raise RuntimeError("boom")

    ev = EproxyEvaluator(Broken(), genome=GENOME)
    out = ev.evaluate([Width(4)])[0]
    assert out.failed and "boom" in out.failure and out.values["eproxy"] == -math.inf


def test_base_genome_runs_on_nb201_taps_with_expected_shapes():
    from nasframe.spaces.nb201 import NB201Space

    space = NB201Space()
    taps = ep.backbone_taps(space, space[0])
    feats = taps(torch.randn(2, 3, 32, 32))
    assert [f.shape[1:] for f in feats] == [(64, 8, 8), (32, 16, 16), (16, 32, 32)]
    net = ProxyNet(taps, BASE_GENOME)
    assert [p.shape for p in net(torch.randn(2, 3, 32, 32))] == [(2, 512, 8, 8)]


def test_genomes_differing_only_in_alpha_or_unused_slots_train_once_with_identical_scores():
    from dataclasses import replace

    g = replace(GENOME, alpha=0.3)
    twin = replace(g, alpha=-0.2, slots=g.slots[:2] + (Slot((1, 1, 1, 1, 1), 7, 7, 512, 512, 2.0),))  # slot 2 unused
    assert twin.training_key == g.training_key and str(twin) != str(g)
    assert replace(g, lr=0.5).training_key != g.training_key
    ev = evaluator(macs_norm=4.0 * Width(8).w)
    s_g = ev.score(Width(8), g)
    s_twin = ev.score(Width(8), twin)
    assert len(ev._cache) == 1  # the twin reused the loss curve
    fresh = evaluator(macs_norm=4.0 * Width(8).w)
    assert fresh.score(Width(8), twin)[::2] == s_twin[::2]  # score and failure bit-identical to a fresh training
    final = -s_g[0] / (1 - 0.3 * ev.macs(Width(8)) / ev.macs_norm)
    assert s_twin[0] == pytest.approx(-final * (1 + 0.2 * ev.macs(Width(8)) / ev.macs_norm), rel=1e-12)


def test_macs_norm_defaults_to_the_reference_constant_and_space_max_is_the_sample_largest():
    assert evaluator().macs_norm == 187.17  # the reference divides by a fixed 187.17 M
    ev = evaluator(macs_norm="space_max")
    rng = np.random.default_rng(0)  # TinySpace has no declared largest arch: the largest of a fixed sample
    assert ev.macs_norm == max(ev.macs(TinySpace().sample(rng)) for _ in range(200))
    for bad in (0, -1.0, "largest"):
        with pytest.raises(ConfigError):
            evaluator(macs_norm=bad)
