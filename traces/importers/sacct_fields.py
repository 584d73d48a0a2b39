"""Field parsers for ``sacct --parsable2`` exports: date-times, elapsed times, time limits and GPU counts.

Each raises :class:`traces.errors.TraceError` with a message naming ``where`` (file and line) and the
column, for the importer in :mod:`traces.importers.sacct` to pass on as one line.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from traces.errors import TraceError
from traces.importers._common import EPOCH

__all__ = ["gpus_gres", "gpus_tres", "parse_elapsed", "parse_time", "parse_time_limit"]

_EPOCH_NAIVE = datetime(1970, 1, 1)
NO_LIMIT = {"UNLIMITED", "PARTITION_LIMIT", "INVALID", "NONE"}
"""Timelimit / TimelimitRaw values that mean no limit."""
_GPU_TRES = re.compile(r"^gres/gpu(?::[^=]*)?$")
_ELAPSED = re.compile(r"^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")


def parse_time(text: str, where: str, column: str) -> float:
    """``YYYY-MM-DDTHH:MM:SS`` (zone optional; naive = UTC) as epoch seconds."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise TraceError(f"{where}: column '{column}': not a date-time: {text!r}") from None
    if value.tzinfo is None:
        return (value - _EPOCH_NAIVE).total_seconds()
    return (value - EPOCH).total_seconds()


def parse_elapsed(raw: str, text: str, where: str) -> float:
    """ElapsedRaw seconds, else Elapsed ``[D-][HH:]MM:SS``."""
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise TraceError(f"{where}: column 'ElapsedRaw': not a number: {raw!r}") from None
        if math.isfinite(value) and value >= 0:
            return value
        raise TraceError(f"{where}: column 'ElapsedRaw': must be >= 0, got {raw!r}")
    m = _ELAPSED.match(text)
    if not m:
        what = (
            "no End, ElapsedRaw or Elapsed for a finished job"
            if not text
            else f"not [D-]HH:MM:SS: {text!r}"
        )
        raise TraceError(f"{where}: column 'Elapsed': {what}")
    return _seconds(m)


def _seconds(m: re.Match[str]) -> float:
    """Seconds of a ``[D-][HH:]MM:SS`` match of :data:`_ELAPSED`."""
    d, h, mi, s = m.groups()
    return int(d or 0) * 86_400.0 + int(h or 0) * 3600.0 + int(mi) * 60.0 + float(s)


def parse_time_limit(raw: str, text: str, where: str) -> float:
    """Time limit, s: TimelimitRaw minutes, else Timelimit ``[D-]HH:MM:SS`` / ``MM:SS``; NaN for
    ``UNLIMITED``, ``Partition_Limit`` or empty."""
    if raw and raw.upper() not in NO_LIMIT:
        try:
            value = float(raw)
        except ValueError:
            raise TraceError(f"{where}: column 'TimelimitRaw': not a number of minutes: {raw!r}") from None
        if not (math.isfinite(value) and value >= 0):
            raise TraceError(f"{where}: column 'TimelimitRaw': must be >= 0 minutes, got {raw!r}")
        return value * 60.0
    if not text or text.upper() in NO_LIMIT:
        return math.nan
    m = _ELAPSED.match(text)
    if not m:
        raise TraceError(
            f"{where}: column 'Timelimit': not [D-]HH:MM:SS, MM:SS or UNLIMITED: {text!r}"
        )
    return _seconds(m)


def gpus_tres(text: str, where: str, column: str) -> int:
    """GPUs in a TRES list (``billing=8,cpu=64,gres/gpu:h100=8,gres/gpu=8,mem=1T``)."""
    at = ("," + text).find(",gres/gpu=")
    if at >= 0:  # the untyped total: the common case, read directly
        value = text[at + 9 :].split(",", 1)[0].strip()
        return _count(value, where, column, "gres/gpu")
    total: int | None = None
    typed = 0
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        if not _GPU_TRES.match(name):
            continue
        n = _count(value, where, column, name)
        if name == "gres/gpu":
            total = n
        else:
            typed += n
    return total if total is not None else typed


def gpus_gres(text: str, where: str, column: str) -> int:
    """GPUs in an AllocGRES list (``gpu:8``, ``gpu:h100:8(IDX:0-7)``)."""
    total = 0
    for item in text.split(","):
        parts = item.strip().split("(")[0].split(":")
        if parts[0] != "gpu":
            continue
        total += _count(parts[-1] if len(parts) > 1 else "1", where, column, "gpu")
    return total


def _count(value: str, where: str, column: str, name: str) -> int:
    if not value.isdigit():
        raise TraceError(f"{where}: column '{column}': {name}: not a whole number: {value!r}")
    return int(value)
