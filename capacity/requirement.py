"""Planned capacity: the installed capacity floor the plan guarantees, monotone in demand.

Definition
----------
The **planned capacity** of month ``m``, ``K[m]``, is a number of *reference GPU-equivalents*
(GPUs of the scenario's reference SKU; a GPU of SKU ``s`` counts ``perf[s]``) that the plan's
**installed** capacity ``sum_s perf[s] * gpus_installed[s][m]`` is constrained to reach (a hard
MILP constraint, :func:`capacity.milp.solve_plan`)::

    K[m] = min( R[m], P[m], B[m] )

    R[m] = sum_d demand[d][m] / usable_fraction + hero_ref[m]     requirement (demand-driven)
    P[m] = power_cap[m] / min_s (busy_mw[s] / perf[s])            what the cap could ever run
    B[m] = existing_ref[m] + build-out path (see below)           what can be installed by m

``hero_ref[m]`` is the hero run's GPUs (in reference GPUs) in the months from its start until it
would finish running at full size from its start (a schedule that does not depend on demand).
``B`` is one purchase path that respects every purchase constraint at once (lead times /
availability, delivery limits, the quarterly budget): each month it buys, best reference GPUs
per dollar first, as many arrays as the delivery limit and the quarter's remaining budget allow.

Why this makes "more demand never lowers planned capacity" true by construction
-------------------------------------------------------------------------------
``P`` and ``B`` do not depend on demand, and ``R`` is non-decreasing in every division's demand,
so ``K`` is non-decreasing in demand (month by month, for any increase of any division in any
month, not only a uniform scaling). The floor is always feasible: ``K <= B`` and the ``B``
path itself satisfies every purchase constraint (installing GPUs needs no power: GPUs beyond
the cap are simply not powered), so adding ``installed_ref[m] >= K[m]`` never makes the MILP
infeasible and unmet demand is still reported, not raised.

What is *not* monotone (and why the floor is the definition): the arrays the MILP buys on top
of the floor (integer rounding to 512-GPU arrays, and, under a binding power cap or budget,
the cost trade between buying H100 early and denser B200 later) can make the installed
capacity of one month *exceed* the floor by a demand-dependent amount. The floor is the
capacity the plan commits to; everything above it is the optimiser's cost choice.
"""

from __future__ import annotations

import math

from capacity.inputs import PlanInputs

__all__ = ["build_out_ref_gpus", "hero_ref_gpus", "planned_capacity_ref_gpus", "power_limit_ref_gpus",
           "requirement_ref_gpus"]  # fmt: skip


def hero_ref_gpus(inp: PlanInputs) -> tuple[float, ...]:
    """Reference GPUs of the hero run per month, from its start until it would finish at full size."""
    h = inp.hero
    if h is None:
        return (0.0,) * inp.horizon
    ref = h.gpus * inp.sku_perf[h.sku]
    out, done = [], 0.0
    for m in range(inp.horizon):
        active = h.tokens_per_gpu_month[m] > 0 and done < h.tokens * (1 - 1e-12)
        out.append(ref if active else 0.0)
        done += h.gpus * h.tokens_per_gpu_month[m]
    return tuple(out)


def requirement_ref_gpus(inp: PlanInputs) -> tuple[float, ...]:
    """``R[m]``: installed reference GPUs demand asks for (divisions / usable fraction + hero)."""
    hero = hero_ref_gpus(inp)
    return tuple(sum(inp.demand_gpus[d][m] for d in inp.divisions) / inp.usable_fraction + hero[m]
                 for m in range(inp.horizon))  # fmt: skip


def power_limit_ref_gpus(inp: PlanInputs) -> tuple[float, ...]:
    """``P[m]``: reference GPUs the month's power cap could run with the most power-dense SKU."""
    mw_per_ref = min(inp.sku_busy_mw[s] / inp.sku_perf[s] for s in inp.skus)
    return tuple(c / mw_per_ref for c in inp.power_cap_mw)


def build_out_ref_gpus(inp: PlanInputs) -> tuple[float, ...]:
    """``B[m]``: installed reference GPUs along the greedy maximal build-out path (demand-free)."""
    order = sorted(inp.options, key=lambda o: (-(o.perf * o.gpus_per_array) / max(o.capex_usd_per_array, 1e-9), o.sku))
    spent: dict[str, float] = {}
    bought_ref = 0.0
    out = []
    for m in range(inp.horizon):
        q = inp.quarters[m]
        for o in order:
            if m < o.first_month or o.max_arrays_per_month <= 0:
                continue
            left = inp.budget_usd_per_quarter - spent.get(q, 0.0)
            n = o.max_arrays_per_month if o.capex_usd_per_array <= 0 else min(
                o.max_arrays_per_month, math.floor(left / o.capex_usd_per_array))
            if n <= 0:
                continue
            spent[q] = spent.get(q, 0.0) + n * o.capex_usd_per_array
            bought_ref += n * o.gpus_per_array * o.perf
        existing = sum(inp.sku_perf[s] * inp.existing_gpus[s][m] for s in inp.skus)
        out.append(existing + bought_ref)
    return tuple(out)


def planned_capacity_ref_gpus(inp: PlanInputs) -> tuple[float, ...]:
    """``K[m] = min(R[m], P[m], B[m])``: the planned capacity (see the module docstring)."""
    r, p, b = requirement_ref_gpus(inp), power_limit_ref_gpus(inp), build_out_ref_gpus(inp)
    return tuple(min(r[m], p[m], b[m]) for m in range(inp.horizon))
