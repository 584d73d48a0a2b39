"""The scenario's ``[workload]`` section: parameters of the synthetic workload generator.

Each default names the public statistic it reproduces (shared/reference/traces.md §1, §7, §10) or
says ASSUMPTION. With the defaults the generator gives (closed form, see
``traces.generator.expected_statistics``): pretraining 0.9 % of jobs and ~69 % of GPU time (Acme
Seren: 0.9 % / 69.5 %), evaluation the majority of jobs with < 1 % of GPU time (Acme Kalos 0.8 %),
median run time ~140 s (Seren 122 s), mean 6.0 / median 1 GPUs per job (Seren 5.68 / 1),
< 1 % of jobs longer than a day (Acme: < 5 %), 1-GPU jobs < 1 % of GPU time (Acme: < 2 %).

``to_workload_params`` turns the section into :class:`traces.generator.WorkloadParams`;
``division_loads`` pairs it with the scenario's divisions.

``[workload.fitted]`` (written by ``colossus trace fit``) replaces the kinds, the cycle and the
divisions' load shares with a workload measured in a trace (:mod:`traces.empirical`): per-division
``[workload.fitted.arrivals."NAME"]`` (jobs_per_day, 168 hour_of_week factors, size_share over
sizes.gpus), ``[workload.fitted.sizes]`` (gpus, overall share) and one ``[[workload.fitted.run_time]]`` per size class (max_gpus, 101 quantiles_s,
kinds). ``offered_load_gpus`` then scales the fitted rates (the fit writes the trace's own load).
:func:`workload_toml` writes such a section.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from traces.empirical import (
    HOURS_PER_WEEK,
    QUANTILE_POINTS,
    FittedArrivals,
    FittedRunTime,
    FittedWorkload,
)
from traces.generator import DivisionLoad, KindProfile, WorkloadParams
from traces.schema import KINDS

__all__ = [
    "FittedSection",
    "KindSection",
    "WorkloadSection",
    "division_loads",
    "to_workload_params",
    "workload_toml",
]

_CFG = ConfigDict(extra="forbid", frozen=True)


class KindSection(BaseModel):
    """How jobs of one kind look (one table per kind under ``[workload.kinds]``)."""

    model_config = _CFG

    job_share: float = Field(
        ge=0, description="Share of arrivals by count (normalised over kinds)."
    )
    gpus_min: int = Field(
        ge=1, description="Smallest GPU count; counts are powers of two (placeable shapes)."
    )
    gpus_max: int = Field(ge=1, description="Largest GPU count.")
    gpus_alpha: float = Field(
        ge=0, description="Power-law tail exponent: P(g) ~ g**-alpha over placeable shapes."
    )
    duration_median_s: float = Field(gt=0, description="Median run time, s (log-normal).")
    duration_sigma: float = Field(ge=0, description="Sigma of log(run time).")
    duration_max_s: float = Field(
        gt=0, description="Run times are clipped to this wall-clock limit, s."
    )
    duration_min_s: float = Field(
        1.0, gt=0, description="Run times are clipped from below to this, s."
    )
    priority: int | None = Field(
        None, description="Priority; default by kind (traces.schema.DEFAULT_PRIORITY)."
    )
    preemptible: bool | None = Field(
        None, description="Preemptibility; default by kind (traces.schema.DEFAULT_PREEMPTIBLE)."
    )
    elastic_share: float = Field(
        0.0, ge=0, le=1, description="Share of jobs that may run on half their GPUs."
    )

    @model_validator(mode="after")
    def _bounds(self) -> KindSection:
        if self.gpus_min > self.gpus_max:
            raise ValueError("gpus_min must be <= gpus_max")
        if self.duration_min_s > self.duration_max_s:
            raise ValueError("duration_min_s must be <= duration_max_s")
        return self


class FittedArrivalsSection(BaseModel):
    """One division's fitted arrivals."""

    model_config = _CFG

    jobs_per_day: float = Field(gt=0, description="Mean arrivals per day.")
    hour_of_week: list[float] = Field(
        min_length=HOURS_PER_WEEK,
        max_length=HOURS_PER_WEEK,
        description="168 rate factors (mean 1); hour 0 = Monday 00:00-01:00 UTC.",
    )
    size_share: list[float] | None = Field(
        None, description="Share of the division's jobs per GPU count of sizes.gpus (sum 1); default sizes.share."
    )


class FittedSizesSection(BaseModel):
    """Empirical job-size distribution."""

    model_config = _CFG

    gpus: list[int] = Field(min_length=1, description="GPU counts seen, increasing.")
    share: list[float] = Field(min_length=1, description="Share of jobs per GPU count (sum 1).")


class FittedRunTimeSection(BaseModel):
    """Run times (and kinds) of one size class."""

    model_config = _CFG

    max_gpus: int = Field(ge=1, description="Upper bound of the class, GPUs (inclusive).")
    jobs: int = Field(0, ge=0, description="Jobs of the class in the fitted trace.")
    quantiles_s: list[float] = Field(
        min_length=QUANTILE_POINTS,
        max_length=QUANTILE_POINTS,
        description="Run-time quantiles p0..p100, s (log-linear between points).",
    )
    kinds: dict[str, float] = Field(description="Kind -> share of the class's jobs.")


class FittedSection(BaseModel):
    """A workload measured in a trace by ``colossus trace fit`` (see :mod:`traces.empirical`)."""

    model_config = _CFG

    source: str = Field("", description="The fitted trace.")
    arrivals: dict[str, FittedArrivalsSection] = Field(
        min_length=1, description="Division name -> its arrivals."
    )
    sizes: FittedSizesSection
    run_time: list[FittedRunTimeSection] = Field(min_length=1, description="One per size class.")

    @model_validator(mode="after")
    def _consistent(self) -> FittedSection:
        self.to_fitted()
        return self

    def to_fitted(self) -> FittedWorkload:
        """The generator's :class:`~traces.empirical.FittedWorkload` (ValueError when inconsistent)."""
        return FittedWorkload(
            arrivals=tuple(
                FittedArrivals(
                    division=name,
                    jobs_per_day=a.jobs_per_day,
                    hour_of_week=tuple(a.hour_of_week),
                    size_share=tuple(a.size_share) if a.size_share is not None else None,
                )
                for name, a in self.arrivals.items()
            ),
            sizes_gpus=tuple(self.sizes.gpus),
            sizes_share=tuple(self.sizes.share),
            run_time=tuple(
                FittedRunTime(max_gpus=c.max_gpus, quantiles_s=tuple(c.quantiles_s), kinds=dict(c.kinds), jobs=c.jobs)
                for c in self.run_time
            ),
            source=self.source,
        )


_H = 3600.0
_D = 86_400.0


def _default_kinds() -> dict[str, KindSection]:
    return {
        # Acme Seren: pretraining = 0.9 % of jobs, 69.5 % of GPU time (traces.md §7); jobs up to
        # 2,048 GPUs (Seren/Kalos max 1,024; scaled to a 100k-GPU cluster: ASSUMPTION).
        "pretrain": KindSection(
            job_share=0.009,
            gpus_min=64,
            gpus_max=2048,
            gpus_alpha=0.9,
            duration_median_s=3 * _H,
            duration_sigma=1.3,
            duration_max_s=14 * _D,
        ),
        # SFT: ASSUMPTION 6 % of jobs, 8-256 GPUs, median 1 h; takes ~25 % of GPU time.
        "finetune": KindSection(
            job_share=0.06,
            gpus_min=8,
            gpus_max=256,
            gpus_alpha=0.7,
            duration_median_s=_H,
            duration_sigma=1.3,
            duration_max_s=3 * _D,
        ),
        # Evaluation: the majority of jobs, < 1 % of GPU time (Acme Kalos 0.8 %); 1-8 GPUs.
        "eval": KindSection(
            job_share=0.55,
            gpus_min=1,
            gpus_max=8,
            gpus_alpha=1.0,
            duration_median_s=150.0,
            duration_sigma=1.4,
            duration_max_s=_D,
        ),
        # Debug + other: short; sigma 1.8 = Philly's fit (p50 1,144 s, p90 11,265 s) (traces.md §1).
        "other": KindSection(
            job_share=0.34,
            gpus_min=1,
            gpus_max=8,
            gpus_alpha=1.5,
            duration_median_s=60.0,
            duration_sigma=1.8,
            duration_max_s=_D,
        ),
        # Data processing: ASSUMPTION 3 % of jobs, half elastic.
        "data": KindSection(
            job_share=0.03,
            gpus_min=1,
            gpus_max=64,
            gpus_alpha=1.0,
            duration_median_s=1200.0,
            duration_sigma=1.5,
            duration_max_s=2 * _D,
            elastic_share=0.5,
        ),
        # Inference / serving experiments: ASSUMPTION 1.1 % of jobs, 8-64 GPUs, median 3 h.
        "inference": KindSection(
            job_share=0.011,
            gpus_min=8,
            gpus_max=64,
            gpus_alpha=1.0,
            duration_median_s=3 * _H,
            duration_sigma=1.0,
            duration_max_s=7 * _D,
        ),
    }


class WorkloadSection(BaseModel):
    """Synthetic workload parameters (see :mod:`traces.generator`)."""

    model_config = _CFG

    offered_load_gpus: float = Field(
        10_000.0,
        gt=0,
        description="Mean GPUs' worth of background work submitted (GPU-seconds per second). "
        "ASSUMPTION: the non-hero part of Colossus phase 1 (100,352 H100 less the ~90k-GPU hero); "
        "gives ~12k jobs/day with the default kinds (Meta RSC-1 reports 7.2k jobs/day).",
    )
    offered_load_share: float | None = Field(
        None,
        gt=0,
        le=1.5,
        description="When set, replaces offered_load_gpus: the background offered load is this "
        "fraction of the GPUs left for background work (GPUs online less the hero run and its hot "
        "spares while the hero runs), re-evaluated at every phase date, so the load follows the "
        "capacity (colossus.sim.workload.background_load_steps). Values >= 1 overload the cluster.",
    )
    diurnal_amplitude: float = Field(
        0.5,
        ge=0,
        lt=1,
        description="Relative amplitude of the daily arrival cycle. Philly: 2.2k-7.2k jobs per "
        "hour-of-day bucket, (max-min)/(max+min) = 0.53 (traces.md §10.5).",
    )
    peak_hour: float = Field(
        7.0,
        ge=0,
        lt=24,
        description="Hour of day (UTC) of the arrival peak. Philly's busiest hour-of-day bucket is "
        "07:00 in philly.csv's clock (computed from the file).",
    )
    weekend_factor: float = Field(
        0.5,
        gt=0,
        description="Saturday/Sunday arrival rate relative to weekdays. Philly: 7.2k and 7.0k "
        "weekend-day jobs vs 13.6k per weekday on average = 0.52 (computed from philly.csv).",
    )
    users_per_division: int = Field(
        50, ge=1, description="Users per division, popularity ~ 1/rank. ASSUMPTION."
    )
    kinds: dict[str, KindSection] = Field(
        default_factory=_default_kinds,
        description="Per job kind (pretrain, train, finetune, eval, inference, data, other). "
        "Defaults reproduce the Acme LLM-lab mix: pretrain 0.9 % of jobs / ~69 % of GPU time "
        "(Seren 69.5 %), eval the majority of jobs / < 1 % of GPU time (Kalos 0.8 %), median run "
        "~140 s (Seren 122 s), mean 6.0 / median 1 GPUs (Seren 5.68 / 1). Acme's Debug and "
        "Other jobs are both 'other'.",
    )
    division_kind_weights: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Division name -> kind -> multiplier on that kind's job_share for the "
        "division (missing: 1). ASSUMPTION: all divisions share one mix by default.",
    )
    fitted: FittedSection | None = Field(
        None,
        description="A workload fitted to a trace (colossus trace fit): replaces kinds, the "
        "cycle and the divisions' load shares; offered_load_gpus scales its rates.",
    )

    @model_validator(mode="after")
    def _known_kinds(self) -> WorkloadSection:
        for name in list(self.kinds) + [k for w in self.division_kind_weights.values() for k in w]:
            if name not in KINDS:
                raise ValueError(f"unknown job kind {name!r} (expected one of {', '.join(KINDS)})")
        if not self.kinds or sum(k.job_share for k in self.kinds.values()) <= 0:
            raise ValueError("kinds: at least one kind needs job_share > 0")
        return self


def to_workload_params(section: WorkloadSection, *, gpus_per_node: int = 8) -> WorkloadParams:
    """The generator's parameters for a workload section."""
    kinds = tuple(KindProfile(kind=name, **k.model_dump()) for name, k in section.kinds.items())
    return WorkloadParams(
        offered_load_gpus=section.offered_load_gpus,
        kinds=kinds,
        diurnal_amplitude=section.diurnal_amplitude,
        peak_hour=section.peak_hour,
        weekend_factor=section.weekend_factor,
        gpus_per_node=gpus_per_node,
        users_per_division=section.users_per_division,
        fitted=section.fitted.to_fitted() if section.fitted is not None else None,
    )


def division_loads(section: WorkloadSection, divisions: Iterable[Any]) -> tuple[DivisionLoad, ...]:
    """Pair the scenario's divisions (``.name``, ``.load_share``) with the section's kind weights.

    Raises
    ------
    ValueError
        When ``division_kind_weights`` names a division that is not in ``divisions``.
    """
    divs = tuple(divisions)
    names = {d.name for d in divs}
    for name in section.division_kind_weights:
        if name not in names:
            raise ValueError(f"workload.division_kind_weights: unknown division {name!r}")
    return tuple(
        DivisionLoad(
            name=d.name,
            gpu_time_share=float(d.load_share),
            kind_weights=dict(section.division_kind_weights.get(d.name, {})),
        )
        for d in divs
    )


def _num(x: float) -> str:
    return repr(float(x)) if x == x else "nan"


def _list(xs: Iterable[float], per_line: int = 12) -> str:
    items = [_num(x) if not isinstance(x, int) else str(x) for x in xs]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[\n  " + ",\n  ".join(lines) + ",\n]"


def _key(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def workload_toml(fitted: FittedWorkload, *, users_per_division: int = 50) -> str:
    """A ``[workload]`` section (TOML text) holding ``fitted``, its load as ``offered_load_gpus``."""
    out = [
        "[workload]",
        f"# Fitted by colossus trace fit to {fitted.source or 'a trace'}: the trace's own mean load.",
        f"offered_load_gpus = {_num(fitted.offered_load_gpus)}",
        f"users_per_division = {users_per_division}",
        "",
        "[workload.fitted]",
        f"source = {_key(fitted.source)}",
        "",
        "[workload.fitted.sizes]",
        "# Empirical job-size distribution over the GPU counts seen.",
        f"gpus = {_list(fitted.sizes_gpus)}",
        f"share = {_list(fitted.sizes_share, 6)}",
    ]
    for a in fitted.arrivals:
        out += [
            "",
            f"[workload.fitted.arrivals.{_key(a.division)}]",
            f"jobs_per_day = {_num(a.jobs_per_day)}",
            "# Rate factor per hour of week (mean 1), hour 0 = Monday 00:00 UTC, one line per day.",
            f"hour_of_week = {_list(a.hour_of_week, 24)}",
        ]
        if a.size_share is not None:
            out += ["# This division's share of jobs per GPU count of sizes.gpus.",
                    f"size_share = {_list(a.size_share, 6)}"]  # fmt: skip
    for c in fitted.run_time:
        kinds = ", ".join(f"{k} = {_num(v)}" for k, v in c.kinds.items())
        out += [
            "",
            "[[workload.fitted.run_time]]",
            f"max_gpus = {c.max_gpus}",
            f"jobs = {c.jobs}",
            f"kinds = {{ {kinds} }}",
            "# Run-time quantiles p0..p100, seconds.",
            f"quantiles_s = {_list(c.quantiles_s, 10)}",
        ]
    return "\n".join(out) + "\n"
