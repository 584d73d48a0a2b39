"""Synthetic job traces for a scenario's divisions, reproducible from one seed.

Model (all parameters in :class:`WorkloadParams`, defaults in ``colossus/scenario/workload.py``
name the public statistic each reproduces):

- arrivals: per division, a non-homogeneous Poisson process with rate
  ``r_d * w(day) * (1 + A cos(2 pi (t - peak) / 1 day))``; ``w`` lowers weekends and averages 1
  over a week, so ``r_d`` is the mean rate. ``r_d`` is chosen so that division ``d`` submits its
  ``gpu_time_share`` of ``offered_load_gpus`` (mean GPU-seconds per second of background work);
- kind of each job: categorical over :class:`KindProfile` ``job_share`` (times the division's
  ``kind_weights``);
- GPUs: placeable shapes only (powers of two up to a node, then a power of two of whole nodes),
  ``P(g) ~ g**-gpus_alpha`` between the kind's bounds: a power-law (heavy) tail;
- duration: log-normal (median, sigma) clipped to ``[duration_min_s, duration_max_s]``;
- priority and preemptibility by kind; a share of jobs is elastic (``min_gpus = num_gpus / 2``);
- the hero run: one pretrain job with ``work_tokens`` and ``model`` and no duration.

Stable API: :func:`generate_batches` (streams :class:`pyarrow.RecordBatch` in submit order),
:func:`generate_table`, :func:`expected_statistics`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from traces.empirical import FittedWorkload, fitted_statistics, generate_fitted
from traces.schema import DEFAULT_PREEMPTIBLE, DEFAULT_PRIORITY, KINDS, SCHEMA_V1

__all__ = [
    "DAY_S",
    "DivisionLoad",
    "HeroJob",
    "KindProfile",
    "WorkloadParams",
    "expected_statistics",
    "generate_batches",
    "generate_table",
    "placeable_shapes",
]

DAY_S = 86_400.0
_WEEK_DAYS = 7
_TARGET_ROWS_PER_WINDOW = 65_536
_ID_DIGITS = 10


@dataclass(frozen=True, kw_only=True, slots=True)
class KindProfile:
    """How jobs of one kind look."""

    kind: str
    """A schema kind (``traces.schema.KINDS``)."""
    job_share: float
    """Share of arrivals (by count), >= 0; shares are normalised over kinds."""
    gpus_min: int
    """Smallest GPU count (rounded up to a placeable shape)."""
    gpus_max: int
    """Largest GPU count (rounded down to a placeable shape)."""
    gpus_alpha: float
    """Power-law exponent over placeable shapes, ``P(g) ~ g**-alpha``."""
    duration_median_s: float
    """Median of the log-normal run time, seconds."""
    duration_sigma: float
    """Sigma of log(run time)."""
    duration_max_s: float
    """Run times are clipped to this (a wall-clock limit), seconds."""
    duration_min_s: float = 1.0
    """Run times are clipped from below to this, seconds."""
    priority: int | None = None
    """Priority; default by kind (``traces.schema.DEFAULT_PRIORITY``)."""
    preemptible: bool | None = None
    """Preemptibility; default by kind (``traces.schema.DEFAULT_PREEMPTIBLE``)."""
    elastic_share: float = 0.0
    """Share of jobs (with > 1 GPU) that may run on half their GPUs (``min_gpus``)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.job_share < 0 or not math.isfinite(self.job_share):
            raise ValueError(f"{self.kind}: job_share must be >= 0")
        if not 1 <= self.gpus_min <= self.gpus_max:
            raise ValueError(f"{self.kind}: need 1 <= gpus_min <= gpus_max")
        if self.duration_median_s <= 0 or self.duration_sigma < 0:
            raise ValueError(f"{self.kind}: duration median must be > 0 and sigma >= 0")
        if not 0 < self.duration_min_s <= self.duration_max_s:
            raise ValueError(f"{self.kind}: need 0 < duration_min_s <= duration_max_s")
        if not 0 <= self.elastic_share <= 1:
            raise ValueError(f"{self.kind}: elastic_share must be in [0, 1]")


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkloadParams:
    """Parameters of the background workload (everything but the hero run)."""

    offered_load_gpus: float
    """Mean GPUs' worth of work submitted per unit time (GPU-seconds per second), > 0."""
    kinds: tuple[KindProfile, ...]
    """One profile per job kind."""
    diurnal_amplitude: float = 0.5
    """Relative amplitude ``A`` of the daily cycle, 0 <= A < 1."""
    peak_hour: float = 14.0
    """Hour of day (trace clock, UTC) of the arrival-rate peak."""
    weekend_factor: float = 1.0
    """Arrival rate on Saturdays and Sundays relative to weekdays, > 0."""
    gpus_per_node: int = 8
    """GPUs per node: shapes above it are whole nodes."""
    users_per_division: int = 50
    """Users per division (popularity ~ 1/rank)."""
    fitted: FittedWorkload | None = None
    """A workload measured in a trace (:mod:`traces.empirical`): when set it replaces the kinds,
    the daily/weekly cycle and the divisions' shares; ``offered_load_gpus`` scales its rates."""

    def __post_init__(self) -> None:
        if not self.offered_load_gpus > 0:
            raise ValueError("offered_load_gpus must be > 0")
        if not 0 <= self.diurnal_amplitude < 1:
            raise ValueError("diurnal_amplitude must be in [0, 1)")
        if not self.weekend_factor > 0:
            raise ValueError("weekend_factor must be > 0")
        if self.gpus_per_node < 1 or self.gpus_per_node & (self.gpus_per_node - 1):
            raise ValueError("gpus_per_node must be a power of two")
        if self.users_per_division < 1:
            raise ValueError("users_per_division must be >= 1")
        names = [k.kind for k in self.kinds]
        if len(set(names)) != len(names):
            raise ValueError("each kind may have one profile only")
        if sum(k.job_share for k in self.kinds) <= 0:
            raise ValueError("job shares must not all be 0")


@dataclass(frozen=True, kw_only=True, slots=True)
class DivisionLoad:
    """One division's part of the workload."""

    name: str
    """Division name, written to the ``division`` column."""
    gpu_time_share: float
    """Share of the submitted background GPU-time, >= 0 (normalised over divisions)."""
    kind_weights: Mapping[str, float] = field(default_factory=dict)
    """Multipliers on the kinds' ``job_share`` for this division (missing kinds: 1)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class HeroJob:
    """The flagship pretraining run: one job sized in tokens, not seconds."""

    division: str
    """Owning division."""
    num_gpus: int
    """GPUs."""
    work_tokens: float
    """Training tokens."""
    model: str
    """Step-time model preset."""
    submit_time_s: float = 0.0
    """Submit time, seconds from trace start."""
    job_id: str = "hero"
    """Job id (generated ids are ``j`` + 10 digits, so they never clash with it)."""
    priority: int = 10
    """Priority (above every kind default)."""
    preemptible: bool = False
    """Whether it may be preempted."""
    min_gpus: int | None = None
    """Elastic lower bound, if any."""
    user: str | None = None
    """User name."""


def placeable_shapes(gpus_min: int, gpus_max: int, gpus_per_node: int) -> np.ndarray:
    """GPU counts placeable without fragmentation between the bounds: powers of two, int64."""
    shapes = [1 << k for k in range(0, 40) if gpus_min <= (1 << k) <= gpus_max]
    if not shapes:
        raise ValueError(f"no power-of-two GPU count in [{gpus_min}, {gpus_max}]")
    return np.array(shapes, dtype=np.int64)


def _shape_probs(profile: KindProfile, gpus_per_node: int) -> tuple[np.ndarray, np.ndarray]:
    shapes = placeable_shapes(profile.gpus_min, profile.gpus_max, gpus_per_node)
    w = shapes.astype(float) ** -profile.gpus_alpha
    return shapes, w / w.sum()


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _clipped_lognormal_mean(median: float, sigma: float, lo: float, hi: float) -> float:
    """E[clip(X, lo, hi)] for log-normal X with the given median and sigma."""
    if sigma == 0:
        return min(max(median, lo), hi)
    mu = math.log(median)
    za, zb = (math.log(lo) - mu) / sigma, (math.log(hi) - mu) / sigma
    body = math.exp(mu + sigma**2 / 2) * (_phi(zb - sigma) - _phi(za - sigma))
    return lo * _phi(za) + body + hi * (1.0 - _phi(zb))


def _kind_table(params: WorkloadParams, division: DivisionLoad) -> tuple[np.ndarray, np.ndarray]:
    """Per kind: arrival probability for this division and mean GPU-seconds per job."""
    p = np.array(
        [k.job_share * float(division.kind_weights.get(k.kind, 1.0)) for k in params.kinds]
    )
    if p.sum() <= 0:
        raise ValueError(f"division {division.name!r}: its kind weights leave no kind")
    mean_gs = np.array(
        [
            float(np.dot(*_shape_probs(k, params.gpus_per_node)))
            * _clipped_lognormal_mean(
                k.duration_median_s, k.duration_sigma, k.duration_min_s, k.duration_max_s
            )
            for k in params.kinds
        ]
    )
    return p / p.sum(), mean_gs


def _division_rates(params: WorkloadParams, divisions: Sequence[DivisionLoad]) -> np.ndarray:
    """Mean arrivals per second for each division."""
    shares = np.array([d.gpu_time_share for d in divisions], dtype=float)
    if len(divisions) == 0 or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError("divisions need gpu_time_share >= 0, not all 0")
    shares = shares / shares.sum()
    rates = []
    for d, share in zip(divisions, shares, strict=True):
        p, mean_gs = _kind_table(params, d)
        rates.append(share * params.offered_load_gpus / float(np.dot(p, mean_gs)))
    return np.array(rates)


def expected_statistics(
    params: WorkloadParams, divisions: Sequence[DivisionLoad]
) -> dict[str, object]:
    """Closed-form targets of the generator (used by tests and ``colossus trace generate``).

    Returns a dict with ``jobs_per_day``, ``job_share_by_kind``, ``gpu_time_share_by_kind``,
    ``gpu_time_share_by_division``, ``mean_gpu_seconds_per_job`` and per-kind ``median_duration_s``.
    """
    if params.fitted is not None:
        return fitted_statistics(params.fitted, params.offered_load_gpus / params.fitted.offered_load_gpus)
    rates = _division_rates(params, divisions)
    names = [k.kind for k in params.kinds]
    jobs = np.zeros(len(names))
    gpu_s = np.zeros(len(names))
    for d, r in zip(divisions, rates, strict=True):
        p, mean_gs = _kind_table(params, d)
        jobs += r * p
        gpu_s += r * p * mean_gs
    total_gs = gpu_s.sum()
    return {
        "jobs_per_day": float(rates.sum() * DAY_S),
        "job_share_by_kind": dict(zip(names, (jobs / jobs.sum()).tolist(), strict=True)),
        "gpu_time_share_by_kind": dict(zip(names, (gpu_s / total_gs).tolist(), strict=True)),
        "gpu_time_share_by_division": {
            d.name: float(s) for d, s in zip(divisions, _normalised_shares(divisions), strict=True)
        },
        "mean_gpu_seconds_per_job": float(total_gs / jobs.sum()),
        "median_duration_s": {
            k.kind: float(min(max(k.duration_median_s, k.duration_min_s), k.duration_max_s))
            for k in params.kinds
        },
    }


def _normalised_shares(divisions: Sequence[DivisionLoad]) -> np.ndarray:
    shares = np.array([d.gpu_time_share for d in divisions], dtype=float)
    return shares / shares.sum()


def _day_weights(params: WorkloadParams, start: datetime) -> np.ndarray:
    """Rate multiplier per weekday index 0..6 counted from the trace start's weekday (mean 1)."""
    wd = np.array([(start.weekday() + i) % _WEEK_DAYS for i in range(_WEEK_DAYS)])
    raw = np.where(wd >= 5, params.weekend_factor, 1.0)
    return raw * _WEEK_DAYS / (5.0 + 2.0 * params.weekend_factor)


def _diurnal_integral(params: WorkloadParams, a: float, b: float, phase_s: float) -> float:
    """Integral over [a, b] (seconds since trace start) of 1 + A cos(2 pi (t - peak) / day)."""
    amp = params.diurnal_amplitude
    peak = params.peak_hour * 3600.0 - phase_s
    k = 2.0 * math.pi / DAY_S
    return (b - a) + amp / k * (math.sin(k * (b - peak)) - math.sin(k * (a - peak)))


def _sample_times(
    rng: np.random.Generator, n: int, a: float, b: float, params: WorkloadParams, phase_s: float
) -> np.ndarray:
    """n arrival times in [a, b) with density ~ 1 + A cos(...), by vectorised rejection."""
    amp = params.diurnal_amplitude
    peak = params.peak_hour * 3600.0 - phase_s
    out: list[np.ndarray] = []
    need = n
    while need > 0:
        m = int(need * (1 + amp) * 1.1) + 16
        t = rng.uniform(a, b, m)
        accept = rng.random(m) * (1 + amp) < 1 + amp * np.cos(2 * math.pi * (t - peak) / DAY_S)
        t = t[accept][:need]
        out.append(t)
        need -= t.size
    return np.concatenate(out) if out else np.zeros(0)


def _ids(first: int, n: int) -> pa.Array:
    """Fixed-width ids ``j0000000001``... built from buffers (no Python strings)."""
    nums = np.arange(first, first + n, dtype=np.int64)
    width = 1 + _ID_DIGITS
    mat = np.empty((n, width), dtype=np.uint8)
    mat[:, 0] = ord("j")
    for pos in range(_ID_DIGITS):
        mat[:, width - 1 - pos] = ord("0") + (nums // 10**pos) % 10
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat.tobytes()))


@dataclass(slots=True)
class _Streams:
    arrivals: np.random.Generator
    kinds: np.random.Generator
    gpus: np.random.Generator
    durations: np.random.Generator
    misc: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int | np.random.SeedSequence | np.random.Generator) -> _Streams:
        if isinstance(seed, np.random.Generator):
            return cls(*seed.spawn(5))
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        return cls(*(np.random.default_rng(s) for s in ss.spawn(5)))


def _division_jobs(
    streams: _Streams,
    params: WorkloadParams,
    division: DivisionLoad,
    times: np.ndarray,
    users: pa.Array,
) -> dict[str, np.ndarray | pa.Array]:
    n = times.size
    p, _ = _kind_table(params, division)
    k_idx = streams.kinds.choice(len(params.kinds), size=n, p=p)
    gpus = np.empty(n, dtype=np.int32)
    dur = np.empty(n, dtype=np.float64)
    prio = np.empty(n, dtype=np.int16)
    pre = np.empty(n, dtype=bool)
    min_g = np.zeros(n, dtype=np.int32)
    for i, prof in enumerate(params.kinds):
        sel = np.flatnonzero(k_idx == i)
        if sel.size == 0:
            continue
        shapes, probs = _shape_probs(prof, params.gpus_per_node)
        gpus[sel] = streams.gpus.choice(shapes, size=sel.size, p=probs)
        z = streams.durations.standard_normal(sel.size)
        d = np.exp(math.log(prof.duration_median_s) + prof.duration_sigma * z)
        dur[sel] = np.clip(np.round(d), prof.duration_min_s, prof.duration_max_s)
        prio[sel] = DEFAULT_PRIORITY[prof.kind] if prof.priority is None else prof.priority
        pre[sel] = DEFAULT_PREEMPTIBLE[prof.kind] if prof.preemptible is None else prof.preemptible
        if prof.elastic_share > 0:
            el = streams.misc.random(sel.size) < prof.elastic_share
            min_g[sel[el]] = np.maximum(1, gpus[sel[el]] // 2)
    ranks = np.arange(1, params.users_per_division + 1)
    u_idx = streams.misc.choice(ranks.size, size=n, p=(1 / ranks) / (1 / ranks).sum()).astype(
        np.int32
    )
    kinds = pa.array([k.kind for k in params.kinds], pa.string())
    return {
        "submit_time_s": times,
        "division": pa.DictionaryArray.from_arrays(
            np.zeros(n, np.int32), pa.array([division.name])
        ),
        "num_gpus": gpus,
        "duration_s": dur,
        "kind": pa.DictionaryArray.from_arrays(k_idx.astype(np.int32), kinds),
        "priority": prio,
        "preemptible": pre,
        "min_gpus": min_g,
        "user": pa.DictionaryArray.from_arrays(u_idx, users),
    }


def _concat(parts: list[pa.Array | np.ndarray], type_: pa.DataType) -> pa.Array:
    arrays = [p if isinstance(p, pa.Array) else pa.array(p) for p in parts]
    arrays = [a.cast(type_) if a.type != type_ else a for a in arrays]
    return pa.concat_arrays(arrays) if arrays else pa.array([], type_)


def generate_batches(
    params: WorkloadParams,
    divisions: Sequence[DivisionLoad],
    *,
    days: float,
    seed: int | np.random.SeedSequence | None = None,
    rng: np.random.Generator | None = None,
    hero: HeroJob | None = None,
    start: datetime = datetime(2025, 1, 6, tzinfo=UTC),
    load_scale: Sequence[tuple[float, float]] = (),
) -> Iterator[pa.RecordBatch]:
    """Stream a synthetic schema-v1 trace in submit order.

    Parameters
    ----------
    params : WorkloadParams
        Background workload.
    divisions : sequence of DivisionLoad
        The divisions and their shares of background GPU-time.
    days : float
        Length of the submit window, days (> 0).
    seed : int or SeedSequence
        Root of every random stream; the same seed gives the same rows.
    rng : numpy.random.Generator
        Alternative to ``seed``: five independent child streams are spawned from it (arrivals,
        kinds, GPU counts, durations, the rest). Exactly one of ``seed`` and ``rng`` is required.
    hero : HeroJob, optional
        The hero run, inserted at its submit time if that falls inside the window.
    start : datetime
        UTC instant of ``submit_time_s == 0``; sets the weekday and time-of-day phase.
    load_scale : sequence of (from_s, factor)
        Steps of the offered load: from ``from_s`` seconds on, arrivals come at ``factor``
        (>= 0) times ``params.offered_load_gpus``; before the first step the factor is 1. A step
        takes effect at the first generation window starting at or after it (windows divide a
        day, so steps on whole hours are exact).

    Yields
    ------
    pyarrow.RecordBatch
        Schema v1, about 65,536 rows each (one time window per batch; windows divide a day).
    """
    if (seed is None) == (rng is None):
        raise ValueError("pass exactly one of seed (int or SeedSequence) and rng (numpy Generator)")
    if not days > 0:
        raise ValueError("days must be > 0")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    steps = sorted((float(t), float(f)) for t, f in load_scale)
    if any(not (f >= 0 and math.isfinite(f)) for _, f in steps):
        raise ValueError("load_scale factors must be finite and >= 0")
    step_t = np.array([t for t, _ in steps], dtype=np.float64)
    step_f = np.array([1.0] + [f for _, f in steps], dtype=np.float64)
    streams = _Streams.from_seed(rng if rng is not None else seed)  # type: ignore[arg-type]
    if params.fitted is not None:
        yield from _with_hero(
            generate_fitted(
                params.fitted,
                division_names=[d.name for d in divisions],
                days=days,
                streams=streams,
                start=start,
                load_factor=params.offered_load_gpus / params.fitted.offered_load_gpus,
                steps=steps,
                users_per_division=params.users_per_division,
            ),
            hero if hero is not None and 0 <= hero.submit_time_s < days * DAY_S else None,
        )
        return
    rates = _division_rates(params, divisions)
    day_w = _day_weights(params, start)
    phase_s = start.hour * 3600.0 + start.minute * 60.0 + start.second
    peak_rate_per_day = float(rates.sum() * DAY_S * day_w.max() * max(1.0, float(step_f.max())))
    per_day = max(1, math.ceil(peak_rate_per_day / _TARGET_ROWS_PER_WINDOW))
    window_s = DAY_S / per_day
    horizon_s = days * DAY_S
    users = [
        pa.array(
            [f"{d.name}-u{i:03d}" for i in range(1, params.users_per_division + 1)], pa.string()
        )
        for d in divisions
    ]
    next_id = 1
    hero_pending = hero is not None and 0 <= hero.submit_time_s < horizon_s
    n_windows = math.ceil(horizon_s / window_s)
    for w in range(n_windows):
        a, b = w * window_s, min((w + 1) * window_s, horizon_s)
        weight = day_w[int(a // DAY_S) % _WEEK_DAYS] * step_f[int(np.searchsorted(step_t, a, side="right"))]
        integral = _diurnal_integral(params, a, b, phase_s)
        cols: dict[str, list] = {}
        for d, rate, user_names in zip(divisions, rates, users, strict=True):
            n = int(streams.arrivals.poisson(rate * weight * integral))
            if n == 0:
                continue
            times = _sample_times(streams.arrivals, n, a, b, params, phase_s)
            for name, values in _division_jobs(streams, params, d, times, user_names).items():
                cols.setdefault(name, []).append(values)
        batch = _assemble(cols, next_id)
        next_id += batch.num_rows
        if hero_pending and hero is not None and a <= hero.submit_time_s < b:
            batch = _insert_hero(batch, hero)
            hero_pending = False
        if batch.num_rows:
            yield batch


def _assemble(cols: dict[str, list], first_id: int) -> pa.RecordBatch:
    if not cols:
        return pa.RecordBatch.from_pylist([], schema=SCHEMA_V1)
    t = np.concatenate(cols["submit_time_s"])
    order = np.argsort(t, kind="stable")
    n = t.size
    take = pa.array(order)

    def col(name: str, type_: pa.DataType) -> pa.Array:
        return _concat(cols[name], type_).take(take)

    min_g = np.concatenate(cols["min_gpus"])[order]
    arrays = {
        "job_id": _ids(first_id, n),
        "submit_time_s": pa.array(t[order]),
        "division": col("division", pa.string()),
        "num_gpus": pa.array(np.concatenate(cols["num_gpus"])[order]),
        "duration_s": pa.array(np.concatenate(cols["duration_s"])[order]),
        "kind": col("kind", pa.string()),
        "priority": pa.array(np.concatenate(cols["priority"])[order]),
        "preemptible": pa.array(np.concatenate(cols["preemptible"])[order]),
        "work_tokens": pa.nulls(n, pa.float64()),
        "model": pa.nulls(n, pa.string()),
        "min_gpus": pa.array(min_g, mask=min_g == 0),
        "user": col("user", pa.string()),
        "source_status": pa.nulls(n, pa.string()),
    }
    return pa.RecordBatch.from_arrays([arrays[f.name] for f in SCHEMA_V1], schema=SCHEMA_V1)


def _with_hero(batches: Iterator[pa.RecordBatch], hero: HeroJob | None) -> Iterator[pa.RecordBatch]:
    """Insert the hero run into the first batch that reaches its submit time (or after the last)."""
    for batch in batches:
        if hero is not None and batch.num_rows and batch.column(1)[-1].as_py() >= hero.submit_time_s:
            batch, hero = _insert_hero(batch, hero), None
        yield batch
    if hero is not None:
        yield _insert_hero(pa.RecordBatch.from_pylist([], schema=SCHEMA_V1), hero)


def _insert_hero(batch: pa.RecordBatch, hero: HeroJob) -> pa.RecordBatch:
    row = pa.RecordBatch.from_pylist(
        [
            {
                "job_id": hero.job_id,
                "submit_time_s": float(hero.submit_time_s),
                "division": hero.division,
                "num_gpus": hero.num_gpus,
                "duration_s": None,
                "kind": "pretrain",
                "priority": hero.priority,
                "preemptible": hero.preemptible,
                "work_tokens": float(hero.work_tokens),
                "model": hero.model,
                "min_gpus": hero.min_gpus,
                "user": hero.user,
                "source_status": None,
            }
        ],
        schema=SCHEMA_V1,
    )
    t = batch.column("submit_time_s").to_numpy()
    pos = int(np.searchsorted(t, hero.submit_time_s, side="left"))
    table = pa.Table.from_batches([batch.slice(0, pos), row, batch.slice(pos)], schema=SCHEMA_V1)
    return table.combine_chunks().to_batches()[0]


def generate_table(
    params: WorkloadParams,
    divisions: Sequence[DivisionLoad],
    *,
    days: float,
    seed: int | np.random.SeedSequence | None = None,
    rng: np.random.Generator | None = None,
    hero: HeroJob | None = None,
    start: datetime = datetime(2025, 1, 6, tzinfo=UTC),
) -> pa.Table:
    """:func:`generate_batches` gathered into one table (for small traces and tests)."""
    batches = list(
        generate_batches(params, divisions, days=days, seed=seed, rng=rng, hero=hero, start=start)
    )
    return pa.Table.from_batches(batches, schema=SCHEMA_V1) if batches else SCHEMA_V1.empty_table()
