"""MomentumSGD and its schedules follow torch.optim's trajectory (same machine, same floats), and a
PredNAS predictor fit never imports torch._dynamo (the second it costs is what MomentumSGD is for)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nasframe.torchutil import MomentumSGD, cosine_schedule, multistep_schedule


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.GELU(), torch.nn.Linear(7, 1))


def _train(net, step, steps=40):
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 5, generator=gen), torch.randn(16, 1, generator=gen)
    for t in range(steps):
        loss = torch.nn.functional.huber_loss(net(x), y)
        loss.backward()
        step(t)
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("momentum,weight_decay", [(0.9, 1e-4), (0.0, 0.0), (0.5, 0.1)])
def test_cosine_training_matches_torch_optim(momentum, weight_decay):
    steps = 40
    ref_net = _net()
    opt = torch.optim.SGD(ref_net.parameters(), lr=0.05, momentum=momentum, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)

    def ref_step(t):
        opt.step()
        sched.step()
        opt.zero_grad()

    ours_net = _net()
    ours = MomentumSGD(ours_net.parameters(), momentum=momentum, weight_decay=weight_decay)
    lrs = cosine_schedule(0.05, steps)

    def our_step(t):
        ours.step(lrs[t])
        ours.zero_grad()

    before = [p.detach().clone() for p in _net().parameters()]
    expected, got = _train(ref_net, ref_step, steps), _train(ours_net, our_step, steps)
    for e, g, b in zip(expected, got, before):
        assert not torch.equal(e, b)  # training moved the weights
        torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-7)


def test_schedules_are_torch_schedulers_rates():
    p = torch.nn.Parameter(torch.zeros(1))
    for make, ours in (
            (lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=90), cosine_schedule(0.01, 90)),
            (lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [67, 133], gamma=0.5),
             multistep_schedule(0.02, 200, [67, 133], 0.5)),
            (lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3, 3, 7], gamma=0.1),
             multistep_schedule(0.02, 10, [3, 3, 7], 0.1))):
        opt = torch.optim.SGD([p], lr=ours[0])
        sched = make(opt)
        rates = []
        for _ in ours:
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        assert ours == pytest.approx(rates, rel=1e-12, abs=1e-15)
    assert cosine_schedule(0.01, 90)[45] == pytest.approx(0.005)  # half way down the cosine
    steps = multistep_schedule(0.02, 200, [67, 133], 0.5)
    assert (steps[66], steps[67], steps[132], steps[133], steps[199]) == (0.02, 0.01, 0.01, 0.005, 0.005)


def test_a_predictor_fit_and_ascent_do_not_import_dynamo():
    code = ("import sys, numpy as np\n"
            "from nasframe.spaces.nb201 import NB201Space\n"
            "from nasframe.strategies.prednas import encoding_for, gradient_pool\n"
            "s = NB201Space(); e = encoding_for(s); rng = np.random.default_rng(0)\n"
            "a = [s.sample(rng) for _ in range(12)]\n"
            "p = e.predictor({'epochs': 2}, 0).fit(e.exact(a).numpy(), rng.normal(size=12))\n"
            "gradient_pool(e, p, a, 3, 0.02, (0.5,), 0.5, 0.9)\n"
            "print('torch._dynamo' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "False"
