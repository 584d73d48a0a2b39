"""Microsoft ITP clusters (ElasticFlow raw traces): ``clusterNN.csv``.

Columns ``job_id, submission_time (s from collection start), duration (s), num_gpu``. Mapping
(shared/reference/traces.md §2, §9): submit = submission_time, duration, num_gpus = num_gpu,
division key = the file's stem (``cluster01``...), job_id = ``<stem>/<job_id>``; no user, status
or kind (kind = train). Collection started 2021-03-04 (README).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from traces.importers._common import ImportResult, Rows, assemble, read_csv, to_float, to_int
from traces.importers.divisions import DivisionMap

FORMAT = "itp"
COLUMNS = ("job_id", "submission_time", "duration", "num_gpu")
ORIGIN = datetime(2021, 3, 4, tzinfo=UTC)


def import_itp(paths: Sequence[Path], *, divisions: DivisionMap) -> ImportResult:
    """Import one or more ITP ``clusterNN.csv`` files."""
    parts = []
    for k, path in enumerate(paths):
        t = read_csv(path, FORMAT, COLUMNS)
        n = t.num_rows
        parts.append(
            dict(
                path_of_row=np.full(n, k),
                line=np.arange(2, n + 2),
                job_id=pc.binary_join_element_wise(
                    pa.array([path.stem] * n), t.column("job_id").combine_chunks(), "/"
                ),
                submit_s=to_float(t, "submission_time", path),
                duration_s=to_float(t, "duration", path),
                num_gpus=to_int(t, "num_gpu", path),
                division_key=pa.array([path.stem] * n, pa.string()),
            )
        )
    rows = Rows(
        path_of_row=np.concatenate([p["path_of_row"] for p in parts]),
        line=np.concatenate([p["line"] for p in parts]),
        job_id=pa.concat_arrays([p["job_id"] for p in parts]),
        submit_s=np.concatenate([p["submit_s"] for p in parts]),
        duration_s=np.concatenate([p["duration_s"] for p in parts]),
        num_gpus=np.concatenate([p["num_gpus"] for p in parts]),
        division_key=pa.concat_arrays([p["division_key"] for p in parts]),
        kind=pa.array(np.full(sum(len(p["line"]) for p in parts), "train"), pa.string()),
    )
    if (rows.num_gpus == 0).any():
        i = int(np.argmax(rows.num_gpus == 0))
        from traces.errors import TraceError

        raise TraceError(
            f"{paths[rows.path_of_row[i]]}: line {rows.line[i]}: column 'num_gpu': must be >= 1, got 0"
        )
    return assemble(
        rows,
        paths,
        divisions=divisions,
        origin=ORIGIN,
        source=f"{FORMAT}: " + ", ".join(p.name for p in paths),
    )
