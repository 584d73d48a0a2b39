"""Plan, check, re-plan: SLO-sizing rounds, and the hero's throughput derated by the ETTR the simulation measures.

:func:`plan_and_check` runs the rounds of :mod:`capacity.sizing`: plan with the divisions'
SLO-driven requirements, check by Monte Carlo, raise the requirements that missed, re-plan,
until nothing is raised (or ``max_iterations`` checks). From the second round on, the ``sim``
evaluator's measured hero ETTR derates the hero's throughput (issue 7 item 3), so every plan
after the first is planned with it and checked; the final plan is then the last one checked.

When the first check already meets everything (one round), the plan is solved once more with
the measured ETTR and that pass-2 plan is not simulated again (the Monte Carlo figures in
``plan.json`` are those of the first plan, and ``replan.monte_carlo_checked`` says so): the
measured ETTR depends on the hero's GPU count and the failure/checkpoint model, not on the
few arrays a re-plan moves. With the ``queue`` evaluator the ETTR is the first-order one by
construction, so there is nothing to feed back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capacity.inputs import plan_inputs
from capacity.milp import solve_plan
from capacity.montecarlo import McConfig, McResult, reaggregate, run_monte_carlo
from capacity.plan import Plan
from capacity.queueing import division_job_stats
from capacity.queueing import JobStats
from capacity.sizing import DEFAULT_MAX_ITERATIONS, Iteration, Unresolved, calibration, raise_requirement, size_to_slo
from colossus.scenario import Scenario

__all__ = ["PlanCheck", "Replan", "plan_and_check", "plan_changes", "replan_to_dict", "replan_with_ettr",
           "simulated_hero_ettr", "sizing_to_dict"]  # fmt: skip

_GPU_TOL = 0.5
"""Hero GPU allocations closer than this (GPUs) count as unchanged."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Replan:
    """What the second MILP pass did.

    Attributes
    ----------
    passes : int
        1 (no ETTR measured: first-order ETTR kept) or 2 (re-planned with the simulated ETTR).
    ettr_first_order : float | None
        The pass-1 ETTR (None without a hero run).
    ettr_simulated : float | None
        Mean ETTR the simulation measured over replications (None when not measured).
    plan_changed : bool
        Whether pass 2 differs from pass 1 (arrays bought, hero GPUs or hero finish date).
    changes : tuple[str, ...]
        One line per difference, for people.
    first_plan : Plan
        The pass-1 plan (the one the Monte Carlo checked).
    reason : str
        Why there was (not) a second pass.
    final_checked : bool
        Whether the Monte Carlo figures are those of the final plan (SLO-sizing rounds ran).
    """

    passes: int
    ettr_first_order: float | None
    ettr_simulated: float | None
    plan_changed: bool
    changes: tuple[str, ...]
    first_plan: Plan
    reason: str
    final_checked: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanCheck:
    """The result of :func:`plan_and_check`.

    Attributes
    ----------
    plan : Plan
        The final plan.
    mc : McResult | None
        Monte Carlo figures of the last plan simulated (None with zero replications).
    replan : Replan
        The ETTR re-plan record.
    iterations : tuple[Iteration, ...]
        The SLO-sizing rounds (:mod:`capacity.sizing`), one per Monte Carlo check.
    unresolved : tuple[Unresolved, ...]
        Misses of the last check the plan cannot fix, each with the constraint that prevents it.
    sized : bool
        Whether requirements came from the divisions' wait SLOs.
    stats : dict[str, JobStats]
        The divisions' job statistics the queueing estimate used.
    """

    plan: Plan
    mc: McResult | None
    replan: Replan
    iterations: tuple[Iteration, ...] = ()
    unresolved: tuple[Unresolved, ...] = ()
    sized: bool = False
    stats: dict[str, JobStats] = dataclasses.field(default_factory=dict)


def simulated_hero_ettr(mc: McResult | None) -> float | None:
    """Mean hero ETTR over the replications that *measured* it in the simulation, else None.

    Only the ``sim`` evaluator measures (``hero.ettr_measured``); the ``queue`` evaluator samples
    the first-order model, which is not a measurement and is never fed back.
    """
    if mc is None:
        return None
    vals = [float(r["hero"]["ettr"]) for r in mc.replications
            if r.get("hero") and r["hero"].get("ettr_measured") and r["hero"].get("ettr") is not None]  # fmt: skip
    return sum(vals) / len(vals) if vals else None


def plan_changes(a: Plan, b: Plan) -> tuple[str, ...]:
    """Human-readable differences from plan ``a`` to plan ``b`` (same horizon); empty when equal."""
    inp = a.inputs
    out: list[str] = []
    for s in sorted(set(a.arrays_added) | set(b.arrays_added)):
        va = a.arrays_added.get(s, (0,) * inp.horizon)
        vb = b.arrays_added.get(s, (0,) * inp.horizon)
        for m, (x, y) in enumerate(zip(va, vb, strict=True)):
            if x != y:
                out.append(f"{s} arrays online {inp.months[m]:%Y-%m}: {x} -> {y}")
    ha, hb = sum(a.hero_gpus), sum(b.hero_gpus)
    if any(abs(x - y) > _GPU_TOL for x, y in zip(a.hero_gpus, b.hero_gpus, strict=True)):
        out.append(f"hero GPU-months: {ha:,.0f} -> {hb:,.0f}")
    if a.hero_finish_date != b.hero_finish_date:
        out.append(f"hero finish: {a.hero_finish_date} -> {b.hero_finish_date}")
    return tuple(out)


def replan_with_ettr(plan: Plan, scn: Scenario, ettr: float, *, solver: str | None = None) -> Plan:
    """Solve the MILP again for ``plan``'s horizon with the hero's ETTR set to ``ettr``.

    Parameters
    ----------
    plan : Plan
        The pass-1 plan (its horizon is kept).
    scn : Scenario
        The scenario it came from.
    ettr : float
        Effective training time ratio in (0, 1] (clipped into [0.01, 1]).
    solver : str, optional
        MILP solver (default: the scenario's).
    """
    e = min(1.0, max(0.01, float(ettr)))
    inp = plan_inputs(scn, horizon_months=plan.inputs.horizon, hero_ettr=e)
    new = solve_plan(inp, solver=solver or scn.scheduler.solver)
    return dataclasses.replace(new, hero_ettr_measured=e)


def plan_and_check(scn: Scenario, *, horizon_months: int | None = None, cfg: McConfig | None = None,
                   executor: Executor | None = None, cache_dir: Path | None = None,
                   progress: Callable[[int, int], None] | None = None, solver: str | None = None,
                   replan: bool = True, max_iterations: int = DEFAULT_MAX_ITERATIONS,
                   slo_sizing: bool = True, milp_gap: float | None = None,
                   milp_time_limit_s: float | None = None) -> PlanCheck:  # fmt: skip
    """Size to the wait SLOs, plan, check by Monte Carlo, raise what misses, re-plan (:mod:`capacity.sizing`).

    Round ``k`` plans with the requirements of round ``k - 1`` raised where its simulation missed
    an SLO the plan had served, and (from round 1 on, with the ``sim`` evaluator) the hero ETTR
    the previous round measured. It stops when nothing was raised or after ``max_iterations``
    checks; the final plan is the last one checked. When only one round ran and an ETTR was
    measured, the plan is solved once more with that ETTR (pass 2, not simulated again: the
    Monte Carlo figures are those of round 0, and ``replan`` says so).

    Parameters
    ----------
    scn : Scenario
        Scenario with a ``[capacity]`` section.
    horizon_months : int, optional
        Override of ``capacity.horizon_months``.
    cfg : McConfig, optional
        Monte Carlo settings; None or zero replications: plan only.
    executor, cache_dir, progress
        Passed to :func:`capacity.montecarlo.run_monte_carlo`.
    solver : str, optional
        MILP solver (default: the scenario's).
    replan : bool
        Feed the simulated hero ETTR back into the MILP.
    max_iterations : int
        Monte Carlo checks at most (>= 1).
    slo_sizing : bool
        Size divisions with a wait SLO by the queueing estimate (else ``load / target_utilization``).
    milp_gap, milp_time_limit_s : float, optional
        Relative MIP gap and time limit of every MILP solve (default: :func:`capacity.milp.solve_plan`'s,
        1e-6 and 60 s). A plan with an ample budget and grid has many near-equal purchase schedules:
        at the default gap its solves run to the time limit (status ``Feasible``); ``milp_gap=1e-3``
        proves an optimum within 0.1 % in about a second (``benchmarks/plan.py --ample``).
    """
    solver = solver or scn.scheduler.solver
    milp_opts: dict[str, float] = {}
    if milp_gap is not None:
        milp_opts["gap"] = float(milp_gap)
    if milp_time_limit_s is not None:
        milp_opts["time_limit_s"] = float(milp_time_limit_s)
    stats = division_job_stats(scn) if slo_sizing else {}
    base = plan_inputs(scn, horizon_months=horizon_months)
    horizon = base.horizon
    extra: dict[str, list[float]] = {d: [0.0] * horizon for d in base.divisions}

    def make(ettr: float | None) -> Plan:
        inp = plan_inputs(scn, horizon_months=horizon, hero_ettr=ettr) if ettr is not None else base
        inp = size_to_slo(inp, stats, extra) if slo_sizing else inp
        out = solve_plan(inp, solver=solver, **milp_opts)
        return dataclasses.replace(out, hero_ettr_measured=ettr) if ettr is not None else out

    first = plan = make(None)
    e1 = base.hero.ettr if base.hero is not None else None
    if cfg is None or cfg.replications <= 0:
        rp = Replan(passes=1, ettr_first_order=e1, ettr_simulated=None, plan_changed=False, changes=(), first_plan=first,
                    reason="no hero run: nothing to derate" if base.hero is None else "no Monte Carlo: first-order ETTR kept")  # fmt: skip
        return PlanCheck(plan=first, mc=None, replan=rp, iterations=(), unresolved=(), sized=slo_sizing)
    iterations: list[Iteration] = []
    unresolved: tuple[Unresolved, ...] = ()
    ettr_used: float | None = None
    e2: float | None = None
    mc: McResult | None = None
    for k in range(max(1, max_iterations)):
        mc = run_monte_carlo(plan, scn, cfg, executor=executor, cache_dir=cache_dir, progress=progress)
        e2 = simulated_hero_ettr(mc) if (replan and cfg.evaluator == "sim") else None
        final = k == max(1, max_iterations) - 1
        extra, raises, unresolved = raise_requirement(plan, mc, stats, extra, final=final or not slo_sizing)
        over = sum(1 for x in mc.slo_misses if x["reason"] == "overloaded")
        iterations.append(Iteration(index=k, plan=plan, misses_wait=len(mc.slo_misses) - over, misses_overloaded=over,
                                    raises=raises, ettr=plan.inputs.hero.ettr if plan.inputs.hero else 1.0))  # fmt: skip
        if not raises:
            break
        ettr_used = e2 if e2 is not None else ettr_used
        plan = make(ettr_used)
    if len(iterations) > 1:
        changes = plan_changes(first, plan)
        reason = (f"{len(iterations)} plan-and-check rounds (SLO sizing); rounds after the first planned with the "
                  "simulated ETTR" if ettr_used is not None else f"{len(iterations)} plan-and-check rounds (SLO sizing)")
        rp = Replan(passes=len(iterations), ettr_first_order=e1, ettr_simulated=ettr_used, plan_changed=bool(changes),
                    changes=changes, first_plan=first, reason=reason, final_checked=True)  # fmt: skip
        return PlanCheck(plan=plan, mc=mc, replan=rp, iterations=tuple(iterations), unresolved=unresolved, sized=slo_sizing, stats=stats)
    if base.hero is None:
        reason = "no hero run: nothing to derate"
    elif cfg.evaluator != "sim":
        reason = f"the {cfg.evaluator} evaluator uses the first-order ETTR itself: nothing measured to feed back"
    elif not replan:
        reason = "re-plan disabled"
    elif e2 is None:
        reason = "the simulation measured no hero ETTR (the hero runs in no checked month): first-order ETTR kept"
    else:
        second = make(min(1.0, max(0.01, e2)))
        changes = plan_changes(first, second)
        rp = Replan(passes=2, ettr_first_order=e1, ettr_simulated=e2, plan_changed=bool(changes), changes=changes,
                    first_plan=first, reason="re-planned once with the simulated ETTR (pass 2 is not simulated again; "
                                             "its overload check is)")  # fmt: skip
        if mc.replications:  # the overload check and SLO status of the plan written, waits as simulated for pass 1
            mc = reaggregate(second, scn, mc)
        return PlanCheck(plan=second, mc=mc, replan=rp, iterations=tuple(iterations), unresolved=unresolved, sized=slo_sizing, stats=stats)
    rp = Replan(passes=1, ettr_first_order=e1, ettr_simulated=e2, plan_changed=False, changes=(), first_plan=first,
                reason=reason)  # fmt: skip
    return PlanCheck(plan=first, mc=mc, replan=rp, iterations=tuple(iterations), unresolved=unresolved, sized=slo_sizing, stats=stats)


def sizing_state(sizing: dict[str, Any]) -> str:
    """How the SLO-sizing rounds of a :func:`sizing_to_dict` section ended, in words (CLI and report)."""
    left = int(sizing.get("misses_left", len(sizing.get("unresolved") or [])))
    if not left:
        return "converged: every checked month meets its SLOs"
    if sizing["converged"]:  # nothing left that a further round could raise
        return f"stopped with {left} SLO miss(es) left that another round cannot fix: the plan cannot add capacity there"
    return f"not converged: stopped at --max-iterations with {left} SLO miss(es) left"


def sizing_to_dict(run: PlanCheck) -> dict[str, Any]:
    """The ``sizing`` section of ``plan.json``: the rounds, what each raised, and what stays unresolved and why.

    ``converged`` means the rounds stopped because nothing was left that another round could raise
    (not that every SLO is met: ``misses_left`` counts the final check's SLO misses, and
    ``unresolved`` names the constraint behind each).
    """
    inp = run.plan.inputs
    iso = lambda m: inp.months[m].isoformat()  # noqa: E731
    return {
        "method": ("queueing estimate (M/G/c, Erlang C with the Allen-Cunneen factor; capacity.queueing) per division "
                   "and month, raised where the simulation misses" if run.sized else "load / capacity.target_utilization"),
        "iterations": [{
            "index": it.index, "total_capex_usd": float(sum(it.plan.capex_usd)), "total_arrays": it.plan.total_arrays,
            "requirement_gpu_months": float(sum(sum(v) for v in it.plan.inputs.demand_gpus.values())),
            "unmet_gpu_months": it.plan.total_unmet_gpu_months, "misses_wait": it.misses_wait,
            "misses_overloaded": it.misses_overloaded, "hero_ettr": it.ettr,
            "raised": [{"date": iso(r.month), "division": r.division, "p95_s": r.p95_s, "slo_s": r.slo_s,
                        "extra_gpus": r.extra_gpus, "months": [iso(k) for k in r.months]} for r in it.raises],
        } for it in run.iterations],
        "calibration": calibration(run.iterations[-1].plan, run.mc, run.stats) if (run.iterations and run.mc) else [],
        # converged: nothing left that another round could raise (misses may remain: each names its constraint)
        "converged": bool(run.iterations) and not run.iterations[-1].raises and not any(
            u.constraint == "iteration limit" for u in run.unresolved),
        "misses_left": len(run.mc.slo_misses) if run.mc is not None else 0,
        "unresolved": [{"date": iso(u.month), "division": u.division, "reason": u.reason, "constraint": u.constraint,
                        "also": list(u.also), "detail": u.detail} for u in run.unresolved],
    }  # fmt: skip


def replan_to_dict(rp: Replan) -> dict[str, Any]:
    """The ``replan`` section of ``plan.json``."""
    first = rp.first_plan
    return {
        "passes": rp.passes,
        "ettr_first_order": rp.ettr_first_order,
        "ettr_simulated": rp.ettr_simulated,
        "ettr_used": rp.ettr_simulated if (rp.passes >= 2 and rp.ettr_simulated is not None) else rp.ettr_first_order,
        "plan_changed": rp.plan_changed,
        "changes": list(rp.changes),
        "reason": rp.reason,
        "monte_carlo_checked": "the plan" if (rp.final_checked or rp.passes == 1) else "pass 1",
        "first_pass": {
            "arrays_added": {s: list(v) for s, v in first.arrays_added.items()},
            "total_capex_usd": float(sum(first.capex_usd)),
            "hero_finish_date": first.hero_finish_date.isoformat() if first.hero_finish_date else None,
            "hero_gpu_months": float(sum(first.hero_gpus)),
        },
    }
