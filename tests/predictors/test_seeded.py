"""``seeded``: the block sees exactly ``torch.manual_seed(seed)``'s stream and the caller's stream is
untouched, so predictors built under it are reproducible and do not disturb other draws."""
import torch

from nasframe.predictors.base import seeded


def test_block_draws_equal_manual_seed_and_caller_stream_is_restored():
    torch.manual_seed(123)
    expected_after = torch.rand(5)
    torch.manual_seed(7)
    expected_inside = torch.rand(5)

    torch.manual_seed(123)
    with seeded(7):
        inside = torch.rand(5)
    after = torch.rand(5)
    assert torch.equal(inside, expected_inside)
    assert torch.equal(after, expected_after)


def test_stream_is_restored_when_the_block_raises():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    try:
        with seeded(1):
            torch.rand(10)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert torch.equal(torch.rand(3), expected)


def test_networks_built_under_the_same_seed_are_identical():
    from nasframe.predictors.adapters import AIOPPredictor

    a, b = AIOPPredictor(seed=4), AIOPPredictor(seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.net.state_dict().values(), b.net.state_dict().values()))
