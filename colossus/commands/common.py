"""Helpers shared by the command modules: console, JSON output, options.

The atomic write helpers live in :mod:`colossus.fileio` (core); they are re-exported here for
the command modules.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from colossus.fileio import atomic_path, json_default

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["atomic_path", "console", "emit_json", "json_default", "out_option", "quiet_option", "seed_option"]


def console(stderr: bool = False) -> Any:
    """A rich console (plain when not a terminal, so logs and pipes stay readable)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 140)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2, default=json_default, sort_keys=False))


def seed_option(default: int = 0) -> Callable[[F], F]:
    """``--seed S``: root seed of every random stream (same seed, same bytes)."""
    return click.option("--seed", type=click.IntRange(min=0), default=default, show_default=True,
                        help="Root random seed; the same seed gives byte-identical outputs.")


def out_option(default: str | None = None, help_text: str = "Output folder.") -> Callable[[F], F]:
    """``--out DIR``."""
    return click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=default,
                        show_default=default is not None, help=help_text)


def quiet_option() -> Callable[[F], F]:
    """``--quiet``: no progress bars or tables, errors only."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress bars or tables.")
