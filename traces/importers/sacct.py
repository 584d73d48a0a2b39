"""Slurm accounting exports: ``sacct --parsable2`` text and ``sacct --json``.

Export what the importer needs with (:data:`traces.sacct_export.SACCT_COMMAND`)::

    TZ=UTC sacct --allusers --duplicates --parsable2 --starttime 2026-01-01 --endtime now \\
      --format JobID,JobIDRaw,Submit,Start,End,Elapsed,ElapsedRaw,State,AllocTRES,ReqTRES,Account,Partition,QOS,User,JobName,Timelimit,TimelimitRaw \\
      > jobs.sacct
    TZ=UTC sacct --allusers --duplicates --json --starttime 2026-01-01 --endtime now > jobs.json

(``--starttime``: the first day of the history you want.)

The file's first non-blank byte tells the format (``{`` = JSON). Rules (issue #14):

- text: a header row, ``|``-separated, any column order, extra columns ignored; needed are JobID or
  JobIDRaw, Submit, Start, End, State and one of AllocTRES, AllocGRES, ReqTRES;
- one row per allocation: job steps (``123.batch``, ``123.extern``, ``123.0``) are skipped; array
  tasks (``123_4``) are jobs of their own, keeping their JobID as the unique id;
- requeued jobs (``--duplicates`` prints one record per run): every run that started and ended is
  an allocation of its own, because each held its GPUs for its run time. The job's last kept run
  keeps the JobID; its earlier runs become ``JobID#run1``, ``JobID#run2``, ... in start order. An
  earlier run's record ends in ``REQUEUED`` (also ``REQUEUE_HOLD``/``REQUEUE_FED``; kept as
  cancelled, like ``PREEMPTED``), ``NODE_FAIL`` or ``PREEMPTED``; its Submit is the original
  submission and the next run's Submit the requeue time, so each run's recorded wait is its own.
  A record still running or pending (the job's current run) is left out as "running or pending
  at export", its finished earlier runs are kept. The same run seen twice (same JobID and Start,
  e.g. in overlapping exports) is kept once, from the last file;
- GPUs: ``gres/gpu=N`` from AllocTRES (else AllocGRES ``gpu[:type]:N``, else ReqTRES for jobs that
  never got an allocation); a typed GPU listed as both ``gres/gpu:h100=N`` and ``gres/gpu=N``
  counts once (the untyped total wins; typed counts are summed only when it is absent);
- left out and counted by reason (per record): never started (Start ``Unknown``/``None``), still
  running or pending (also a ``REQUEUED`` record with no End yet), no GPU, zero run time. When no
  finished job holds a GPU at all (the accounting has no GPU TRES: slurm.conf lacks
  ``AccountingStorageTRES=gres/gpu``) the import fails rather than write an empty trace;
- duration = End - Start; for a finished job with no End, ElapsedRaw (s) or Elapsed
  ``[D-][HH:]MM:SS``; recorded_wait_s = Start - Submit (as the issue asks: it includes time the
  job was held, waited for ``--begin`` or a dependency, which a replay does not reproduce);
- time_limit_s from TimelimitRaw (minutes), else Timelimit (``[D-]HH:MM:SS`` or ``MM:SS``), JSON
  ``time.limit`` (minutes); ``UNLIMITED``, ``Partition_Limit`` or absent -> null (the column is
  written when at least one job has a limit);
- states as in the Helios importer: COMPLETED -> completed; CANCELLED (``CANCELLED by N``) and
  PREEMPTED -> cancelled; FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE -> failed;
- division key (``division_key``): account, then partition when the account is empty (default),
  or exactly one of account / partition / qos / user;
- timestamps without a zone are read as UTC: export with ``TZ=UTC`` (Slurm prints the local time
  of the ``sacct`` process; a local-time export is shifted by the UTC offset, and an End before
  its Start, as across a daylight-saving fall-back, fails with a hint to re-export with
  ``TZ=UTC``); JSON times are epoch seconds.

Text exports are read line by line (memory follows the kept jobs, not the file); JSON is parsed whole.
Bad input raises :class:`~traces.errors.TraceError` naming the file, the line (text) or job
(JSON) and the column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from traces.errors import TraceError
from traces.importers._common import EPOCH, ImportResult, Rows, assemble
from traces.importers.divisions import DivisionMap
from traces.importers.sacct_fields import (
    gpus_gres,
    gpus_tres,
    parse_elapsed,
    parse_time,
    parse_time_limit,
)
from traces.sacct_export import SACCT_COMMAND, SACCT_FIELDS, SACCT_JSON_COMMAND

__all__ = ["DIVISION_KEYS", "SACCT_COMMAND", "SACCT_FIELDS", "SACCT_JSON_COMMAND", "read_sacct"]

#: Accepted ``division_key`` values; ``account`` falls back to the partition when empty.
DIVISION_KEYS = ("account", "partition", "qos", "user")

STATE = {
    "COMPLETED": "completed",
    "CANCELLED": "cancelled",
    "PREEMPTED": "cancelled",
    "FAILED": "failed",
    "TIMEOUT": "failed",
    "NODE_FAIL": "failed",
    "OUT_OF_MEMORY": "failed",
    "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
}
#: States of a record whose run ended in a requeue: a finished run (cancelled) once it has an End.
_REQUEUED = {"REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD"}
_LIVE = {
    "RUNNING",
    "PENDING",
    "RESIZING",
    "SUSPENDED",
    "STOPPED",
    "SIGNALING",
    "STAGE_OUT",
    "CONFIGURING",
    "COMPLETING",
    "SPECIAL_EXIT",
    "REVOKED",
}
_TEXT_KEY = {"account": "Account", "partition": "Partition", "qos": "QOS", "user": "User"}
_NOT_STARTED = {"", "UNKNOWN", "NONE"}

DROP_NOT_STARTED = "never started"
DROP_LIVE = "running or pending at export"
DROP_NO_GPU = "no GPU (CPU-only job)"
_REQUEUE_MARK = "requeued"
"""What :func:`_state` returns for a requeued run (cancelled when it ended, live otherwise)."""
NO_GPU_HINT = (
    "the accounting records no GPUs: set AccountingStorageTRES=gres/gpu in slurm.conf "
    "(with GresTypes=gpu), restart slurmctld and slurmdbd, and import jobs run since"
)
LOCAL_TIME_HINT = (
    "the export was probably made in local time (a daylight-saving change?): re-export with "
    "TZ=UTC sacct ..."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Job:
    """One allocation as read from either format (times in epoch seconds)."""

    index: int
    """Source file index."""
    line: int
    """Line (text) or job number from 1 (JSON)."""
    job_id: str
    submit_s: float
    start_s: float
    duration_s: float
    num_gpus: int
    status: str
    key: str
    user: str | None
    time_limit_s: float = math.nan
    """Wall-time limit, s (NaN: none, unknown or not exported)."""


def read_sacct(
    paths: Sequence[str | Path], *, divisions: DivisionMap, division_key: str = "account"
) -> ImportResult:
    """Import ``sacct --parsable2`` and/or ``sacct --json`` exports into schema v1.

    Parameters
    ----------
    paths : sequence of str or Path
        Export files; each may be either format (its first non-blank byte decides).
    divisions : DivisionMap
        Maps the division key onto the scenario's divisions.
    division_key : {"account", "partition", "qos", "user"}
        Source field that picks the division; ``account`` falls back to the partition when empty.

    Returns
    -------
    ImportResult
        Schema-v1 table plus ``recorded_wait_s`` (seconds), in submit order; ``dropped`` counts
        the left-out jobs by reason.

    Raises
    ------
    TraceError
        Neither format, a needed column missing, or an unparseable value (names file, line, column).
    """
    if division_key not in DIVISION_KEYS:
        raise TraceError(
            f"division key {division_key!r}: expected one of {', '.join(DIVISION_KEYS)}"
        )
    files = [Path(p) for p in paths]
    single: dict[str, _Job] = {}  # JobID -> its one run (the common case)
    multi: dict[str, dict[float, _Job]] = {}  # JobID -> Start -> run, for requeued jobs
    dropped: dict[str, int] = {}
    for k, path in enumerate(files):
        if path.is_dir():
            raise TraceError(f"{path}: is a folder (expected a sacct --parsable2 or --json file)")
        if not path.is_file():
            raise TraceError(f"{path}: no such file")
        try:
            with path.open("r", encoding="utf-8", newline="") as fh:
                head = fh.read(4096).lstrip()[:1]
                fh.seek(0)
                if not head:
                    raise TraceError(
                        f"{path}: empty file (expected sacct --parsable2 or --json output)"
                    )
                found = (
                    _parse_json(fh.read(), path, k, division_key, dropped)
                    if head == "{"
                    else _parse_text(fh, path, k, division_key, dropped)  # streamed line by line
                )
        except UnicodeDecodeError as exc:
            raise TraceError(f"{path}: not a sacct export (not UTF-8 text: {exc.reason})") from None
        for job in found:  # the same run (JobID and Start) seen again: the last one wins
            jid = job.job_id
            runs = multi.get(jid)
            if runs is not None:
                runs[job.start_s] = job
                continue
            prev = single.get(jid)
            if prev is None or prev.start_s == job.start_s:
                single[jid] = job
            else:
                multi[jid] = {prev.start_s: prev, job.start_s: job}
                del single[jid]
    if not single and not multi and dropped.get(DROP_NO_GPU):
        n = dropped[DROP_NO_GPU]
        names = ", ".join(str(p) for p in files)
        raise TraceError(
            f"{names}: no job holds a GPU ({n:,d} finished job{'s' if n != 1 else ''}, none "
            f"with gres/gpu in AllocTRES, AllocGRES or ReqTRES): {NO_GPU_HINT}"
        )
    jobs = list(single.values())
    for job_id, runs in multi.items():
        jobs.extend(_name_runs(job_id, runs))
    return _assemble(jobs, files, divisions, dropped)


def _name_runs(job_id: str, runs: dict[float, _Job]) -> list[_Job]:
    """Unique ids for the kept runs of a requeued job: the last keeps the JobID, the earlier ones
    become ``JobID#run1``, ``JobID#run2``, ... in start order."""
    order = [runs[t] for t in sorted(runs)]
    return [replace(j, job_id=f"{job_id}#run{n}") for n, j in enumerate(order[:-1], start=1)] + order[-1:]


def _drop(dropped: dict[str, int], reason: str) -> None:
    dropped[reason] = dropped.get(reason, 0) + 1


def _add(
    out: list[_Job],
    dropped: dict[str, int],
    division_key: str,
    *,
    key: str,
    partition: str,
    **fields: Any,
) -> None:
    """Keep one allocation (or count it as CPU-only); the account key falls back to the partition."""
    if fields["num_gpus"] < 1:
        _drop(dropped, DROP_NO_GPU)
        return
    if division_key == "account" and not key:
        key = partition
    out.append(_Job(key=key, **fields))


def _state(raw: str, where: str, column: str) -> str | None:
    """Schema status for a Slurm state; None for a live (running/pending) job;
    :data:`_REQUEUE_MARK` for a run that ended in a requeue (the caller checks its End)."""
    word = raw.strip().split(" ")[0].upper() if raw.strip() else ""
    if word in STATE:
        return STATE[word]
    if word in _REQUEUED:
        return _REQUEUE_MARK
    if word in _LIVE:
        return None
    known = ", ".join(sorted(set(STATE) | {"RUNNING", "PENDING"}))
    raise TraceError(f"{where}: column '{column}': unknown state {raw!r} (expected one of {known})")


# --------------------------------------------------------------------------- text (--parsable2)


def _parse_text(
    lines: Iterable[str], path: Path, k: int, division_key: str, dropped: dict[str, int]
) -> list[_Job]:
    numbered = enumerate((ln.rstrip("\r\n") for ln in lines), start=1)
    first, head_line = next(((n, ln) for n, ln in numbered if ln.strip()), (1, ""))
    header = [c.strip() for c in head_line.split("|")]
    if "|" not in head_line:
        raise TraceError(
            f"{path}: line {first}: not a sacct export (expected a '|'-separated header such as "
            "'JobID|Submit|Start|End|State|AllocTRES', or JSON)"
        )
    col = {name: i for i, name in enumerate(header) if name}
    id_col = "JobID" if "JobID" in col else "JobIDRaw"
    for need in ("JobID" if id_col not in col else id_col, "Submit", "Start", "End", "State"):
        if need not in col:
            label = f"'{need}'" + (" (or JobIDRaw)" if need == "JobID" else "")
            raise TraceError(
                f"{path}: line {first}: missing column {label} "
                f"(found: {', '.join(header[:12])}); export with: {SACCT_COMMAND}"
            )
    gpu_cols = [c for c in ("AllocTRES", "AllocGRES", "ReqTRES") if c in col]
    if not gpu_cols:
        raise TraceError(
            f"{path}: line {first}: missing column 'AllocTRES' (or AllocGRES / ReqTRES) "
            f"for the GPU count; export with: {SACCT_COMMAND}"
        )
    out: list[_Job] = []
    width = len(header)
    j_id, j_state, j_start, j_submit, j_end = (
        col[c] for c in (id_col, "State", "Start", "Submit", "End")
    )
    j_gpu = [(c, col[c]) for c in gpu_cols]
    j_key, j_part, j_user, j_raw, j_el, j_tlr, j_tl = (
        col.get(c, -1)
        for c in (_TEXT_KEY[division_key], "Partition", "User", "ElapsedRaw", "Elapsed",
                  "TimelimitRaw", "Timelimit")
    )
    for line_no, ln in numbered:
        cells = ln.split("|")
        if len(cells) != width:
            if not ln.strip():
                continue
            raise TraceError(
                f"{path}: line {line_no}: {len(cells)} fields, the header has {width} (a '|' inside a value?)"
            )
        job_id = cells[j_id].strip()
        if "." in job_id:
            continue  # a job step: accounted in its job's row
        where = f"{path}: line {line_no}"
        if not job_id:
            raise TraceError(f"{where}: column '{id_col}': empty job id")
        status = _state(cells[j_state], where, "State")
        if status is None:
            _drop(dropped, DROP_LIVE)
            continue
        start_txt = cells[j_start].strip()
        if start_txt.upper() in _NOT_STARTED:
            _drop(dropped, DROP_NOT_STARTED)
            continue
        submit = parse_time(cells[j_submit].strip(), where, "Submit")
        start = parse_time(start_txt, where, "Start")
        end_txt = cells[j_end].strip()
        if end_txt.upper() in _NOT_STARTED:
            if status == _REQUEUE_MARK:  # being requeued: its run is not closed yet
                _drop(dropped, DROP_LIVE)
                continue
            duration = parse_elapsed(_cell(cells, j_raw), _cell(cells, j_el), where)
        else:
            duration = parse_time(end_txt, where, "End") - start
            if duration < 0:
                raise TraceError(
                    f"{where}: column 'End': {end_txt!r} is before Start {start_txt!r}; "
                    + LOCAL_TIME_HINT
                )
        if status == _REQUEUE_MARK:
            status = "cancelled"
        gpus = 0
        for c, j in j_gpu:
            value = cells[j].strip()
            if value:
                gpus = (
                    gpus_gres(value, where, c) if c == "AllocGRES" else gpus_tres(value, where, c)
                )
                if c != "ReqTRES" or gpus:
                    break
        _add(out, dropped, division_key, key=_cell(cells, j_key), partition=_cell(cells, j_part),
             index=k, line=line_no, job_id=job_id, submit_s=submit, start_s=start, duration_s=duration,
             num_gpus=gpus, status=status, user=_cell(cells, j_user) or None,
             time_limit_s=parse_time_limit(_cell(cells, j_tlr), _cell(cells, j_tl), where))  # fmt: skip
    return out


def _cell(cells: list[str], j: int) -> str:
    return cells[j].strip() if j >= 0 else ""


# --------------------------------------------------------------------------- JSON (--json)


def _parse_json(
    text: str, path: Path, k: int, division_key: str, dropped: dict[str, int]
) -> list[_Job]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(
            f"{path}: line {exc.lineno}: not a sacct --json export ({exc.msg})"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list):
        raise TraceError(f"{path}: not a sacct --json export (no top-level 'jobs' list)")
    out: list[_Job] = []
    for n, job in enumerate(doc["jobs"], start=1):
        where = f"{path}: job {n}"
        if not isinstance(job, dict):
            raise TraceError(f"{where}: expected an object")
        job_id = _json_id(job, where)
        where = f"{path}: job {n} ({job_id})"
        state = job.get("state")
        current = state.get("current") if isinstance(state, dict) else state
        if isinstance(current, list):  # newer Slurm: a list of flags, the base state first
            current = current[0] if current else ""
        if not isinstance(current, str):
            raise TraceError(f"{where}: key 'state.current': missing or not text")
        status = _state(current, where, "state.current")
        if status is None:
            _drop(dropped, DROP_LIVE)
            continue
        times = job.get("time")
        if not isinstance(times, dict):
            raise TraceError(f"{where}: key 'time': missing")
        start = _num(times.get("start"), where, "time.start")
        if start is None or start <= 0:
            _drop(dropped, DROP_NOT_STARTED)
            continue
        submit = _num(times.get("submission"), where, "time.submission")
        if submit is None:
            raise TraceError(f"{where}: key 'time.submission': missing")
        end = _num(times.get("end"), where, "time.end")
        if status == _REQUEUE_MARK:
            if end is None or end <= 0:  # being requeued: its run is not closed yet
                _drop(dropped, DROP_LIVE)
                continue
            status = "cancelled"
        if end is None or end <= 0:
            elapsed = _num(times.get("elapsed"), where, "time.elapsed")
            if elapsed is None:
                raise TraceError(f"{where}: key 'time.end': no end or elapsed for a finished job")
            duration = elapsed
        else:
            duration = end - start
            if duration < 0:
                raise TraceError(
                    f"{where}: key 'time.end': {end:.0f} is before time.start {start:.0f}"
                )
        tres = job.get("tres") if isinstance(job.get("tres"), dict) else {}
        gpus = _json_gpus(tres.get("allocated"), where, "tres.allocated")
        if gpus == 0 and not tres.get("allocated"):
            gpus = _json_gpus(tres.get("requested"), where, "tres.requested")
        _add(out, dropped, division_key, key=_text(job.get(division_key)), partition=_text(job.get("partition")),
             index=k, line=n, job_id=job_id, submit_s=submit, start_s=start, duration_s=duration,
             num_gpus=gpus, status=status, user=_text(job.get("user")) or None,
             time_limit_s=_json_limit(times.get("limit"), where))  # fmt: skip
    return out


def _num(value: Any, where: str, key: str) -> float | None:
    """A JSON number, or the ``{"set": .., "number": ..}`` form of newer Slurm; None when unset."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TraceError(f"{where}: key '{key}': not a number: {value!r}")
    return float(value)


def _json_limit(value: Any, where: str) -> float:
    """``time.limit`` minutes as seconds; NaN when unset or infinite."""
    minutes = _num(value, where, "time.limit")
    return math.nan if minutes is None or minutes < 0 else minutes * 60.0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _json_id(job: dict[str, Any], where: str) -> str:
    raw = _num(job.get("job_id"), where, "job_id")
    if raw is None:
        raise TraceError(f"{where}: key 'job_id': missing")
    arr = job.get("array") if isinstance(job.get("array"), dict) else {}
    task = _num(arr.get("task_id"), where, "array.task_id") if arr else None
    master = _num(arr.get("job_id"), where, "array.job_id") if arr else None
    if task is not None and master:
        return f"{int(master)}_{int(task)}"
    het = job.get("het") if isinstance(job.get("het"), dict) else {}
    het_id = _num(het.get("job_id"), where, "het.job_id") if het else None
    het_off = _num(het.get("job_offset"), where, "het.job_offset") if het else None
    if het_id and het_off is not None:
        return f"{int(het_id)}+{int(het_off)}"
    return str(int(raw))


def _json_gpus(items: Any, where: str, key: str) -> int:
    if not items:
        return 0
    if not isinstance(items, list):
        raise TraceError(f"{where}: key '{key}': expected a list of TRES")
    total: int | None = None
    typed = 0
    for t in items:
        if not isinstance(t, dict) or t.get("type") != "gres":
            continue
        name = str(t.get("name") or "")
        if name != "gpu" and not name.startswith("gpu:"):
            continue
        count = _num(t.get("count"), where, f"{key}.count")
        n = int(count or 0)
        if name == "gpu":
            total = n
        else:
            typed += n
    return total if total is not None else typed


# --------------------------------------------------------------------------- assembly


def _assemble(
    jobs: list[_Job], files: list[Path], divisions: DivisionMap, dropped: dict[str, int]
) -> ImportResult:
    has_limit = any(math.isfinite(j.time_limit_s) for j in jobs)
    rows = Rows(
        path_of_row=np.array([j.index for j in jobs], dtype=np.int64),
        line=np.array([j.line for j in jobs], dtype=np.int64),
        job_id=pa.array([j.job_id for j in jobs], pa.string()),
        submit_s=np.array([j.submit_s for j in jobs], dtype=np.float64),
        duration_s=np.array([j.duration_s for j in jobs], dtype=np.float64),
        num_gpus=np.array([j.num_gpus for j in jobs], dtype=np.int64),
        division_key=pa.array([j.key for j in jobs], pa.string()),
        kind=pa.array(["train"] * len(jobs), pa.string()),
        user=pa.array([j.user for j in jobs], pa.string()),
        source_status=pa.array([j.status for j in jobs], pa.string()),
        start_s=np.array([j.start_s for j in jobs], dtype=np.float64),
        time_limit_s=np.array([j.time_limit_s for j in jobs], dtype=np.float64)
        if has_limit else None,
    )
    return assemble(
        rows,
        files,
        divisions=divisions,
        origin=EPOCH,
        source="sacct: " + ", ".join(p.name for p in files),
        dropped=dropped,
    )
