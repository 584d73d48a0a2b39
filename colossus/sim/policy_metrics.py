"""What users judge a scheduling policy on, computed from a run's jobs table.

Shared by ``colossus compare`` (its table and report.html) and ``benchmarks/policies.py``, so
both print the same figures. Only background jobs count (the hero run is protected by every
policy and would dwarf everything else); a job never started by the horizon counts with its
wait up to the horizon (a lower bound), so a policy cannot look good by never starting jobs.

Metrics (:class:`PolicyMetrics`):

- ``wait_p95_small_s`` / ``wait_p95_large_s``: p95 wait of jobs of <= 8 GPUs / >= 64 GPUs, s.
- ``never_started``: jobs that never started although they were submitted at least
  ``grace_s`` before the horizon (callers pass the scheduler's periodic round interval,
  ``scheduler.round_s``). Jobs submitted in the last minutes had no round in which to start under
  any policy; counted, they measured where the round clock fell at the horizon, not the policy
  (benchmarks/policies.py: shifting ``min_interval_s`` by +-3 % moved fairshare's count on
  all200k at load 1.0 between 56 and 160 with no grace). Their waits still count in the p95s.
- ``useful_gpu_h``: GPU-hours that became kept progress (lost work excluded).
- ``preemptions`` and ``lost_gpu_h`` (work lost to preemptions and failures, GPU-hours).
- ``jain_slowdown``: Jain's fairness index ``(sum x)^2 / (n sum x^2)`` of the divisions' mean
  bounded slowdowns ``x_d``, in (0, 1] (1: every division waits alike relative to its jobs'
  lengths). A job's bounded slowdown is ``(wait + d) / d`` with ``d = max(duration, 60 s)``
  (Feitelson's bounded slowdown; the 60 s floor keeps seconds-long jobs from dominating).
- ``slo_met_share``: share of jobs whose wait is within their division's wait target (its
  ``capacity.wait_p95_slo_s``, else the default target), in [0, 1]: what a division is judged on.
- ``wait_p95_rel``: p95 over jobs of wait / their division's wait target (1: the p95 job waits
  exactly its target). Both are NaN when no targets are given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["METRICS", "SLOWDOWN_FLOOR_S", "PolicyMetrics", "censored_waits", "format_metric", "jain_index", "policy_metrics"]

SLOWDOWN_FLOOR_S = 60.0
"""Duration floor of the bounded slowdown, s."""

METRICS: tuple[tuple[str, str, str], ...] = (
    ("wait_p95_small_s", "p95 wait, jobs <= 8 GPUs", "lower"),
    ("wait_p95_large_s", "p95 wait, jobs >= 64 GPUs", "lower"),
    ("never_started", "jobs never started", "lower"),
    ("useful_gpu_h", "useful GPU-hours", "higher"),
    ("preemptions", "preemptions", "lower"),
    ("lost_gpu_h", "lost GPU-hours", "lower"),
    ("jain_slowdown", "Jain index of division slowdowns", "higher"),
    ("slo_met_share", "share of jobs within their division's wait target", "higher"),
    ("wait_p95_rel", "p95 of wait / division wait target", "lower"),
)
"""``(field, label, better)`` of every metric, in table order."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicyMetrics:
    """One run's figures (background jobs only; see the module docstring)."""

    wait_p95_small_s: float
    wait_p95_large_s: float
    never_started: int
    useful_gpu_h: float
    preemptions: int
    lost_gpu_h: float
    jain_slowdown: float
    mean_slowdown: dict[str, float]
    """Division -> mean bounded slowdown of its jobs."""
    slo_met_share: float = math.nan
    wait_p95_rel: float = math.nan

    def as_dict(self) -> dict[str, float | int | dict[str, float]]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


def format_metric(field: str, v: float | int | None) -> str:
    """One metric of :data:`METRICS` as printed in tables ("-" for a missing value)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if field == "slo_met_share":
        return f"{100.0 * v:.2f} %"
    if field in ("jain_slowdown", "wait_p95_rel"):
        return f"{v:.3f}"
    return f"{v:,.0f}"


def jain_index(x: np.ndarray) -> float:
    """Jain's fairness index of non-negative values, in [1/n, 1] (NaN when empty or all zero)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0 or not np.any(x > 0):
        return math.nan
    return float(x.sum() ** 2 / (x.size * np.square(x).sum()))


def censored_waits(jobs: pa.Table, horizon_s: float) -> np.ndarray:
    """(n,) wait of every job of ``jobs``: first start - submit, or horizon - submit if never started, s."""
    submit = jobs.column("submit_time_s").to_numpy()
    first = jobs.column("first_start_s").to_numpy()
    return np.where(np.isnan(first), np.maximum(0.0, horizon_s - submit), first - submit)


def _p95(a: np.ndarray) -> float:
    return float(np.quantile(a, 0.95)) if a.size else 0.0


def policy_metrics(jobs: pa.Table, horizon_s: float, durations_s: Mapping[str, float] | None = None, *,
                   wait_targets_s: Mapping[str, float] | None = None, default_target_s: float = 3600.0,
                   grace_s: float = 0.0) -> PolicyMetrics:
    """The metrics of one run.

    Parameters
    ----------
    jobs : pyarrow.Table
        ``Results.jobs`` (columns ``job_id``, ``division``, ``num_gpus``, ``is_hero``,
        ``submit_time_s``, ``first_start_s``, ``gpu_s_useful``, ``gpu_s_lost``, ``preemptions``,
        ``run_s``).
    horizon_s : float
        Simulated horizon, s (never-started jobs wait until then).
    durations_s : mapping, optional
        Job id -> uninterrupted run time, s (the trace's ``duration_s``), for the slowdowns.
        Without it (or for a job it lacks) a completed job's ``run_s`` is used and an unfinished
        job's duration is taken as unknown (the floor).
    wait_targets_s : mapping, optional
        Division -> wait target, s (``capacity.wait_p95_slo_s``), for ``slo_met_share`` and
        ``wait_p95_rel``; divisions it lacks use ``default_target_s``. Without it both are NaN.
    default_target_s : float
        Wait target of divisions without one, s (``scheduler.objective.default_wait_target_s``).
    grace_s : float
        Jobs submitted after ``horizon_s - grace_s`` do not count in ``never_started``, s
        (see the module docstring; ``scheduler.round_s`` in ``colossus compare`` and the benchmark).
    """
    if not (math.isfinite(grace_s) and grace_s >= 0):
        raise ValueError(f"grace_s must be a finite number >= 0, got {grace_s!r}")
    bg = jobs.filter(pc.invert(jobs.column("is_hero")))
    wait = censored_waits(bg, horizon_s)
    g = bg.column("num_gpus").to_numpy()
    first = bg.column("first_start_s").to_numpy()
    run = bg.column("run_s").to_numpy()
    if durations_s is not None:
        ids = bg.column("job_id").to_pylist()
        dur = np.fromiter((durations_s.get(j, math.nan) for j in ids), dtype=np.float64, count=len(ids))
    else:
        dur = np.full(len(bg), math.nan)
    done = np.isfinite(bg.column("end_time_s").to_numpy()) if "end_time_s" in bg.column_names else np.zeros(len(bg), bool)
    dur = np.where(np.isnan(dur) & done, run, dur)
    d = np.maximum(np.nan_to_num(dur, nan=SLOWDOWN_FLOOR_S), SLOWDOWN_FLOOR_S)
    slow = (wait + d) / d
    div = np.asarray(bg.column("division").to_pylist(), dtype=object)
    names = sorted(set(div.tolist()))
    mean_slow = {n: float(slow[div == n].mean()) for n in names}
    slo_met = rel_p95 = math.nan
    if wait_targets_s is not None and len(bg):
        target = np.fromiter((float(wait_targets_s.get(n, default_target_s)) for n in div.tolist()),
                             dtype=np.float64, count=div.size)
        rel = wait / target
        slo_met, rel_p95 = float(np.mean(rel <= 1.0)), _p95(rel)
    return PolicyMetrics(
        wait_p95_small_s=_p95(wait[g <= 8]),
        wait_p95_large_s=_p95(wait[g >= 64]),
        never_started=int((np.isnan(first) & (bg.column("submit_time_s").to_numpy() <= horizon_s - grace_s)).sum()),
        useful_gpu_h=float(bg.column("gpu_s_useful").to_numpy().sum() / 3600.0),
        preemptions=int(bg.column("preemptions").to_numpy().sum()),
        lost_gpu_h=float(bg.column("gpu_s_lost").to_numpy().sum() / 3600.0),
        jain_slowdown=jain_index(np.asarray(list(mean_slow.values()))),
        mean_slowdown=mean_slow,
        slo_met_share=slo_met,
        wait_p95_rel=rel_p95,
    )
