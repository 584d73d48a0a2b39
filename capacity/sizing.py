"""SLO-driven sizing: each division's requirement from its wait SLO, raised where the simulation misses.

Loop (:func:`capacity.replan.plan_and_check` runs it)::

    requirement[d][m] = required_gpus(load[d][m], jobs of d, SLO of d) + extra[d][m]   (capacity.queueing)
    plan  = MILP(requirement)
    check = Monte Carlo of the plan (forecast load simulated on the planned fleet)
    for every simulated (month, division) whose p95 wait misses its SLO:
        the plan served its requirement  -> raise extra[d] over the months that check stands for
                                            (from the checked month to the next checked one) by
                                            max(one largest job, headroom x (min(4, max(1.5, p95 / SLO)) - 1))
        the plan left it short           -> name the constraint that prevents more (limiting_constraints)
    overloaded (month, division)s are short by construction: they name their constraint too
    stop when nothing was raised, or after ``max_iterations`` checks

Divisions without an SLO keep ``load / capacity.target_utilization`` (the first guess the
scenario gives). ``extra`` starts at 0: the queueing estimate is the first plan.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from capacity.inputs import PlanInputs
from capacity.plan import Plan
from capacity.queueing import JobStats, required_gpus, wait_quantile_s
from capacity.registry import DEFAULT_MAX_ITERATIONS

__all__ = ["DEFAULT_MAX_ITERATIONS", "Iteration", "Raise", "Unresolved", "calibration", "limiting_constraints",
           "raise_requirement", "size_to_slo"]  # fmt: skip

_UNMET_TOL = 0.5
"""Reference GPUs of unmet demand below which a division-month counts as served."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Raise:
    """One raise of a division's requirement after a simulated miss.

    Attributes
    ----------
    month : int
        The checked month that missed.
    months : tuple[int, ...]
        The plan months raised (the checked month up to the next checked one).
    division : str
        Division.
    p95_s, slo_s : float
        Simulated mean p95 wait and the SLO, s.
    extra_gpus : float
        Reference GPUs added to the requirement of each of ``months``.
    """

    month: int
    months: tuple[int, ...]
    division: str
    p95_s: float
    slo_s: float
    extra_gpus: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Unresolved:
    """A (month, division) that misses its SLO and what prevents the plan from meeting it.

    Attributes
    ----------
    month : int
        Plan month.
    division : str
        Division.
    reason : str
        ``overloaded`` or ``wait``.
    constraint : str
        ``lead time``, ``power cap``, ``budget``, ``delivery rate``, ``penalty below cost`` (the
        MILP finds buying dearer than the unmet-demand penalty) or ``iteration limit`` (served,
        still missing after the last check).
    detail : str
        One line for people.
    also : tuple[str, ...]
        Further constraints that bind in the month.
    """

    month: int
    division: str
    reason: str
    constraint: str
    detail: str
    also: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Iteration:
    """One plan-and-check round.

    Attributes
    ----------
    index : int
        0 for the first plan.
    plan : Plan
        The plan checked.
    misses_wait, misses_overloaded : int
        SLO misses found by its Monte Carlo, by reason.
    raises : tuple[Raise, ...]
        What was raised for the next round (empty on the last).
    ettr : float
        Hero ETTR the plan used (1.0 without a hero).
    """

    index: int
    plan: Plan
    misses_wait: int
    misses_overloaded: int
    raises: tuple[Raise, ...]
    ettr: float


def size_to_slo(inp: PlanInputs, stats: dict[str, JobStats], extra: dict[str, list[float]] | None = None) -> PlanInputs:
    """``inp`` with each SLO division's requirement from the queueing estimate plus ``extra`` (reference GPUs)."""
    demand = dict(inp.demand_gpus)
    for d in inp.divisions:
        if d not in inp.wait_p95_slo_s or d not in stats:
            continue
        add = (extra or {}).get(d) or [0.0] * inp.horizon
        demand[d] = tuple(required_gpus(inp.load_gpus[d][m], stats[d], inp.wait_p95_slo_s[d]) + add[m] if inp.load_gpus[d][m] > 0
                          else 0.0 for m in range(inp.horizon))  # fmt: skip
    return dataclasses.replace(inp, demand_gpus=demand)


def limiting_constraints(plan: Plan, month: int) -> list[tuple[str, str]]:
    """The constraints that keep ``plan`` from adding capacity for ``month``, each with a line saying so.

    Checked in this order (all that apply are returned; the first is the one named): nothing
    purchasable is online by then (``lead time``); the month runs at its ``power cap``; the
    quarter's budget left cannot buy one more array (``budget``); some option was delivered at
    its monthly limit every month from its first one up to this one (``delivery rate``). When
    none applies the MILP chose the penalty (``penalty below cost``).
    """
    inp = plan.inputs
    out: list[tuple[str, str]] = []
    first = min((o.first_month for o in inp.options), default=inp.horizon)
    if month < first:
        when = inp.months[first].isoformat() if first < inp.horizon else "the horizon's end"
        return [("lead time", f"nothing ordered can be online before {when}")]
    if plan.power_mw[month] >= inp.power_cap_mw[month] * (1 - 1e-3):
        out.append(("power cap", f"{plan.power_mw[month]:.0f} of {inp.power_cap_mw[month]:.0f} MW"))
    q = inp.quarters[month]
    spent = sum(plan.capex_usd[k] for k in range(inp.horizon) if inp.quarters[k] == q)
    cheapest = min((o.capex_usd_per_array for o in inp.options if o.first_month <= month), default=0.0)
    if inp.budget_usd_per_quarter - spent < cheapest:
        out.append(("budget", f"{q}: ${spent / 1e9:.2f}B of ${inp.budget_usd_per_quarter / 1e9:.2f}B spent"))
    for o in inp.options:
        if o.first_month <= month and all(plan.arrays_added[o.sku][k] >= o.max_arrays_per_month
                                          for k in range(o.first_month, month + 1)):  # fmt: skip
            out.append(("delivery rate", f"{o.sku}: {o.max_arrays_per_month} arrays/month every month since "
                                         f"{inp.months[o.first_month]:%Y-%m}"))  # fmt: skip
    return out or [("penalty below cost", "buying costs more than the unmet-demand penalty")]


def raise_requirement(plan: Plan, mc: Any, stats: dict[str, JobStats], extra: dict[str, list[float]],
                      *, final: bool) -> tuple[dict[str, list[float]], tuple[Raise, ...], tuple[Unresolved, ...]]:  # fmt: skip
    """The next round's ``extra``, the raises made, and the misses the plan cannot fix (see the module docstring).

    Parameters
    ----------
    plan : Plan
        The plan checked.
    mc : McResult
        Its Monte Carlo (``slo_misses``, ``months``).
    stats : dict[str, JobStats]
        Division job statistics.
    extra : dict[str, list[float]]
        This round's extra requirement (not modified).
    final : bool
        The last round: nothing is raised; served misses are ``iteration limit``.
    """
    inp = plan.inputs
    new = {d: list(extra.get(d, [0.0] * inp.horizon)) for d in inp.divisions}
    checked = list(mc.months)
    raises: list[Raise] = []
    unresolved: list[Unresolved] = []
    for miss in mc.slo_misses:
        m, d = int(miss["month"]), miss["division"]
        short = plan.unmet_gpus[d][m] > _UNMET_TOL
        if miss["reason"] == "overloaded" or short:
            cons = limiting_constraints(plan, m)
            unresolved.append(Unresolved(month=m, division=d, reason=miss["reason"], constraint=cons[0][0],
                                         detail="; ".join(f"{c}: {t}" for c, t in cons),
                                         also=tuple(c for c, _ in cons[1:])))  # fmt: skip
            continue
        if final or d not in stats:
            unresolved.append(Unresolved(month=m, division=d, reason=miss["reason"], constraint="iteration limit",
                                         detail=f"p95 {miss['p95_s'] / 3600:.2f} h > SLO {miss['slo_s'] / 3600:.2f} h "
                                                "after the last check"))  # fmt: skip
            continue
        j = checked.index(m)
        block = tuple(range(m, checked[j + 1] if j + 1 < len(checked) else inp.horizon))
        ratio = miss["p95_s"] / miss["slo_s"] if miss["slo_s"] else 4.0
        headroom = max(0.0, inp.demand_gpus[d][m] - inp.load_gpus[d][m])
        add = max(float(stats[d].max_gpus), headroom * (min(4.0, max(1.5, ratio)) - 1.0))
        for k in block:
            new[d][k] += add
        raises.append(Raise(month=m, months=block, division=d, p95_s=float(miss["p95_s"]), slo_s=float(miss["slo_s"]),
                            extra_gpus=add))  # fmt: skip
    return new, tuple(raises), tuple(unresolved)


def calibration(plan: Plan, mc: Any, stats: dict[str, JobStats]) -> list[dict[str, Any]]:
    """The queueing estimate against the simulation, per checked (month, division) that is not overloaded.

    ``model_p95_s`` is the M/G/c p95 wait (:func:`capacity.queueing.wait_quantile_s`, the
    GPU-seconds SCV) of the division's forecast load on the capacity the scheduler could give it
    (:func:`capacity.shares.division_capacity`); ``sim_p95_s`` is the simulated mean p95. The
    model ignores borrowing *between* divisions' queues beyond that capacity and the scheduler's
    rounds (a floor of about one round interval on every simulated wait).
    """
    import math

    from capacity.montecarlo import _division_capacities

    inp = plan.inputs
    out = []
    for j, m in enumerate(mc.months):
        caps = _division_capacities(plan, m)
        for d in inp.divisions:
            load = inp.load_gpus[d][m]
            if d not in stats or load <= 0 or caps[d] <= load or d not in mc.waits:
                continue
            st = stats[d]
            c = math.floor(caps[d] / st.slot_gpus)
            model = wait_quantile_s(c, load / st.slot_gpus, st.mean_run_s, run_scv=st.work_scv)
            out.append({"date": inp.months[m].isoformat(), "division": d, "load_ratio": load / caps[d],
                        "model_p95_s": None if math.isinf(model) else model, "sim_p95_s": mc.waits[d]["p95_mean"][j]})  # fmt: skip
    return out
