"""Planner inputs derived from a scenario: the month grid, demand, options, power and the hero run.

Everything here is a pure function of the :class:`~colossus.scenario.Scenario`; the MILP in
:mod:`capacity.milp` reads only the frozen :class:`PlanInputs` built by :func:`plan_inputs`.

Units: demand and capacity are counted in *reference GPUs* (GPUs of the scenario's first-phase
SKU; a B200 counts as ``perf`` reference GPUs), power in facility MW (with host, network and
PUE), money in USD, time in calendar months of the plan.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass, field

from colossus.errors import InputError
from colossus.scenario import Scenario

__all__ = [
    "HeroNeed",
    "OptionInputs",
    "PlanInputs",
    "ettr_first_order",
    "hero_tokens_per_gpu_s",
    "month_starts",
    "plan_inputs",
    "quarter_label",
]

SECONDS_PER_YEAR = 365.25 * 86400.0
FALLBACK_MFU = 0.40
"""ASSUMPTION: model FLOPs utilisation used when the step-time throughput model is unavailable."""


def month_starts(start: dt.date, months: int) -> list[dt.date]:
    """First day of each plan month: ``start`` rounded down to the 1st, then monthly, ``months + 1`` dates."""
    y, m = start.year, start.month
    out = []
    for _ in range(months + 1):
        out.append(dt.date(y, m, 1))
        m += 1
        if m > 12:
            y, m = y + 1, 1
    return out


def quarter_label(date: dt.date) -> str:
    """Calendar quarter of ``date``, e.g. ``"2025Q1"``."""
    return f"{date.year}Q{(date.month - 1) // 3 + 1}"


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionInputs:
    """One purchasable SKU as the MILP sees it.

    Attributes
    ----------
    sku : str
        SKU name.
    lead_time_months : int
        Months from order to online; arrays cannot come online before month ``lead_time_months``.
    first_month : int
        First plan month it can come online (lead time and ``available_from`` together).
    max_arrays_per_month : int
        Delivery limit, arrays per month.
    gpus_per_array : int
        GPUs per array.
    capex_usd_per_array : float
        All-in capex of one array, USD.
    perf : float
        Reference GPUs one GPU of this SKU is worth (throughput ratio).
    busy_mw_per_gpu, idle_mw_per_gpu : float
        Facility MW of one busy / powered-but-idle GPU.
    """

    sku: str
    lead_time_months: int
    first_month: int
    max_arrays_per_month: int
    gpus_per_array: int
    capex_usd_per_array: float
    perf: float
    busy_mw_per_gpu: float
    idle_mw_per_gpu: float


@dataclass(frozen=True, kw_only=True, slots=True)
class HeroNeed:
    """The hero run's remaining work and deadline as monthly figures.

    Attributes
    ----------
    name, sku : str
        Job id and the SKU it trains on.
    gpus : int
        GPUs of its layout (an upper bound per month).
    tokens : float
        Tokens to train.
    tokens_per_gpu_month : tuple[float, ...]
        Tokens one hero GPU trains in each plan month (step-time throughput x ETTR x seconds of
        the month the run is active: after its start day).
    deadline_month : int
        Months ``0 .. deadline_month - 1`` count towards the deadline (fractional last month
        handled through ``tokens_per_gpu_month``); ``months`` when there is no target date.
    ettr : float
        Effective training time ratio used.
    ettr_source : str
        ``"first-order (Young/Daly)"`` or ``"simulation"``.
    tokens_per_gpu_s : float
        Step-time throughput per GPU before ETTR, tokens/s.
    throughput_source : str
        Where the throughput came from.
    """

    name: str
    sku: str
    gpus: int
    tokens: float
    tokens_per_gpu_month: tuple[float, ...]
    deadline_month: int
    deadline_tokens_per_gpu_month: tuple[float, ...]
    target_finish_date: dt.date | None
    start_date: dt.date
    ettr: float
    ettr_source: str
    tokens_per_gpu_s: float
    throughput_source: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanInputs:
    """Everything the planning MILP reads (monthly arrays indexed by plan month).

    Attributes
    ----------
    months : tuple[datetime.date, ...]
        First day of each plan month (length ``horizon``).
    month_hours : tuple[float, ...]
        Hours in each month.
    reference_sku : str
        The unit of demand.
    skus : tuple[str, ...]
        Every SKU installed or purchasable.
    existing_gpus : dict[str, tuple[float, ...]]
        SKU -> GPUs online from the scenario's phases (month average).
    options : tuple[OptionInputs, ...]
        Purchasable SKUs.
    sku_perf, sku_busy_mw, sku_idle_mw : dict[str, float]
        Per-SKU throughput ratio and facility MW per busy / idle GPU.
    power_cap_mw : tuple[float, ...]
        Sustained facility cap per month (grid; batteries shave peaks only).
    budget_usd_per_quarter : float
        Capex budget per calendar quarter.
    quarters : tuple[str, ...]
        Calendar quarter label of each month.
    divisions : tuple[str, ...]
        Division names.
    demand_gpus : dict[str, tuple[float, ...]]
        Division -> capacity its non-hero work needs per month (the *requirement*), reference
        GPUs: ``load_gpus / capacity.target_utilization`` here, the first guess;
        :func:`capacity.sizing.size_to_slo` replaces it with the SLO-driven requirement.
    usable_fraction : float
        Installed GPUs usable by divisions.
    unmet_penalty_usd_per_gpu_month, hero_late_penalty_usd_per_gpu_month : float
        Penalties.
    energy_usd_per_mwh, demand_charge_usd_per_mw_month : float
        Energy prices.
    discount_per_month : tuple[float, ...]
        Discount factor of each month.
    hero : HeroNeed | None
        The hero run, when enabled.
    load_gpus : dict[str, tuple[float, ...]]
        Division -> forecast offered load per month, reference GPUs kept busy (what the
        Monte Carlo simulates; ``demand_gpus`` is the capacity asked for to serve it).
    guaranteed_share, weight : dict[str, float]
        Division -> guaranteed share and fair-share weight (:mod:`capacity.shares`).
    hero_division : str | None
        The division the hero run belongs to.
    wait_p95_slo_s : dict[str, float]
        Division -> p95 wait service level, s.
    """

    months: tuple[dt.date, ...]
    month_hours: tuple[float, ...]
    reference_sku: str
    skus: tuple[str, ...]
    existing_gpus: dict[str, tuple[float, ...]]
    options: tuple[OptionInputs, ...]
    sku_perf: dict[str, float]
    sku_busy_mw: dict[str, float]
    sku_idle_mw: dict[str, float]
    power_cap_mw: tuple[float, ...]
    budget_usd_per_quarter: float
    quarters: tuple[str, ...]
    divisions: tuple[str, ...]
    demand_gpus: dict[str, tuple[float, ...]]
    usable_fraction: float
    unmet_penalty_usd_per_gpu_month: float
    hero_late_penalty_usd_per_gpu_month: float
    energy_usd_per_mwh: float
    demand_charge_usd_per_mw_month: float
    discount_per_month: tuple[float, ...]
    hero: HeroNeed | None
    load_gpus: dict[str, tuple[float, ...]] = field(default_factory=dict)
    guaranteed_share: dict[str, float] = field(default_factory=dict)
    weight: dict[str, float] = field(default_factory=dict)
    hero_division: str | None = None
    wait_p95_slo_s: dict[str, float] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        """Number of plan months."""
        return len(self.months)

    def scaled_demand(self, factor: float) -> PlanInputs:
        """A copy with every division's demand multiplied by ``factor`` (for what-ifs and tests)."""
        return _replace(self, demand_gpus={d: tuple(v * factor for v in vals) for d, vals in self.demand_gpus.items()},
                        load_gpus={d: tuple(v * factor for v in vals) for d, vals in self.load_gpus.items()})

    def with_power_cap(self, cap_mw: float) -> PlanInputs:
        """A copy whose cap never exceeds ``cap_mw`` in any month."""
        return _replace(self, power_cap_mw=tuple(min(c, cap_mw) for c in self.power_cap_mw))


def _replace(obj: PlanInputs, **kw: object) -> PlanInputs:
    import dataclasses

    return dataclasses.replace(obj, **kw)  # type: ignore[arg-type]


def ettr_first_order(scn: Scenario, gpus: int) -> float:
    """Effective training time ratio of a ``gpus``-GPU run from the first-order waste formula.

    ``waste = delta / tau + (tau / 2 + R) / M`` (facts.md §3.12), with ``M`` the mean time to
    interruption of the whole run, ``delta`` the blocking checkpoint cost, ``R`` detection plus
    restart, and ``tau`` the interval of the scenario's policy (Young, Daly or fixed).

    Returns
    -------
    float
        ETTR in (0, 1]; 1.0 when failures are disabled.
    """
    rate = scn.failures.total_per_gpu_year if scn.failures.enabled else 0.0
    if rate <= 0 or gpus <= 0:
        return 1.0
    mtti_s = SECONDS_PER_YEAR / (rate * gpus)
    ck = scn.checkpoint
    delta = max(ck.blocking_s, 1e-9)
    restart = ck.restart_s + scn.repair.detection_s
    if ck.interval_policy == "fixed":
        tau = ck.fixed_interval_s
    elif ck.interval_policy == "young" or delta >= 2 * mtti_s:
        tau = math.sqrt(2 * delta * mtti_s) if delta < 2 * mtti_s else mtti_s
    else:
        x = delta / (2 * mtti_s)
        tau = math.sqrt(2 * delta * mtti_s) * (1 + math.sqrt(x) / 3 + x / 9) - delta
    waste = delta / tau + (tau / 2 + restart) / mtti_s
    return float(min(1.0, max(0.01, 1.0 - waste)))


def hero_tokens_per_gpu_s(scn: Scenario) -> tuple[float, str]:
    """Hero throughput per GPU at its planned GPU count, tokens/s, and where it came from.

    Uses ``colossus.steptime.throughput.throughput_table`` when it is available; otherwise
    ``peak_bf16 x MFU / (6 x active parameters)`` with the ASSUMPTION ``MFU = 0.40``.
    """
    assert scn.hero is not None
    h = scn.hero
    spec = scn.gpu_spec(h.sku)
    try:
        from colossus.steptime.throughput import throughput_table

        table = throughput_table(h.model, spec, [h.gpus])
        tps = float(table.tokens_per_s(h.gpus))
        if tps > 0 and math.isfinite(tps):
            return tps / h.gpus, "step-time model"
    except Exception:  # noqa: BLE001 - the step-time model is optional here; fall back below
        pass
    try:
        from colossus.steptime.models import get_model

        params = float(get_model(h.model).params_active())
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"hero.model: unknown step-time model {h.model!r} ({exc})") from None
    return spec.bf16_tflops * 1e12 * FALLBACK_MFU / (6.0 * params), f"6N FLOPs/token at MFU {FALLBACK_MFU}"


def _month_average_gpus(scn: Scenario, start: dt.date, end: dt.date) -> dict[str, float]:
    days = (end - start).days
    acc: dict[str, float] = {}
    for k in range(days):
        for sku, n in scn.gpus_online(scn.day_of(start + dt.timedelta(days=k))).items():
            acc[sku] = acc.get(sku, 0.0) + n / days
    return acc


def _month_index(months: list[dt.date], date: dt.date | None) -> int:
    if date is None:
        return 0
    for i, m in enumerate(months):
        if date < m:
            return i  # first month starting after the date; the month containing it is i - 1
    return len(months)


def plan_inputs(scn: Scenario, *, horizon_months: int | None = None, hero_ettr: float | None = None) -> PlanInputs:
    """Build the planner's inputs from a scenario.

    Parameters
    ----------
    scn : Scenario
        Must have a ``[capacity]`` section.
    horizon_months : int, optional
        Override of ``capacity.horizon_months``.
    hero_ettr : float, optional
        ETTR measured by the simulation; default the first-order formula.

    Raises
    ------
    InputError
        When the scenario has no ``[capacity]`` section or its figures cannot be used.
    """
    cap = scn.capacity
    if cap is None:
        raise InputError(f"scenario {scn.name!r}: no [capacity] section (the planner needs options and a budget)")
    horizon = int(horizon_months or cap.horizon_months)
    if horizon < 1:
        raise InputError(f"capacity.horizon_months: must be >= 1, got {horizon}")
    start = cap.start_date or scn.scenario.start_date
    bounds = month_starts(start, horizon)
    months = bounds[:-1]
    hours = tuple((bounds[i + 1] - bounds[i]).days * 24.0 for i in range(horizon))
    ref = scn.phases[0].sku
    ref_tflops = scn.skus[ref].bf16_tflops
    skus = tuple(dict.fromkeys([*(p.sku for p in scn.phases), *(o.sku for o in cap.options)]))
    perf = {s: scn.skus[s].bf16_tflops / ref_tflops for s in skus}
    busy = {s: scn.facility_mw_per_gpu(s, busy=True) for s in skus}
    idle = {s: scn.facility_mw_per_gpu(s, busy=False) for s in skus}

    existing: dict[str, list[float]] = {s: [] for s in skus}
    for i in range(horizon):
        avg = _month_average_gpus(scn, bounds[i], bounds[i + 1])
        for s in skus:
            existing[s].append(avg.get(s, 0.0))

    gpa = scn.cluster.gpus_per_array
    options = []
    for j, o in enumerate(cap.options):
        first = o.lead_time_months
        if o.available_from is not None:  # first plan month starting on or after the date
            first = max(first, next((i for i, b in enumerate(bounds) if b >= o.available_from), len(bounds)))
        options.append(OptionInputs(
            sku=o.sku, lead_time_months=o.lead_time_months, first_month=first,
            max_arrays_per_month=o.max_arrays_per_month, gpus_per_array=gpa,
            capex_usd_per_array=scn.skus[o.sku].system_capex_usd_per_gpu * gpa,
            perf=perf[o.sku], busy_mw_per_gpu=busy[o.sku], idle_mw_per_gpu=idle[o.sku],
        ))
        if cap.options[:j] and any(p.sku == o.sku for p in cap.options[:j]):
            raise InputError(f"capacity.options[{j}].sku: {o.sku!r} listed twice")

    power_cap = tuple(min(scn.grid_mw(scn.day_of(bounds[i]) + k) for k in range(int(hours[i] // 24))) for i in range(horizon))

    hero_need = _hero_need(scn, bounds, hours, hero_ettr) if (scn.hero is not None and scn.hero.enabled) else None
    names = tuple(d.name for d in scn.divisions)
    usable_total = scn.total_gpus * cap.usable_fraction * 1.0
    demand: dict[str, tuple[float, ...]] = {}
    load: dict[str, tuple[float, ...]] = {}
    for d in scn.divisions:
        if d.name in cap.base_demand_gpus:
            base = cap.base_demand_gpus[d.name]
        else:
            base = d.guaranteed_share * usable_total
            if hero_need is not None and scn.hero is not None and d.name == scn.hero.division:
                base = max(0.0, base - scn.hero.gpus * perf[scn.hero.sku])
        g = cap.demand_growth_per_month.get(d.name, 0.0)
        load[d.name] = tuple(max(0.0, base * (1.0 + g) ** i) for i in range(horizon))
        demand[d.name] = tuple(v / cap.target_utilization for v in load[d.name])
    for key in cap.base_demand_gpus:
        if key not in names:
            raise InputError(f"capacity.base_demand_gpus.{key}: unknown division (known: {', '.join(names)})")

    monthly_rate = (1.0 + cap.discount_rate_per_year) ** (1.0 / 12.0)
    return PlanInputs(
        months=tuple(months), month_hours=hours, reference_sku=ref, skus=skus,
        existing_gpus={s: tuple(v) for s, v in existing.items()}, options=tuple(options),
        sku_perf=perf, sku_busy_mw=busy, sku_idle_mw=idle, power_cap_mw=power_cap,
        budget_usd_per_quarter=cap.budget_usd_per_quarter,
        quarters=tuple(quarter_label(m) for m in months), divisions=names, demand_gpus=demand,
        usable_fraction=cap.usable_fraction,
        unmet_penalty_usd_per_gpu_month=cap.unmet_penalty_usd_per_gpu_month,
        hero_late_penalty_usd_per_gpu_month=cap.hero_late_penalty_usd_per_gpu_month,
        energy_usd_per_mwh=scn.power.electricity_usd_per_mwh,
        demand_charge_usd_per_mw_month=scn.power.demand_charge_usd_per_kw_month * 1000.0,
        discount_per_month=tuple(monthly_rate ** (-i) for i in range(horizon)),
        hero=hero_need, load_gpus=load,
        guaranteed_share={d.name: float(d.guaranteed_share) for d in scn.divisions},
        weight={d.name: float(d.weight) for d in scn.divisions},
        hero_division=scn.hero.division if hero_need is not None and scn.hero is not None else None,
        wait_p95_slo_s=dict(cap.wait_p95_slo_s),
    )


def _hero_need(scn: Scenario, bounds: list[dt.date], hours: tuple[float, ...], hero_ettr: float | None) -> HeroNeed:
    h = scn.hero
    assert h is not None
    tps, source = hero_tokens_per_gpu_s(scn)
    ettr = hero_ettr if hero_ettr is not None else ettr_first_order(scn, h.gpus)
    ettr_source = "simulation" if hero_ettr is not None else "first-order (Young/Daly)"
    hero_start = scn.date_of(h.start_day)
    deadline = h.target_finish_date
    per_month, by_deadline = [], []
    for i in range(len(hours)):
        lo, hi = bounds[i], bounds[i + 1]
        active_s = max(0.0, (hi - max(lo, hero_start)).days * 86400.0)
        per_month.append(tps * ettr * active_s)
        if deadline is None:
            by_deadline.append(per_month[-1])
        else:
            end = min(hi, deadline)
            by_deadline.append(tps * ettr * max(0.0, (end - max(lo, hero_start)).days * 86400.0))
    dl_month = _month_index(bounds, deadline) if deadline is not None else len(hours)
    return HeroNeed(
        name=h.name, sku=h.sku, gpus=h.gpus, tokens=h.tokens, tokens_per_gpu_month=tuple(per_month),
        deadline_month=min(dl_month, len(hours)), deadline_tokens_per_gpu_month=tuple(by_deadline),
        target_finish_date=deadline, start_date=hero_start, ettr=ettr, ettr_source=ettr_source,
        tokens_per_gpu_s=tps, throughput_source=source,
    )


def days_in_month(date: dt.date) -> int:
    """Days in the calendar month of ``date``."""
    return calendar.monthrange(date.year, date.month)[1]
