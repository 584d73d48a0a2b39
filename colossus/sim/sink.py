"""Where a running simulation puts its rows: in memory, or streamed to a results folder.

A :class:`ResultSink` takes one row per finished job, per scheduling round and per time-series
sample while the run goes, and turns every ``batch_rows`` of them into one Arrow record batch.
In memory (``folder=None``) the batches are kept and become the :class:`Results` tables at the
end; the jobs table is then put back in submit order, as before streaming existed. Streamed
(``folder`` given), each batch is one Parquet row group written at once into a temporary folder
beside ``folder`` (:func:`colossus.fileio.make_temp_dir`), which is renamed onto ``folder`` only
when the run ends (completed or stopped early), so memory holds only live jobs and a results
folder is never half-written. A streamed jobs table lists jobs in the order they finished, then
the jobs still open at the end in submit order.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from colossus.errors import InputError
from colossus.fileio import json_default, make_temp_dir, replace_dir

__all__ = ["BATCH_ROWS", "JOB_SCHEMA", "RESULT_FILES", "ROUND_SCHEMA", "ResultSink", "check_results_folder"]

JOB_SCHEMA = pa.schema([
    ("job_id", pa.string()), ("division", pa.string()), ("kind", pa.string()), ("num_gpus", pa.int32()),
    ("is_hero", pa.bool_()), ("submit_time_s", pa.float64()), ("first_start_s", pa.float64()),
    ("end_time_s", pa.float64()), ("state", pa.string()), ("wait_s", pa.float64()), ("queue_s", pa.float64()),
    ("jct_s", pa.float64()), ("run_s", pa.float64()), ("gpu_s_allocated", pa.float64()),
    ("gpu_s_useful", pa.float64()), ("gpu_s_lost", pa.float64()), ("interruptions", pa.int32()),
    ("preemptions", pa.int32()), ("progress", pa.float64()), ("checkpoint_interval_s", pa.float64()),
    ("checkpoint_cost_s", pa.float64()), ("power_held_rounds", pa.int32()),
])
"""Columns of ``jobs.parquet`` (see :class:`colossus.sim.results.Results`)."""

ROUND_SCHEMA = pa.schema([
    ("time_s", pa.float64()), ("policy", pa.string()), ("solver", pa.string()), ("status", pa.string()),
    ("gap", pa.float64()), ("objective", pa.float64()), ("fallback_used", pa.bool_()), ("n_pending", pa.int32()),
    ("n_running", pa.int32()), ("n_types", pa.int32()), ("n_started", pa.int32()), ("n_preempted", pa.int32()),
])
"""Columns of ``rounds.parquet`` (deterministic figures only)."""

RESULT_FILES = ("jobs.parquet", "timeseries.parquet", "rounds.parquet", "summary.json", "report.html")
"""Files of a results folder; a folder holding anything else is not overwritten."""

BATCH_ROWS = 16384
"""Rows per record batch (= per Parquet row group when streaming): ~10 MB of rows in flight."""

_PARQUET_KW: dict[str, Any] = {"compression": "zstd", "use_dictionary": True, "write_statistics": False}


def check_results_folder(folder: str | Path) -> Path:
    """``folder`` if it may be (re)written as a results folder: absent, empty, or a results folder.

    Raises
    ------
    InputError
        When ``folder`` is a file or holds files that are not simulation results (it would be
        replaced as a whole).
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in RESULT_FILES)
        if other:
            raise InputError(f"--out {out}: holds {other[0]!r}, which is not a simulation result; "
                             "give a new or empty folder (a results folder is replaced as a whole)")
    return out


class _Buffer:
    """Rows of one table; every ``batch_rows`` rows become one record batch."""

    __slots__ = ("batch_rows", "batches", "on_batch", "rows", "schema")

    def __init__(self, schema: pa.Schema | None, batch_rows: int, on_batch: Any) -> None:
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows: list[tuple[Any, ...]] = []
        self.batches: list[pa.RecordBatch] = []
        self.on_batch = on_batch

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self.rows or self.schema is None:
            return
        cols = list(zip(*self.rows, strict=True))
        batch = pa.RecordBatch.from_arrays([pa.array(c, f.type) for c, f in zip(cols, self.schema, strict=True)],
                                           schema=self.schema)
        self.rows = []
        self.on_batch(self, batch)


class ResultSink:
    """Collects the rows of one run, in memory or streamed to ``folder`` (see the module doc).

    Parameters
    ----------
    folder : path, optional
        Results folder to stream to (checked with :func:`check_results_folder`); ``None``: keep
        everything in memory and do no I/O.
    batch_rows : int, optional
        Rows per record batch (= per Parquet row group when streaming); default :data:`BATCH_ROWS`.
    """

    def __init__(self, folder: str | Path | None = None, batch_rows: int | None = None) -> None:
        batch_rows = BATCH_ROWS if batch_rows is None else int(batch_rows)
        self.folder = None if folder is None else check_results_folder(folder)
        self.tmp: Path | None = None if self.folder is None else make_temp_dir(self.folder)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.jobs = _Buffer(JOB_SCHEMA, batch_rows, self._on_batch)
        self.rounds = _Buffer(ROUND_SCHEMA, batch_rows, self._on_batch)
        self.samples = _Buffer(None, 1024, self._on_batch)
        self._names = {id(self.jobs): "jobs", id(self.rounds): "rounds", id(self.samples): "timeseries"}
        self._job_idx: list[int] = []  # submit index of each job row (memory mode: restores submit order)
        self.n_jobs = 0

    # -- rows ----------------------------------------------------------------------------------
    def job(self, idx: int, row: tuple[Any, ...]) -> None:
        """One finished (or, at the end, still open) job: a row of :data:`JOB_SCHEMA`."""
        if self.folder is None:
            self._job_idx.append(idx)
        self.n_jobs += 1
        self.jobs.add(row)

    def round(self, row: tuple[Any, ...]) -> None:
        """One scheduling round: a row of :data:`ROUND_SCHEMA`."""
        self.rounds.add(row)

    def sample(self, row: dict[str, Any]) -> None:
        """One time-series sample; the first sample fixes the columns (float64 or int64 each)."""
        if self.samples.schema is None:
            self.samples.schema = pa.schema([(k, pa.float64() if isinstance(v, float) else pa.int64())
                                             for k, v in row.items()])
        self.samples.add(tuple(row.values()))

    def _on_batch(self, buf: _Buffer, batch: pa.RecordBatch) -> None:
        if self.tmp is None:
            buf.batches.append(batch)
            return
        name = self._names[id(buf)]
        w = self._writers.get(name)
        if w is None:
            w = self._writers[name] = pq.ParquetWriter(self.tmp / f"{name}.parquet", batch.schema, **_PARQUET_KW)
        w.write_batch(batch, row_group_size=len(batch))

    # -- the end ---------------------------------------------------------------------------------
    def close_tables(self) -> None:
        """Flush the last rows and close the Parquet files (each table exists, possibly empty)."""
        for buf in (self.jobs, self.rounds, self.samples):
            buf.flush()
        if self.samples.schema is None:
            self.samples.schema = pa.schema([("time_s", pa.float64())])
        if self.tmp is not None:
            for buf in (self.jobs, self.rounds, self.samples):
                name = self._names[id(buf)]
                if name not in self._writers:
                    pq.write_table(buf.schema.empty_table(), self.tmp / f"{name}.parquet", **_PARQUET_KW)
            for w in self._writers.values():
                w.close()
            self._writers.clear()

    def table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """A whole table after :meth:`close_tables` (memory: jobs in submit order)."""
        if self.tmp is not None:
            return pq.read_table(self.tmp / f"{name}.parquet", columns=columns)
        buf = {"jobs": self.jobs, "rounds": self.rounds, "timeseries": self.samples}[name]
        tab = pa.Table.from_batches(buf.batches, schema=buf.schema)
        if name == "jobs" and tab.num_rows:
            tab = tab.take(pa.array(np.argsort(np.asarray(self._job_idx, dtype=np.int64), kind="stable")))
        return tab.select(columns) if columns is not None else tab

    def job_batches(self, columns: list[str]) -> Iterator[pa.Table | pa.RecordBatch]:
        """The jobs table in pieces of ``columns`` (streamed: one row group at a time)."""
        if self.tmp is None:
            yield self.table("jobs", columns)
            return
        pf = pq.ParquetFile(self.tmp / "jobs.parquet")
        for i in range(pf.num_row_groups):
            yield pf.read_row_group(i, columns=columns)

    def finish(self, summary: dict[str, Any]) -> Path | None:
        """Write ``summary.json`` and move the folder into place (streaming); the folder or None."""
        if self.tmp is None or self.folder is None:
            return None
        (self.tmp / "summary.json").write_text(
            json.dumps(summary, indent=2, default=json_default, allow_nan=False) + "\n")
        replace_dir(self.tmp, self.folder)
        self.tmp = None
        return self.folder

    def abort(self) -> None:
        """Drop a streamed run that failed: close the files and remove the temporary folder."""
        for w in self._writers.values():
            try:
                w.close()
            except Exception:  # noqa: BLE001 - cleaning up after another error
                pass
        self._writers.clear()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
