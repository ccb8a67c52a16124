"""The MAC counter's conventions on small modules, and the FLOPs/params evaluators."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from nasframe.core.evaluator import fitness
from nasframe.errors import CapabilityError, ConfigError
from nasframe.evaluators.complexity import FlopsEvaluator, ParamsEvaluator
from nasframe.spaces.flops import count_flops, count_macs, profile_macs
from nasframe.spaces.nb201 import NB201Space

SPACE = NB201Space(use_official_order=False)



# ------------------------------------------------------------------ counter


def test_conv_linear_macs_by_hand():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=True)  # out 6 x 4 x 4
    assert count_macs(conv, (4, 8, 8)) == 9 * 2 * 6 * 16 + 6 * 16
    lin = nn.Linear(5, 3, bias=False)
    assert count_macs(lin, (7, 5)) == 7 * 5 * 3  # applied to 7 rows
    convt = nn.ConvTranspose2d(2, 3, 2, stride=2, bias=False)  # 2 x 5 x 5 -> 3 x 10 x 10
    assert count_macs(convt, (2, 5, 5)) == 4 * 2 * 3 * 25
    conv1d = nn.Conv1d(3, 5, 3, padding=1)
    assert count_macs(conv1d, (3, 11)) == 3 * 3 * 5 * 11 + 5 * 11


def test_conventions_differ_only_where_documented():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.AvgPool2d(3, stride=1, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 2))
    conv, lin, elems = 27 * 4 * 64, 4 * 2, 4 * 64
    assert count_macs(net, (3, 8, 8), "macs") == conv + lin + 2
    # ptflops: BN 2 per element (affine), ReLU 1, every pool one per input element
    assert count_macs(net, (3, 8, 8), "ptflops") == conv + 2 * elems + elems + elems + elems + lin + 2
    # torchstat: pool kernel x output, adaptive pool window one larger each way, no linear bias
    assert count_macs(net, (3, 8, 8), "torchstat") == conv + 2 * elems + elems + 9 * elems + 4 * 9 * 9 + lin
    assert count_flops(net, (3, 8, 8)) == pytest.approx((conv + lin + 2) / 1e6)


def test_profile_per_module_and_every_call_counted():
    lin = nn.Linear(3, 3)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act = lin, nn.ReLU()

        def forward(self, x):
            return self.act(self.lin(self.lin(x)))

    prof = profile_macs(Twice(), (3,), "ptflops")
    assert prof == {"lin": 2 * (9 + 3), "act": 3}


def test_counter_restores_state_and_rejects_unknown_convention():
    net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2))
    net.train()
    threads = torch.get_num_threads()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    count_macs(net, (3, 4, 4))
    assert net.training and all(m.training for m in net.modules())
    assert torch.get_num_threads() == threads
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # BN stats untouched
    assert all(not m._forward_hooks for m in net.modules())
    with pytest.raises(ConfigError, match="convention"):
        count_macs(net, (3, 4, 4), "fvcore")


# ------------------------------------------------------------------ evaluators


def test_flops_and_params_evaluators_known_values():
    big = SPACE.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    small = SPACE.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    fe, pe = FlopsEvaluator(SPACE, dataset="cifar10"), ParamsEvaluator(SPACE, dataset="cifar10")
    f_big, f_small = fe.evaluate([big, small])
    p_big, p_small = pe.evaluate([big, small])
    assert f_big.values == {"flops": pytest.approx(220.11969)} and f_small.values == {"flops": pytest.approx(7.78305)}
    assert p_big.values == {"params": pytest.approx(1.531546)} and p_small.values == {"params": pytest.approx(0.073306)}
    assert fe.primary.direction == pe.primary.direction == "max"
    assert fitness(f_big, fe.primary) > fitness(f_small, fe.primary)
    assert all(e.cost > 0 and not e.failed and e.report == {} for e in (f_big, f_small, p_big, p_small))
    # ImageNet16-120 input is 16 x 16: a quarter of the conv work, a larger classifier
    (f16,) = FlopsEvaluator(SPACE, dataset="imagenet16-120").evaluate([big])
    assert f16.values["flops"] == pytest.approx(55.03756)


def test_cache_and_global_torch_rng_untouched():
    fe = FlopsEvaluator(SPACE)
    arch = SPACE.sample(np.random.default_rng(0))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = fe.evaluate([arch])[0]
    assert torch.equal(torch.get_rng_state(), state)  # building the net drew weights on a forked generator
    again = fe.evaluate([arch])[0]
    assert again.values == first.values and again.cost == 0.0
    assert fe.describe()["evaluator"] == "flops"


def test_bad_dataset_and_missing_capability():
    with pytest.raises(ConfigError, match="dataset"):
        FlopsEvaluator(SPACE, dataset="mnist")

    class NotBuildable:
        name = "toy"

        def capabilities(self):
            return []

    with pytest.raises(CapabilityError):
        ParamsEvaluator(NotBuildable())


def test_failure_is_recorded_not_raised():
    class Broken(NB201Space):
        def flops(self, arch, task=None):
            raise RuntimeError("out of memory")

    (ev,) = FlopsEvaluator(Broken()).evaluate([SPACE.sample(np.random.default_rng(1))])
    assert ev.failed and "out of memory" in ev.failure and ev.values["flops"] == -math.inf


@pytest.mark.parametrize("name, cls", [("flops", FlopsEvaluator), ("params", ParamsEvaluator)])
def test_auto_fallbacks_build_from_their_configs(name, cls, tmp_path, monkeypatch):
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from nasframe.compose import register_resolvers

    register_resolvers()
    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        cfg = compose("config", overrides=["evaluator=auto", f"evaluator/fallback={name}"])
    monkeypatch.delenv("NASFRAME_DATA", raising=False)
    assert isinstance(instantiate(cfg.evaluator, space=SPACE), cls)  # no data root given: the fallback
