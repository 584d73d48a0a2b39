"""Simulation results: three pyarrow tables and a JSON-able summary, written atomically.

:func:`colossus.sim.simulate` returns a :class:`Results`; :meth:`Results.write` writes the results
folder of DESIGN.md §3.4 (``jobs.parquet``, ``timeseries.parquet``, ``rounds.parquet``,
``summary.json``). The Parquet files hold no wall-clock figures, so the same seed gives
byte-identical files; solver wall times go to ``summary.json`` only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from colossus.fileio import atomic_dir, json_default

__all__ = ["JOB_STATES", "Results", "read_results"]

JOB_STATES = ("completed", "running", "pending")
"""States a job can end the horizon in (exactly one each)."""

_PARQUET_KW: dict[str, Any] = {"compression": "zstd", "use_dictionary": True, "write_statistics": False}


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Results:
    """Everything one simulation run produced: in memory, or in the results folder it streamed to.

    An in-memory run (``folder`` None) does no I/O until :meth:`write`; its jobs table is in
    submit order. A run streamed to a folder (``simulate(..., out_dir=...)``) holds only the
    summary; each table is read from the folder on first use, and its jobs table lists jobs in
    the order they finished, then the jobs still open at the end in submit order.

    Attributes
    ----------
    jobs : pyarrow.Table
        One row per job submitted before the horizon. Columns: ``job_id`` str, ``division`` str,
        ``kind`` str, ``num_gpus`` int32, ``is_hero`` bool, ``submit_time_s``, ``first_start_s``
        (NaN if never started), ``end_time_s`` (NaN unless completed), ``state`` (one of
        :data:`JOB_STATES`), ``wait_s`` (first start - submit; NaN if never started),
        ``queue_s`` (all time spent pending, including after restarts, up to end or horizon),
        ``jct_s`` (end - submit; NaN unless completed), ``run_s`` (GPU-seconds allocated / num_gpus),
        ``gpu_s_allocated``, ``gpu_s_useful`` (allocated GPU-seconds that became kept progress),
        ``gpu_s_lost`` (allocated GPU-seconds lost to interruptions: work since the last checkpoint,
        restart overhead, detection), ``interruptions`` int32 (failures hitting the job),
        ``preemptions`` int32, ``progress`` (fraction of the job's work done, 0..1),
        ``checkpoint_interval_s`` and ``checkpoint_cost_s`` (null for kinds that do not
        checkpoint), ``power_held_rounds`` int32 (rounds its start was held back by the power cap).
    timeseries : pyarrow.Table
        One row per sample (every ``simulation.sample_interval_s``, plus t=0). Columns: ``time_s``,
        ``day``, ``gpus_online``, ``gpus_healthy``, ``gpus_allocated``, ``pending_jobs``,
        ``pending_gpus``, ``running_jobs``, ``power_mw`` (facility draw, incl. PUE), ``grid_cap_mw``,
        ``available_mw`` (grid cap plus battery power while charged), ``battery_soc_mwh``,
        ``hero_gpus``, ``hero_progress`` (0..1), and per division ``allocated_gpus.<division>``
        and ``pending_gpus.<division>``.
    rounds : pyarrow.Table
        One row per scheduling round: ``time_s``, ``policy``, ``solver``, ``status``, ``gap``,
        ``objective``, ``fallback_used``, ``n_pending``, ``n_running``, ``n_types``,
        ``n_started``, ``n_preempted`` (deterministic figures only; wall times are in
        ``summary["scheduler"]``).
    summary : dict
        JSON-able. Keys: ``scenario``, ``policy``, ``seed``, ``horizon_s`` (the simulated end:
        the horizon, or when the run was stopped), ``days``, ``complete`` (False when the run was
        stopped early, e.g. by Ctrl-C; ``horizon_requested_s`` then holds the horizon), ``jobs``
        (counts per state), ``divisions`` (name -> dict with ``jobs``, ``completed``,
        ``gpu_hours``, ``wait_p50_s``, ``wait_p95_s``, ``wait_p99_s``, ``wait_mean_s`` (over every
        job submitted; a job never started counts its wait up to the horizon, a lower bound),
        ``waits_censored`` (how many such jobs),
        ``jct_p50_s``, ``jct_mean_s``, ``utilisation`` (GPU-hours / online GPU-hours),
        ``preemptions``, ``interruptions``, ``lost_gpu_hours``, ``goodput`` (useful / allocated)),
        ``cluster`` (``gpu_hours_online``, ``gpu_hours_allocated``, ``utilisation``,
        ``failures``, ``failures_by_component``), ``hero`` (``None`` or ``job_id``, ``gpus``,
        ``state``, ``start_s``, ``finish_s`` (None if unfinished), ``finish_day``,
        ``progress``, ``ettr``, ``interruptions``, ``lost_gpu_hours``, ``tokens_done``,
        ``checkpoint_interval_s``, ``checkpoint_cost_s``), ``power`` (exact integrals of the draw, not samples:
        ``peak_mw``, ``mean_mw``, ``energy_mwh``, ``energy_cost_usd``, ``hours_above_grid``
        (battery covering), ``hours_over_cap`` and ``energy_over_cap_mwh`` (beyond grid and
        battery), ``battery_discharged_mwh``, ``enforce_cap``, ``starts_held_for_power``), ``scheduler`` (``rounds``, ``rounds_skipped`` (nothing could change), ``wall_s`` totals,
        ``fallbacks``), ``performance`` (``wall_s``, ``events``, ``jobs_per_wall_s``,
        ``events_per_wall_s``).
    folder : Path or None
        The results folder the run streamed to (None: in memory).
    """

    summary: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None
    tables: dict[str, pa.Table] = field(default_factory=dict)
    """In-memory tables (or those read from ``folder`` so far), by name."""

    def table(self, name: str) -> pa.Table:
        """The ``jobs``, ``timeseries`` or ``rounds`` table (read from :attr:`folder` on first use)."""
        tab = self.tables.get(name)
        if tab is None:
            if self.folder is None:
                raise KeyError(f"no {name} table in these results")
            tab = self.tables[name] = pq.read_table(self.folder / f"{name}.parquet")
        return tab

    @property
    def jobs(self) -> pa.Table:
        """One row per job (see the class doc)."""
        return self.table("jobs")

    @property
    def timeseries(self) -> pa.Table:
        """One row per time-series sample."""
        return self.table("timeseries")

    @property
    def rounds(self) -> pa.Table:
        """One row per scheduling round."""
        return self.table("rounds")

    @property
    def complete(self) -> bool:
        """False when the run was stopped before its horizon."""
        return bool(self.summary.get("complete", True))

    # -- convenient views for the capacity planner ----------------------------------------
    @property
    def divisions(self) -> dict[str, dict[str, Any]]:
        """Per-division figures (see ``summary["divisions"]``)."""
        return dict(self.summary.get("divisions", {}))

    @property
    def hero(self) -> dict[str, Any] | None:
        """Hero-run figures (see ``summary["hero"]``), ``None`` without a hero run."""
        return self.summary.get("hero")

    def wait_quantile_s(self, division: str, q: float) -> float:
        """Wait quantile ``q`` (0..1) of the jobs of ``division`` that started, s (NaN if none)."""
        div = self.jobs.column("division").to_numpy(zero_copy_only=False)
        wait = self.jobs.column("wait_s").to_numpy()
        sel = wait[(div == division) & ~np.isnan(wait)]
        return float(np.quantile(sel, q)) if sel.size else math.nan

    def power_mw(self) -> tuple[np.ndarray, np.ndarray]:
        """``(time_s, power_mw)`` arrays of the facility power samples."""
        return (self.timeseries.column("time_s").to_numpy(), self.timeseries.column("power_mw").to_numpy())

    # -- output -------------------------------------------------------------------------------
    def write(self, out_dir: str | Path) -> Path:
        """Write the results folder atomically: into a temporary folder, then renamed onto ``out_dir``.

        ``out_dir`` must be new, empty or a results folder (it is replaced as a whole).
        """
        from colossus.sim.sink import check_results_folder

        out = check_results_folder(out_dir)
        if self.folder is not None and out.resolve() == self.folder.resolve():
            return out
        with atomic_dir(out) as tmp:
            for name in ("jobs", "timeseries", "rounds"):
                pq.write_table(self.table(name), tmp / f"{name}.parquet", **_PARQUET_KW)
            (tmp / "summary.json").write_text(
                json.dumps(self.summary, indent=2, default=json_default, allow_nan=False) + "\n")
        return out


def read_results(out_dir: str | Path) -> Results:
    """Read a results folder written by :meth:`Results.write`."""
    out = Path(out_dir)
    return Results(summary=json.loads((out / "summary.json").read_text()), folder=out)
