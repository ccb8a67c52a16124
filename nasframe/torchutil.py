"""Small torch context managers shared by proxies, counters and predictors."""
from __future__ import annotations

from contextlib import contextmanager


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
