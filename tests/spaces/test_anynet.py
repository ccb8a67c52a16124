"""AnyNet size space: bounds, groups/bottleneck rule, moves, projection, exact FLOPs vs RegNetX."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasframe.errors import ArchitectureError, ConfigError
from nasframe.spaces.anynet import AnyNetSpace
from nasframe.spaces.flops import count_flops

SPACE = AnyNetSpace()
archs = st.integers(0, 2**32 - 1).map(lambda s: SPACE.sample(np.random.default_rng(s)))

# RegNetX models in AnyNet terms (RegNet paper / pycls model zoo; PredNAS Table IX): depths, widths,
# group width (ratio 1, so groups = width / group width), published GF and M params.
REGNETX = {
    "RegNetX-200MF": ([1, 1, 4, 7], [24, 56, 152, 368], 8, 0.2, 2.7),
    "RegNetX-400MF": ([1, 2, 7, 12], [32, 64, 160, 384], 16, 0.4, 5.2),
    "RegNetX-600MF": ([1, 3, 5, 7], [48, 96, 240, 528], 24, 0.6, 6.2),
}
WIDE = AnyNetSpace(max_groups=64)  # RegNetX-200MF's last stage has 368 / 8 = 46 groups


@pytest.mark.parametrize("name", list(REGNETX))
def test_regnetx_flops_within_5_percent_of_published(name):
    depths, widths, gw, gf, mparams = REGNETX[name]
    a = WIDE.make(depths, widths, [1, 1, 1, 1], [w // gw for w in widths])
    assert WIDE.flops(a) == pytest.approx(gf * 1000, rel=0.05)
    assert WIDE.params(a) == pytest.approx(mparams, rel=0.05)


def test_closed_form_equals_counted_on_the_built_network():
    depths, widths, gw, _, _ = REGNETX["RegNetX-200MF"]
    a = WIDE.make(depths, widths, [1, 1, 1, 1], [w // gw for w in widths])
    net = WIDE.build(a)
    assert WIDE.flops(a) * 1e6 == pytest.approx(count_flops(net, (3, 224, 224)) * 1e6, abs=0.5)
    assert WIDE.params(a) == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6, abs=1e-9)
    # a bottlenecked, grouped point (ratio < 1, groups != width / 8), on a smaller input
    b = SPACE.parse("d=2-1-1-2|w=64-24-48-40|b=0.5-0.25-1-0.5|g=4-3-16-5")
    assert b.group_widths == (8, 2, 3, 4)
    net = SPACE.build(b)
    assert SPACE.params(b) == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6, abs=1e-9)
    assert SPACE._walk(b, 1000, 64)[0] == round(count_flops(net, (3, 64, 64)) * 1e6)


def test_forward_pass_shape():
    a = SPACE.parse("d=1-1-1-1|w=24-32-40-48|b=1-0.5-0.25-1|g=1-2-5-6")
    out = SPACE.build(a)(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1000) and torch.isfinite(out).all()


def test_parse_errors_and_bounds():
    with pytest.raises(ArchitectureError, match="needs 4 values"):
        SPACE.parse("d=1-1-1|w=24-24-24|b=1-1-1|g=1-1-1")
    with pytest.raises(ArchitectureError, match="not an AnyNet string"):
        SPACE.parse("depth=1-1-1-1")
    with pytest.raises(ArchitectureError, match="stage 2 width 30"):
        SPACE.parse("d=1-1-1-1|w=24-30-24-24|b=1-1-1-1|g=1-1-1-1")
    with pytest.raises(ArchitectureError, match="stage 1 depth 17"):
        SPACE.parse("d=17-1-1-1|w=24-24-24-24|b=1-1-1-1|g=1-1-1-1")
    with pytest.raises(ArchitectureError, match="groups 5 must divide the bottleneck width 24"):
        SPACE.parse("d=1-1-1-1|w=24-24-24-24|b=1-1-1-1|g=5-1-1-1")
    with pytest.raises(ArchitectureError, match="ratio 0.3"):
        SPACE.parse("d=1-1-1-1|w=24-24-24-24|b=0.3-1-1-1|g=1-1-1-1")
    with pytest.raises(ArchitectureError, match="at most 32"):
        SPACE.parse("d=1-1-1-1|w=24-24-24-368|b=1-1-1-1|g=1-1-1-46")
    with pytest.raises(ConfigError):
        AnyNetSpace(min_width=20)
    with pytest.raises(ConfigError):
        SPACE.build(SPACE.sample(np.random.default_rng(0)), task="cifar10")


@settings(max_examples=100, deadline=None)
@given(archs)
def test_round_trips_and_membership(a):
    assert a in SPACE
    assert SPACE.parse(str(a)) == a
    assert SPACE.project(SPACE.encode(a)) == a
    assert all(wb % g == 0 and g <= 32 for wb, g in zip(a.bottleneck_widths, a.groups))


@settings(max_examples=50, deadline=None)
@given(archs, st.integers(0, 2**32 - 1))
def test_mutate_and_neighbors_stay_in_space(a, seed):
    b = SPACE.mutate(a, np.random.default_rng(seed))
    nbrs = SPACE.neighbors(a)
    assert b in SPACE and b != a and b in nbrs
    assert all(n in SPACE for n in nbrs) and a not in nbrs


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-50, 2000, allow_nan=False), min_size=16, max_size=16))
def test_project_any_vector_is_valid(x):
    assert SPACE.project(np.array(x)) in SPACE


def test_project_rounds_clips_and_repairs_groups():
    x = np.array([0.2, 3.6, 20, 7.4,        # depths -> 1 4 16 7
                  10, 57, 1030, 101,        # widths -> 24 56 1024 104
                  0.3, 0.9, 0.4, 0.7,       # ratios -> 0.25 1 0.5 0.5
                  3, 7.2, 40, 5])           # groups -> 3 (of 6), 7 (of 56), 32 (of 512), 4 (nearest divisor of 52)
    a = SPACE.project(x)
    assert str(a) == "d=1-4-16-7|w=24-56-1024-104|b=0.25-1-0.5-0.5|g=3-7-32-4"


def test_sample_reproducible():
    assert SPACE.sample(np.random.default_rng(5)) == SPACE.sample(np.random.default_rng(5))
