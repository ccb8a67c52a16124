"""Small torch context managers shared by proxies, counters and predictors."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

from torch import nn


@contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` intra-op threads (None: leave as is), restoring the count after.

    Small networks gain nothing from a second thread and lose a lot on a busy
    machine; a fixed count also makes float reductions, and so scores, the same
    in every process (the joblib launcher's workers start with other defaults).
    """
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Taps(nn.Module):
    """A backbone returning its tapped feature maps, deepest first (``Tappable.backbone_taps``).

    ``run(body, x)`` is the forward pass through ``body`` that collects the
    maps; ``channels`` lists their channel counts in the same order.
    """

    def __init__(self, body: nn.Module, run, channels: Sequence[int]):
        super().__init__()
        self.body, self._run, self.channels = body, run, list(channels)

    def forward(self, x):
        return self._run(self.body, x)
