"""CLI conventions: --version, --help at every level, sibling-package check, exit codes."""

from __future__ import annotations

import subprocess
import sys
import types

import click
import pytest
from click.testing import CliRunner

import colossus
from colossus import cli as cli_mod


def _walk(cmd: click.Command, path: tuple[str, ...] = ()):
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            yield from _walk(cmd.get_command(ctx, name), (*path, name))


def test_version():
    res = CliRunner().invoke(cli_mod.cli, ["--version"])
    assert res.exit_code == 0 and colossus.__version__ in res.output


def test_help_on_every_level():
    seen = 0
    for path, _cmd in _walk(cli_mod.cli):
        res = CliRunner().invoke(cli_mod.cli, [*path, "--help"])
        assert res.exit_code == 0, (path, res.output)
        assert "Usage:" in res.output
        seen += 1
    assert seen >= 5


def test_unknown_command_is_usage_error():
    res = CliRunner().invoke(cli_mod.cli, ["frobnicate"])
    assert res.exit_code == 2


def test_siblings_are_ours():
    assert cli_mod.check_siblings() is None


def test_foreign_sibling_detected(monkeypatch):
    fake = types.ModuleType("traces")
    fake.__file__ = "/site-packages/traces/__init__.py"
    monkeypatch.setitem(sys.modules, "traces", fake)
    msg = cli_mod.check_siblings()
    assert msg is not None and "'traces'" in msg and "not colossus-planner's" in msg


def test_foreign_sibling_exits_2(monkeypatch, capsys):
    fake = types.ModuleType("scheduler")
    monkeypatch.setitem(sys.modules, "scheduler", fake)
    with pytest.raises(SystemExit) as exc:
        cli_mod.main(["scenario", "list"])
    assert exc.value.code == 2
    assert "scheduler" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "colossus.cli", "scenario", "list"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "memphis" in out.stdout
