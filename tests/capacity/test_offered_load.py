"""What the Monte Carlo simulates, and what it reports for overloaded division-months (issue 12 item 1).

Fast (no simulation runs): the ``sim`` tasks of a starved plan are built and inspected, and the
aggregation is fed hand-made replications.
"""

from __future__ import annotations

import pytest

from capacity.inputs import plan_inputs
from capacity.milp import solve_plan
from capacity.montecarlo import McConfig, _aggregate, _division_capacities, mc_tasks
from capacity.queueing import division_job_stats
from capacity.sizing import size_to_slo

SIM = McConfig(replications=1, check_every_months=2, window_days=0.25, warmup_days=0.0625, seed=3, evaluator="sim",
               sim_gpus=1024)  # fmt: skip


@pytest.fixture(scope="module")
def starved(starved_scn):
    """memphis, 9 months, nothing can be bought: SLO-sized and solved (no Monte Carlo)."""
    scn = starved_scn
    plan = solve_plan(size_to_slo(plan_inputs(scn, horizon_months=9), division_job_stats(scn)))
    return scn, plan


def _perf(plan, m):
    inp = plan.inputs
    phys = sum(plan.gpus_installed[s][m] for s in inp.skus)
    return plan.capacity_ref_gpus(m) / phys if phys > 0 else 1.0


def test_sim_offers_the_forecast_load_not_the_allocation(starved):
    """Each division offers its forecast load; an overloaded one at least what it could get, never nothing.

    Fails if the tasks go back to the plan's allocation (``allocated x target_utilization``): the
    divisions the starved plan serves would offer ~8 % less than their forecast, and the division
    the hero leaves no capacity (Grok Main/Voice in 2024-09 and 2024-11) would offer nothing.
    """
    scn, plan = starved
    inp = plan.inputs
    task = mc_tasks(plan, scn, SIM)[0]
    assert [mo["month"] for mo in task["months"]] == [0, 2, 4, 6, 8]
    exact = over = zero_cap = 0
    for mo in task["months"]:
        m = mo["month"]
        caps = _division_capacities(plan, m)
        perf = _perf(plan, m)
        for d in inp.divisions:
            load = inp.load_gpus[d][m]
            offered = mo["demand_gpus"][d] * perf
            alloc_based = plan.allocated_gpus[d][m] * scn.capacity.target_utilization
            assert load > 0
            if load < caps[d]:  # served: exactly the forecast
                assert offered == pytest.approx(load, rel=1e-6), (m, d)
                assert abs(alloc_based - load) > 0.01 * load, "fixture: the allocation-based load would differ"
                exact += 1
            else:  # overloaded: more than it can get (its queue grows), at most the forecast, never nothing
                assert min(load, caps[d]) - 1e-6 <= offered <= load * (1 + 1e-9), (m, d, offered, caps[d], load)
                assert offered > 0, (m, d)
                over += 1
                zero_cap += caps[d] == 0
    assert exact >= 4 and over >= 4 and zero_cap >= 2, (exact, over, zero_cap)


def _fake_reps(plan, months, *, p95: float, censored: bool = False, window_s: float = 21600.0, warmup_s: float = 5400.0):
    divs = plan.inputs.divisions
    return [{"replication": r, "window_s": window_s, "warmup_s": warmup_s, "hero": {"finish_month_frac": None, "ettr": 0.9},
             "months": [{"month": m, "divisions": {d: {"p50_s": p95 / 2, "p95_s": p95, "mean_s": p95 / 2,
                                                       "jobs": 0 if p95 == 0 else 10, "unstarted": 0,
                                                       "censored": censored} for d in divs}} for m in months]}
            for r in range(2)]  # fmt: skip


def test_overloaded_months_never_report_a_wait_of_zero(starved):
    """A window that measured nothing (or a short wait) for an overloaded division reports a censored lower bound."""
    scn, plan = starved
    inp = plan.inputs
    months = [0, 2, 4, 6, 8]
    window_s, warmup_s = 21600.0, 5400.0
    mc = _aggregate(plan, scn, _fake_reps(plan, months, p95=0.0, window_s=window_s, warmup_s=warmup_s), computed=2, cached=0)
    over = {(x["month"], x["division"]) for x in mc.slo_misses if x["reason"] == "overloaded"}
    assert {(0, "Grok Main/Voice"), (2, "Grok Main/Voice")} <= over
    simulated = [x for x in mc.slo_misses if x["reason"] == "overloaded" and x["simulated"]]
    assert simulated
    for x in simulated:
        assert x["p95_s"] >= window_s - warmup_s and x["p95_censored"] is True, x
        assert x["p95_simulated_s"] == 0.0
    for x in mc.slo_misses:
        if not x["simulated"]:
            assert x["p95_s"] is None and x["p95_censored"] is False
    for d in inp.divisions:
        for j, m in enumerate(mc.months):
            is_over = mc.slo_status[d][m] == "overloaded"
            assert mc.waits[d]["censored"][j] == is_over
            if is_over:
                for k in ("p50_mean", "p50_lo", "p50_hi", "p95_mean", "p95_lo", "p95_hi"):
                    assert mc.waits[d][k][j] >= window_s - warmup_s, (d, m, k)
            else:
                assert mc.waits[d]["p95_mean"][j] == 0.0  # a served month keeps what the window measured


def test_a_saturated_window_is_flagged_censored(starved):
    """A served division whose window ended with >= 5 % of its jobs unstarted: its p95 is a lower bound."""
    scn, plan = starved
    long = 30 * 3600.0
    mc = _aggregate(plan, scn, _fake_reps(plan, [0, 2, 4, 6, 8], p95=long, censored=True), computed=2, cached=0)
    waits = [x for x in mc.slo_misses if x["reason"] == "wait"]
    assert waits, "served months whose p95 exceeds every SLO miss on wait"
    assert all(x["p95_censored"] and x["p95_s"] == pytest.approx(long) for x in waits)
