"""SenseTime Helios ``cluster_log.csv`` and Shanghai AI Lab Acme ``trace_seren.csv`` / ``trace_kalos.csv``.

Both are Slurm exports with wall-clock submit/start/end strings and a ``duration`` in seconds.
Where the file has ``start_time``, the optional column ``recorded_wait_s`` = start - submit is kept
(null where the start is empty).
Helios: ``job_id, user, vc, gpu_num, ..., state, submit_time, start_time, end_time, duration``;
division key = vc. Acme: ``job_id, user, gpu_num, type, state, submit_time, ..., duration``;
division key = user; ``type`` gives the kind (Pretrain -> pretrain, SFT -> finetune,
Evaluation -> eval, MLLM -> train, Debug and Other -> other). State: COMPLETED -> completed,
CANCELLED -> cancelled, FAILED / TIMEOUT / NODE_FAIL / OUT_OF_MEMORY -> failed; running or pending
jobs (no end) are left out; CPU-only jobs (gpu_num 0) too (shared/reference/traces.md §6, §7, §9).
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
    assemble,
    map_values,
    read_csv,
    stack_rows,
    to_epoch_s,
    to_float,
    to_int,
)
from traces.importers.divisions import DivisionMap

HELIOS_COLUMNS = ("job_id", "user", "vc", "gpu_num", "state", "submit_time", "duration")
ACME_COLUMNS = ("job_id", "user", "gpu_num", "type", "state", "submit_time", "duration")
STATE = {
    "COMPLETED": "completed",
    "CANCELLED": "cancelled",
    "FAILED": "failed",
    "TIMEOUT": "failed",
    "NODE_FAIL": "failed",
    "OUT_OF_MEMORY": "failed",
    "PREEMPTED": "cancelled",
}
_RUNNING = {"RUNNING", "PENDING"}
ACME_KIND = {
    "Pretrain": "pretrain",
    "SFT": "finetune",
    "Evaluation": "eval",
    "MLLM": "train",
    "Debug": "other",
    "Other": "other",
}


def _import(
    paths: Sequence[Path], *, divisions: DivisionMap, fmt: str, columns: Sequence[str], key: str
) -> ImportResult:
    cols: dict[str, list] = defaultdict(list)
    running = 0
    for k, path in enumerate(paths):
        t = read_csv(path, fmt, columns)
        state = t.column("state").combine_chunks().fill_null("")
        # Slurm writes e.g. "CANCELLED by 123": keep the first word.
        state = pc.utf8_upper(
            pc.utf8_trim_whitespace(pc.replace_substring_regex(state, r"\s.*$", ""))
        )
        live = pc.is_in(state, value_set=pa.array(sorted(_RUNNING))).to_numpy(zero_copy_only=False)
        known = pc.is_in(state, value_set=pa.array(sorted(STATE))).to_numpy(zero_copy_only=False)
        bad = ~live & ~known
        if bad.any():
            i = int(np.argmax(bad))
            raise TraceError(
                f"{path}: line {i + 2}: column 'state': unknown value {state[i].as_py()!r} (expected one of {', '.join(sorted(STATE | dict.fromkeys(_RUNNING)))})"
            )
        running += int(live.sum())
        keep = np.flatnonzero(~live)
        sub = t.take(pa.array(keep))
        cols["path_of_row"].append(np.full(keep.size, k))
        cols["line"].append(keep + 2)
        cols["job_id"].append(sub.column("job_id").combine_chunks().cast(pa.string()))
        cols["submit_s"].append(to_epoch_s(sub, "submit_time", path))
        cols["start_s"].append(
            to_epoch_s(sub, "start_time", path, allow_null=True)
            if "start_time" in sub.column_names
            else np.full(keep.size, np.nan)
        )
        cols["duration_s"].append(to_float(sub, "duration", path))
        cols["num_gpus"].append(to_int(sub, "gpu_num", path))
        cols["division_key"].append(sub.column(key).combine_chunks().fill_null(""))
        cols["user"].append(sub.column("user").combine_chunks())
        cols["source_status"].append(map_values(state.take(pa.array(keep)), STATE, None))
        if fmt == "acme":
            types = sub.column("type").combine_chunks().fill_null("")
            ok = pc.is_in(types, value_set=pa.array(sorted(ACME_KIND))).to_numpy(
                zero_copy_only=False
            )
            if not ok.all():
                i = int(np.argmax(~ok))
                raise TraceError(
                    f"{path}: line {keep[i] + 2}: column 'type': unknown value {types[i].as_py()!r} (expected one of {', '.join(ACME_KIND)})"
                )
            cols["kind"].append(map_values(types, ACME_KIND, "other"))
        else:
            cols["kind"].append(pa.array(np.full(keep.size, "train"), pa.string()))
    rows = stack_rows(cols)
    dropped = {"running or pending at trace end": running} if running else {}
    return assemble(
        rows,
        paths,
        divisions=divisions,
        origin=EPOCH,
        source=f"{fmt}: " + ", ".join(p.name for p in paths),
        dropped=dropped,
    )


def import_helios(paths: Sequence[Path], *, divisions: DivisionMap) -> ImportResult:
    """Import Helios ``cluster_log.csv`` files (division key = vc)."""
    return _import(paths, divisions=divisions, fmt="helios", columns=HELIOS_COLUMNS, key="vc")


def import_acme(paths: Sequence[Path], *, divisions: DivisionMap) -> ImportResult:
    """Import Acme ``trace_seren.csv`` / ``trace_kalos.csv`` (division key = user, kind from type)."""
    return _import(paths, divisions=divisions, fmt="acme", columns=ACME_COLUMNS, key="user")
