"""The executive summary of a plan: what to buy when, capex, the hero's finish, SLO status, and what it would take.

Pure functions of the plan, its Monte Carlo and the SLO-sizing record; :mod:`capacity.report`
renders the result first in ``report.html`` (``<section id="summary">``) and ``plan.json``
holds it as ``summary``.

"What it would take" (per binding constraint of the months left missing)
------------------------------------------------------------------------
The capacity short in month ``m`` is the division demand the plan leaves unmet (reference GPUs).
* ``power cap``: the MW to add from the first such month, the largest shortfall of those months
  x the facility MW of one busy reference GPU of the most power-efficient SKU (with its share of
  powered spares), rounded up to 1 MW.
* ``budget``: the capex per quarter to add, the largest shortfall x the capex per reference GPU
  of the cheapest option available by then (whole 512-GPU arrays).
* ``lead time``: capacity that cannot arrive in time; orders must go in ``lead time`` months
  before the first such month (i.e. before the plan starts).
* ``delivery rate``: the arrays per month the supplier would have to deliver on top.
These are first-order figures (one constraint at a time, ignoring that lifting one may make
another bind); re-planning with the added MW or budget checks them.
"""

from __future__ import annotations

import math
from typing import Any

from capacity.plan import Plan

__all__ = ["executive_summary"]


def _buys(plan: Plan) -> list[dict[str, Any]]:
    inp = plan.inputs
    out = []
    for m in range(inp.horizon):
        for s, v in plan.arrays_added.items():
            if v[m]:
                gpa = next(o.gpus_per_array for o in inp.options if o.sku == s)
                out.append({"date": inp.months[m].isoformat(), "sku": s, "arrays": int(v[m]), "gpus": int(v[m]) * gpa})
    return out


def _shortfall(plan: Plan, months: list[int]) -> tuple[float, int]:
    """Largest unmet division demand over ``months`` (reference GPUs) and the first month."""
    inp = plan.inputs
    worst = max((sum(plan.unmet_gpus[d][m] for d in inp.divisions) for m in months), default=0.0)
    return worst, min(months)


def _what_it_would_take(plan: Plan, unresolved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    inp = plan.inputs
    by: dict[str, list[int]] = {}
    for u in unresolved:
        m = inp.months.index(_date(u["date"]))
        by.setdefault(u["constraint"], []).append(m)
        for c in u.get("also", []):
            by.setdefault(c, []).append(m)
    u_frac = inp.usable_fraction
    out = []
    for c, months in by.items():
        months = sorted(set(months))
        short, first = _shortfall(plan, months)
        when = inp.months[first].isoformat()
        if c == "power cap" and short > 0:
            mw_per_ref = min((inp.sku_busy_mw[s] + inp.sku_idle_mw[s] * (1 / u_frac - 1)) / inp.sku_perf[s] for s in inp.skus)
            mw = math.ceil(short * mw_per_ref)
            out.append({"constraint": c, "from": when, "add_mw": mw,
                        "text": f"about {mw:,} MW more grid power from {when} ({short:,.0f} reference GPUs unmet at worst)"})
        elif c == "budget" and short > 0:
            opts = [o for o in inp.options if o.first_month <= first] or list(inp.options)
            if not opts:
                continue
            o = min(opts, key=lambda o: o.capex_usd_per_array / (o.perf * o.gpus_per_array))
            arrays = math.ceil(short / (o.perf * o.gpus_per_array))
            usd = arrays * o.capex_usd_per_array
            out.append({"constraint": c, "from": when, "add_usd_per_quarter": usd, "sku": o.sku, "arrays": arrays,
                        "text": f"about ${usd / 1e9:,.1f}B more capex per quarter from {when} ({arrays} x {o.sku} arrays)"})
        elif c == "lead time":
            lead = min((o.lead_time_months for o in inp.options), default=0)
            out.append({"constraint": c, "from": when, "order_months_before": lead,
                        "text": f"capacity for {when} had to be ordered {lead} months earlier (before the plan starts)"})
        elif c == "delivery rate" and short > 0:
            o = max(inp.options, key=lambda o: o.perf)
            arrays = math.ceil(short / (o.perf * o.gpus_per_array))
            out.append({"constraint": c, "from": when, "add_arrays": arrays, "sku": o.sku,
                        "text": f"{arrays} more {o.sku} arrays delivered by {when}"})
        elif c == "iteration limit":
            out.append({"constraint": c, "from": when,
                        "text": f"more plan-and-check rounds (--max-iterations): {len(months)} month(s) still raising"})
        elif c == "penalty below cost":
            out.append({"constraint": c, "from": when,
                        "text": "a higher capacity.unmet_penalty_usd_per_gpu_month (buying is dearer than the penalty now)"})
    return out


def _date(s: str):  # noqa: ANN202 - datetime.date
    import datetime as dt

    return dt.date.fromisoformat(s)


def executive_summary(plan: Plan, mc: Any, sizing: dict[str, Any] | None) -> dict[str, Any]:
    """The summary as plain data (see the module docstring).

    Returns
    -------
    dict
        ``buys`` (date, sku, arrays, gpus), ``total_capex_usd``, ``hero`` (planned finish, target,
        simulated p50 and 5-95% interval, on-time fraction), ``slo_status`` (division -> per month
        met / missed / overloaded / unchecked; empty without a Monte Carlo), ``months``,
        ``binding`` (constraint -> months, first), ``what_it_would_take`` (list of dicts with a
        ``text``) and ``headline`` (one line).
    """
    inp = plan.inputs
    hero = None
    if inp.hero is not None:
        hf = mc.hero_finish if mc is not None else {}
        hero = {"name": inp.hero.name, "planned_finish": plan.hero_finish_date.isoformat() if plan.hero_finish_date else None,
                "target": inp.hero.target_finish_date.isoformat() if inp.hero.target_finish_date else None,
                "simulated_p50": hf.get("p50"), "simulated_lo": hf.get("lo"), "simulated_hi": hf.get("hi"),
                "on_time_fraction": hf.get("on_time_fraction")}  # fmt: skip
    status = dict(mc.slo_status) if mc is not None else {}
    unresolved = list((sizing or {}).get("unresolved", []))
    take = _what_it_would_take(plan, unresolved)
    counts: dict[str, int] = {}
    for row in status.values():
        for v in row:
            counts[v] = counts.get(v, 0) + 1
    capex = float(sum(plan.capex_usd))
    headline = f"Buy {sum(plan.total_arrays.values())} arrays for ${capex / 1e9:,.2f}B"
    if status:
        headline += (f"; SLOs met in {counts.get('met', 0)} checked division-months, missed in {counts.get('missed', 0)}, "
                     f"overloaded in {counts.get('overloaded', 0)}")  # fmt: skip
    return {
        "headline": headline + ".",
        "buys": _buys(plan),
        "total_capex_usd": capex,
        "hero": hero,
        "months": [m.isoformat() for m in inp.months],
        "slo_status": status,
        "slo_counts": counts,
        "binding": plan.binding_summary(),
        "what_it_would_take": take,
    }
