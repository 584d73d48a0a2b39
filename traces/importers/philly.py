"""Microsoft Philly: the job-level ``philly.csv`` (Pollux artifact) and the raw ``cluster_job_log`` JSON.

``philly.csv`` columns ``timestamp, duration, num_gpus, gpu_time, cluster``: submit = timestamp
(UTC assumed), duration, num_gpus, division key = cluster (the VC hash); job_id =
``philly-<line>``. Raw JSON (a list of jobs): submit = submitted_time, duration = the sum of the
attempts' run times, num_gpus = GPUs of the first attempt, division key = vc, user, status
Pass/Killed/Failed -> completed/cancelled/failed, recorded_wait_s = the first attempt's
start_time - submitted_time (the JSON's only start time; the CSV has none). Jobs with no attempt or still running are
left out (shared/reference/traces.md §1, §9). Kind = train (all DNN training).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from traces.errors import TraceError
from traces.importers._common import (
    EPOCH,
    ImportResult,
    Rows,
    assemble,
    read_csv,
    stack_rows,
    to_epoch_s,
    to_float,
    to_int,
)
from traces.importers.divisions import DivisionMap

CSV_COLUMNS = ("timestamp", "duration", "num_gpus", "cluster")
_STATUS = {"Pass": "completed", "Killed": "cancelled", "Failed": "failed"}


def import_philly_csv(paths: Sequence[Path], *, divisions: DivisionMap) -> ImportResult:
    """Import ``philly.csv`` (one or more files of that shape)."""
    cols: dict[str, list] = defaultdict(list)
    for k, path in enumerate(paths):
        t = read_csv(path, "philly", CSV_COLUMNS)
        n = t.num_rows
        line = np.arange(2, n + 2)
        cols["path_of_row"].append(np.full(n, k))
        cols["line"].append(line)
        prefix = "philly-" if len(paths) == 1 else f"philly{k + 1}-"
        cols["job_id"].append(pa.array([f"{prefix}{i:06d}" for i in line - 1], pa.string()))
        cols["submit_s"].append(to_epoch_s(t, "timestamp", path))
        cols["duration_s"].append(to_float(t, "duration", path))
        cols["num_gpus"].append(to_int(t, "num_gpus", path))
        cols["division_key"].append(t.column("cluster").combine_chunks().fill_null(""))
        cols["kind"].append(pa.array(np.full(n, "train"), pa.string()))
    rows = stack_rows(cols)
    _no_zero_gpus(rows, paths, "num_gpus")
    return assemble(
        rows,
        paths,
        divisions=divisions,
        origin=EPOCH,
        source="philly: " + ", ".join(p.name for p in paths),
    )


def _no_zero_gpus(rows: Rows, paths: Sequence[Path], column: str) -> None:
    bad = rows.num_gpus < 1
    if bad.any():
        i = int(np.argmax(bad))
        raise TraceError(
            f"{paths[rows.path_of_row[i]]}: line {rows.line[i]}: column '{column}': must be >= 1, got {rows.num_gpus[i]}"
        )


def import_philly_json(paths: Sequence[Path], *, divisions: DivisionMap) -> ImportResult:
    """Import raw Philly ``cluster_job_log`` JSON files."""
    rec: dict[str, list] = {
        k: [] for k in ("p", "line", "id", "t", "s", "d", "g", "vc", "user", "status")
    }
    dropped = {"no attempt (never ran)": 0, "still running": 0}
    for k, path in enumerate(paths):
        if not path.is_file():
            raise TraceError(f"{path}: no such file")
        try:
            jobs = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TraceError(
                f"{path}: not a Philly cluster_job_log JSON ({' '.join(str(exc).split())})"
            ) from None
        if not isinstance(jobs, list):
            raise TraceError(f"{path}: not a Philly cluster_job_log JSON (expected a list of jobs)")
        for i, job in enumerate(jobs):
            where = f"{path}: job {i + 1}"
            if not isinstance(job, dict):
                raise TraceError(f"{where}: expected an object")
            for key in ("jobid", "vc", "submitted_time", "attempts", "status"):
                if key not in job:
                    raise TraceError(
                        f"{where}: missing key '{key}' (not a Philly cluster_job_log JSON?)"
                    )
            attempts = job["attempts"] or []
            if not attempts:
                dropped["no attempt (never ran)"] += 1
                continue
            if attempts[-1].get("end_time") in (None, "None"):
                dropped["still running"] += 1
                continue
            try:
                spans = [
                    (
                        _ts(a["start_time"], where, "start_time"),
                        _ts(a["end_time"], where, "end_time"),
                    )
                    for a in attempts
                ]
                gpus = sum(len(d.get("gpus", [])) for d in attempts[0].get("detail", []))
            except (KeyError, TypeError, AttributeError) as exc:
                raise TraceError(f"{where}: malformed attempt ({exc})") from None
            rec["p"].append(k)
            rec["line"].append(i + 1)
            rec["id"].append(str(job["jobid"]))
            rec["t"].append(_ts(job["submitted_time"], where, "submitted_time"))
            rec["s"].append(spans[0][0])
            rec["d"].append(sum(e - s for s, e in spans))
            rec["g"].append(gpus)
            rec["vc"].append(str(job["vc"]))
            rec["user"].append(job.get("user"))
            status = job["status"]
            if status not in _STATUS:
                raise TraceError(
                    f"{where}: key 'status': unknown value {status!r} (expected Pass, Killed or Failed)"
                )
            rec["status"].append(_STATUS[status])
    rows = Rows(
        path_of_row=np.array(rec["p"], dtype=np.int64),
        line=np.array(rec["line"], dtype=np.int64),
        job_id=pa.array(rec["id"], pa.string()),
        submit_s=np.array(rec["t"], dtype=np.float64),
        duration_s=np.array(rec["d"], dtype=np.float64),
        num_gpus=np.array(rec["g"], dtype=np.int64),
        division_key=pa.array(rec["vc"], pa.string()),
        kind=pa.array(["train"] * len(rec["id"]), pa.string()),
        user=pa.array(rec["user"], pa.string()),
        source_status=pa.array(rec["status"], pa.string()),
        start_s=np.array(rec["s"], dtype=np.float64),
    )
    result = assemble(
        rows,
        paths,
        divisions=divisions,
        origin=EPOCH,
        source="philly-json: " + ", ".join(p.name for p in paths),
        dropped={k: v for k, v in dropped.items() if v},
    )
    return result


def _ts(value: object, where: str, key: str) -> float:
    if not isinstance(value, str):
        raise TraceError(f"{where}: key '{key}': expected 'YYYY-MM-DD HH:MM:SS', got {value!r}")
    arr = pc.strptime(
        pa.array([value.replace("T", " ")]),
        format="%Y-%m-%d %H:%M:%S",
        unit="s",
        error_is_null=True,
    )
    if arr.null_count:
        raise TraceError(f"{where}: key '{key}': not a date-time: {value!r}")
    return float(arr.cast(pa.int64())[0].as_py())
