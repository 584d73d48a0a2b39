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


_CLI_MODULES = ("colossus.cli", "colossus.commands")


def _module_name(rel: str) -> str:
    """``colossus/sim/x.py`` -> ``colossus.sim.x``; ``colossus/sim/__init__.py`` -> ``colossus.sim``."""
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _full_imports(source: str, rel: str) -> set[str]:
    """Every module a file imports, by full dotted name: ``import a.b``, ``from a.b import c`` (also
    ``a.b.c``, which may be a module), relative imports resolved against the file's package, and
    ``importlib.import_module("a.b")`` with a literal name."""
    package = _module_name(rel) if rel.endswith("__init__.py") else _module_name(rel).rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"):
            out.add(node.args[0].value)
    return out


def _cli_imports(source: str, rel: str) -> list[str]:
    return sorted(m for m in _full_imports(source, rel)
                  if any(m == c or m.startswith(c + ".") for c in _CLI_MODULES))


def test_core_never_imports_the_cli():
    """Only colossus/cli.py and colossus/commands/** may import colossus.cli or colossus.commands:
    the core (sim, scenario, steptime, adapters, ...) must work without the CLI layer."""
    for f in _py_files("colossus"):
        rel = f.relative_to(ROOT).as_posix()
        if rel == "colossus/cli.py" or rel.startswith("colossus/commands/"):
            continue
        bad = _cli_imports(f.read_text(encoding="utf-8"), rel)
        assert not bad, f"{rel} imports {bad} (core must not import the CLI; use colossus.fileio etc.)"


@pytest.mark.parametrize(
    "source,rel,flagged",
    [
        ("from colossus.commands.common import atomic_path", "colossus/sim/x.py", True),
        ("import colossus.cli", "colossus/sim/x.py", True),
        ("from colossus import commands", "colossus/sim/x.py", True),
        ("from colossus import cli as c", "colossus/x.py", True),
        ("def f():\n    from ..commands import common", "colossus/sim/x.py", True),
        ("from .commands.common import console", "colossus/__init__.py", True),
        ("import importlib\nimportlib.import_module('colossus.commands.trace')", "colossus/x.py", True),
        ("from colossus.fileio import atomic_path", "colossus/sim/x.py", False),
        ("from colossus import cluster", "colossus/sim/x.py", False),
        ("from colossus.commandsx import y", "colossus/sim/x.py", False),
        ("from . import replay", "colossus/sim/x.py", False),
    ],
)
def test_cli_import_check_sees_every_form(source, rel, flagged):
    assert bool(_cli_imports(source, rel)) is flagged


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
