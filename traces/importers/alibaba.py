"""Alibaba traces: PAI GPU v2020 (job + task tables) and the OpenB GPU v2023 pod lists.

PAI (headerless CSVs, shared/reference/traces.md §3): ``pai_job_table`` = job_name, inst_id,
user, status, start_time (= submit, s), end_time; ``pai_task_table`` = job_name, task_name,
inst_num, status, start_time, end_time, plan_cpu, plan_mem, plan_gpu (% of a GPU), gpu_type.
num_gpus = ceil(sum(plan_gpu / 100 * inst_num)) over the job's tasks; duration = job end - the
earliest task start; division key = user; Terminated -> completed, Failed -> failed; Running or
Waiting jobs and jobs without GPUs are left out. The two tables are told apart by their column
count (6 vs 10), so they may be given in any order.

OpenB v2023 (``openb_pod_list_*.csv``, §4): submit = creation_time, duration = deletion_time -
scheduled_time, num_gpus = num_gpu (a shared GPU, gpu_milli < 1000, counts as 1); division key =
qos; LS and Guaranteed pods are inference (priority 3, not preemptible), BE pods preemptible
data jobs, Burstable other. Running pods end at the trace end (right-censored) and are kept with
status ``unfinished``; Pending pods never ran and are left out, as are CPU-only pods.
"""

from __future__ import annotations

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
    map_values,
    read_csv,
    stack_rows,
    to_float,
    to_int,
)
from traces.importers.divisions import DivisionMap

PAI_JOB = ("job_name", "inst_id", "user", "status", "start_time", "end_time")
PAI_TASK = (
    "job_name",
    "task_name",
    "inst_num",
    "status",
    "start_time",
    "end_time",
    "plan_cpu",
    "plan_mem",
    "plan_gpu",
    "gpu_type",
)
PAI_STATUS = {"Terminated": "completed", "Failed": "failed"}
OPENB_COLUMNS = (
    "name",
    "num_gpu",
    "gpu_milli",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
OPENB_STATUS = {"Succeeded": "completed", "Failed": "failed", "Running": "unfinished"}
OPENB_KIND = {"LS": "inference", "Guaranteed": "inference", "BE": "data", "Burstable": "other"}


def _columns(path: Path) -> int:
    if not path.is_file():
        raise TraceError(f"{path}: no such file")
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        line = fh.readline()
    return len(line.rstrip("\r\n").split(",")) if line.strip() else 0


def import_pai(paths: Sequence[Path], *, divisions: DivisionMap) -> ImportResult:
    """Import PAI v2020: give the job table and the task table (either order)."""
    jobs: list[tuple[int, Path]] = []
    tasks: list[tuple[int, Path]] = []
    for k, p in enumerate(paths):
        n = _columns(p)
        if n == len(PAI_JOB):
            jobs.append((k, p))
        elif n == len(PAI_TASK):
            tasks.append((k, p))
        else:
            raise TraceError(
                f"{p}: line 1: has {n} columns; a PAI job table has 6 (job_name, inst_id, user, status, start_time, end_time) and a task table 10"
            )
    if len(jobs) != 1 or len(tasks) != 1:
        raise TraceError(
            f"{paths[0]}: format 'pai' needs exactly one job table (6 columns) and one task table (10 columns), got {len(jobs)} and {len(tasks)}"
        )
    (kj, pj), (_, pt) = jobs[0], tasks[0]
    job = read_csv(pj, "pai job table", PAI_JOB, names=PAI_JOB)
    task = read_csv(pt, "pai task table", PAI_TASK, names=PAI_TASK)
    plan = to_float(task, "plan_gpu", pt, headerless=True, allow_null=True)
    inst = to_float(task, "inst_num", pt, headerless=True, allow_null=True)
    t_start = to_float(task, "start_time", pt, headerless=True, allow_null=True)
    gpu_units = np.nan_to_num(plan) / 100.0 * np.nan_to_num(inst)
    agg = (
        pa.table({"job_name": task.column("job_name"), "g": gpu_units, "s": t_start})
        .group_by("job_name")
        .aggregate([("g", "sum"), ("s", "min")])
    )
    status = job.column("status").combine_chunks().fill_null("")
    finished = pc.is_in(status, value_set=pa.array(sorted(PAI_STATUS))).to_numpy(
        zero_copy_only=False
    )
    live = pc.is_in(status, value_set=pa.array(["Running", "Waiting"])).to_numpy(
        zero_copy_only=False
    )
    bad = ~finished & ~live
    if bad.any():
        i = int(np.argmax(bad))
        raise TraceError(
            f"{pj}: line {i + 1}: column 'status': unknown value {status[i].as_py()!r} (expected Terminated, Failed, Running or Waiting)"
        )
    keep = np.flatnonzero(finished)
    j = job.take(pa.array(keep)).append_column("line", pa.array(keep + 1))
    merged = j.join(agg, "job_name", join_type="left outer").sort_by("line")
    submit = to_float(merged, "start_time", pj, headerless=True)
    end = to_float(merged, "end_time", pj, headerless=True)
    first_start = merged.column("s_min").to_numpy(zero_copy_only=False).astype(float)
    run_from = np.where(np.isnan(first_start), submit, np.maximum(first_start, submit))
    gpus = np.ceil(
        np.nan_to_num(merged.column("g_sum").to_numpy(zero_copy_only=False).astype(float)) - 1e-9
    ).astype(np.int64)
    no_gpu = int((gpus < 1).sum())
    rows = Rows(
        path_of_row=np.full(merged.num_rows, kj),
        line=merged.column("line").to_numpy(),
        job_id=merged.column("job_name").combine_chunks().cast(pa.string()),
        submit_s=submit,
        duration_s=end - run_from,
        num_gpus=np.maximum(gpus, 0),
        division_key=merged.column("user").combine_chunks().fill_null(""),
        kind=pa.array(np.full(merged.num_rows, "other"), pa.string()),
        user=merged.column("user").combine_chunks(),
        source_status=map_values(merged.column("status"), PAI_STATUS, None),
    )
    dropped = {"running or waiting at trace end": int(live.sum())}
    result = assemble(
        rows,
        paths,
        divisions=divisions,
        origin=EPOCH,
        source=f"pai: {pj.name}, {pt.name}",
        dropped={k: v for k, v in dropped.items() if v},
    )
    if no_gpu and "no GPU (CPU-only job)" not in result.dropped:
        result.dropped["no GPU (CPU-only job)"] = no_gpu
    return result


def import_openb(paths: Sequence[Path], *, divisions: DivisionMap) -> ImportResult:
    """Import OpenB v2023 ``openb_pod_list_*.csv`` files (division key = qos)."""
    cols: dict[str, list] = defaultdict(list)
    pending = 0
    for k, path in enumerate(paths):
        t = read_csv(path, "openb", OPENB_COLUMNS)
        phase = t.column("pod_phase").combine_chunks().fill_null("")
        known = pc.is_in(phase, value_set=pa.array([*sorted(OPENB_STATUS), "Pending"])).to_numpy(
            zero_copy_only=False
        )
        if not known.all():
            i = int(np.argmax(~known))
            raise TraceError(
                f"{path}: line {i + 2}: column 'pod_phase': unknown value {phase[i].as_py()!r}"
            )
        qos = t.column("qos").combine_chunks().fill_null("")
        okq = pc.is_in(qos, value_set=pa.array(sorted(OPENB_KIND))).to_numpy(zero_copy_only=False)
        if not okq.all():
            i = int(np.argmax(~okq))
            raise TraceError(
                f"{path}: line {i + 2}: column 'qos': unknown value {qos[i].as_py()!r} (expected one of {', '.join(OPENB_KIND)})"
            )
        is_pending = pc.equal(phase, "Pending").to_numpy(zero_copy_only=False)
        pending += int(is_pending.sum())
        keep = np.flatnonzero(~is_pending)
        sub = t.take(pa.array(keep))
        created = to_float(sub, "creation_time", path)
        deleted = to_float(sub, "deletion_time", path)
        scheduled = to_float(sub, "scheduled_time", path)
        cols["path_of_row"].append(np.full(keep.size, k))
        cols["line"].append(keep + 2)
        cols["job_id"].append(sub.column("name").combine_chunks().cast(pa.string()))
        cols["submit_s"].append(created)
        cols["duration_s"].append(deleted - scheduled)
        cols["num_gpus"].append(to_int(sub, "num_gpu", path))
        q = qos.take(pa.array(keep))
        cols["division_key"].append(q)
        cols["kind"].append(map_values(q, OPENB_KIND, "other"))
        cols["source_status"].append(map_values(phase.take(pa.array(keep)), OPENB_STATUS, None))
    kinds = pa.concat_arrays(cols["kind"]).to_numpy(zero_copy_only=False)
    rows = stack_rows(
        cols,
        priority=np.select([kinds == "inference", kinds == "other"], [3, 1], 0),
        preemptible=kinds == "data",
    )
    dropped = {"pending (never scheduled)": pending} if pending else {}
    return assemble(
        rows,
        paths,
        divisions=divisions,
        origin=EPOCH,
        source="openb: " + ", ".join(p.name for p in paths),
        dropped=dropped,
    )
