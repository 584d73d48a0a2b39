"""The result of planning: a frozen :class:`Plan` with monthly figures, and its table and JSON forms."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from capacity.inputs import PlanInputs

__all__ = ["Binding", "Plan", "plan_table", "plan_to_dict"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Binding:
    """One constraint that limits the plan in one month.

    Attributes
    ----------
    month : int
        Plan month index.
    constraint : str
        ``power cap``, ``budget``, ``delivery limit``, ``lead time``, ``hero deadline`` or
        ``penalty below cost`` (unmet demand that buying would cost more than it saves).
    detail : str
        One line for people.
    """

    month: int
    constraint: str
    detail: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    """An expansion plan: what comes online when, what it powers, serves and costs.

    All monthly tuples have one entry per plan month (``inputs.months``). GPUs are counted per
    SKU in physical GPUs; demand, allocation and unmet demand in reference GPUs.

    Attributes
    ----------
    inputs : PlanInputs
        What the plan was made from.
    status : str
        Solver status (``Optimal`` or ``Feasible`` with a gap).
    solver : str
        Solver used.
    build_s, solve_s : float
        Wall time to build and solve the MILP, s.
    objective_usd : float
        Discounted total cost the MILP minimised.
    arrays_added : dict[str, tuple[int, ...]]
        SKU -> arrays coming online in each month.
    gpus_installed, gpus_powered, gpus_used : dict[str, tuple[float, ...]]
        SKU -> installed, powered and busy GPUs per month.
    allocated_gpus, unmet_gpus : dict[str, tuple[float, ...]]
        Division -> reference GPUs allocated / not served per month.
    hero_gpus : tuple[float, ...]
        GPUs given to the hero run per month.
    hero_tokens : tuple[float, ...]
        Tokens the hero trains per month in the plan.
    hero_late_tokens : float
        Tokens not trained by the target finish date (0 when on time).
    hero_finish_date : datetime.date | None
        Date the plan's hero work is complete (linear within the month); ``None`` if never.
    power_mw : tuple[float, ...]
        Facility power per month, MW.
    capex_usd, energy_usd, penalty_usd : tuple[float, ...]
        Undiscounted cost per month by kind.
    binding : tuple[Binding, ...]
        Constraints that bind, month by month.
    planned_capacity_ref_gpus : tuple[float, ...]
        The *planned capacity* per month, reference GPUs: the installed-capacity floor
        ``min(requirement, power limit, build-out limit)`` the MILP must reach; non-decreasing in
        demand by construction (:mod:`capacity.requirement`). Installed capacity is >= it.
    requirement_ref_gpus : tuple[float, ...]
        Installed reference GPUs demand asks for (divisions / usable fraction + hero).
    hero_ettr_measured : float | None
        ETTR of the hero measured by the simulation-backed Monte Carlo, when it ran.
    """

    inputs: PlanInputs
    status: str
    solver: str
    build_s: float
    solve_s: float
    objective_usd: float
    arrays_added: dict[str, tuple[int, ...]]
    gpus_installed: dict[str, tuple[float, ...]]
    gpus_powered: dict[str, tuple[float, ...]]
    gpus_used: dict[str, tuple[float, ...]]
    allocated_gpus: dict[str, tuple[float, ...]]
    unmet_gpus: dict[str, tuple[float, ...]]
    hero_gpus: tuple[float, ...]
    hero_tokens: tuple[float, ...]
    hero_late_tokens: float
    hero_finish_date: dt.date | None
    power_mw: tuple[float, ...]
    capex_usd: tuple[float, ...]
    energy_usd: tuple[float, ...]
    penalty_usd: tuple[float, ...]
    binding: tuple[Binding, ...] = field(default=())
    planned_capacity_ref_gpus: tuple[float, ...] = field(default=())
    requirement_ref_gpus: tuple[float, ...] = field(default=())
    hero_ettr_measured: float | None = None

    @property
    def total_arrays(self) -> dict[str, int]:
        """SKU -> arrays added over the horizon."""
        return {s: int(sum(v)) for s, v in self.arrays_added.items()}

    def capacity_ref_gpus(self, month: int) -> float:
        """Installed capacity in reference GPUs in ``month``."""
        return sum(self.inputs.sku_perf[s] * v[month] for s, v in self.gpus_installed.items())

    @property
    def total_unmet_gpu_months(self) -> float:
        """Unmet demand summed over divisions and months, reference GPU-months."""
        return float(sum(sum(v) for v in self.unmet_gpus.values()))

    def cost_by_quarter(self) -> dict[str, dict[str, float]]:
        """Quarter label -> {capex, energy, penalty} in USD (undiscounted)."""
        out: dict[str, dict[str, float]] = {}
        for i, q in enumerate(self.inputs.quarters):
            row = out.setdefault(q, {"capex_usd": 0.0, "energy_usd": 0.0, "penalty_usd": 0.0})
            row["capex_usd"] += self.capex_usd[i]
            row["energy_usd"] += self.energy_usd[i]
            row["penalty_usd"] += self.penalty_usd[i]
        return out

    def binding_summary(self) -> dict[str, dict[str, Any]]:
        """Constraint -> {months: count, first: ISO date of the first month it binds}."""
        out: dict[str, dict[str, Any]] = {}
        for b in self.binding:
            row = out.setdefault(b.constraint, {"months": 0, "first": self.inputs.months[b.month].isoformat()})
            row["months"] += 1
        return out


def plan_table(plan: Plan) -> pa.Table:
    """The plan as a long table: one row per (month, SKU) and per (month, division).

    Columns: ``month`` (int16), ``date`` (date32), ``kind`` (``sku`` / ``division`` / ``hero``),
    ``name``, ``arrays_added``, ``gpus_installed``, ``gpus_powered``, ``gpus_used``,
    ``power_mw``, ``capex_usd``, ``demand_gpus``, ``allocated_gpus``, ``unmet_gpus``,
    ``hero_tokens`` (nulls where a column does not apply to the row's kind).
    """
    inp = plan.inputs
    cols: dict[str, list[Any]] = {k: [] for k in (
        "month", "date", "kind", "name", "arrays_added", "gpus_installed", "gpus_powered", "gpus_used",
        "power_mw", "capex_usd", "demand_gpus", "allocated_gpus", "unmet_gpus", "hero_tokens")}

    def add(**row: Any) -> None:
        for k in cols:
            cols[k].append(row.get(k))

    capex_per_array = {o.sku: o.capex_usd_per_array for o in inp.options}
    for i, date in enumerate(inp.months):
        for s in inp.skus:
            used = plan.gpus_used[s][i]
            powered = plan.gpus_powered[s][i]
            add(month=i, date=date, kind="sku", name=s, arrays_added=plan.arrays_added.get(s, (0,) * inp.horizon)[i],
                gpus_installed=plan.gpus_installed[s][i], gpus_powered=powered, gpus_used=used,
                power_mw=inp.sku_busy_mw[s] * used + inp.sku_idle_mw[s] * (powered - used),
                capex_usd=capex_per_array.get(s, 0.0) * plan.arrays_added.get(s, (0,) * inp.horizon)[i])
        for d in inp.divisions:
            add(month=i, date=date, kind="division", name=d, demand_gpus=inp.demand_gpus[d][i],
                allocated_gpus=plan.allocated_gpus[d][i], unmet_gpus=plan.unmet_gpus[d][i])
        if inp.hero is not None:
            add(month=i, date=date, kind="hero", name=inp.hero.name, gpus_used=plan.hero_gpus[i],
                hero_tokens=plan.hero_tokens[i])
    types = {"month": pa.int16(), "date": pa.date32(), "kind": pa.string(), "name": pa.string(),
             "arrays_added": pa.int32()}
    arrays = {k: pa.array(v, type=types.get(k, pa.float64())) for k, v in cols.items()}
    return pa.table(arrays)


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """A JSON-ready summary of the plan (dates as ISO strings)."""
    inp = plan.inputs
    months = [m.isoformat() for m in inp.months]
    hero = None
    if inp.hero is not None:
        h = inp.hero
        hero = {
            "name": h.name, "sku": h.sku, "gpus": h.gpus, "tokens": h.tokens,
            "target_finish_date": h.target_finish_date, "planned_finish_date": plan.hero_finish_date,
            "late_tokens": plan.hero_late_tokens, "ettr": h.ettr, "ettr_source": h.ettr_source,
            "tokens_per_gpu_s": h.tokens_per_gpu_s, "throughput_source": h.throughput_source,
            "gpus_by_month": list(plan.hero_gpus),
        }
    return {
        "status": plan.status,
        "solver": plan.solver,
        "build_s": plan.build_s,
        "solve_s": plan.solve_s,
        "objective_usd": plan.objective_usd,
        "reference_sku": inp.reference_sku,
        "months": months,
        "arrays_added": {s: list(v) for s, v in plan.arrays_added.items()},
        "total_arrays": plan.total_arrays,
        "gpus_installed": {s: list(v) for s, v in plan.gpus_installed.items()},
        "gpus_used": {s: list(v) for s, v in plan.gpus_used.items()},
        "power_mw": list(plan.power_mw),
        "planned_capacity_ref_gpus": list(plan.planned_capacity_ref_gpus),
        "installed_capacity_ref_gpus": [plan.capacity_ref_gpus(m) for m in range(inp.horizon)],
        "requirement_ref_gpus": list(plan.requirement_ref_gpus),
        "power_cap_mw": list(inp.power_cap_mw),
        "demand_gpus": {d: list(v) for d, v in inp.demand_gpus.items()},
        "allocated_gpus": {d: list(v) for d, v in plan.allocated_gpus.items()},
        "unmet_gpus": {d: list(v) for d, v in plan.unmet_gpus.items()},
        "unmet_gpu_months": plan.total_unmet_gpu_months,
        "cost_by_quarter": plan.cost_by_quarter(),
        "total_capex_usd": float(sum(plan.capex_usd)),
        "binding": [{"month": months[b.month], "constraint": b.constraint, "detail": b.detail} for b in plan.binding],
        "binding_summary": plan.binding_summary(),
        "hero": hero,
    }
