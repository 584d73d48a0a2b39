"""The planning MILP: integer arrays per SKU per month, minimising capex + energy + unmet demand.

Model (month ``m``, SKU ``s``, division ``d``; everything discounted by ``disc[m]``)::

    x[s,m]  in {0..max_arrays_per_month}   arrays of option s coming online in month m
                                           (0 before its lead time / availability)
    inst[s,m] = existing[s,m] + gpus_per_array * sum_{k<=m} x[s,k]
    p[s,m]  <= inst[s,m]                   GPUs powered (the rest are switched off)
    a[d,s,m] >= 0, h[m] in [0, hero.gpus]  GPUs allocated to divisions / the hero run
    sum_d a[d,s,m] (+ h[m] if s = hero SKU) <= usable_fraction * p[s,m]
    sum_s perf[s] * a[d,s,m] + u[d,m] >= demand[d,m]             (u: unmet, reference GPUs)
    P[m] = sum_s busy[s] * used[s,m] + idle[s] * (p[s,m] - used[s,m]) <= cap[m]   (MW)
    sum_{m in quarter q} sum_s capex[s] * x[s,m] <= budget                        (each quarter)
    rem[m] >= 1 - sum_{k<=m} h[k] * tok[k] / tokens      (fraction of hero work left after month m)
    late   >= 1 - sum_m h[m] * tok_by_deadline[m] / tokens (fraction left at the target date)
    sum_s perf[s] * inst[s,m] >= K[m]                   (planned capacity floor, see below)

    minimise sum_m disc[m] * (capex + P[m] * (hours[m] * price + demand_charge) + penalty * sum_d u[d,m])
             + hero_late_penalty * hero.gpus * (late + sum_{m >= deadline month} rem[m])

    (a month the hero is late costs its GPUs x the late penalty x the fraction of work left;
    without a target date the horizon's last month is the deadline)

``K[m]`` is the *planned capacity* of :mod:`capacity.requirement`: a reference-GPU floor that
is non-decreasing in demand by construction and always reachable (a demand-free build-out path
meets it), so "more demand never lowers planned capacity" holds for every plan this solves.

The model is always feasible (buy the build-out path, serve nothing): demand that cannot be met is
reported as unmet, never raised. Integer variables: one per option and month (72 for three
SKUs over 24 months), so HiGHS proves optimality in well under a second.
"""

from __future__ import annotations

import datetime as dt
import time

import pulp

from capacity.inputs import PlanInputs
from capacity.plan import Binding, Plan
from capacity.requirement import planned_capacity_ref_gpus, requirement_ref_gpus
from capacity.shares import share_capacity
from scheduler.solver import quiet_stdout as _quiet_stdout

__all__ = ["solve_plan"]


def _solver(name: str, gap: float, time_limit_s: float) -> pulp.LpSolver:
    if name == "highs":
        return pulp.HiGHS(msg=False, gapRel=gap, timeLimit=time_limit_s, threads=1)
    if name == "cbc":
        return pulp.PULP_CBC_CMD(msg=False, gapRel=gap, timeLimit=time_limit_s, threads=1)
    raise ValueError(f"unknown solver {name!r} (expected highs or cbc)")


def solve_plan(inp: PlanInputs, *, solver: str = "highs", gap: float = 1e-6, time_limit_s: float = 60.0) -> Plan:
    """Solve the expansion MILP for ``inp``.

    Parameters
    ----------
    inp : PlanInputs
        Inputs from :func:`capacity.inputs.plan_inputs`.
    solver : {"highs", "cbc"}
        MILP solver.
    gap : float
        Relative MIP gap.
    time_limit_s : float
        Solver time limit, s.

    Returns
    -------
    Plan
        The plan; unmet demand and a late hero run are part of it, not errors.

    Raises
    ------
    RuntimeError
        When the solver returns no integer solution (should not happen: the model is feasible).
    """
    t0 = time.perf_counter()
    M = inp.horizon
    prob = pulp.LpProblem("capacity_plan", pulp.LpMinimize)
    gpa = {o.sku: o.gpus_per_array for o in inp.options}
    opt = {o.sku: o for o in inp.options}
    x: dict[tuple[str, int], pulp.LpVariable] = {}
    for o in inp.options:
        for m in range(M):
            ub = o.max_arrays_per_month if m >= o.first_month else 0
            x[o.sku, m] = prob.add_variable(f"x_{o.sku}_{m}", lowBound=0, upBound=ub, cat="Integer")
    p = {(s, m): prob.add_variable(f"p_{s}_{m}", lowBound=0) for s in inp.skus for m in range(M)}
    a = {(d, s, m): prob.add_variable(f"a_{i}_{s}_{m}", lowBound=0)
         for i, d in enumerate(inp.divisions) for s in inp.skus for m in range(M)}
    u = {(d, m): prob.add_variable(f"u_{i}_{m}", lowBound=0) for i, d in enumerate(inp.divisions) for m in range(M)}
    hero = inp.hero
    h = {m: prob.add_variable(f"h_{m}", lowBound=0, upBound=float(hero.gpus)) for m in range(M)} if hero else {}
    late = prob.add_variable("hero_late", lowBound=0) if hero else None

    def inst_terms(s: str, m: int) -> list[tuple[pulp.LpVariable, float]]:
        if s not in opt:
            return []
        return [(x[s, k], float(gpa[s])) for k in range(m + 1)]

    def used_terms(s: str, m: int) -> list[tuple[pulp.LpVariable, float]]:
        terms = [(a[d, s, m], 1.0) for d in inp.divisions]
        if hero and s == hero.sku:
            terms.append((h[m], 1.0))
        return terms

    obj: list[tuple[pulp.LpVariable, float]] = []
    price_per_mw = [inp.month_hours[m] * inp.energy_usd_per_mwh + inp.demand_charge_usd_per_mw_month for m in range(M)]
    for m in range(M):
        disc = inp.discount_per_month[m]
        power_terms: list[tuple[pulp.LpVariable, float]] = []
        for s in inp.skus:
            existing = inp.existing_gpus[s][m]
            # powered <= installed
            prob += pulp.LpAffineExpression([(p[s, m], 1.0)] + [(v, -c) for v, c in inst_terms(s, m)]) <= existing, f"inst_{s}_{m}"
            # used <= usable * powered
            prob += pulp.LpAffineExpression(used_terms(s, m) + [(p[s, m], -inp.usable_fraction)]) <= 0, f"use_{s}_{m}"
            busy, idle = inp.sku_busy_mw[s], inp.sku_idle_mw[s]
            power_terms.append((p[s, m], idle))
            power_terms.extend((v, busy - idle) for v, _ in used_terms(s, m))
        prob += pulp.LpAffineExpression(power_terms) <= inp.power_cap_mw[m], f"power_{m}"
        obj.extend((v, c * price_per_mw[m] * disc) for v, c in power_terms)
        for d in inp.divisions:
            prob += pulp.LpAffineExpression([(a[d, s, m], inp.sku_perf[s]) for s in inp.skus] + [(u[d, m], 1.0)]) >= inp.demand_gpus[d][m], f"dem_{inp.divisions.index(d)}_{m}"
            obj.append((u[d, m], inp.unmet_penalty_usd_per_gpu_month * disc))
        for o in inp.options:
            obj.append((x[o.sku, m], o.capex_usd_per_array * disc))
    floor = planned_capacity_ref_gpus(inp)
    for m in range(M):  # planned capacity floor: installed reference GPUs >= K[m]
        need = floor[m] * (1 - 1e-9) - sum(inp.sku_perf[s] * inp.existing_gpus[s][m] for s in inp.skus)
        if need > 0:
            terms = [(v, c * inp.sku_perf[o.sku]) for o in inp.options for v, c in inst_terms(o.sku, m)]
            prob += pulp.LpAffineExpression(terms) >= need, f"floor_{m}"
    for q in dict.fromkeys(inp.quarters):
        terms = [(x[o.sku, m], o.capex_usd_per_array) for o in inp.options for m in range(M) if inp.quarters[m] == q]
        if terms:
            prob += pulp.LpAffineExpression(terms) <= inp.budget_usd_per_quarter, f"budget_{q}"
    if hero:
        # rem[m]: hero tokens still to train at the end of month m; every month from the deadline
        # on costs hero_late_penalty x hero GPUs x the fraction left (finish late, but soon).
        # Work is counted as a fraction of the hero's tokens (coefficients ~1e-5, not ~1e9: HiGHS
        # declared the token-scaled model infeasible on some inputs).
        late_cost = inp.hero_late_penalty_usd_per_gpu_month * hero.gpus
        frac = [t / hero.tokens for t in hero.tokens_per_gpu_month]
        frac_dl = [t / hero.tokens for t in hero.deadline_tokens_per_gpu_month]
        first_late = min(hero.deadline_month, M - 1)
        for m in range(first_late, M):
            rem = prob.add_variable(f"hero_rem_{m}", lowBound=0)
            prob += pulp.LpAffineExpression([(h[k], frac[k]) for k in range(m + 1)] + [(rem, 1.0)]) >= 1.0, f"hero_rem_{m}"
            obj.append((rem, late_cost))
        prob += pulp.LpAffineExpression([(h[m], frac_dl[m]) for m in range(M)] + [(late, 1.0)]) >= 1.0, "hero_deadline"
        obj.append((late, late_cost))
    prob += pulp.LpAffineExpression(obj), "cost"
    build_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    with _quiet_stdout():
        prob.solve(_solver(solver, gap, time_limit_s))
    solve_s = time.perf_counter() - t1
    if prob.sol_status not in (1, 2):
        raise RuntimeError(f"planning MILP: no solution ({pulp.LpStatus[prob.status]}, sol_status {prob.sol_status})")
    status = "Optimal" if prob.sol_status == 1 else "Feasible"

    def val(v: pulp.LpVariable | None) -> float:
        if v is None:
            return 0.0
        r = v.value()
        return max(0.0, float(r)) if r is not None else 0.0

    arrays = {o.sku: tuple(int(round(val(x[o.sku, m]))) for m in range(M)) for o in inp.options}
    installed, powered, used = {}, {}, {}
    for s in inp.skus:
        cum, inst_s = 0, []
        for m in range(M):
            cum += arrays.get(s, (0,) * M)[m] * gpa.get(s, 0)
            inst_s.append(inp.existing_gpus[s][m] + cum)
        installed[s] = tuple(inst_s)
        powered[s] = tuple(min(val(p[s, m]), inst_s[m]) for m in range(M))
        used[s] = tuple(sum(val(v) for v, _ in used_terms(s, m)) for m in range(M))
    hero_gpus = tuple(val(h[m]) for m in range(M)) if hero else (0.0,) * M
    alloc = _shared_allocation(inp, {d: [sum(inp.sku_perf[s] * val(a[d, s, m]) for s in inp.skus) for m in range(M)]
                                     for d in inp.divisions}, hero_gpus)  # fmt: skip
    unmet = {d: tuple(max(0.0, inp.demand_gpus[d][m] - alloc[d][m]) for m in range(M)) for d in inp.divisions}
    power = tuple(sum(inp.sku_busy_mw[s] * used[s][m] + inp.sku_idle_mw[s] * (powered[s][m] - used[s][m]) for s in inp.skus) for m in range(M))
    capex = tuple(sum(arrays[o.sku][m] * o.capex_usd_per_array for o in inp.options) for m in range(M))
    energy = tuple(power[m] * price_per_mw[m] for m in range(M))
    penalty = tuple(inp.unmet_penalty_usd_per_gpu_month * sum(unmet[d][m] for d in inp.divisions) for m in range(M))
    hero_tokens = tuple(hero_gpus[m] * hero.tokens_per_gpu_month[m] for m in range(M)) if hero else (0.0,) * M
    late_tokens = max(0.0, hero.tokens - sum(hero_gpus[m] * hero.deadline_tokens_per_gpu_month[m] for m in range(M))) if hero else 0.0
    finish = _finish_date(inp, hero_tokens) if hero else None

    plan = Plan(
        inputs=inp, status=status, solver=solver, build_s=build_s, solve_s=solve_s,
        objective_usd=float(pulp.value(prob.objective) or 0.0), arrays_added=arrays, gpus_installed=installed,
        gpus_powered=powered, gpus_used=used, allocated_gpus=alloc, unmet_gpus=unmet, hero_gpus=hero_gpus,
        hero_tokens=hero_tokens, hero_late_tokens=late_tokens if late_tokens > 1e-6 * (hero.tokens if hero else 1) else 0.0,
        hero_finish_date=finish, power_mw=power, capex_usd=capex, energy_usd=energy, penalty_usd=penalty,
        planned_capacity_ref_gpus=floor, requirement_ref_gpus=requirement_ref_gpus(inp),
    )
    return _with_binding(plan)


def _shared_allocation(inp: PlanInputs, milp_alloc: dict[str, list[float]],
                       hero_gpus: tuple[float, ...]) -> dict[str, tuple[float, ...]]:  # fmt: skip
    """Each month's served division capacity re-shared by the scheduler's rules (:mod:`capacity.shares`).

    The MILP decides how much capacity serves the divisions (its total per month); which
    division a short month leaves short is not its business (every unmet GPU costs the same),
    so the split follows the scheduler: guarantees first, then weights, the hero as its division's.
    """
    out: dict[str, list[float]] = {d: [] for d in inp.divisions}
    hero_perf = inp.sku_perf[inp.hero.sku] if inp.hero is not None else 0.0
    for m in range(inp.horizon):
        served = sum(milp_alloc[d][m] for d in inp.divisions)
        share = share_capacity(served, {d: inp.demand_gpus[d][m] for d in inp.divisions},
                               inp.guaranteed_share or {d: 1.0 for d in inp.divisions}, inp.weight,
                               hero_division=inp.hero_division, hero=hero_gpus[m] * hero_perf)  # fmt: skip
        for d in inp.divisions:
            out[d].append(share[d])
    return {d: tuple(v) for d, v in out.items()}


def _finish_date(inp: PlanInputs, hero_tokens: tuple[float, ...]) -> dt.date | None:
    """Date the hero's work is done, the last month's remainder run at the hero's full size."""
    hero = inp.hero
    assert hero is not None
    done = 0.0
    for m, tok in enumerate(hero_tokens):
        if tok > 0 and done + tok >= hero.tokens * (1 - 1e-9):
            rate_per_day = hero.gpus * hero.tokens_per_gpu_s * hero.ettr * 86400.0
            start = max(inp.months[m], hero.start_date)
            return start + dt.timedelta(days=(hero.tokens - done) / rate_per_day)
        done += tok
    return None


def _with_binding(plan: Plan) -> Plan:
    import dataclasses

    inp = plan.inputs
    out: list[Binding] = []
    first_possible = min((o.first_month for o in inp.options), default=inp.horizon)
    spent: dict[str, float] = {}
    for m, q in enumerate(inp.quarters):
        spent[q] = spent.get(q, 0.0) + plan.capex_usd[m]
    for m in range(inp.horizon):
        unmet = sum(v[m] for v in plan.unmet_gpus.values())
        tags: list[tuple[str, str]] = []
        if plan.power_mw[m] >= inp.power_cap_mw[m] * (1 - 1e-3):
            tags.append(("power cap", f"{plan.power_mw[m]:.1f} of {inp.power_cap_mw[m]:.1f} MW"))
        q = inp.quarters[m]
        if inp.budget_usd_per_quarter > 0 and spent[q] >= inp.budget_usd_per_quarter * (1 - 1e-3) and plan.capex_usd[m] > 0:
            tags.append(("budget", f"{q}: ${spent[q] / 1e9:.2f}B of ${inp.budget_usd_per_quarter / 1e9:.2f}B"))
        for o in inp.options:
            if m >= o.first_month and plan.arrays_added[o.sku][m] >= o.max_arrays_per_month:
                tags.append(("delivery limit", f"{o.sku}: {o.max_arrays_per_month} arrays/month"))
        if unmet > 0.5 and m < first_possible:
            tags.append(("lead time", f"nothing can come online before month {first_possible}"))
        if unmet > 0.5 and not tags:
            tags.append(("penalty below cost", f"{unmet:,.0f} GPUs unmet: buying costs more than the unmet-demand penalty"))
        out.extend(Binding(month=m, constraint=c, detail=dtl) for c, dtl in tags)
    if inp.hero is not None and plan.hero_late_tokens > 0:
        dm = max(0, min(inp.hero.deadline_month, inp.horizon) - 1)
        out.append(Binding(month=dm, constraint="hero deadline",
                           detail=f"{plan.hero_late_tokens:.3g} of {inp.hero.tokens:.3g} tokens after {inp.hero.target_finish_date}"))
    return dataclasses.replace(plan, binding=tuple(sorted(out, key=lambda b: b.month)))
