"""The check sees the demand (issue 12 item 1): a plan that leaves demand unmet is flagged, with the sim evaluator."""

from __future__ import annotations

import dataclasses
import json

import pytest

from capacity.montecarlo import McConfig
from capacity.outputs import write_plan_folder
from capacity.replan import plan_and_check, sizing_to_dict

FAST_SIM = McConfig(replications=1, check_every_months=3, window_days=0.25, warmup_days=0.0625, seed=5, evaluator="sim",
                    sim_gpus=1024)  # fmt: skip


@pytest.fixture(scope="module")
def starved_run(starved_scn):
    """memphis, 9 months, ``budget_usd_per_quarter = 1.0`` (nothing can be bought), one check with the sim evaluator."""
    return plan_and_check(starved_scn, horizon_months=9, cfg=FAST_SIM, max_iterations=1)


def test_starved_plan_flags_every_short_division_month(starved_run):
    plan, mc = starved_run.plan, starved_run.mc
    inp = plan.inputs
    short = {(m, d) for m in range(inp.horizon) for d in inp.divisions if plan.unmet_gpus[d][m] > 0.5}
    flagged = {(x["month"], x["division"]) for x in mc.slo_misses}
    assert len(short) >= 12, "fixture: the starved plan is short in many division-months"
    assert short <= flagged, sorted(short - flagged)
    overloaded = {(x["month"], x["division"]) for x in mc.slo_misses if x["reason"] == "overloaded"}
    assert overloaded <= short, "the overload check describes the plan written (also after the ETTR re-plan)"
    for x in mc.slo_misses:
        assert x["reason"] in ("overloaded", "wait") and x["date"] == inp.months[x["month"]].isoformat()
        assert x["slo_s"] == inp.wait_p95_slo_s[x["division"]]
        if x["reason"] == "overloaded":
            assert x["load_ratio"] is None or x["load_ratio"] >= 1.0
        else:
            assert x["p95_s"] > x["slo_s"]
    for d in inp.divisions:
        assert len(mc.slo_status[d]) == inp.horizon
        for m in range(inp.horizon):
            assert (mc.slo_status[d][m] in ("missed", "overloaded")) == ((m, d) in flagged)


def test_sim_evaluator_simulates_the_forecast_load(starved_run):
    """The windows hold jobs even for divisions the plan allocates nothing, and their waits are bounded by the window."""
    mc = starved_run.mc
    inp = starved_run.plan.inputs
    assert mc.months == (0, 3, 6, 8)
    rep = mc.replications[0]
    for mo in rep["months"]:
        assert mo["sim_jobs"] > 0
        for d, w in mo["divisions"].items():
            assert 0.0 <= w["p50_s"] <= w["p95_s"] <= FAST_SIM.window_days * 86400.0 + 1e-6, d
    month0 = rep["months"][0]["divisions"]
    assert all(starved_run.plan.allocated_gpus[d][0] < inp.load_gpus[d][0] for d in inp.divisions)
    assert all(month0[d]["jobs"] > 0 for d in inp.divisions), "every division the plan starves still submits work"
    assert starved_run.plan.allocated_gpus["Grok Main/Voice"][0] == 0.0, "fixture: the hero leaves its division nothing"


def test_overloaded_waits_are_censored_lower_bounds(starved_run):
    """An overloaded division-month never reports the window's short (or zero) wait: at least window - warm-up, censored."""
    mc = starved_run.mc
    bound = (FAST_SIM.window_days - FAST_SIM.warmup_days) * 86400.0
    over = [x for x in mc.slo_misses if x["reason"] == "overloaded" and x["simulated"]]
    assert len(over) >= 8
    for x in over:
        assert x["p95_s"] >= bound and x["p95_censored"], x
        j = mc.months.index(x["month"])
        assert mc.waits[x["division"]]["censored"][j] and mc.waits[x["division"]]["p50_mean"][j] >= bound


def test_unfixable_misses_name_their_constraint(starved_run, tmp_path, starved_scn):
    plan = starved_run.plan
    first_buy = min(o.first_month for o in plan.inputs.options)
    by = {(u.month, u.division): (u.constraint, *u.also) for u in starved_run.unresolved}
    assert by, "the starved plan cannot meet its SLOs"
    for (m, _d), cons in by.items():
        if m < first_buy:
            assert cons == ("lead time",), (m, cons)
        else:
            assert "budget" in cons, (m, cons)
    sizing = sizing_to_dict(starved_run)
    paths = write_plan_folder(tmp_path, plan, starved_run.mc, starved_scn, FAST_SIM, starved_run.replan, sizing)
    doc = json.loads(paths["plan.json"].read_text())
    misses = doc["monte_carlo"]["slo_misses"]
    assert misses and {"date", "division", "p95_s", "slo_s", "reason"} <= set(misses[0])
    assert doc["sizing"]["unresolved"] and doc["sizing"]["iterations"][0]["misses_overloaded"] > 0
    html = paths["report.html"].read_text(encoding="utf-8")
    assert "SLO sizing rounds" in html and "overloaded" in html


def test_report_opens_with_the_executive_summary(starved_run, tmp_path, starved_scn):
    """Issue 12 item 5: section id="summary" comes first, with the SLO heatmap and what it would take."""
    import re

    sizing = sizing_to_dict(starved_run)
    paths = write_plan_folder(tmp_path, starved_run.plan, starved_run.mc, starved_scn, FAST_SIM, starved_run.replan, sizing)
    html = paths["report.html"].read_text(encoding="utf-8")
    first = re.search(r"<section[^>]*>", html).group(0)
    assert first == '<section id="summary">' and html.count('id="summary"') == 1
    summary = html[html.index(first):html.index("</section>")]
    inp = starved_run.plan.inputs
    assert summary.count("<td class='overloaded'") == sum(row.count("overloaded") for row in starved_run.mc.slo_status.values())
    assert summary.count("<td class=") == len(inp.divisions) * inp.horizon
    doc = json.loads(paths["plan.json"].read_text())
    take = {t["constraint"]: t for t in doc["summary"]["what_it_would_take"]}
    assert {"lead time", "budget"} <= set(take)
    assert take["budget"]["add_usd_per_quarter"] > 0 and take["budget"]["text"] in summary
    assert doc["summary"]["total_capex_usd"] == 0.0 and doc["summary"]["buys"] == []
    assert doc["monte_carlo"]["hero_finish_source"] == "simulated progress" and doc["monte_carlo"]["hero_stitching"]
    assert "stitched from the windows" in html


def test_cli_starved_plan_reports_overload(tmp_path, starved_scn):
    """End to end from the CLI with the default (sim) evaluator on a small window: the misses are printed and written."""
    import tomli_w
    from click.testing import CliRunner

    from colossus.cli import cli
    from colossus.scenario.loader import scenario_to_dict

    path = tmp_path / "starved.toml"
    path.write_bytes(tomli_w.dumps(scenario_to_dict(starved_scn)).encode())
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["plan", str(path), "--horizon-months", "4", "-r", "1", "--window-days", "0.25",
                                   "--sim-gpus", "1024", "--check-every", "3", "--max-iterations", "1", "-w", "1",
                                   "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "overloaded" in res.output and "SLO sizing: 1 plan-and-check round" in res.output
    doc0 = json.loads((out / "plan.json").read_text())
    left = len(doc0["monte_carlo"]["slo_misses"])
    assert left and doc0["sizing"]["misses_left"] == left
    text = " ".join(res.output.split())  # rich wraps lines
    assert "(converged" not in text and f"stopped with {left} SLO miss(es) left that another round cannot fix" in text
    doc = json.loads((out / "plan.json").read_text())
    assert doc["monte_carlo"]["evaluator"] == "sim"
    assert {m["reason"] for m in doc["monte_carlo"]["slo_misses"]} >= {"overloaded"}
    assert doc["sizing"]["iterations"][0]["misses_overloaded"] == len(doc["monte_carlo"]["slo_misses"]) - doc["sizing"]["iterations"][0]["misses_wait"]


def test_overload_follows_the_plan_written(starved_run, starved_scn):
    """After a re-plan that is not simulated again, the overload check (no simulation needed) is the final plan's."""
    from capacity.inputs import plan_inputs
    from capacity.milp import solve_plan
    from capacity.montecarlo import reaggregate
    from capacity.overload import load_ratios

    ratios = load_ratios(starved_run.plan)
    assert starved_run.mc.load_ratio == {d: [None if v == float("inf") else v for v in r] for d, r in ratios.items()}
    from colossus.scenario.types import GridStep

    scn = starved_scn
    rich = dataclasses.replace(scn, capacity=dataclasses.replace(scn.capacity, budget_usd_per_quarter=1e12),
                               power=dataclasses.replace(scn.power, grid=(GridStep(date=scn.scenario.start_date, mw=5000.0),)))
    ample = solve_plan(plan_inputs(rich, horizon_months=9))
    again = reaggregate(ample, scn, starved_run.mc)
    short = {(m, d) for m in range(9) for d in ample.inputs.divisions if ample.unmet_gpus[d][m] > 0.5}
    over = {(x["month"], x["division"]) for x in again.slo_misses if x["reason"] == "overloaded"}
    assert over <= short and len(over) < sum(1 for x in starved_run.mc.slo_misses if x["reason"] == "overloaded")
    assert again.replications == starved_run.mc.replications


def test_cli_mip_gap_solves_an_ample_plan(tmp_path, starved_scn):
    """With an ample budget and grid the default gap (1e-6) runs to the 60 s limit; with --mip-gap 1e-3 the
    solver proves an optimum (status Optimal, not a time-limited feasible plan)."""
    import tomli_w
    from click.testing import CliRunner

    from colossus.cli import cli
    from colossus.scenario.loader import scenario_to_dict
    from colossus.scenario.types import GridStep

    scn = starved_scn
    ample = dataclasses.replace(scn, capacity=dataclasses.replace(scn.capacity, budget_usd_per_quarter=1e12),
                                power=dataclasses.replace(scn.power, grid=(GridStep(date=scn.scenario.start_date, mw=5000.0),)))
    path = tmp_path / "ample.toml"
    path.write_bytes(tomli_w.dumps(scenario_to_dict(ample)).encode())
    res = CliRunner().invoke(cli, ["plan", str(path), "-r", "0", "--mip-gap", "1e-3", "--out", str(tmp_path / "out"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert doc["plan"]["status"] == "Optimal"
