"""Job-trace schema version 1: the one place that defines columns, types and file metadata.

See DESIGN.md §3.2. A trace is a Parquet file with one row per job, in submit order, and three
file-metadata keys (:data:`META_VERSION`, :data:`META_START`, :data:`META_SOURCE`).

Optional columns of v1 (:data:`OPTIONAL_FIELDS`) may be present or absent; when present they come
after the 13 required-or-nullable columns and are typed and range-checked like them:

- ``recorded_wait_s`` (float64, nullable): ``start - submit`` in seconds as the source recorded it,
  >= 0. Written by the importers whose source has start times (sacct, Helios, Acme, Philly JSON);
  ``colossus simulate --trace`` compares the simulated waits with it (``colossus.sim.replay``).
- ``time_limit_s`` (float64, nullable): the job's wall-time limit in seconds as the source's
  scheduler knew it, >= 0; null = none (``UNLIMITED``) or unknown. Written by the sacct importer
  (``Timelimit``/``TimelimitRaw``, ``time.limit``). ``colossus simulate`` plans with it (the
  scheduler's run-time estimate and running jobs' expected ends) while the job runs its
  ``duration_s``; jobs without it are planned with ``duration_s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pyarrow as pa

__all__ = [
    "COLUMNS",
    "DEFAULT_PREEMPTIBLE",
    "DEFAULT_PRIORITY",
    "KINDS",
    "META_SOURCE",
    "META_START",
    "META_VERSION",
    "NON_NULL_COLUMNS",
    "OPTIONAL_FIELDS",
    "RECORDED_WAIT",
    "SCHEMA_V1",
    "TIME_LIMIT",
    "SCHEMA_VERSION",
    "format_start",
    "parse_start",
    "schema_with_metadata",
]

SCHEMA_VERSION = 1
META_VERSION = b"colossus.trace.version"
META_START = b"colossus.trace.start"
META_SOURCE = b"colossus.trace.source"

#: Job kinds allowed in the ``kind`` column.
KINDS: tuple[str, ...] = ("pretrain", "train", "finetune", "eval", "inference", "data", "other")

#: Default priority by kind (higher runs first), used by the generator and the importers.
DEFAULT_PRIORITY: Mapping[str, int] = {
    "inference": 3,
    "pretrain": 2,
    "train": 2,
    "finetune": 1,
    "other": 1,
    "eval": 0,
    "data": 0,
}

#: Default preemptibility by kind: long, expensive-to-restart jobs and serving are not preemptible.
DEFAULT_PREEMPTIBLE: Mapping[str, bool] = {
    "inference": False,
    "pretrain": False,
    "train": False,
    "finetune": True,
    "other": True,
    "eval": True,
    "data": True,
}


def _field(name: str, type_: pa.DataType, nullable: bool, doc: str) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={b"description": doc.encode()})


SCHEMA_V1: pa.Schema = pa.schema(
    [
        _field("job_id", pa.string(), False, "unique job identifier within the file"),
        _field(
            "submit_time_s",
            pa.float64(),
            False,
            "submit time, seconds from trace start, >= 0; rows in submit order",
        ),
        _field("division", pa.string(), False, "division of the scenario that owns the job"),
        _field("num_gpus", pa.int32(), False, "GPUs requested, >= 1"),
        _field(
            "duration_s",
            pa.float64(),
            True,
            "run time in seconds at num_gpus without interruption, > 0; null only when work_tokens is set",
        ),
        _field("kind", pa.string(), False, "job kind: " + ", ".join(KINDS)),
        _field("priority", pa.int16(), False, "scheduling priority, higher runs first; default 0"),
        _field("preemptible", pa.bool_(), False, "whether the scheduler may preempt the job"),
        _field(
            "work_tokens",
            pa.float64(),
            True,
            "training work in tokens, > 0; duration then comes from the step-time model",
        ),
        _field(
            "model",
            pa.string(),
            True,
            "step-time model preset name; required when work_tokens is set",
        ),
        _field(
            "min_gpus",
            pa.int32(),
            True,
            "elastic jobs may run on fewer GPUs, 1 <= min_gpus <= num_gpus",
        ),
        _field("user", pa.string(), True, "user in the source trace"),
        _field(
            "source_status",
            pa.string(),
            True,
            "completed / failed / cancelled / unfinished in the source trace",
        ),
    ]
)

#: Name of the optional recorded-wait column.
RECORDED_WAIT = "recorded_wait_s"

#: Name of the optional time-limit column.
TIME_LIMIT = "time_limit_s"

#: Optional columns of schema v1: name -> field (type, nullability, description).
OPTIONAL_FIELDS: Mapping[str, pa.Field] = {
    RECORDED_WAIT: _field(
        RECORDED_WAIT,
        pa.float64(),
        True,
        "recorded wait in the source, start - submit, seconds, >= 0 (null when unknown)",
    ),
    TIME_LIMIT: _field(
        TIME_LIMIT,
        pa.float64(),
        True,
        "wall-time limit the source scheduler planned with, seconds, >= 0 (null: none or unknown)",
    ),
}

#: Column names in schema order.
COLUMNS: tuple[str, ...] = tuple(SCHEMA_V1.names)
#: Columns that must not contain nulls.
NON_NULL_COLUMNS: tuple[str, ...] = tuple(f.name for f in SCHEMA_V1 if not f.nullable)


def format_start(start: datetime) -> str:
    """ISO 8601 UTC text for ``colossus.trace.start`` (naive datetimes are taken as UTC)."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return start.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_start(text: str) -> datetime:
    """Parse ``colossus.trace.start``; raises ``ValueError`` when it is not ISO 8601."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def schema_with_metadata(
    *, start: datetime, source: str, extra_fields: list[pa.Field] | None = None
) -> pa.Schema:
    """Schema v1 (plus any extra fields, appended) carrying the three file-metadata keys."""
    fields = list(SCHEMA_V1) + list(extra_fields or [])
    return pa.schema(fields).with_metadata(
        {
            META_VERSION: str(SCHEMA_VERSION).encode(),
            META_START: format_start(start).encode(),
            META_SOURCE: source.encode(),
        }
    )
