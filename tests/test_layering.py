"""The floors of the package, checked by reading the source (``ast``; nothing is imported or run).

Rules (issue 20):
- ``nasframe.core`` imports only ``nasframe.core`` and ``nasframe.errors``;
- no library module imports ``nasframe.cli`` (only ``nasframe.__main__``, the entry point, may);
- evaluators and strategies never import a concrete space module; ``nasframe.spaces.flops``
  is neutral: it counts the FLOPs of any built ``nn.Module`` and knows no space;
- no import cycle between packages (``nasframe.core``, ``nasframe.spaces``, ..., each top-level
  module its own node) and none between the modules of one package.

Lazy imports inside functions count: they hide a dependency, they do not remove it.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent / "nasframe"
NEUTRAL_SPACE_MODULES = {"nasframe.spaces", "nasframe.spaces.flops"}

KNOWN_VIOLATIONS: set = set()  # none: every rule holds; a new violation fails the test


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The nasframe modules ``path`` imports, anywhere in the file, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from pkg import mod" imports the module pkg.mod when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            if t == "nasframe" or t.startswith("nasframe."):
                while t not in modules and "." in t:  # an attribute of a module: the module
                    t = t.rpartition(".")[0]
                found.add(t)
    found.discard(name)
    return found


def import_graph() -> nx.DiGraph:
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(files)
    for name, path in files.items():
        g.add_edges_from((name, t) for t in imports_of(path, set(files)))
    return g


def package_of(module: str) -> str:
    """``nasframe.core.runner`` -> ``nasframe.core``; a top-level module is its own package."""
    return ".".join(module.split(".")[:2])


def violations(g: nx.DiGraph) -> set[tuple[str, str, str]]:
    found = set()
    for a, b in g.edges:
        if a.startswith("nasframe.core") and not (b.startswith("nasframe.core") or b == "nasframe.errors"
                                                  or b == "nasframe"):
            found.add(("core-imports-outside", a, b))
        if b == "nasframe.cli" and a != "nasframe.__main__":
            found.add(("imports-cli", a, b))
        if (package_of(a) in ("nasframe.evaluators", "nasframe.strategies") and b.startswith("nasframe.spaces")
                and b not in NEUTRAL_SPACE_MODULES):
            found.add(("concrete-space", a, b))
    packages = nx.DiGraph()
    packages.add_edges_from((package_of(a), package_of(b)) for a, b in g.edges
                            if package_of(a) != package_of(b) and "nasframe" not in (a, b))
    for cycle in nx.strongly_connected_components(packages):
        if len(cycle) > 1:
            found.add(("package-cycle", *sorted(cycle)))
    inside = nx.DiGraph([(a, b) for a, b in g.edges if package_of(a) == package_of(b)])
    for cycle in nx.strongly_connected_components(inside):
        if len(cycle) > 1:
            found.add(("module-cycle", *sorted(cycle)))
    return found


def test_the_layering_rules_hold_apart_from_the_known_violations():
    found = violations(import_graph())
    new = found - KNOWN_VIOLATIONS
    assert not new, f"new layering violations (fix them, do not list them): {sorted(new)}"
    gone = KNOWN_VIOLATIONS - found
    assert not gone, f"fixed, so remove from KNOWN_VIOLATIONS: {sorted(gone)}"


def test_the_checker_sees_each_kind_of_violation(tmp_path, monkeypatch):
    """The rules on a made-up tree: each kind is reported, lazy and relative imports included."""
    fake = tmp_path / "nasframe"
    files = {
        "__init__.py": "", "errors.py": "", "cli.py": "", "__main__.py": "from nasframe.cli import run\n",
        "core/__init__.py": "", "core/runner.py": "from . import ledger\ndef f():\n    from nasframe.analysis import plots\n",
        "core/ledger.py": "from nasframe.errors import X\n",
        "analysis/__init__.py": "", "analysis/plots.py": "from nasframe.evaluators.lookup import L\n",
        "evaluators/__init__.py": "", "evaluators/lookup.py": "import nasframe.analysis.plots\n",
        "evaluators/zc.py": "from ..spaces.nb201 import S\nfrom nasframe.spaces import flops\n",
        "spaces/__init__.py": "", "spaces/nb201.py": "from nasframe.spaces.net import N\n",
        "spaces/net.py": "from nasframe.spaces import nb201\n", "spaces/flops.py": "",
        "report.py": "from nasframe import cli\n",
    }
    for rel, text in files.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    assert violations(import_graph()) == {
        ("core-imports-outside", "nasframe.core.runner", "nasframe.analysis.plots"),
        ("imports-cli", "nasframe.report", "nasframe.cli"),
        ("concrete-space", "nasframe.evaluators.zc", "nasframe.spaces.nb201"),
        ("package-cycle", "nasframe.analysis", "nasframe.evaluators"),
        ("module-cycle", "nasframe.spaces.nb201", "nasframe.spaces.net"),
    }
