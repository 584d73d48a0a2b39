"""Shared pieces of the importers: CSV reading with line-precise errors, parsing, assembly."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from traces.errors import TraceError
from traces.importers.divisions import DivisionMap
from traces.schema import (
    DEFAULT_PREEMPTIBLE,
    DEFAULT_PRIORITY,
    OPTIONAL_FIELDS,
    RECORDED_WAIT,
    TIME_LIMIT,
    SCHEMA_V1,
)

__all__ = [
    "ImportResult",
    "Rows",
    "assemble",
    "read_csv",
    "stack_rows",
    "to_epoch_s",
    "to_float",
    "to_int",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class ImportResult:
    """A source trace converted to schema v1."""

    table: pa.Table
    """Rows in submit order, schema v1."""
    start: datetime
    """UTC instant of submit_time_s == 0."""
    source: str
    """Provenance for ``colossus.trace.source``."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Source rows left out, by reason."""


def read_csv(
    path: Path, fmt: str, required: Sequence[str], *, names: Sequence[str] | None = None
) -> pa.Table:
    """Read a CSV with every column as text; check the required columns are there.

    ``names`` gives the column names of a headerless file (its column count must match).
    """
    if not path.is_file():
        raise TraceError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise TraceError(f"{path}: empty file (expected a {fmt} CSV)")
    read = pcsv.ReadOptions(column_names=list(names) if names else None, block_size=1 << 22)
    try:
        if names is None:
            types = {c: pa.string() for c in _header(path)}
        else:
            types = {c: pa.string() for c in names}
        table = pcsv.read_csv(
            path,
            read_options=read,
            convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: not a {fmt} CSV ({' '.join(str(exc).split())})") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        found = ", ".join(table.column_names[:12])
        raise TraceError(
            f"{path}: missing column '{missing[0]}' for format '{fmt}' (found: {found})"
        )
    return table


def _header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        line = fh.readline()
    return [c.strip().strip('"') for c in line.rstrip("\r\n").split(",")]


def _line(row: int, headerless: bool) -> int:
    return row + (1 if headerless else 2)


def _first_bad(col: pa.ChunkedArray, cast: pa.DataType) -> int:
    values = col.to_pylist()
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            pa.array([v]).cast(cast)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return i
    return 0


def to_float(
    table: pa.Table, name: str, path: Path, *, headerless: bool = False, allow_null: bool = False
) -> np.ndarray:
    """A text column as float64 (NaN for null when allowed); errors name the line and column."""
    col = table.column(name)
    try:
        arr = pc.cast(col, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        i = _first_bad(col, pa.float64())
        raise TraceError(
            f"{path}: line {_line(i, headerless)}: column '{name}': not a number: {col[i].as_py()!r}"
        ) from None
    if arr.null_count and not allow_null:
        i = int(np.argmax(pc.is_null(arr).to_numpy(zero_copy_only=False)))
        raise TraceError(
            f"{path}: line {_line(i, headerless)}: column '{name}': missing or NaN value"
        )
    out = arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    bad = (
        ~np.isfinite(out)
        if not allow_null
        else np.isinf(out) | (np.isnan(out) & ~pc.is_null(arr).to_numpy(zero_copy_only=False))
    )
    if bad.any():
        i = int(np.argmax(bad))
        raise TraceError(
            f"{path}: line {_line(i, headerless)}: column '{name}': not a finite number: {col[i].as_py()!r}"
        )
    return out


def to_int(table: pa.Table, name: str, path: Path, *, headerless: bool = False) -> np.ndarray:
    """A text column of whole numbers as int64 (``8.0`` accepted); errors name the line and column."""
    x = to_float(table, name, path, headerless=headerless)
    frac = x != np.round(x)
    if frac.any():
        i = int(np.argmax(frac))
        raise TraceError(
            f"{path}: line {_line(i, headerless)}: column '{name}': not a whole number: {x[i]!r}"
        )
    return x.astype(np.int64)


def to_epoch_s(table: pa.Table, name: str, path: Path, *, allow_null: bool = False) -> np.ndarray:
    """Wall-clock text ('YYYY-MM-DD HH:MM:SS', ISO 8601 with or without zone; naive = UTC) as epoch seconds."""
    col = table.column(name)
    text = pc.replace_substring_regex(
        col, r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)", r"\1T\2"
    )
    out = np.full(len(col), np.nan)
    valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
    try:
        ts = pc.cast(
            pc.strptime(text, format="%Y-%m-%dT%H:%M:%S%z", unit="s", error_is_null=True),
            pa.int64(),
        )
        zoned = ts.to_numpy(zero_copy_only=False).astype(float)
        missing = np.isnan(zoned) & valid
        if missing.any():
            naive = pc.cast(
                pc.strptime(text, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True),
                pa.int64(),
            )
            n = naive.to_numpy(zero_copy_only=False).astype(float)
            zoned = np.where(missing, n, zoned)
        out = zoned
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise TraceError(f"{path}: column '{name}': {' '.join(str(exc).split())}") from None
    bad = np.isnan(out) & (valid | (not allow_null))
    if bad.any():
        i = int(np.argmax(bad))
        what = "empty value" if not valid[i] else f"not a date-time: {col[i].as_py()!r}"
        raise TraceError(f"{path}: line {i + 2}: column '{name}': {what}")
    return out


@dataclass(kw_only=True, slots=True)
class Rows:
    """Columns of imported jobs before assembly (numpy or Arrow, one entry per job)."""

    path_of_row: np.ndarray
    """Index into the list of source files, per row (for error messages)."""
    line: np.ndarray
    """Line number in its source file, per row."""
    job_id: pa.Array
    submit_s: np.ndarray
    """Absolute submit times, seconds (epoch or the source's own origin)."""
    duration_s: np.ndarray
    num_gpus: np.ndarray
    division_key: pa.Array
    kind: pa.Array | None = None
    priority: np.ndarray | None = None
    preemptible: np.ndarray | None = None
    user: pa.Array | None = None
    source_status: pa.Array | None = None
    start_s: np.ndarray | None = None
    """Absolute start times (same clock as ``submit_s``; NaN = unknown), when the source has them:
    the table then gets the optional ``recorded_wait_s = max(0, start - submit)`` column."""
    time_limit_s: np.ndarray | None = None
    """Wall-time limits, seconds (NaN = none or unknown), when the source has them: the table then
    gets the optional ``time_limit_s`` column."""


def stack_rows(
    pieces: Mapping[str, Sequence[np.ndarray | pa.Array | pa.ChunkedArray]],
    **whole: np.ndarray | pa.Array | None,
) -> Rows:
    """:class:`Rows` from per-file pieces of each column (the importers' common assembly).

    Parameters
    ----------
    pieces
        :class:`Rows` field name -> one piece per source file, in file order. NumPy pieces are
        joined with ``np.concatenate``, Arrow pieces (chunked or not) with ``pa.concat_arrays``.
    **whole
        Fields given already whole (computed over all files), passed through unchanged.
    """
    cols: dict[str, np.ndarray | pa.Array | None] = {}
    for name, parts in pieces.items():
        if not parts:
            raise ValueError(f"column {name!r}: no pieces to stack")
        if isinstance(parts[0], (pa.Array, pa.ChunkedArray)):
            cols[name] = pa.concat_arrays(
                [p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p for p in parts]
            )
        else:
            cols[name] = np.concatenate(parts)
    return Rows(**cols, **whole)


def assemble(
    rows: Rows,
    paths: Sequence[Path],
    *,
    divisions: DivisionMap,
    origin: datetime = EPOCH,
    source: str,
    dropped: dict[str, int] | None = None,
) -> ImportResult:
    """Check ranges (naming file, line and column), map divisions, sort by submit time."""
    dropped = dict(dropped or {})

    def fail(mask: np.ndarray, column: str, what: str) -> None:
        if mask.any():
            i = int(np.argmax(mask))
            raise TraceError(
                f"{paths[rows.path_of_row[i]]}: line {rows.line[i]}: column '{column}': {what}"
            )

    fail(~np.isfinite(rows.submit_s), "submit time", "not a finite time")
    fail(rows.num_gpus < 0, "GPUs", "negative GPU count")
    fail(~np.isfinite(rows.duration_s), "duration", "not a finite duration")
    fail(rows.duration_s < 0, "duration", "negative duration")
    keep = (rows.num_gpus >= 1) & (rows.duration_s > 0)
    if (rows.num_gpus < 1).any():
        dropped["no GPU (CPU-only job)"] = dropped.get("no GPU (CPU-only job)", 0) + int(
            (rows.num_gpus < 1).sum()
        )
    zero_d = (rows.num_gpus >= 1) & (rows.duration_s <= 0)
    if zero_d.any():
        dropped["zero run time"] = dropped.get("zero run time", 0) + int(zero_d.sum())
    idx = np.flatnonzero(keep)
    t = rows.submit_s[idx]
    order = idx[np.argsort(t, kind="stable")]
    n = order.size
    take = pa.array(order)
    t0 = float(rows.submit_s[order[0]]) if n else 0.0
    start = origin + timedelta(seconds=math.floor(t0)) if n else origin
    t0 = math.floor(t0)
    kind = (
        rows.kind.take(take)
        if rows.kind is not None
        else pa.array(np.full(n, "other"), pa.string())
    )
    kind_np = np.asarray(kind.to_numpy(zero_copy_only=False), dtype=object)
    if rows.priority is not None:
        prio = rows.priority[order].astype(np.int16)
    else:
        prio = (
            np.array([DEFAULT_PRIORITY[k] for k in kind_np], dtype=np.int16)
            if n
            else np.zeros(0, np.int16)
        )
    if rows.preemptible is not None:
        pre = rows.preemptible[order].astype(bool)
    else:
        pre = (
            np.array([DEFAULT_PREEMPTIBLE[k] for k in kind_np], dtype=bool)
            if n
            else np.zeros(0, bool)
        )
    g = rows.num_gpus[order]
    too_big = g > np.iinfo(np.int32).max
    if too_big.any():
        i = order[int(np.argmax(too_big))]
        raise TraceError(
            f"{paths[rows.path_of_row[i]]}: line {rows.line[i]}: column 'GPUs': too large"
        )
    div = divisions.map(rows.division_key.take(take))

    def opt(a: pa.Array | None, type_: pa.DataType) -> pa.Array:
        return a.take(take).cast(type_) if a is not None else pa.nulls(n, type_)

    arrays = {
        "job_id": rows.job_id.take(take).cast(pa.string()),
        "submit_time_s": pa.array(rows.submit_s[order] - t0),
        "division": div,
        "num_gpus": pa.array(g.astype(np.int32)),
        "duration_s": pa.array(rows.duration_s[order].astype(np.float64)),
        "kind": kind.cast(pa.string()),
        "priority": pa.array(prio),
        "preemptible": pa.array(pre),
        "work_tokens": pa.nulls(n, pa.float64()),
        "model": pa.nulls(n, pa.string()),
        "min_gpus": pa.nulls(n, pa.int32()),
        "user": opt(rows.user, pa.string()),
        "source_status": opt(rows.source_status, pa.string()),
    }
    table = pa.Table.from_arrays([arrays[f.name] for f in SCHEMA_V1], schema=SCHEMA_V1)
    if rows.start_s is not None:
        wait = rows.start_s[order] - rows.submit_s[order]
        known = np.isfinite(wait)
        table = table.append_column(
            OPTIONAL_FIELDS[RECORDED_WAIT],
            pa.array(np.where(known, np.maximum(wait, 0.0), 0.0), mask=~known),
        )
    if rows.time_limit_s is not None:
        lim = rows.time_limit_s[order]
        known = np.isfinite(lim)
        table = table.append_column(
            OPTIONAL_FIELDS[TIME_LIMIT], pa.array(np.where(known, lim, 0.0), mask=~known)
        )
    _check_unique(table, rows, order, paths)
    return ImportResult(table=table, start=start, source=source, dropped=dropped)


def _check_unique(table: pa.Table, rows: Rows, order: np.ndarray, paths: Sequence[Path]) -> None:
    ids = table.column("job_id")
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return
    seen: dict[str, int] = {}
    for pos, job_id in enumerate(ids.to_pylist()):
        if job_id in seen:
            i, j = order[seen[job_id]], order[pos]
            first, second = sorted((int(i), int(j)))
            raise TraceError(
                f"{paths[rows.path_of_row[second]]}: line {rows.line[second]}: column 'job id': "
                f"duplicate id {job_id!r} (also at {paths[rows.path_of_row[first]]} line {rows.line[first]})"
            )
        seen[job_id] = pos


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """Concatenate text tables with the same columns."""
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]


def map_values(
    col: pa.Array | pa.ChunkedArray, mapping: dict[str, str], default: str | None
) -> pa.Array:
    """Map text values through ``mapping`` (case-sensitive); unmapped values become ``default``."""
    enc = (col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col).dictionary_encode()
    names = [
        mapping.get(v, default) if v is not None else default for v in enc.dictionary.to_pylist()
    ]
    return pa.DictionaryArray.from_arrays(enc.indices, pa.array(names, pa.string())).cast(
        pa.string()
    )
