"""Helpers shared by the command modules: console, JSON output, atomic writes, options."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["atomic_path", "console", "emit_json", "json_default", "out_option", "quiet_option", "seed_option"]


def console(stderr: bool = False) -> Any:
    """A rich console (plain when not a terminal, so logs and pipes stay readable)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 140)


def json_default(obj: Any) -> Any:
    """JSON encoder fallback for dates, numpy scalars/arrays and paths."""
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2, default=json_default, sort_keys=False))


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


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
