"""Streaming, validating reader of schema-v1 trace files.

Memory is bounded by one row group plus a few batches, not by the file: rows are streamed with
``pyarrow.parquet.ParquetFile.iter_batches`` (shared/reference/ecosystem.md §4) with
``pre_buffer=False`` (with pyarrow's default pre-buffering, the buffers of every row group read
stay allocated until the file is closed: measured +190 MB over a 10M-row file). Every batch is
validated (see :mod:`traces.validate`) before it is handed out; the first bad row raises
:class:`~traces.errors.TraceError` naming the file, the row (counted from 1) and the column.

Stable API for the simulation: :func:`iter_batches`, :func:`read_table`, :func:`read_metadata`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from traces.errors import TraceError
from traces.schema import (
    META_SOURCE,
    META_START,
    META_VERSION,
    SCHEMA_V1,
    SCHEMA_VERSION,
    parse_start,
)
from traces.validate import BatchValidator, conform_batch, conform_schema, decode_dictionaries

__all__ = ["TraceMetadata", "iter_batches", "read_metadata", "read_table"]

_DICT_COLUMNS = ("division", "kind", "user", "model", "source_status")


@dataclass(frozen=True, kw_only=True, slots=True)
class TraceMetadata:
    """File-level facts of a trace, read from the Parquet footer without reading rows."""

    path: Path
    """The file."""
    version: int
    """Schema version (``colossus.trace.version``)."""
    start: datetime
    """UTC instant that ``submit_time_s == 0`` stands for (``colossus.trace.start``)."""
    source: str
    """Where the rows came from (``colossus.trace.source``)."""
    num_rows: int
    """Rows in the file."""
    extra_columns: tuple[str, ...]
    """Columns beyond schema v1, kept and ignored."""


def _open(path: str | Path) -> tuple[pq.ParquetFile, TraceMetadata]:
    p = Path(path)
    if not p.is_file():
        raise TraceError(f"{p}: no such file")
    try:
        pf = pq.ParquetFile(p, pre_buffer=False)
        schema = pf.schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceError(
            f"{p}: not a readable Parquet file ({' '.join(str(exc).split())})"
        ) from None
    meta = schema.metadata or {}
    if META_VERSION not in meta:
        raise TraceError(
            f"{p}: missing file metadata '{META_VERSION.decode()}' (not a colossus trace)"
        )
    try:
        version = int(meta[META_VERSION])
    except ValueError:
        raise TraceError(
            f"{p}: file metadata '{META_VERSION.decode()}' is not an integer"
        ) from None
    if version != SCHEMA_VERSION:
        raise TraceError(
            f"{p}: trace schema version {version} is not supported (expected {SCHEMA_VERSION})"
        )
    try:
        start = parse_start(meta.get(META_START, b"").decode())
    except ValueError:
        raise TraceError(
            f"{p}: file metadata '{META_START.decode()}' is not an ISO 8601 time"
        ) from None
    conform_schema(schema, str(p))
    extras = tuple(n for n in schema.names if n not in SCHEMA_V1.names)
    return pf, TraceMetadata(
        path=p,
        version=version,
        start=start,
        source=meta.get(META_SOURCE, b"").decode(),
        num_rows=pf.metadata.num_rows,
        extra_columns=extras,
    )


def read_metadata(path: str | Path) -> TraceMetadata:
    """Footer facts of a trace file (version, start, source, rows); checks the schema, reads no rows.

    Raises
    ------
    TraceError
        When the file is not a readable schema-v1 trace.
    """
    return _open(path)[1]


_DONE = object()


def _prefetch(source: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Decode the next batches on a worker thread while the caller validates and uses this one.

    Arrow decoding releases the GIL, so on two cores decoding and validation overlap. At most
    ``depth`` decoded batches wait in the queue (memory stays bounded). Exceptions raised while
    decoding are re-raised here; closing this generator stops the worker.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:
            put(exc)

    worker = threading.Thread(target=work, name="trace-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _confirm_in_file(path: Path, batch_rows: int) -> Callable[[str, int], int | None]:
    """Look a suspected duplicate up among the earlier rows (own file handle: the prefetch thread
    is reading the main one)."""

    def confirm(job_id: str, row: int) -> int | None:
        seen = 0
        for b in pq.ParquetFile(path, pre_buffer=False).iter_batches(
            batch_size=batch_rows, columns=["job_id"]
        ):
            col = b.column(0).slice(0, max(0, min(b.num_rows, row - 1 - seen)))
            pos = pc.index(col, job_id).as_py()
            if pos >= 0:
                return seen + pos + 1
            seen += b.num_rows
            if seen >= row - 1:
                return None
        return None

    return confirm


def _replay_from_file(path: Path, batch_rows: int) -> Callable[[int], Iterator[pa.Array]]:
    """Re-read the job ids of the first rows of a file (own file handle)."""

    def replay(rows: int) -> Iterator[pa.Array]:
        seen = 0
        for b in pq.ParquetFile(path, pre_buffer=False).iter_batches(
            batch_size=batch_rows, columns=["job_id"]
        ):
            if seen >= rows:
                return
            col = b.column(0).cast(pa.string())
            yield col.slice(0, min(b.num_rows, rows - seen))
            seen += b.num_rows

    return replay


def iter_batches(
    path: str | Path,
    *,
    batch_rows: int = 65536,
    columns: Sequence[str] | None = None,
    divisions: Collection[str] | None = None,
    validate: bool = True,
) -> Iterator[pa.RecordBatch]:
    """Stream a trace as record batches in submit order, each validated before it is yielded.

    Parameters
    ----------
    path : str or Path
        A schema-v1 Parquet trace.
    batch_rows : int
        Rows per batch (the last one may be shorter); memory grows with it, not with the file.
    columns : sequence of str, optional
        Columns to yield, in this order; default: the 13 v1 columns then any extra columns.
        Validation always looks at all v1 columns.
    divisions : collection of str, optional
        Allowed division names (a scenario's divisions); default: any.
    validate : bool
        Check every batch (types are always conformed); turn off only for files just validated.

    Yields
    ------
    pyarrow.RecordBatch
        Columns cast to their exact v1 types (dictionary strings decoded, integers narrowed).

    Raises
    ------
    TraceError
        At the first bad row, naming the file, the row (from 1) and the column.
    """
    pf, meta = _open(path)
    where = str(meta.path)
    if columns is not None:
        unknown = [c for c in columns if c not in SCHEMA_V1.names and c not in meta.extra_columns]
        if unknown:
            raise TraceError(f"{where}: no column {unknown[0]!r} in the file")
    # Low-cardinality text is decoded as dictionaries (much faster than plain strings) and
    # validated through the dictionary; batches are handed out as plain strings.
    text = [
        c
        for c in _DICT_COLUMNS
        if c in pf.schema_arrow.names and pa.types.is_string(pf.schema_arrow.field(c).type)
    ]
    if text:
        pf = pq.ParquetFile(meta.path, read_dictionary=text, pre_buffer=False)
    read_cols = None
    if columns is not None:  # v1 columns are always read: batches are conformed and validated
        read_cols = [n for n in pf.schema_arrow.names if n in SCHEMA_V1.names or n in columns]
    validator = (
        BatchValidator(
            where,
            divisions=divisions,
            confirm_duplicate=_confirm_in_file(meta.path, batch_rows),
            replay_ids=_replay_from_file(meta.path, batch_rows),
        )
        if validate
        else None
    )
    row = 1

    def decoded() -> Iterator[tuple[pa.RecordBatch, pa.RecordBatch]]:
        # Runs on the prefetch thread: Parquet decoding, type conforming and turning dictionary
        # text back into strings all release the GIL, so they overlap the validation below.
        first = 1
        for raw in pf.iter_batches(batch_size=batch_rows, columns=read_cols, use_threads=True):
            encoded = conform_batch(raw, where, first, keep_dictionary=True)
            first += raw.num_rows
            yield encoded, decode_dictionaries(encoded)

    try:
        for encoded, batch in _prefetch(decoded()):
            if validator is not None:
                validator.check(encoded)
            row += batch.num_rows
            if columns is not None:
                batch = batch.select(list(columns))
            yield batch
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceError(
            f"{where}: unreadable near row {row} ({' '.join(str(exc).split())})"
        ) from None


def read_table(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    divisions: Collection[str] | None = None,
) -> pa.Table:
    """The whole trace as one validated table (convenience for small files and tests)."""
    pf, _ = _open(path)
    batches = list(iter_batches(path, columns=columns, divisions=divisions))
    if batches:
        table = pa.Table.from_batches(batches)
    else:
        schema = SCHEMA_V1 if columns is None else pa.schema([SCHEMA_V1.field(c) for c in columns])
        table = schema.empty_table()
    return table.replace_schema_metadata(pf.schema_arrow.metadata)
