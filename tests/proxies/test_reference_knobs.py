"""Reference-fidelity knobs of NASWOT (relu_match) and Zen (repeat), and their evaluator config."""
import inspect
import math

import pytest
import torch
from torch import nn

from nasframe.errors import ConfigError
from nasframe.proxies import Batch, get_proxy
from nasframe.proxies.zen import zen


class ReLUIdentity(nn.Sequential):
    """A wrapper whose type name contains "ReLU", like NB201's ReLUConvBN: its input is its ReLU's input."""

    def __init__(self):
        lin = nn.Linear(3, 3, bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.eye(3))
        super().__init__(nn.ReLU(), lin)


X = torch.tensor([[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])  # codes [[1,0,1],[1,1,0]]: K = [[3,1],[1,3]], det 8


def test_relu_match_name_also_counts_relu_named_wrappers_as_the_reference_does():
    net = nn.Sequential(ReLUIdentity())
    batch = Batch(X, None, 3, (3,))
    assert get_proxy("nwot")(net, batch) == get_proxy("nwot")(net, batch, relu_match="name")  # the reference's
    assert get_proxy("nwot")(net, batch, relu_match="module") == pytest.approx(math.log(8), abs=1e-6)
    # name: the wrapper sees the same codes again, so K doubles and log det grows by N ln 2 (N = 2 samples)
    assert get_proxy("nwot")(net, batch, relu_match="name") == pytest.approx(math.log(8) + 2 * math.log(2),
                                                                             abs=1e-6)
    with pytest.raises(ValueError):
        get_proxy("nwot")(net, batch, relu_match="type")


def small_convnet():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


def test_zen_averages_32_reinits_by_default():
    assert inspect.signature(zen).parameters["repeat"].default == 32
    batch = Batch(torch.randn(4, 3, 8, 8), None, 2, (3, 8, 8), seed=1)
    one, many = zen(small_convnet(), batch, repeat=1), zen(small_convnet(), batch, repeat=8)
    assert math.isfinite(one) and math.isfinite(many) and one != many  # each re-init draws new weights
    assert zen(small_convnet(), batch, repeat=8) == many  # seeded by the batch: reproducible
    with pytest.raises(ValueError):
        zen(small_convnet(), batch, repeat=0)


def test_zerocost_evaluator_passes_the_knobs_and_refuses_bad_ones():
    from nasframe.evaluators.zerocost import ZeroCostEvaluator
    from nasframe.spaces.nb201 import NB201Space

    assert ZeroCostEvaluator(NB201Space(), proxy="nwot").options == {"zen": {"repeat": 32},
                                                                     "nwot": {"relu_match": "name"}}
    ev = ZeroCostEvaluator(NB201Space(), proxy="nwot", zen_repeat=4, nwot_relu_match="module")
    assert ev.options == {"zen": {"repeat": 4}, "nwot": {"relu_match": "module"}}
    with pytest.raises(ConfigError):
        ZeroCostEvaluator(NB201Space(), proxy="nwot", nwot_relu_match="str")
    with pytest.raises(ConfigError):
        ZeroCostEvaluator(NB201Space(), proxy="zen", zen_repeat=0)


def test_nwot_by_match_gives_both_tests_from_one_pass_equal_to_each_alone():
    from nasframe.proxies.nwot import nwot, nwot_by_match

    net = nn.Sequential(ReLUIdentity(), nn.Linear(3, 3), ReLUIdentity())
    torch.manual_seed(0)
    batch = Batch(torch.randn(5, 3), None, 3, (3,))
    both = nwot_by_match(net, batch)
    assert set(both) == {"module", "name"}
    assert both == {m: nwot(net, batch, relu_match=m) for m in ("module", "name")}
    assert both["name"] == pytest.approx(both["module"] + 5 * math.log(2), abs=1e-6)  # every kernel doubled
    with pytest.raises(ValueError):
        nwot_by_match(net, batch, ("module", "type"))


class ShiftedReLU(nn.Module):
    """A "ReLU"-named wrapper that shifts its input in place before its inner ReLU sees the same tensor."""

    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(x.sub_(1.5))


def test_nwot_recomputes_the_codes_of_a_tensor_changed_in_place_between_hooks():
    from nasframe.proxies.nwot import kernel_from_codes, log_abs_det

    x = torch.tensor([[1.0, 2.0, -1.0], [2.0, 1.0, 1.0]])
    # name: the wrapper's codes of x, then the inner ReLU's codes of x - 1.5 (the same tensor object, changed)
    expected = log_abs_det(kernel_from_codes(x > 0) + kernel_from_codes(x - 1.5 > 0))
    got = get_proxy("nwot")(nn.Sequential(ShiftedReLU()), Batch(x.clone(), None, 3, (3,)), relu_match="name")
    assert got == pytest.approx(expected, abs=1e-9)
    assert expected != pytest.approx(log_abs_det(2 * kernel_from_codes(x > 0)), abs=1e-3)  # reuse would differ
