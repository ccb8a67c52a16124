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
NO_DATA = "benchmark data not found (../shared/data or NASFRAME_DATA)"


@pytest.fixture
def shared_data() -> Path:
    if SHARED_DATA is None:
        pytest.skip(NO_DATA)
    return SHARED_DATA


def pytest_terminal_summary(terminalreporter):
    """One line, not silence, when the real tables are absent: how many tests skipped, how to run them."""
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple) and NO_DATA in str(r.longrepr[-1])]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} data tests skipped: the benchmark tables were not found; put a data folder at "
            f"../shared/data beside the checkout or set NASFRAME_DATA=DIR (python -m nasframe.data --root DIR "
            "download NAME) to run them", yellow=True)


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
