"""Overloaded division-months: where a division's forecast load reaches the capacity it could get.

A queue whose offered load (GPUs its jobs would keep busy) reaches the GPUs it can hold
grows without bound, whatever the wait a short simulated window happens to measure. This
module finds those division-months for *every* plan month (no simulation needed), from:

* the planned fleet's **servable** non-hero capacity (:func:`servable_ref_gpus`): the usable
  GPUs installed, less the hero's, as far as the month's power cap can run them (most
  reference GPUs per MW first);
* each division's **capacity** under the scheduler's sharing rules while the others offer
  their own load (:func:`capacity.shares.division_capacity`);
* the division's forecast **load** (:attr:`capacity.inputs.PlanInputs.load_gpus`).

``load ratio = load / capacity``; ``>= 1`` is *overloaded* and counts as an SLO miss.
"""

from __future__ import annotations

import math
from typing import Any

from capacity.plan import Plan
from capacity.shares import division_capacity

__all__ = ["load_ratios", "overloaded_months", "servable_ref_gpus"]


def servable_ref_gpus(plan: Plan, month: int) -> float:
    """Non-hero reference GPUs the planned fleet can keep busy in ``month`` under its power cap.

    Each busy GPU of SKU ``s`` draws ``busy_mw[s]`` plus the idle draw of its share of powered
    spares (``idle_mw[s] x (1 / usable_fraction - 1)``); the hero's GPUs are powered first; the
    rest fill by reference GPUs per MW, best first. Never less than what the plan allocates.
    """
    inp = plan.inputs
    u = inp.usable_fraction
    hero_sku = inp.hero.sku if inp.hero is not None else None
    hero = plan.hero_gpus[month] if inp.hero is not None else 0.0

    def mw_per_gpu(s: str) -> float:
        return inp.sku_busy_mw[s] + inp.sku_idle_mw[s] * (1.0 / u - 1.0)

    mw_left = inp.power_cap_mw[month] - (hero * mw_per_gpu(hero_sku) if hero_sku else 0.0)
    avail = {s: max(0.0, u * plan.gpus_installed[s][month] - (hero if s == hero_sku else 0.0)) for s in inp.skus}
    ref = 0.0
    for s in sorted(inp.skus, key=lambda k: (mw_per_gpu(k) / inp.sku_perf[k], k)):
        if mw_left <= 0:
            break
        n = min(avail[s], mw_left / mw_per_gpu(s))
        ref += n * inp.sku_perf[s]
        mw_left -= n * mw_per_gpu(s)
    served = sum(plan.allocated_gpus[d][month] for d in inp.divisions)
    return max(ref, served)


def load_ratios(plan: Plan) -> dict[str, tuple[float, ...]]:
    """Division -> forecast load / the capacity it could get, per plan month (``inf`` with no capacity)."""
    inp = plan.inputs
    hero_perf = inp.sku_perf[inp.hero.sku] if inp.hero is not None else 0.0
    out: dict[str, list[float]] = {d: [] for d in inp.divisions}
    for m in range(inp.horizon):
        load = {d: inp.load_gpus[d][m] for d in inp.divisions}
        cap = division_capacity(servable_ref_gpus(plan, m), load, inp.guaranteed_share or {d: 1.0 for d in inp.divisions},
                                inp.weight, hero_division=inp.hero_division, hero=plan.hero_gpus[m] * hero_perf)  # fmt: skip
        for d in inp.divisions:
            out[d].append(load[d] / cap[d] if cap[d] > 0 else (math.inf if load[d] > 0 else 0.0))
    return {d: tuple(v) for d, v in out.items()}


def overloaded_months(plan: Plan) -> list[dict[str, Any]]:
    """Every (month, division) whose load ratio is >= 1: ``month``, ``date``, ``division``, ``load_ratio``."""
    inp = plan.inputs
    ratios = load_ratios(plan)
    return [{"month": m, "date": inp.months[m].isoformat(), "division": d, "load_ratio": ratios[d][m]}
            for m in range(inp.horizon) for d in inp.divisions if ratios[d][m] >= 1.0]  # fmt: skip
