"""Seeding: torch's stream follows the run seed even when torch is imported after the seed is set,
and a search that builds no network never imports torch."""
import subprocess
import sys
import textwrap
from pathlib import Path

from test_cli import tiny_nb201_table

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, cwd):
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                       timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_torch_imported_after_seeding_gets_the_seed(tmp_path):
    out = run_python("""
        import sys
        from nasframe.core.seeding import seed_everything
        seed_everything(3)
        seed_everything(11)  # the later seed wins; the first never fired
        assert "torch" not in sys.modules
        import torch
        late = torch.rand(4).tolist()
        torch.manual_seed(11)
        print(late == torch.rand(4).tolist(), sum(1 for f in sys.meta_path if "SeedTorch" in type(f).__name__))
        """, tmp_path)
    assert out.split() == ["True", "0"]


def test_a_lookup_search_never_imports_torch_even_through_auto(tmp_path):
    data = tiny_nb201_table(tmp_path / "data")
    out = run_python(f"""
        import sys
        from nasframe.api import search
        r = search(["strategy=random", "data.root={data}", "budget.queries=30"],  # evaluator=auto: the README path
                   out_dir="{tmp_path / 'run'}", progress=False, plot=False)
        print(len(r.history), "torch" in sys.modules)
        """, tmp_path)
    assert out.split() == ["30", "False"]
