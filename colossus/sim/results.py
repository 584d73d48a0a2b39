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

__all__ = ["JOB_STATES", "Results", "read_results"]

JOB_STATES = ("completed", "running", "pending")
"""States a job can end the horizon in (exactly one each)."""

_PARQUET_KW: dict[str, Any] = {"compression": "zstd", "use_dictionary": True, "write_statistics": False}


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Results:
    """Everything one simulation run produced (no I/O until :meth:`write`).

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
        JSON-able. Keys: ``scenario``, ``policy``, ``seed``, ``horizon_s``, ``days``, ``jobs``
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
    """

    jobs: pa.Table
    timeseries: pa.Table
    rounds: pa.Table
    summary: dict[str, Any] = field(default_factory=dict)

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
        """Write the results folder atomically (each file via a temporary name, then rename)."""
        from colossus.fileio import atomic_path, json_default

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in (("jobs", self.jobs), ("timeseries", self.timeseries), ("rounds", self.rounds)):
            with atomic_path(out / f"{name}.parquet") as tmp:
                pq.write_table(table, tmp, **_PARQUET_KW)
        with atomic_path(out / "summary.json") as tmp:
            tmp.write_text(json.dumps(self.summary, indent=2, default=json_default, allow_nan=False) + "\n")
        return out


def read_results(out_dir: str | Path) -> Results:
    """Read a results folder written by :meth:`Results.write`."""
    out = Path(out_dir)
    return Results(
        jobs=pq.read_table(out / "jobs.parquet"),
        timeseries=pq.read_table(out / "timeseries.parquet"),
        rounds=pq.read_table(out / "rounds.parquet"),
        summary=json.loads((out / "summary.json").read_text()),
    )
