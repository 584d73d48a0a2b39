"""Second MILP pass with the simulated ETTR (issue 7 item 3) and the sim evaluator's window fixes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.inputs import plan_inputs
from capacity.milp import solve_plan
from capacity.montecarlo import McConfig, McResult
from capacity.outputs import write_plan_folder
from capacity.replan import plan_and_check, plan_changes, replan_with_ettr, simulated_hero_ettr

_PLANS: dict[tuple[str, float], object] = {}


def _plan(make_small, variant: str, ettr: float):
    key = (variant, round(ettr, 6))
    if key not in _PLANS:
        kw = {"base": {}, "tight-power": {"cap_mw": 25.0}, "fast-growth": {"growth": 0.3}}[variant]
        _PLANS[key] = solve_plan(plan_inputs(make_small(**kw), hero_ettr=ettr))
    return _PLANS[key]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(variant=st.sampled_from(["base", "tight-power", "fast-growth"]),
       hi=st.floats(min_value=0.05, max_value=1.0), frac=st.floats(min_value=0.1, max_value=1.0))  # fmt: skip
def test_lower_ettr_never_plans_less_hero_capacity_nor_finishes_earlier(make_small, variant, hi, frac):
    """ETTR ``lo <= hi``: hero GPU-months, the planned capacity floor and the finish date do not decrease."""
    lo = max(0.01, hi * frac)
    a, b = _plan(make_small, variant, hi), _plan(make_small, variant, lo)
    assert sum(b.hero_gpus) >= sum(a.hero_gpus) - 0.5
    assert all(y >= x - 1e-6 for x, y in zip(a.planned_capacity_ref_gpus, b.planned_capacity_ref_gpus, strict=True))
    if a.hero_finish_date is None:
        assert b.hero_finish_date is None
    elif b.hero_finish_date is not None:  # None (not in the horizon) is the latest of all
        assert b.hero_finish_date >= a.hero_finish_date
    assert b.hero_late_tokens >= a.hero_late_tokens - 1e-6 * b.inputs.hero.tokens


def test_hero_gpu_months_scale_inversely_with_ettr_when_on_time(make_small):
    """Theory: with the hero on time, its GPU-months are tokens / (tokens per GPU-month), i.e. 1 / ETTR."""
    a, b = _plan(make_small, "base", 0.9), _plan(make_small, "base", 0.45)
    assert a.hero_late_tokens == 0 and b.hero_late_tokens == 0
    assert sum(b.hero_gpus) == pytest.approx(2 * sum(a.hero_gpus), rel=1e-4)


def _fake_mc(plan, ettrs: list[float | None]) -> McResult:
    reps = [{"replication": i, "months": [], "hero": None if e is None else
             {"ettr": e, "ettr_measured": True, "finish_month_frac": 1.0, "tokens_by_month": []}}
            for i, e in enumerate(ettrs)]  # fmt: skip
    return McResult(months=(), waits={}, slo_misses=[], hero_finish_months=[1.0] * len(ettrs), hero_finish={},
                    hero_ettr={}, computed=len(ettrs), cached=0, replications=reps)  # fmt: skip


def test_simulated_hero_ettr_averages_only_measurements(small):
    p = _plan(lambda **kw: small, "base", 0.9)
    assert simulated_hero_ettr(None) is None
    assert simulated_hero_ettr(_fake_mc(p, [0.6, None, 0.8])) == pytest.approx(0.7)
    sampled = _fake_mc(p, [0.5])
    sampled.replications[0]["hero"]["ettr_measured"] = False  # the queue evaluator's sample: not a measurement
    assert simulated_hero_ettr(sampled) is None


def test_plan_and_check_replans_once_with_the_measured_ettr(small, monkeypatch, tmp_path):
    """plan -> (stub) simulate -> re-plan: both ETTRs recorded, pass 2 derated, plan.json says so."""
    import capacity.replan as rp_mod

    calls = []

    def fake_run(plan, scn, cfg, **kw):
        calls.append(plan)
        return _fake_mc(plan, [0.5, 0.5])

    monkeypatch.setattr(rp_mod, "run_monte_carlo", fake_run)
    cfg = McConfig(replications=2, evaluator="sim")
    run = plan_and_check(small, cfg=cfg)
    assert len(calls) == 1, "one Monte Carlo (of pass 1); pass 2 is not simulated again"
    rp = run.replan
    assert rp.passes == 2 and rp.ettr_simulated == pytest.approx(0.5)
    assert rp.ettr_first_order == pytest.approx(run.replan.first_plan.inputs.hero.ettr)
    assert run.plan.inputs.hero.ettr == pytest.approx(0.5) and run.plan.inputs.hero.ettr_source == "simulation"
    assert rp.plan_changed and rp.changes == plan_changes(rp.first_plan, run.plan)
    assert run.plan.hero_finish_date >= rp.first_plan.hero_finish_date  # 0.5 < first-order ETTR (~0.89)
    paths = write_plan_folder(tmp_path, run.plan, run.mc, small, cfg, rp)
    doc = json.loads(paths["plan.json"].read_text())
    assert "Hero ETTR and re-plan" in paths["report.html"].read_text(encoding="utf-8")
    hero = doc["plan"]["hero"]
    assert hero["ettr_source"] == "simulation" and hero["ettr"] == pytest.approx(0.5)
    assert hero["ettr_simulated"] == pytest.approx(0.5) and hero["ettr_first_order"] == pytest.approx(rp.ettr_first_order)
    assert doc["replan"]["passes"] == 2 and doc["replan"]["plan_changed"] is True
    assert doc["replan"]["monte_carlo_checked"] == "pass 1" and doc["replan"]["changes"]


def test_queue_evaluator_keeps_first_order_ettr(small, tmp_path):
    cfg = McConfig(replications=2, check_every_months=4, window_days=0.5, warmup_days=0.1, seed=3, evaluator="queue")
    run = plan_and_check(small, cfg=cfg)
    assert run.replan.passes == 1 and run.plan is run.replan.first_plan and not run.replan.plan_changed
    doc = json.loads(write_plan_folder(tmp_path, run.plan, run.mc, small, cfg, run.replan)["plan.json"].read_text())
    assert doc["plan"]["hero"]["ettr_source"] == "first-order (Young/Daly)"
    assert doc["replan"]["passes"] == 1 and doc["replan"]["ettr_simulated"] is None


def test_replan_with_same_ettr_changes_nothing(small):
    first = _plan(lambda **kw: small, "base", 0.9)
    again = replan_with_ettr(first, small, 0.9)
    assert plan_changes(first, again) == () and again.hero_ettr_measured == pytest.approx(0.9)


def test_month0_window_has_the_fleet_from_its_start(small):
    """Regression (month-0 waits inflated): a phase dated inside the checked month is online at t=0."""
    from capacity.evaluators import _jsonable, window_scenario
    from colossus.scenario.loader import scenario_to_dict

    first = small.phases[0].date
    month0 = first.replace(day=1)
    assert first > month0, "fixture: the first phase starts after the 1st, as in memphis"
    mo = {"month": 0, "date": month0.isoformat(), "phases": [], "scale": 0.05, "hero_gpus": 0, "demand_gpus": {}}
    w = window_scenario(_jsonable(scenario_to_dict(small)), mo, window_days=0.25)
    assert w.gpus_online(0.0).get("H100", 0) == round(small.phases[0].arrays * 0.05) * small.cluster.gpus_per_array
    later = dataclasses.replace(small, phases=(*small.phases, dataclasses.replace(
        small.phases[0], date=month0 + dt.timedelta(days=40), arrays=10, name="next month")))  # fmt: skip
    w2 = window_scenario(_jsonable(scenario_to_dict(later)), mo, window_days=0.25)
    assert w2.gpus_online(0.0) == w.gpus_online(0.0), "a phase of a later month stays in the future"


def test_shrunk_hero_gets_a_model_that_fits(small):
    from capacity.evaluators import _fitting_model

    assert _fitting_model(small, "grok-3", "H100", 16384) == "grok-3"
    stand_in = _fitting_model(small, "grok-3", "H100", 232)  # grok-3 does not fit on 232 H100s
    assert stand_in != "grok-3"
    from colossus.steptime.models import get_model
    from colossus.steptime.throughput import throughput_table

    assert float(throughput_table(get_model(stand_in), small.gpu_spec("H100"), [232]).tokens_per_s(232)) > 0


@pytest.mark.slow
def test_sim_evaluator_measures_ettr_and_replans(make_small, tmp_path):
    """End to end with the real simulation: the hero runs in a checked month, its ETTR is measured and used."""
    scn = make_small(horizon=3)
    cfg = McConfig(replications=1, check_every_months=1, window_days=0.25, warmup_days=0.05, seed=7, evaluator="sim",
                   sim_gpus=1024)  # fmt: skip
    run = plan_and_check(scn, cfg=cfg, cache_dir=tmp_path / "cache")
    assert any(mo["hero_sim"] for mo in run.mc.replications[0]["months"])
    assert run.replan.passes == 2 and 0.0 < run.replan.ettr_simulated <= 1.0
    assert run.plan.inputs.hero.ettr_source == "simulation"
    for mo in run.mc.replications[0]["months"]:  # month 0 no longer waits the whole window
        for d, w in mo["divisions"].items():
            assert w["p50_s"] < cfg.window_days * 86400.0 - cfg.warmup_days * 86400.0 - 1.0, (mo["month"], d)
