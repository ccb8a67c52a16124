"""What each space declares (mixins in nasframe/core/space.py), and that the declarations hold."""
import numpy as np
import pytest

from nasframe.core.space import (Baselined, Buildable, CostSampled, GraphEncoded, NASLibKeyed, ReferenceNetworks,
                                 Tappable)
from nasframe.eproxy_genome import BASE_GENOME
from nasframe.spaces.anynet import AnyNetSpace
from nasframe.spaces.eproxy_config import EproxyConfigSpace
from nasframe.spaces.nb101 import NB101Space
from nasframe.spaces.nb201 import NB201Space
from nasframe.spaces.transnas import TransNASMacroSpace, TransNASMicroSpace


@pytest.mark.parametrize("space, declared", [
    (NB201Space(), {"Buildable", "Tappable", "ReferenceNetworks", "GraphEncoded", "NASLibKeyed"}),
    (NB101Space(), {"Buildable", "NASLibKeyed"}),
    (TransNASMicroSpace(), {"Buildable", "Tappable"}),
    (TransNASMacroSpace(), {"Buildable", "Tappable"}),
    (AnyNetSpace(), {"Buildable", "CostSampled"}),
    (EproxyConfigSpace(), {"Baselined"}),
])
def test_declared_capabilities(space, declared):
    optional = {"Buildable", "Tappable", "ReferenceNetworks", "GraphEncoded", "NASLibKeyed", "CostSampled",
                "Baselined", "Bounded"}
    assert set(space.capabilities()) & optional == declared


def test_largest_backbone_has_the_most_tapped_macs():
    from nasframe.spaces.flops import count_flops

    for space in (NB201Space(), TransNASMicroSpace()):
        assert isinstance(space, Tappable)
        big = space.largest_backbone()
        macs = lambda a: count_flops(space.backbone_taps(a), (3, 32, 32))  # noqa: E731
        rng = np.random.default_rng(0)
        assert all(macs(space.sample(rng)) <= macs(big) for _ in range(6))
    assert TransNASMacroSpace().largest_backbone() is None  # unknown: Eproxy estimates it from a sample


def test_reference_networks_and_graph_and_keys_of_nb201():
    from nasframe.spaces.nb201_net import NB201Network, ResNetReduction

    space = NB201Space()
    assert isinstance(space, ReferenceNetworks) and isinstance(space, GraphEncoded)
    net = space.zero_cost_network(space[6111], "cifar100")
    assert isinstance(net, NB201Network) and net.classifier.out_features == 100
    assert space.synflow_kept_norms() == (ResNetReduction,)
    assert space.adjacency.shape == (8, 8)
    assert isinstance(space, NASLibKeyed) and space.from_naslib("(1, 1, 1, 1, 1, 1)") == \
        space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert all(isinstance(s, Buildable) and len(s.input_shape()) == 3 for s in (space, NB101Space(), AnyNetSpace()))


def test_baseline_and_cost_sampling():
    assert EproxyConfigSpace().baseline() == BASE_GENOME and isinstance(EproxyConfigSpace(), Baselined)
    space = AnyNetSpace()
    assert isinstance(space, CostSampled)
    a = space.sample_in_range(np.random.default_rng(0), 380, 420)
    assert 380 <= space.flops(a) <= 420
