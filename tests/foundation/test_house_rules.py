"""Import direction and randomness rules, checked on the source text (AST), not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("colossus", "scheduler", "capacity", "traces")


def _py_files(pkg: str):
    return sorted((ROOT / pkg).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize(
    "pkg,forbidden",
    [
        ("traces", {"colossus", "scheduler", "capacity"}),
        ("scheduler", {"colossus", "traces", "capacity", "simpy"}),
        ("colossus", {"capacity"}),
    ],
)
def test_one_way_imports(pkg, forbidden):
    for f in _py_files(pkg):
        rel = f.relative_to(ROOT).as_posix()
        if pkg == "colossus" and (rel == "colossus/cli.py" or rel.startswith("colossus/commands/")):
            continue  # the CLI layer sits on top of everything
        bad = _imports(f) & forbidden
        assert not bad, f"{rel} imports {sorted(bad)}"


_ALLOWED_NP_RANDOM = {"Generator", "default_rng", "SeedSequence", "PCG64", "PCG64DXSM", "Philox", "SFC64", "BitGenerator"}


def test_no_global_random_state():
    for pkg in (*PACKAGES, "benchmarks"):
        for f in _py_files(pkg):
            tree = ast.parse(f.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    assert all(a.name != "random" for a in node.names), f"{f}: imports the global random module"
                if isinstance(node, ast.ImportFrom) and node.module == "random":
                    raise AssertionError(f"{f}: imports from the global random module")
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
                    inner = node.value
                    if inner.attr == "random" and isinstance(inner.value, ast.Name) and inner.value.id in ("np", "numpy"):
                        assert node.attr in _ALLOWED_NP_RANDOM, f"{f}:{node.lineno}: np.random.{node.attr} uses global state"
