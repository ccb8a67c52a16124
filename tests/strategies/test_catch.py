"""CATCH: the context encoder's posterior, the epsilon schedules and filter, gradient flow,
meta-training bookkeeping and kill/resume through the runner."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nasframe.core.strategy import SourceTask
from nasframe.errors import ConfigError
from nasframe.strategies.catch import CATCH, ContextEncoder, epsilon, kl_to_prior, product_of_gaussians, select
from test_ppo import OBJ, ToyEvaluator, ToySpace, run_killed_and_resumed

SMALL = dict(encoder_hidden=32, evaluator_hidden=32, candidates=20, evaluator_epochs=5)



# ---------------------------------------------------------------- encoder


def test_posterior_of_two_factors_is_the_closed_form():
    mu = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    var = torch.tensor([[0.5, 2.0], [1.5, 0.25]])
    m, v = product_of_gaussians(mu, var)
    for d in range(2):
        v_expected = (var[0, d] * var[1, d]) / (var[0, d] + var[1, d])
        m_expected = (mu[0, d] * var[1, d] + mu[1, d] * var[0, d]) / (var[0, d] + var[1, d])
        assert v[d].item() == pytest.approx(v_expected.item(), rel=1e-6)
        assert m[d].item() == pytest.approx(m_expected.item(), rel=1e-6)


def test_encoder_posterior_is_permutation_invariant_and_uses_its_factors():
    torch.manual_seed(0)
    enc = ContextEncoder(width=8, z_dim=3, hidden=16)
    ctx = torch.randn(7, 9)
    m1, v1 = enc.posterior(ctx)
    m2, v2 = enc.posterior(ctx[torch.randperm(7)])
    assert torch.allclose(m1, m2, atol=1e-6) and torch.allclose(v1, v2, atol=1e-6)
    mu_n, var_n = enc.factors(ctx)
    assert torch.allclose(v1, 1 / (1 / var_n).sum(0)) and torch.allclose(m1, v1 * (mu_n / var_n).sum(0))
    assert torch.all(v1 < var_n.min(0).values + 1e-9)  # more evidence, less uncertainty


def test_empty_context_gives_the_prior_with_zero_kl():
    enc = ContextEncoder(width=8, z_dim=4)
    mu, var = enc.posterior(torch.zeros(0, 9))
    assert mu.tolist() == [0.0] * 4 and var.tolist() == [1.0] * 4
    assert kl_to_prior(mu, var).item() == 0.0
    assert kl_to_prior(torch.ones(4), torch.ones(4)).item() == pytest.approx(2.0)


# ---------------------------------------------------------------- epsilon


def test_epsilon_schedules_hit_the_published_values():
    meta, adapt = (1.0, 0.025, 4), (0.5, 0.025, 2)
    assert epsilon(0, *meta) == 1.0 and epsilon(3, *meta) == 1.0
    assert epsilon(4, *meta) == 0.975 and epsilon(8, *meta) == 0.95
    assert epsilon(160, *meta) == 0.0 and epsilon(1000, *meta) == 0.0
    assert epsilon(0, *adapt) == 0.5 and epsilon(1, *adapt) == 0.5
    assert epsilon(2, *adapt) == 0.475 and epsilon(40, *adapt) == 0.0 and epsilon(77, *adapt) == 0.0


def test_with_epsilon_one_the_evaluator_has_no_influence():
    scores_a, scores_b = np.arange(50.0), -np.arange(50.0)
    picks_a = [select(scores_a, 1.0, r) for r in [np.random.default_rng(3)] for _ in range(300)]
    picks_b = [select(scores_b, 1.0, r) for r in [np.random.default_rng(3)] for _ in range(300)]
    assert picks_a == picks_b
    assert len(set(picks_a)) > 40  # uniform among the candidates
    assert {select(scores_a, 0.0, np.random.default_rng(i)) for i in range(20)} == {49}


def test_with_epsilon_one_catch_picks_the_same_architectures_whatever_its_evaluator():
    space = ToySpace()

    def picks(evaluator_seed):
        torch.manual_seed(0)
        c = CATCH(adapt_epsilon=(1.0, 0.0, 1), **SMALL)
        c.setup(space, OBJ, np.random.default_rng(1))
        torch.manual_seed(evaluator_seed)
        for p in c.evaluator.parameters():
            torch.nn.init.normal_(p)
        torch.manual_seed(5)
        return [c.ask(1)[0] for _ in range(10)]

    assert picks(1) == picks(2)


# ---------------------------------------------------------------- learning


def test_controller_and_evaluator_gradients_reach_the_encoder_through_z():
    space = ToySpace()
    torch.manual_seed(0)
    c = CATCH(kl_weight=0.0, **SMALL)
    c.setup(space, OBJ, np.random.default_rng(0))
    ev = ToyEvaluator()
    for _ in range(6):
        archs = c.ask(1)
        c.tell(archs, ev.evaluate(archs))
    before = [p.detach().clone() for p in c.encoder.parameters()]
    c.update_task("target")  # kl_weight 0: only the PPO and evaluator losses can move the encoder
    moved = [not torch.equal(b, p) for b, p in zip(before, c.encoder.parameters())]
    assert all(moved)


def test_meta_training_spends_the_source_budgets_and_resets_epsilon():
    space = ToySpace()
    calls = {}

    def task(name, opt):
        ev = ToyEvaluator(opt, noise_seed=len(name))

        def evaluate(archs):
            calls[name] = calls.get(name, 0) + len(archs)
            return ev.evaluate(archs)

        return SourceTask(name, OBJ, evaluate)

    torch.manual_seed(0)
    c = CATCH(meta_queries=23, **SMALL)
    c.setup(space, OBJ, np.random.default_rng(0))
    c.pretrain([task("a", (0, 1, 2, 3)), task("b", (3, 2, 1, 0))])
    assert calls == {"a": 23, "b": 23}
    assert c.meta_steps == 46 and c.updates >= 6
    assert c.phase == "adapt" and c._epsilon() == 0.5
    for name in ("a", "b"):  # each source's architectures are unique within the source
        assert len(c.stats[f"source:{name}"].values) == 23
    with pytest.raises(ConfigError):
        c.pretrain([])


def test_catch_kill_and_resume_during_the_target_search(tmp_path):
    hist = run_killed_and_resumed(tmp_path, lambda: CATCH(meta_queries=12, **SMALL), kill_at=17,
                                  queries=30, sources=[("src", (0, 0, 1, 1))])
    assert [r["phase"] for r in hist].count("pretrain:src") == 12


def test_catch_kill_and_resume_during_meta_training(tmp_path):
    # the source evaluator dies at its 9th call: meta-training is replayed from the ledger
    hist = run_killed_and_resumed(tmp_path, lambda: CATCH(meta_queries=12, **SMALL), kill_at=9,
                                  queries=20, sources=[("src", (0, 0, 1, 1))], kill_in="source")
    assert len(hist) == 32


def test_kl_and_draw_from_torch_distributions_equal_the_closed_forms():
    import torch

    torch.manual_seed(0)
    mu = torch.randn(300, 10)
    var = torch.nn.functional.softplus(torch.randn(300, 10)) + 1e-6
    closed = 0.5 * (var + mu ** 2 - 1.0 - torch.log(var)).sum()
    assert kl_to_prior(mu, var).item() == pytest.approx(closed.item(), rel=1e-6)
    enc = ContextEncoder(width=4, z_dim=3, hidden=8, layers=2)
    ctx = torch.randn(5, 5)
    torch.manual_seed(1)
    z, m, v = enc.sample(ctx)
    torch.manual_seed(1)
    assert torch.allclose(z, m + v.sqrt() * torch.randn_like(m))  # mu + sigma * eps, same eps
    z.sum().backward()
    assert all(p.grad is not None for p in enc.parameters())  # reparameterised: gradients reach the encoder
