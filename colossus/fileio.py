"""Atomic file and folder writes and the JSON encoder fallback shared by the core and the CLI.

A reader never sees a half-written file: :func:`atomic_path` yields a temporary path beside the
target and renames it onto the target only when the block succeeds; :func:`atomic_dir` does the
same for a whole folder (the simulation's results folder). Core modules (``colossus.sim``) and
the command modules both import from here, so the core never depends on the CLI.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_dir", "atomic_path", "json_default", "make_temp_dir", "replace_dir"]


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


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def make_temp_dir(path: str | os.PathLike[str]) -> Path:
    """A fresh empty folder beside ``path`` (same file system, so a rename onto ``path`` is atomic)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    return tmp


def replace_dir(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Move the finished folder ``tmp`` onto ``target``.

    An existing ``target`` is first renamed aside and removed only after the new folder is in
    place, so at every moment ``target`` is either absent, the old folder or the new one.
    """
    src, dst = Path(tmp), Path(target)
    old: Path | None = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=dst.parent))
        old.rmdir()
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return dst


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; move it onto ``path`` only if the block succeeds.

    On an exception the temporary folder is removed and ``path`` is left as it was.
    """
    tmp = make_temp_dir(path)
    try:
        yield tmp
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
