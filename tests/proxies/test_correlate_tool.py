"""The correlation tool on real NB201 data (params: cheap and exactly known)."""
import json
import subprocess
import sys

import pytest

from nasframe.analysis.correlate import choose_archs, correlate, read_column_by_arch
from nasframe.evaluators.lookup import BenchmarkLookup
from nasframe.evaluators.zerocost import ZeroCostEvaluator
from nasframe.spaces.nb201 import NB201Space


@pytest.mark.data
def test_params_correlation_matches_the_published_column(shared_data, tmp_path):
    space = NB201Space()
    ref_csv = shared_data / "nasbench201" / "nb201_zc_proxies.csv"
    archs = choose_archs(space, 12, 0, ref_csv)
    assert len({str(a) for a in archs}) == 12
    ref = read_column_by_arch(ref_csv, "params")
    result = correlate(space, ZeroCostEvaluator(space, "params"), BenchmarkLookup(space, "cifar10", root=shared_data),
                       archs, ref, tmp_path, progress=False, label="params")
    assert result["n"] == 12 and result["failures"] == 0
    assert result["vs_reference"]["spearman"] == pytest.approx(1.0)
    assert result["test"]["spearman"] == pytest.approx(result["reference_vs_test"]["spearman"])
    assert (tmp_path / "scatter.png").stat().st_size > 0 and (tmp_path / "scores.csv").exists()
    assert json.loads((tmp_path / "correlation.json").read_text())["label"] == "params"


@pytest.mark.data
@pytest.mark.slow
def test_correlate_command_line(shared_data, tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "nasframe.correlate", "space=nb201", "evaluator=zc",
                        "proxy=[params,flops]", "evaluator.reference_size=4", "sample=6",
                        f"data.root={shared_data}", f"hydra.run.dir={out}", "progress=false"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "params+flops: n=6" in p.stdout and (out / "correlation.json").exists()


def test_bad_sample_size_is_a_config_error():
    from nasframe.errors import ConfigError

    with pytest.raises(ConfigError, match="only"):
        choose_archs(NB201Space(), 20000, 0)
