"""Fit a workload to a trace, and measure how far a generated trace is from it.

:func:`fit_workload` reads a schema-v1 trace (record batches, one pass) and returns a
:class:`~traces.empirical.FittedWorkload`: per-division arrival rate, hour-of-week profile and
job-size distribution (empirical, over the sizes seen), run-time quantiles and kind shares per
size class (size
classes: ``traces.stats.SIZE_BUCKETS``). Jobs sized in tokens (no duration) are left out.

:func:`compare_traces` gives the figures issue #14 sets goals on: arrival rate per hour of week
(relative error), job-size total-variation distance, and run-time p10 / p50 / p90 per size class.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from traces.empirical import (
    HOURS_PER_WEEK,
    QUANTILE_POINTS,
    FittedArrivals,
    FittedRunTime,
    FittedWorkload,
    hour_of_week,
)
from traces.stats import SIZE_BUCKETS

__all__ = ["TraceSample", "compare_traces", "fit_workload", "read_sample", "size_classes"]

_HOUR_S = 3600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class TraceSample:
    """The columns of a trace the fit looks at (jobs with a duration only)."""

    start: datetime
    """UTC instant of ``submit_time_s == 0``."""
    submit_s: np.ndarray
    """Submit times, seconds from ``start``."""
    division: np.ndarray
    """Division per job (object array of str)."""
    gpus: np.ndarray
    """GPUs per job."""
    duration_s: np.ndarray
    """Run time per job, seconds."""
    kind: np.ndarray
    """Kind per job (object array of str)."""


def read_sample(batches: Iterable[pa.RecordBatch], start: datetime) -> TraceSample:
    """Gather the fitted columns of validated schema-v1 batches (token-sized jobs left out)."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "div", "g", "d", "kind")}
    for b in batches:
        d = b.column("duration_s")
        keep = np.asarray(d.is_valid().to_numpy(zero_copy_only=False))
        if not keep.any():
            continue
        idx = pa.array(np.flatnonzero(keep))
        cols["t"].append(b.column("submit_time_s").take(idx).to_numpy())
        cols["div"].append(np.asarray(b.column("division").take(idx).to_pylist(), dtype=object))
        cols["g"].append(b.column("num_gpus").take(idx).to_numpy().astype(np.int64))
        cols["d"].append(d.take(idx).to_numpy().astype(np.float64))
        cols["kind"].append(np.asarray(b.column("kind").take(idx).to_pylist(), dtype=object))

    def cat(name: str, dtype: type) -> np.ndarray:
        return np.concatenate(cols[name]) if cols[name] else np.zeros(0, dtype)

    return TraceSample(
        start=start,
        submit_s=cat("t", float),
        division=cat("div", object),
        gpus=cat("g", np.int64),
        duration_s=cat("d", float),
        kind=cat("kind", object),
    )


def size_classes(max_gpus: int) -> list[int]:
    """Upper bounds of the run-time size classes up to ``max_gpus`` (the last may be open)."""
    bounds = [b for b in SIZE_BUCKETS if b < max_gpus]
    return [*bounds, max(max_gpus, bounds[-1] + 1 if bounds else 1)]


def _exposure_h(sample: TraceSample) -> np.ndarray:
    """Hours observed of each hour-of-week bucket: the whole UTC hours from the one holding t = 0
    through the one holding the last submit (so every job's bucket is observed)."""
    last = float(sample.submit_s.max()) if sample.submit_s.size else 0.0
    t0 = sample.start.timestamp()
    first_h, last_h = math.floor(t0 / _HOUR_S), math.floor((t0 + last) / _HOUR_S)
    edges = np.arange(first_h, last_h + 1, dtype=np.float64) * _HOUR_S - t0
    return np.bincount(hour_of_week(sample.start, edges), minlength=HOURS_PER_WEEK).astype(float)


def fit_workload(
    sample: TraceSample, *, source: str = "", min_week_hours: float = 1.0
) -> FittedWorkload:
    """Fit arrivals, sizes, run times and kinds to a trace.

    Parameters
    ----------
    sample : TraceSample
        The trace's jobs (:func:`read_sample`).
    source : str
        Recorded in the fit (e.g. the trace's file name).
    min_week_hours : float
        Hour-of-week buckets the trace covers for less than this many hours get the division's
        mean rate (a trace shorter than a week has no data for them).

    Raises
    ------
    ValueError
        When the trace has no job with a duration.
    """
    n = sample.submit_s.size
    if n == 0:
        raise ValueError("the trace has no job with a duration to fit")
    how = hour_of_week(sample.start, sample.submit_s)
    exposure = _exposure_h(sample)
    seen = exposure >= min_week_hours
    sizes, size_counts = np.unique(sample.gpus, return_counts=True)
    size_idx = np.searchsorted(sizes, sample.gpus)
    arrivals = []
    for name in sorted(set(sample.division.tolist())):
        mine = sample.division == name
        per_size = np.bincount(size_idx[mine], minlength=sizes.size).astype(float)
        counts = np.bincount(how[mine], minlength=HOURS_PER_WEEK).astype(float)
        rate = np.where(seen, counts / np.where(seen, exposure, 1.0), 0.0)  # jobs per hour
        mean = float(rate[seen].mean())
        if mean <= 0:
            continue
        rate = np.where(seen, rate, mean)
        profile = rate / rate.mean()
        arrivals.append(
            FittedArrivals(
                division=name,
                jobs_per_day=float(rate.mean() * 24.0),
                hour_of_week=tuple(round(float(x), 6) for x in profile),
                size_share=tuple(float(x) for x in per_size / per_size.sum()),
            )
        )
    bounds = size_classes(int(sizes.max()))
    cls = np.searchsorted(np.array(bounds), sample.gpus, side="left")
    run_time = []
    for c, hi in enumerate(bounds):
        sel = cls == c
        if not sel.any():
            continue
        q = np.percentile(sample.duration_s[sel], np.linspace(0, 100, QUANTILE_POINTS))
        q = np.maximum.accumulate(np.maximum(q, 0.1))
        kinds, kc = np.unique(sample.kind[sel].astype(str), return_counts=True)
        run_time.append(
            FittedRunTime(
                max_gpus=int(hi),
                quantiles_s=tuple(round(float(x), 3) for x in q),
                kinds={
                    str(k): round(float(v) / int(sel.sum()), 6)
                    for k, v in zip(kinds, kc, strict=True)
                },
                jobs=int(sel.sum()),
            )
        )
    share = size_counts / size_counts.sum()
    return FittedWorkload(
        arrivals=tuple(arrivals),
        sizes_gpus=tuple(int(g) for g in sizes),
        sizes_share=tuple(float(s) for s in share),
        run_time=tuple(run_time),
        source=source,
    )


def compare_traces(
    reference: TraceSample,
    generated: TraceSample,
    *,
    min_class_jobs: int = 200,
    min_division_jobs: int = 1000,
) -> dict[str, object]:
    """How far ``generated`` is from ``reference`` on the issue-#14 goals.

    Returns
    -------
    dict
        ``arrival_rate_rel_error_by_hour`` (168 values: |rate_gen / rate_ref - 1| per
        hour-of-week bucket with reference jobs, NaN elsewhere), ``arrival_rate_max_rel_error``,
        ``size_tv_distance`` (0.5 x sum |p_ref - p_gen| over GPU counts), the same per division
        with at least ``min_division_jobs`` reference jobs (``size_tv_distance_by_division``), and
        ``run_time`` per size
        class with at least ``min_class_jobs`` jobs in both: reference and generated p10 / p50 /
        p90 (seconds) and the largest relative error.
    """

    def rates(s: TraceSample) -> np.ndarray:
        counts = np.bincount(hour_of_week(s.start, s.submit_s), minlength=HOURS_PER_WEEK)
        exp = _exposure_h(s)
        return np.where(exp > 0, counts / np.where(exp > 0, exp, 1.0), np.nan)

    r_ref, r_gen = rates(reference), rates(generated)
    rel = np.where(r_ref > 0, np.abs(r_gen / np.where(r_ref > 0, r_ref, 1.0) - 1.0), np.nan)
    sizes = np.union1d(reference.gpus, generated.gpus)

    def tv(a: np.ndarray, b: np.ndarray) -> float:
        pa_ = np.bincount(np.searchsorted(sizes, a), minlength=sizes.size) / max(a.size, 1)
        pb_ = np.bincount(np.searchsorted(sizes, b), minlength=sizes.size) / max(b.size, 1)
        return float(0.5 * np.abs(pa_ - pb_).sum())

    by_div = {
        str(d): tv(reference.gpus[reference.division == d], generated.gpus[generated.division == d])
        for d in sorted(set(reference.division.tolist()))
        if (reference.division == d).sum() >= min_division_jobs and (generated.division == d).any()
    }
    bounds = size_classes(int(sizes.max()))
    edges = np.array(bounds)
    c_ref = np.searchsorted(edges, reference.gpus, side="left")
    c_gen = np.searchsorted(edges, generated.gpus, side="left")
    per_class = {}
    for c, hi in enumerate(bounds):
        a, b = reference.duration_s[c_ref == c], generated.duration_s[c_gen == c]
        if a.size < min_class_jobs or b.size < min_class_jobs:
            continue
        qa = np.percentile(a, [10, 50, 90])
        qb = np.percentile(b, [10, 50, 90])
        lo = bounds[c - 1] + 1 if c else 1
        per_class[f"{lo}-{hi}" if lo != hi else str(hi)] = {
            "jobs_reference": int(a.size),
            "jobs_generated": int(b.size),
            "reference_p10_p50_p90_s": [float(x) for x in qa],
            "generated_p10_p50_p90_s": [float(x) for x in qb],
            "max_rel_error": float(np.max(np.abs(qb / qa - 1.0))),
        }
    return {
        "arrival_rate_rel_error_by_hour": rel.tolist(),
        "arrival_rate_max_rel_error": float(np.nanmax(rel)),
        "size_tv_distance": tv(reference.gpus, generated.gpus),
        "size_tv_distance_by_division": by_div,
        "run_time": per_class,
    }
