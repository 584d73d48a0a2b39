"""SLO-driven sizing rounds (issue 12 item 3): raise where the simulation misses, re-plan, stop when met."""

from __future__ import annotations

import dataclasses

import pytest

from capacity.inputs import plan_inputs
from capacity.milp import solve_plan
from capacity.montecarlo import McConfig, McResult
from capacity.queueing import division_job_stats, required_gpus
from capacity.replan import plan_and_check, sizing_to_dict
from capacity.sizing import limiting_constraints, size_to_slo


def _mc(plan, misses, months=(0, 3, 6, 7)):
    inp = plan.inputs
    status = {d: ["met"] * inp.horizon for d in inp.divisions}
    for x in misses:
        status[x["division"]][x["month"]] = "missed"
    return McResult(months=tuple(months), waits={}, slo_misses=misses, hero_finish_months=[], hero_finish={},
                    hero_ettr={}, computed=1, cached=0, replications=[], load_ratio={}, slo_status=status)  # fmt: skip


def test_requirement_comes_from_the_slo(small):
    inp = plan_inputs(small)
    stats = division_job_stats(small)
    sized = size_to_slo(inp, stats)
    for d in inp.divisions:
        for m in range(inp.horizon):
            assert sized.demand_gpus[d][m] == pytest.approx(required_gpus(inp.load_gpus[d][m], stats[d], inp.wait_p95_slo_s[d]))
            assert sized.demand_gpus[d][m] >= inp.load_gpus[d][m]
    tighter = dataclasses.replace(inp, wait_p95_slo_s={d: v / 10 for d, v in inp.wait_p95_slo_s.items()})
    assert all(a >= b - 1e-6 for d in inp.divisions
               for a, b in zip(size_to_slo(tighter, stats).demand_gpus[d], sized.demand_gpus[d], strict=True))


def test_a_served_miss_raises_its_months_and_replans(small, monkeypatch):
    """Round 0 misses Coding in checked month 3 (served): months 3-5 get more, round 1 meets everything."""
    import capacity.replan as rp_mod

    plans = []

    def fake_run(plan, scn, cfg, **kw):
        plans.append(plan)
        if len(plans) == 1:
            return _mc(plan, [{"month": 3, "date": plan.inputs.months[3].isoformat(), "division": "Coding",
                               "p95_s": 7200.0, "slo_s": 3600.0, "reason": "wait", "load_ratio": 0.9, "simulated": True}])
        return _mc(plan, [])

    monkeypatch.setattr(rp_mod, "run_monte_carlo", fake_run)
    run = plan_and_check(small, cfg=McConfig(replications=1, evaluator="queue"), max_iterations=3)
    assert len(run.iterations) == 2 and len(plans) == 2
    a, b = plans[0].inputs.demand_gpus["Coding"], plans[1].inputs.demand_gpus["Coding"]
    (r,) = run.iterations[0].raises
    assert r.months == (3, 4, 5) and r.extra_gpus > 0
    for m in range(small.capacity.horizon_months):
        assert b[m] == pytest.approx(a[m] + (r.extra_gpus if m in r.months else 0.0))
    assert all(y >= x - 1e-6 for x, y in zip(plans[0].planned_capacity_ref_gpus, plans[1].planned_capacity_ref_gpus, strict=True))
    assert run.plan is plans[1] and run.replan.final_checked
    doc = sizing_to_dict(run)
    assert doc["converged"] and [it["index"] for it in doc["iterations"]] == [0, 1]
    assert doc["iterations"][0]["raised"][0]["division"] == "Coding"


def test_iteration_limit_is_named(small, monkeypatch):
    import capacity.replan as rp_mod

    def always_miss(plan, scn, cfg, **kw):
        return _mc(plan, [{"month": 0, "date": plan.inputs.months[0].isoformat(), "division": "Data", "p95_s": 9e4,
                           "slo_s": 14400.0, "reason": "wait", "load_ratio": 0.5, "simulated": True}])

    monkeypatch.setattr(rp_mod, "run_monte_carlo", always_miss)
    run = plan_and_check(small, cfg=McConfig(replications=1, evaluator="queue"), max_iterations=2)
    assert len(run.iterations) == 2 and not run.iterations[-1].raises
    assert [u.constraint for u in run.unresolved] == ["iteration limit"]
    assert not sizing_to_dict(run)["converged"]


def test_limiting_constraints_name_power_and_lead_time(make_small):
    plan = solve_plan(plan_inputs(make_small(cap_mw=2.0, growth=0.5)))
    first = min(o.first_month for o in plan.inputs.options)
    assert limiting_constraints(plan, 0)[0][0] == "lead time"
    assert "power cap" in [c for c, _ in limiting_constraints(plan, first)]
