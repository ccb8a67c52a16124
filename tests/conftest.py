"""Shared fixtures. Tests that need the real benchmark data look for it in
../shared/data (or $NASFRAME_DATA) and skip cleanly when it is absent."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _shared_data() -> Path | None:
    for cand in (os.environ.get("NASFRAME_DATA"), REPO.parent / "shared" / "data"):
        if cand and (Path(cand) / "nasbench201").is_dir():
            return Path(cand)
    return None


SHARED_DATA = _shared_data()


@pytest.fixture
def shared_data() -> Path:
    if SHARED_DATA is None:
        pytest.skip("benchmark data not found (../shared/data or NASFRAME_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Tables built by tests go to a per-session cache, never the user's.
    monkeypatch.setenv("NASFRAME_CACHE", str(tmp_path_factory.getbasetemp() / "nasframe-cache"))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # the tests build small networks: a second intra-op thread only contends for CI's two cores
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
