"""The ``colossus`` command: the only module that sits on top of every package.

Conventions for every subcommand (see ``colossus --help``):

- exit code 0 ok, 1 internal error, 2 bad input or usage;
- bad input prints one line ``error: <file>: <key/row/column>: <what>`` on stderr, no traceback;
- ``--seed`` for anything random, ``--out DIR`` for results, ``--json`` for machine-readable
  output on stdout, ``--quiet`` to silence progress and tables.

Subcommands live in :mod:`colossus.commands`; each module there exposes ``COMMANDS``, a list of
click commands or groups, and is imported lazily so ``colossus --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from colossus import __version__

# Command modules, in the order ``--help`` lists them.
_COMMAND_MODULES: tuple[str, ...] = (
    "colossus.commands.scenario",
    "colossus.commands.trace",
    "colossus.commands.steptime",
    "colossus.commands.schedule",
    "colossus.commands.simulate",
    "colossus.commands.plan",
)

_OUR_SIBLINGS = ("scheduler", "capacity", "traces")


def check_siblings() -> str | None:
    """Return an error message when a sibling package is not ours, else ``None``.

    ``scheduler``, ``capacity`` and ``traces`` are also names of unrelated PyPI projects; installing
    one of them overwrites ours silently. Each of ours carries ``__colossus_planner__ = True``.
    """
    for name in _OUR_SIBLINGS:
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
            return f"cannot import package {name!r} ({type(exc).__name__}: {exc}); reinstall colossus-planner in a fresh virtual environment"
        if not getattr(mod, "__colossus_planner__", False):
            where = getattr(mod, "__file__", "?")
            return (
                f"package {name!r} at {where} is not colossus-planner's (an unrelated PyPI project "
                f"of the same name?); install colossus-planner into a fresh virtual environment"
            )
    return None


def _input_error_types() -> tuple[type[BaseException], ...]:
    from colossus.errors import InputError

    types: list[type[BaseException]] = [InputError]
    for mod_name, attr in (("traces.errors", "TraceError"), ("scheduler.errors", "SchedulerInputError")):
        try:
            types.append(getattr(importlib.import_module(mod_name), attr))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


class _LazyGroup(click.Group):
    """A group that loads its subcommands from :data:`_COMMAND_MODULES` on first use."""

    _loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for mod_name in _COMMAND_MODULES:
            mod = importlib.import_module(mod_name)
            for cmd in mod.COMMANDS:
                self.add_command(cmd)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return list(self.commands)  # registration order, not alphabetical

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Turn bad-input exceptions into one line on stderr and exit code 2."""
        try:
            return super().invoke(ctx)
        except _input_error_types() as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            raise click.exceptions.Exit(2) from None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="colossus")
def cli() -> None:
    """Run and plan an AI supercluster of the Memphis "Colossus" kind.

    Scenario files describe the cluster (the built-in `memphis` is the default everywhere);
    traces are Parquet files of jobs; results are folders of Parquet, JSON and HTML.

    \b
    Exit codes: 0 ok, 1 internal error, 2 bad input or usage.
    Start with:  colossus scenario show
    """


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: sibling check, then the click group."""
    problem = check_siblings()
    if problem is not None:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    cli.main(args=argv, prog_name="colossus")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    main()
