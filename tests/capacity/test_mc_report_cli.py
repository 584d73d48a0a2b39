"""Monte Carlo reproducibility and resume, report content, browser rendering, CLI end to end."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from capacity.inputs import plan_inputs
from capacity.milp import solve_plan
from capacity.montecarlo import McConfig, run_monte_carlo
from capacity.outputs import write_plan_folder
from colossus.cli import cli

ROOT = Path(__file__).resolve().parents[2]
CFG = McConfig(replications=3, check_every_months=4, window_days=1.0, warmup_days=0.25, seed=7, evaluator="queue")
SIM_CFG = McConfig(replications=2, check_every_months=6, window_days=0.25, warmup_days=0.05, seed=7, evaluator="sim",
                   sim_gpus=1024)


@pytest.fixture(scope="module")
def planned(small):
    return solve_plan(plan_inputs(small))


def test_mc_reproducible_from_seed(small, planned):
    a = run_monte_carlo(planned, small, CFG)
    b = run_monte_carlo(planned, small, CFG)
    assert a.replications == b.replications
    c = run_monte_carlo(planned, small, dataclasses.replace(CFG, seed=8))
    assert c.replications != a.replications


def test_mc_resumes_after_interruption(small, planned, tmp_path):
    def boom(done, total):
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_monte_carlo(planned, small, CFG, cache_dir=tmp_path, progress=boom)
    assert len(list(tmp_path.glob("*.json"))) == 2
    full = run_monte_carlo(planned, small, CFG, cache_dir=tmp_path)
    assert (full.cached, full.computed) == (2, 1)
    assert full.replications == run_monte_carlo(planned, small, CFG).replications


@pytest.fixture(scope="module")
def sim_mc(small, planned, tmp_path_factory):
    cache = tmp_path_factory.mktemp("sim-cache")
    return run_monte_carlo(planned, small, SIM_CFG, cache_dir=cache), cache


@pytest.mark.slow
def test_sim_evaluator_runs_the_simulation(small, planned, sim_mc):
    """Each replication simulates every checked month: jobs ran, waits are finite and >= 0."""
    mc, _ = sim_mc
    assert mc.months == (0, 6, 7) and len(mc.replications) == 2
    for rep in mc.replications:
        for mo in rep["months"]:
            assert mo["sim_jobs"] > 0
            for d, w in mo["divisions"].items():
                assert 0.0 <= w["p50_s"] <= w["p95_s"] <= SIM_CFG.window_days * 86400.0 + 1e-6, d
        assert rep["hero"]["finish_month_frac"] is not None
    assert set(mc.waits) == set(planned.inputs.divisions)


@pytest.mark.slow
def test_sim_mc_reproducible_and_resumes(small, planned, sim_mc, tmp_path):
    mc, cache = sim_mc
    again = run_monte_carlo(planned, small, SIM_CFG, cache_dir=cache)  # everything from the cache
    assert (again.cached, again.computed) == (2, 0) and again.replications == mc.replications

    def boom(done, total):
        if done >= 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_monte_carlo(planned, small, SIM_CFG, cache_dir=tmp_path, progress=boom)
    assert len(list(tmp_path.glob("*.json"))) == 1
    resumed = run_monte_carlo(planned, small, SIM_CFG, cache_dir=tmp_path)
    assert (resumed.cached, resumed.computed) == (1, 1)
    assert json.dumps(resumed.replications, sort_keys=True) == json.dumps(mc.replications, sort_keys=True)
    other = run_monte_carlo(planned, small, dataclasses.replace(SIM_CFG, seed=8, replications=1))
    assert other.replications[0] != mc.replications[0]


def test_window_scenario_adds_planned_arrays(small):
    """The window scenario starts on the month, holds the plan's arrays as phases, shrunk by scale."""
    import datetime as dt

    from capacity.evaluators import _jsonable, window_scenario
    from colossus.scenario.loader import scenario_to_dict

    mo = {"month": 3, "date": "2024-12-01", "phases": [["2024-11-01", "B200", 20]], "scale": 0.5, "hero_gpus": 0,
          "demand_gpus": {}}
    w = window_scenario(_jsonable(scenario_to_dict(small)), mo, window_days=1.0)
    assert w.scenario.start_date == dt.date(2024, 12, 1)
    assert w.gpus_online(0.0).get("B200") == 10 * small.cluster.gpus_per_array
    assert w.gpus_online(0.0)["H100"] == 20 * small.cluster.gpus_per_array
    assert w.hero is None or not w.hero.enabled


def test_report_content(small, planned, tmp_path):
    mc = run_monte_carlo(planned, small, CFG)
    paths = write_plan_folder(tmp_path, planned, mc, small, CFG)
    html = paths["report.html"].read_text(encoding="utf-8")
    assert html.count("plotly.js v") <= 2 and len(re.findall(r"<script type=\"text/javascript\">/\*\*", html)) <= 1
    for heading in ("Capacity by SKU", "Power against the cap", "GPUs allocated per division", "Waits p50/p95",
                    "Hero run", "Cost by quarter", "Plan", "Inputs"):
        assert heading in html
    # self-contained: no script is fetched from anywhere (plotly.js itself only names a CDN for topojson maps)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "cdn.plot.ly" not in html.replace('dflt:"https://cdn.plot.ly/un/"', "")
    doc = json.loads(paths["plan.json"].read_text())
    assert doc["plan"]["months"] and "monte_carlo" in doc and doc["inputs"]["capacity"]


@pytest.mark.browser
def test_report_renders_in_headless_chromium(small, planned, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium); report rendering not checked")
    mc = run_monte_carlo(planned, small, CFG)
    report = write_plan_folder(tmp_path, planned, mc, small, CFG)["report.html"]
    n_charts = report.read_text().count("class='chart'")
    proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=8000", "--dump-dom", report.as_uri()],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.stdout.count('class="main-svg"') >= n_charts, "a chart container holds no rendered plot"
    errors = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln and ("ERROR" in ln or "Uncaught" in ln)]
    assert not errors, errors


def test_cli_plan_end_to_end(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["plan", str(ROOT / "examples" / "b200_300mw.toml"), "--horizon-months", "6",
                                   "-r", "1", "--window-days", "0.25",
                                   "--check-every", "6", "--evaluator", "queue", "--out", str(out), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc["plan"]["arrays_added"]) == {"B200"}
    assert max(doc["plan"]["power_cap_mw"]) == 300.0
    assert {p.name for p in out.iterdir()} >= {"plan.json", "plan.parquet", "report.html"}
    import pyarrow.parquet as pq

    assert pq.read_table(out / "plan.parquet").num_rows > 0


def test_cli_bad_scenario_is_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nname = 1\n")
    res = CliRunner().invoke(cli, ["plan", str(bad)])
    assert res.exit_code == 2


def test_cli_report_on_results_folder(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"divisions": {"Coding": {"wait_p50_s": 60.0, "wait_p95_s": 900.0}}}))
    res = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "Waits per division" in (tmp_path / "report.html").read_text()
