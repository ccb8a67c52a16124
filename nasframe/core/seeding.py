"""Seeding Python's, NumPy's and torch's global generators without importing torch.

A lookup search never builds a network, so importing torch (about a second) only to seed it
would be waste. Torch is seeded at once when it is already imported, else the moment something
imports it; either way its stream depends on the run seed alone.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import random
import sys

import numpy as np


class _SeedTorchOnImport(importlib.abc.MetaPathFinder):
    """Finds torch as usual, then seeds it as soon as its module has run."""

    def __init__(self, seed: int):
        self.seed = seed

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        _remove_pending_hook()  # once: torch is found by the ordinary finders below
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run_module, seed = spec.loader.exec_module, self.seed

        def run_and_seed(module):
            run_module(module)
            module.manual_seed(seed)

        spec.loader.exec_module = run_and_seed  # this spec's own loader instance
        return spec


def _remove_pending_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _SeedTorchOnImport)]


def seed_torch(seed: int) -> None:
    _remove_pending_hook()  # a later seed replaces an earlier one that never fired
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
    else:
        sys.meta_path.insert(0, _SeedTorchOnImport(seed))


def seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    seed_torch(seed)
    return np.random.default_rng(seed)


def torch_rng_state():
    """Torch's generator state, or None while torch is not imported (its seed is still pending)."""
    torch = sys.modules.get("torch")
    return None if torch is None else torch.get_rng_state()


def set_torch_rng_state(state) -> None:
    if state is not None:
        import torch

        _remove_pending_hook()
        torch.set_rng_state(state)
