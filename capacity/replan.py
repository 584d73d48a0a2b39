"""Plan, check, re-plan: the hero's throughput derated by the ETTR the simulation measures.

Issue 7 item 3 asks the planning MILP's hero throughput to be "derated by the ETTR the
simulation measures". The planner therefore runs in up to two passes::

    pass 1   plan with the first-order ETTR (Young/Daly waste, capacity.inputs.ettr_first_order)
    check    Monte Carlo on the pass-1 plan; with the ``sim`` evaluator each replication
             simulates the hero where the plan runs it and measures its ETTR
    pass 2   if an ETTR was measured: re-plan with it (capacity.inputs.plan_inputs(hero_ettr=...))
             and report both ETTRs and whether (and how) the plan changed

One re-plan only, by design: the pass-2 plan is not simulated again (the Monte Carlo figures
in ``plan.json`` are those of the pass-1 plan, and say so). The measured ETTR depends on the
hero's GPU count and the failure/checkpoint model, not on the few arrays a re-plan may move, so
a second simulation would measure the same ETTR up to noise; iterating to a fixed point would
double the (slow) ``sim`` evaluator's cost for no information. With the ``queue`` evaluator
the ETTR is the first-order one by construction (its hero model *is* the first-order model),
so there is nothing to feed back and the plan stays single-pass.
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
from capacity.montecarlo import McConfig, McResult, run_monte_carlo
from capacity.plan import Plan
from colossus.scenario import Scenario

__all__ = ["PlanCheck", "Replan", "plan_and_check", "plan_changes", "replan_to_dict", "replan_with_ettr",
           "simulated_hero_ettr"]  # fmt: skip

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
    """

    passes: int
    ettr_first_order: float | None
    ettr_simulated: float | None
    plan_changed: bool
    changes: tuple[str, ...]
    first_plan: Plan
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanCheck:
    """The result of :func:`plan_and_check`.

    Attributes
    ----------
    plan : Plan
        The final plan (pass 2 when it ran, else pass 1).
    mc : McResult | None
        Monte Carlo figures of the pass-1 plan (None with zero replications).
    replan : Replan
        The re-plan record.
    """

    plan: Plan
    mc: McResult | None
    replan: Replan


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
                   replan: bool = True) -> PlanCheck:  # fmt: skip
    """Plan (pass 1), check by Monte Carlo, re-plan once with the simulated ETTR (pass 2).

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
        Run pass 2 when the simulation measured the hero's ETTR.
    """
    inp = plan_inputs(scn, horizon_months=horizon_months)
    first = solve_plan(inp, solver=solver or scn.scheduler.solver)
    e1 = inp.hero.ettr if inp.hero is not None else None
    mc = None
    if cfg is not None and cfg.replications > 0:
        mc = run_monte_carlo(first, scn, cfg, executor=executor, cache_dir=cache_dir, progress=progress)
    e2 = simulated_hero_ettr(mc)
    if inp.hero is None:
        reason = "no hero run: nothing to derate"
    elif mc is None:
        reason = "no Monte Carlo: first-order ETTR kept"
    elif cfg is not None and cfg.evaluator != "sim":
        reason = f"the {cfg.evaluator} evaluator uses the first-order ETTR itself: nothing measured to feed back"
    elif e2 is None:
        reason = "the simulation measured no hero ETTR (the hero runs in no checked month): first-order ETTR kept"
    elif not replan:
        reason = "re-plan disabled"
    else:
        second = replan_with_ettr(first, scn, e2, solver=solver)
        changes = plan_changes(first, second)
        rp = Replan(passes=2, ettr_first_order=e1, ettr_simulated=e2, plan_changed=bool(changes), changes=changes,
                    first_plan=first, reason="re-planned once with the simulated ETTR (pass 2 is not simulated again)")  # fmt: skip
        return PlanCheck(plan=second, mc=mc, replan=rp)
    rp = Replan(passes=1, ettr_first_order=e1, ettr_simulated=e2, plan_changed=False, changes=(), first_plan=first,
                reason=reason)  # fmt: skip
    return PlanCheck(plan=first, mc=mc, replan=rp)


def replan_to_dict(rp: Replan) -> dict[str, Any]:
    """The ``replan`` section of ``plan.json``."""
    first = rp.first_plan
    return {
        "passes": rp.passes,
        "ettr_first_order": rp.ettr_first_order,
        "ettr_simulated": rp.ettr_simulated,
        "ettr_used": rp.ettr_simulated if rp.passes == 2 else rp.ettr_first_order,
        "plan_changed": rp.plan_changed,
        "changes": list(rp.changes),
        "reason": rp.reason,
        "monte_carlo_checked": "pass 1" if rp.passes == 2 else "the plan",
        "first_pass": {
            "arrays_added": {s: list(v) for s, v in first.arrays_added.items()},
            "total_capex_usd": float(sum(first.capex_usd)),
            "hero_finish_date": first.hero_finish_date.isoformat() if first.hero_finish_date else None,
            "hero_gpu_months": float(sum(first.hero_gpus)),
        },
    }
