"""A workload fitted to a real trace, and the generator that reproduces it.

:class:`FittedWorkload` holds what :func:`traces.fit.fit_workload` measures in a trace:

- arrivals: per division, mean jobs per day and a 168-bucket hour-of-week profile (mean 1; hour 0
  = Monday 00:00-01:00 UTC): a non-homogeneous Poisson process, piecewise constant per hour;
- job size: the empirical distribution over the GPU counts seen, per division (each division's
  own shares over the workload's list of sizes; the overall shares when a division has none);
- run time per size class: the empirical quantile function (101 points, p0..p100), sampled by
  inverse transform with log-linear interpolation between the points, so the generated p10 / p50
  / p90 converge on the trace's;
- kind per size class: the shares seen in the trace.

:func:`generate_fitted` streams schema-v1 batches (one per day) from one seed; the offered load
is scaled by ``params.offered_load_gpus / fitted.offered_load_gpus`` and the ``load_scale`` steps,
so a fitted section still follows ``offered_load_share``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from traces.schema import DEFAULT_PREEMPTIBLE, DEFAULT_PRIORITY, KINDS, SCHEMA_V1

__all__ = [
    "HOURS_PER_WEEK",
    "QUANTILE_POINTS",
    "FittedArrivals",
    "FittedRunTime",
    "FittedWorkload",
    "fitted_statistics",
    "generate_fitted",
    "hour_of_week",
    "mean_run_time_s",
]

HOURS_PER_WEEK = 168
#: Points of each run-time quantile function (p0, p1, ..., p100).
QUANTILE_POINTS = 101
_HOUR_S = 3600.0
_DAY_S = 86_400.0
# 1970-01-01 was a Thursday: epoch hour 0 is hour 72 of its week (Monday 00:00 = 0).
_EPOCH_HOW = 72


def hour_of_week(start: datetime, t_s: np.ndarray) -> np.ndarray:
    """Hour of week (0 = Monday 00:00-01:00 UTC) of times ``t_s`` seconds after ``start``."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    epoch_h = (start.timestamp() + np.asarray(t_s, dtype=np.float64)) / _HOUR_S
    return ((np.floor(epoch_h).astype(np.int64) + _EPOCH_HOW) % HOURS_PER_WEEK).astype(np.int64)


@dataclass(frozen=True, kw_only=True, slots=True)
class FittedArrivals:
    """One division's arrival process."""

    division: str
    """Division name."""
    jobs_per_day: float
    """Mean arrivals per day, > 0."""
    hour_of_week: tuple[float, ...]
    """168 rate multipliers (mean 1), hour 0 = Monday 00:00 UTC."""
    size_share: tuple[float, ...] | None = None
    """This division's share of jobs per GPU count of :attr:`FittedWorkload.sizes_gpus`
    (sums to 1); None = the workload's overall ``sizes_share``."""

    def __post_init__(self) -> None:
        if self.size_share is not None:
            p = np.asarray(self.size_share, dtype=float)
            if not np.isfinite(p).all() or (p < 0).any() or not math.isclose(float(p.sum()), 1.0, rel_tol=1e-6):
                raise ValueError(f"{self.division}: size_share must be >= 0 and sum to 1")
        if not (self.jobs_per_day > 0 and math.isfinite(self.jobs_per_day)):
            raise ValueError(f"{self.division}: jobs_per_day must be > 0")
        if len(self.hour_of_week) != HOURS_PER_WEEK:
            raise ValueError(f"{self.division}: hour_of_week needs {HOURS_PER_WEEK} values")
        h = np.asarray(self.hour_of_week, dtype=float)
        if not np.isfinite(h).all() or (h < 0).any() or h.sum() <= 0:
            raise ValueError(f"{self.division}: hour_of_week values must be finite, >= 0, not all 0")


@dataclass(frozen=True, kw_only=True, slots=True)
class FittedRunTime:
    """Run times of one size class: jobs with ``min_gpus <= num_gpus <= max_gpus``."""

    max_gpus: int
    """Upper bound of the class (inclusive); the class starts above the previous one's."""
    quantiles_s: tuple[float, ...]
    """101 run-time quantiles p0..p100, seconds, non-decreasing, > 0."""
    kinds: Mapping[str, float]
    """Kind -> share of the class's jobs."""
    jobs: int = 0
    """Jobs of the class in the fitted trace (for the reader; not used when generating)."""

    def __post_init__(self) -> None:
        q = np.asarray(self.quantiles_s, dtype=float)
        if q.size != QUANTILE_POINTS:
            raise ValueError(f"class <= {self.max_gpus} GPUs: quantiles_s needs {QUANTILE_POINTS} values")
        if not np.isfinite(q).all() or (q <= 0).any() or (np.diff(q) < 0).any():
            raise ValueError(f"class <= {self.max_gpus} GPUs: quantiles_s must be > 0 and non-decreasing")
        if not self.kinds or any(k not in KINDS for k in self.kinds):
            raise ValueError(f"class <= {self.max_gpus} GPUs: kinds must name schema kinds")
        if any(not (v >= 0) for v in self.kinds.values()) or sum(self.kinds.values()) <= 0:
            raise ValueError(f"class <= {self.max_gpus} GPUs: kind shares must be >= 0, not all 0")


@dataclass(frozen=True, kw_only=True, slots=True)
class FittedWorkload:
    """A workload measured in a trace (see the module docstring)."""

    arrivals: tuple[FittedArrivals, ...]
    """One per division that submitted jobs."""
    sizes_gpus: tuple[int, ...]
    """GPU counts seen, increasing."""
    sizes_share: tuple[float, ...]
    """Share of jobs per GPU count (sums to 1)."""
    run_time: tuple[FittedRunTime, ...]
    """Size classes in increasing ``max_gpus``; the last covers the largest size."""
    source: str = ""
    """The fitted trace (for the reader)."""

    def __post_init__(self) -> None:
        if not self.arrivals:
            raise ValueError("no division has arrivals")
        g = np.asarray(self.sizes_gpus)
        p = np.asarray(self.sizes_share, dtype=float)
        if g.size == 0 or g.size != p.size:
            raise ValueError("sizes: gpus and share need the same, non-zero length")
        if (g < 1).any() or (np.diff(g) <= 0).any():
            raise ValueError("sizes: gpus must be >= 1 and increasing")
        if (p < 0).any() or not math.isclose(float(p.sum()), 1.0, rel_tol=1e-6):
            raise ValueError("sizes: share must be >= 0 and sum to 1")
        for a in self.arrivals:
            if a.size_share is not None and len(a.size_share) != g.size:
                raise ValueError(f"{a.division}: size_share needs one value per GPU count ({g.size})")
        bounds = [c.max_gpus for c in self.run_time]
        if not bounds or bounds != sorted(set(bounds)) or bounds[-1] < int(g[-1]):
            raise ValueError("run_time: classes need increasing max_gpus covering the largest size")

    def size_share_of(self, arrivals: FittedArrivals) -> np.ndarray:
        """Share of jobs per GPU count for one division (its own, else the overall one)."""
        p = np.asarray(arrivals.size_share if arrivals.size_share is not None else self.sizes_share, dtype=float)
        return p / p.sum()

    def mean_gpu_seconds_of(self, arrivals: FittedArrivals) -> float:
        """E[num_gpus x run time] of one division's jobs under the fitted distributions."""
        g = np.asarray(self.sizes_gpus)
        means = np.array([mean_run_time_s(c.quantiles_s) for c in self.run_time])
        return float(np.dot(self.size_share_of(arrivals) * g, means[self.class_of(g)]))

    @property
    def offered_load_gpus(self) -> float:
        """Mean GPU-seconds submitted per second (all divisions)."""
        return sum(a.jobs_per_day * self.mean_gpu_seconds_of(a) for a in self.arrivals) / _DAY_S

    @property
    def mean_gpu_seconds_per_job(self) -> float:
        """E[num_gpus x run time] over all divisions' jobs."""
        jobs = sum(a.jobs_per_day for a in self.arrivals)
        return self.offered_load_gpus * _DAY_S / jobs

    def class_of(self, gpus: np.ndarray) -> np.ndarray:
        """Index of the size class of each GPU count."""
        return np.searchsorted(np.array([c.max_gpus for c in self.run_time]), gpus, side="left")

    def kind_shares(self) -> dict[str, float]:
        """Share of jobs per kind over all divisions and sizes."""
        cls = self.class_of(np.asarray(self.sizes_gpus))
        jobs = sum(a.jobs_per_day for a in self.arrivals)
        out: dict[str, float] = {}
        for a in self.arrivals:
            for share, c in zip(self.size_share_of(a), cls, strict=True):
                kinds = self.run_time[int(c)].kinds
                total = sum(kinds.values())
                for k, v in kinds.items():
                    out[k] = out.get(k, 0.0) + a.jobs_per_day / jobs * share * v / total
        return out


def mean_run_time_s(quantiles_s: Sequence[float]) -> float:
    """Mean of the log-linearly interpolated quantile function (exact integral per segment)."""
    lq = np.log(np.asarray(quantiles_s, dtype=float))
    a, b = lq[:-1], lq[1:]
    diff = b - a
    flat = np.abs(diff) < 1e-12
    seg = np.where(flat, np.exp(a), (np.exp(b) - np.exp(a)) / np.where(flat, 1.0, diff))
    return float(seg.mean())


def fitted_statistics(fitted: FittedWorkload, scale: float = 1.0) -> dict[str, object]:
    """Closed-form figures of the fitted generator (as :func:`traces.generator.expected_statistics`).

    ``scale`` multiplies every arrival rate (scenario load / fitted load).
    """
    per_div = {a.division: a.jobs_per_day * scale for a in fitted.arrivals}
    total = sum(per_div.values())
    cls = fitted.class_of(np.asarray(fitted.sizes_gpus))
    kind_gs: dict[str, float] = {}
    div_gs: dict[str, float] = {}
    for a in fitted.arrivals:
        div_gs[a.division] = a.jobs_per_day * fitted.mean_gpu_seconds_of(a)
        for share, gpus, c in zip(fitted.size_share_of(a), fitted.sizes_gpus, cls, strict=True):
            rt = fitted.run_time[int(c)]
            ks = sum(rt.kinds.values())
            for k, v in rt.kinds.items():
                kind_gs[k] = kind_gs.get(k, 0.0) + (
                    a.jobs_per_day * share * v / ks * gpus * mean_run_time_s(rt.quantiles_s)
                )
    gs_total = sum(kind_gs.values())
    div_total = sum(div_gs.values())
    return {
        "jobs_per_day": float(total),
        "job_share_by_kind": fitted.kind_shares(),
        "gpu_time_share_by_kind": {k: v / gs_total for k, v in kind_gs.items()},
        "gpu_time_share_by_division": {d: v / div_total for d, v in div_gs.items()},
        "mean_gpu_seconds_per_job": fitted.mean_gpu_seconds_per_job,
        "median_duration_s": {f"<= {c.max_gpus} GPUs": float(c.quantiles_s[50]) for c in fitted.run_time},
    }


def _sample_run_times(rng: np.random.Generator, quantiles_s: Sequence[float], n: int) -> np.ndarray:
    lq = np.log(np.asarray(quantiles_s, dtype=float))
    x = rng.random(n) * (QUANTILE_POINTS - 1)
    i = np.minimum(x.astype(np.int64), QUANTILE_POINTS - 2)
    f = x - i
    return np.exp(lq[i] + f * (lq[i + 1] - lq[i]))


def generate_fitted(
    fitted: FittedWorkload,
    *,
    division_names: Sequence[str],
    days: float,
    streams: object,
    start: datetime,
    load_factor: float,
    steps: Sequence[tuple[float, float]] = (),
    users_per_division: int = 50,
    first_id: int = 1,
) -> Iterator[pa.RecordBatch]:
    """Stream the fitted workload as schema-v1 batches, one per day of submits.

    Parameters
    ----------
    fitted : FittedWorkload
        The measured workload.
    division_names : sequence of str
        The scenario's divisions; a fitted division outside them is an error.
    days : float
        Submit window, days.
    streams
        The generator's ``_Streams`` (arrivals, kinds, gpus, durations, misc generators).
    start : datetime
        UTC instant of ``submit_time_s == 0``: sets the hour of week.
    load_factor : float
        Multiplier on every fitted rate (scenario load / fitted load).
    steps : sequence of (from_s, factor)
        Further load steps, as in :func:`traces.generator.generate_batches`.
    users_per_division, first_id
        User names per division (popularity ~ 1/rank) and the first job number.
    """
    from traces.generator import _ids  # the generator's fixed-width ids (no import cycle at load)

    unknown = [a.division for a in fitted.arrivals if a.division not in division_names]
    if unknown:
        raise ValueError(f"fitted workload: unknown division {unknown[0]!r} (scenario has {', '.join(division_names)})")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    st = streams
    step_t = np.array([t for t, _ in sorted(steps)], dtype=np.float64)
    step_f = np.array([1.0] + [f for _, f in sorted(steps)], dtype=np.float64)
    rates_h = np.array(
        [np.asarray(a.hour_of_week) * a.jobs_per_day / 24.0 for a in fitted.arrivals]
    )  # jobs per hour, division x hour-of-week
    sizes = np.asarray(fitted.sizes_gpus, dtype=np.int64)
    size_p = [fitted.size_share_of(a) for a in fitted.arrivals]
    ranks = np.arange(1, users_per_division + 1)
    user_p = (1 / ranks) / (1 / ranks).sum()
    kinds_arr = pa.array(list(KINDS), pa.string())
    kind_idx = {k: i for i, k in enumerate(KINDS)}
    horizon_s = days * _DAY_S
    next_id = first_id
    for day in range(math.ceil(days)):
        a_s, b_s = day * _DAY_S, min((day + 1) * _DAY_S, horizon_s)
        hours = np.arange(a_s, b_s, _HOUR_S)
        width_h = (np.minimum(hours + _HOUR_S, b_s) - hours) / _HOUR_S
        how = hour_of_week(start, hours)
        factor = load_factor * step_f[np.searchsorted(step_t, hours, side="right")]
        parts_t, parts_d = [], []
        for d in range(len(fitted.arrivals)):
            n = st.arrivals.poisson(rates_h[d, how] * width_h * factor)
            if n.sum() == 0:
                continue
            t0 = np.repeat(hours, n)
            w = np.repeat(width_h, n)
            parts_t.append(t0 + st.arrivals.random(t0.size) * w * _HOUR_S)
            parts_d.append(np.full(t0.size, d, dtype=np.int32))
        if not parts_t:
            continue
        t = np.concatenate(parts_t)
        div = np.concatenate(parts_d)
        order = np.argsort(t, kind="stable")
        t, div = t[order], div[order]
        n = t.size
        gpus = np.empty(n, dtype=np.int64)
        for d in range(len(fitted.arrivals)):
            sel = np.flatnonzero(div == d)
            if sel.size:
                gpus[sel] = st.gpus.choice(sizes, size=sel.size, p=size_p[d])
        cls = fitted.class_of(gpus)
        dur = np.empty(n)
        kind = np.empty(n, dtype=np.int32)
        for c, rt in enumerate(fitted.run_time):
            sel = np.flatnonzero(cls == c)
            if sel.size == 0:
                continue
            dur[sel] = _sample_run_times(st.durations, rt.quantiles_s, sel.size)
            names = list(rt.kinds)
            kp = np.array([rt.kinds[k] for k in names], dtype=float)
            pick = st.kinds.choice(len(names), size=sel.size, p=kp / kp.sum())
            kind[sel] = np.array([kind_idx[k] for k in names], dtype=np.int32)[pick]
        dur = np.maximum(np.round(dur, 1), 0.1)
        user = st.misc.choice(ranks.size, size=n, p=user_p)
        kind_names = np.array(KINDS, dtype=object)[kind]
        user_names = pa.array(
            [f"{fitted.arrivals[dv].division}-u{u + 1:03d}" for dv, u in zip(div, user, strict=True)],
            pa.string(),
        )
        arrays = {
            "job_id": _ids(next_id, n),
            "submit_time_s": pa.array(t),
            "division": pa.DictionaryArray.from_arrays(
                div, pa.array([a.division for a in fitted.arrivals])
            ).cast(pa.string()),
            "num_gpus": pa.array(gpus.astype(np.int32)),
            "duration_s": pa.array(dur),
            "kind": pa.DictionaryArray.from_arrays(kind, kinds_arr).cast(pa.string()),
            "priority": pa.array(np.array([DEFAULT_PRIORITY[k] for k in kind_names], dtype=np.int16)),
            "preemptible": pa.array(np.array([DEFAULT_PREEMPTIBLE[k] for k in kind_names], dtype=bool)),
            "work_tokens": pa.nulls(n, pa.float64()),
            "model": pa.nulls(n, pa.string()),
            "min_gpus": pa.nulls(n, pa.int32()),
            "user": user_names,
            "source_status": pa.nulls(n, pa.string()),
        }
        next_id += n
        yield pa.RecordBatch.from_arrays([arrays[f.name] for f in SCHEMA_V1], schema=SCHEMA_V1)
