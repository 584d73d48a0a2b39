"""Microsoft ITP clusters (ElasticFlow raw traces): ``clusterNN.csv``.

Columns ``job_id, submission_time (s from collection start), duration (s), num_gpu``. Mapping
(shared/reference/traces.md §2, §9): submit = submission_time, duration, num_gpus = num_gpu,
division key = the file's stem (``cluster01``...), job_id = ``<stem>/<job_id>``; no user, status
or kind (kind = train). Collection started 2021-03-04 (README).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from traces.importers._common import ImportResult, assemble, read_csv, stack_rows, to_float, to_int
from traces.importers.divisions import DivisionMap

FORMAT = "itp"
COLUMNS = ("job_id", "submission_time", "duration", "num_gpu")
ORIGIN = datetime(2021, 3, 4, tzinfo=UTC)


def import_itp(paths: Sequence[Path], *, divisions: DivisionMap) -> ImportResult:
    """Import one or more ITP ``clusterNN.csv`` files."""
    cols: dict[str, list] = defaultdict(list)
    for k, path in enumerate(paths):
        t = read_csv(path, FORMAT, COLUMNS)
        n = t.num_rows
        cols["path_of_row"].append(np.full(n, k))
        cols["line"].append(np.arange(2, n + 2))
        cols["job_id"].append(
            pc.binary_join_element_wise(
                pa.array([path.stem] * n), t.column("job_id").combine_chunks(), "/"
            )
        )
        cols["submit_s"].append(to_float(t, "submission_time", path))
        cols["duration_s"].append(to_float(t, "duration", path))
        cols["num_gpus"].append(to_int(t, "num_gpu", path))
        cols["division_key"].append(pa.array([path.stem] * n, pa.string()))
        cols["kind"].append(pa.array(np.full(n, "train"), pa.string()))
    rows = stack_rows(cols)
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
