"""Planner MILP: properties (demand, power cap), unmet demand, hero deadline, ETTR theory."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.inputs import ettr_first_order, plan_inputs
from capacity.milp import solve_plan


def _cap_ref(plan):
    return [plan.capacity_ref_gpus(m) for m in range(plan.inputs.horizon)]


def test_plan_is_optimal_and_consistent(small):
    plan = solve_plan(plan_inputs(small))
    inp = plan.inputs
    assert plan.status == "Optimal"
    for m in range(inp.horizon):
        assert plan.power_mw[m] <= inp.power_cap_mw[m] * (1 + 1e-6)
        for s in inp.skus:
            assert plan.gpus_used[s][m] <= inp.usable_fraction * plan.gpus_installed[s][m] + 1e-6
        for d in inp.divisions:
            assert plan.allocated_gpus[d][m] + plan.unmet_gpus[d][m] >= inp.demand_gpus[d][m] - 1e-6
    for o in inp.options:  # lead times and delivery limits
        assert all(n == 0 for n in plan.arrays_added[o.sku][: o.first_month])
        assert all(n <= o.max_arrays_per_month for n in plan.arrays_added[o.sku])
    for q, row in plan.cost_by_quarter().items():
        assert row["capex_usd"] <= inp.budget_usd_per_quarter * (1 + 1e-9), q


def _installed_ref(plan):
    return [plan.capacity_ref_gpus(m) for m in range(plan.inputs.horizon)]


def _more_demand(base, factors, bumps):
    """``base`` with each division's demand scaled by its factor (>= 1) plus a per-month bump (>= 0)."""
    demand = {d: tuple(v * factors[i % len(factors)] + bumps[(i + m) % len(bumps)] for m, v in enumerate(vals))
              for i, (d, vals) in enumerate(base.demand_gpus.items())}
    return dataclasses.replace(base, demand_gpus=demand)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(factors=st.lists(st.floats(1.0, 4.0), min_size=1, max_size=4),
       bumps=st.lists(st.floats(0.0, 20000.0), min_size=1, max_size=6),
       cap_mw=st.sampled_from([25.0, 40.0, 80.0]))
def test_more_demand_never_lowers_planned_capacity(make_small, factors, bumps, cap_mw):
    """Planned capacity (installed reference-GPU floor, capacity.requirement) never falls when any demand rises.

    Holds month by month for any increase of any division's demand, under binding and slack
    power caps; and the installed capacity of both plans reaches its planned capacity.
    """
    base = plan_inputs(make_small(cap_mw=cap_mw))
    lo = solve_plan(base)
    hi = solve_plan(_more_demand(base, factors, bumps))
    for m in range(base.horizon):
        assert hi.planned_capacity_ref_gpus[m] >= lo.planned_capacity_ref_gpus[m] - 1e-6
        for plan in (lo, hi):
            assert _installed_ref(plan)[m] >= plan.planned_capacity_ref_gpus[m] * (1 - 1e-6)


def test_planned_capacity_tracks_demand_until_a_limit(small):
    """K = min(requirement, power limit, build-out): it follows demand, then stops at a limit."""
    from capacity.requirement import build_out_ref_gpus, power_limit_ref_gpus, requirement_ref_gpus

    inp = plan_inputs(small)
    plan = solve_plan(inp)
    r, p, b = requirement_ref_gpus(inp), power_limit_ref_gpus(inp), build_out_ref_gpus(inp)
    assert plan.planned_capacity_ref_gpus == tuple(min(x) for x in zip(r, p, b, strict=True))
    existing = [sum(inp.sku_perf[s] * inp.existing_gpus[s][m] for s in inp.skus) for m in range(inp.horizon)]
    bought = [bm - e for bm, e in zip(b, existing, strict=True)]
    assert all(bought[m + 1] >= bought[m] - 1e-6 for m in range(inp.horizon - 1))  # the build-out path never sells
    assert all(x >= -1e-6 for x in bought)
    huge = solve_plan(inp.scaled_demand(100.0))
    assert all(k <= min(pm, bm) + 1e-6 for k, pm, bm in zip(huge.planned_capacity_ref_gpus, p, b, strict=True))
    assert huge.total_unmet_gpu_months > 0  # demand beyond the limits is reported as unmet


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0.2, 1.0))
def test_tighter_power_cap_never_raises_mw_used(small, fraction):
    """Peak facility MW under a tighter cap never exceeds the looser plan's peak."""
    base = plan_inputs(small)
    loose = solve_plan(base)
    tight_mw = fraction * max(loose.power_mw)
    tighter = solve_plan(base.with_power_cap(tight_mw))
    assert max(tighter.power_mw) <= max(loose.power_mw) * (1 + 1e-6)
    assert all(p <= tight_mw * (1 + 1e-6) for p in tighter.power_mw)


def test_unmeetable_demand_is_reported_not_raised(make_small):
    scn = make_small(cap_mw=2.0, growth=0.5)  # 2 MW cannot even run the existing GPUs
    plan = solve_plan(plan_inputs(scn))
    assert plan.total_unmet_gpu_months > 0
    assert plan.hero_late_tokens > 0
    assert {b.constraint for b in plan.binding} >= {"power cap", "hero deadline"}


def test_no_capacity_section_is_an_input_error(small):
    from colossus.errors import InputError

    with pytest.raises(InputError, match="capacity"):
        plan_inputs(dataclasses.replace(small, capacity=None))


def test_ettr_matches_young_daly_theory(small):
    """facts.md §3.12: waste = delta/tau + (tau/2 + R)/M, with Daly's tau."""
    n = 16384
    e = ettr_first_order(small, n)
    m = 365.25 * 86400 / (small.failures.total_per_gpu_year * n)
    d = small.checkpoint.blocking_s
    r = small.checkpoint.restart_s + small.repair.detection_s
    x = d / (2 * m)
    tau = math.sqrt(2 * d * m) * (1 + math.sqrt(x) / 3 + x / 9) - d
    assert e == pytest.approx(1 - (d / tau + (tau / 2 + r) / m))
    assert ettr_first_order(small, 2 * n) < e  # more GPUs, more interruptions
    no_fail = dataclasses.replace(small, failures=dataclasses.replace(small.failures, enabled=False))
    assert ettr_first_order(no_fail, n) == 1.0


def test_hero_meets_an_easy_deadline(small):
    plan = solve_plan(plan_inputs(small))
    assert plan.hero_late_tokens == 0
    assert plan.hero_finish_date is not None and plan.hero_finish_date <= small.hero.target_finish_date
    assert sum(plan.hero_tokens) >= small.hero.tokens * (1 - 1e-6)


def test_hero_throughput_falls_back_to_mfu(small, monkeypatch):
    """Without the step-time throughput table, tokens/s/GPU = peak x MFU / (6 x active parameters)."""
    import colossus.steptime.throughput as tp
    from capacity.inputs import FALLBACK_MFU, hero_tokens_per_gpu_s
    from colossus.steptime.models import get_model

    def broken(*a, **k):
        raise RuntimeError("step-time model unavailable")

    monkeypatch.setattr(tp, "throughput_table", broken)
    tps, source = hero_tokens_per_gpu_s(small)
    spec = small.gpu_spec(small.hero.sku)
    assert tps == pytest.approx(spec.bf16_tflops * 1e12 * FALLBACK_MFU / (6.0 * get_model(small.hero.model).params_active()))
    assert "MFU" in source
