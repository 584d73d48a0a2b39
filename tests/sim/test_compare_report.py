"""`colossus compare` report.html (per-division wait CDFs of each policy, the metric table) and the policy metrics."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import escape
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossus.sim.policy_metrics import METRICS, censored_waits, jain_index, policy_metrics

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _jobs_table(rows: list[dict]) -> pa.Table:
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    return pa.table(cols)


def _row(job_id, division, gpus, submit, first, useful=0.0, lost=0.0, pre=0, hero=False, run=100.0, end=float("nan")):
    return {"job_id": job_id, "division": division, "num_gpus": gpus, "is_hero": hero, "submit_time_s": submit,
            "first_start_s": first, "end_time_s": end, "run_s": run, "gpu_s_useful": useful, "gpu_s_lost": lost,
            "preemptions": pre}


def test_metrics_by_hand():
    nan = float("nan")
    t = _jobs_table([
        _row("a", "x", 1, 0.0, 10.0, useful=3600.0),
        _row("b", "x", 64, 0.0, nan),                       # never started: waits until the horizon
        _row("c", "y", 8, 100.0, 100.0, useful=7200.0, lost=3600.0, pre=2),
        _row("h", "x", 4096, 0.0, 0.0, useful=1e9, hero=True),  # the hero run is left out
    ])
    m = policy_metrics(t, 1000.0, {"a": 60.0, "b": 600.0, "c": 600.0})
    assert m.never_started == 1 and m.preemptions == 2
    assert m.useful_gpu_h == pytest.approx(3.0) and m.lost_gpu_h == pytest.approx(1.0)
    assert m.wait_p95_large_s == pytest.approx(1000.0)
    assert m.mean_slowdown["x"] == pytest.approx(((10 + 60) / 60 + (1000 + 600) / 600) / 2)
    assert m.mean_slowdown["y"] == pytest.approx(1.0)
    assert list(censored_waits(t, 1000.0)) == [10.0, 1000.0, 0.0, 0.0]
    assert np.isnan(m.slo_met_share) and np.isnan(m.wait_p95_rel)  # no targets given
    # against wait targets: x waits 10 s and 1,000 s on a 100 s target, y (no target) 0 s on the 50 s default
    m2 = policy_metrics(t, 1000.0, wait_targets_s={"x": 100.0}, default_target_s=50.0)
    assert m2.slo_met_share == pytest.approx(2 / 3)
    assert m2.wait_p95_rel == pytest.approx(float(np.quantile([0.1, 10.0, 0.0], 0.95)))


def test_never_started_grace_leaves_out_jobs_submitted_at_the_horizon():
    nan = float("nan")
    t = _jobs_table([
        _row("old", "x", 1, 0.0, nan),      # waited the whole horizon: starved
        _row("edge", "x", 1, 700.0, nan),   # submitted exactly grace before the horizon: counts
        _row("late", "x", 64, 950.0, nan),  # submitted 50 s before the horizon: had no round to start in
        _row("ran", "x", 1, 0.0, 5.0),
    ])
    assert policy_metrics(t, 1000.0).never_started == 3
    m = policy_metrics(t, 1000.0, grace_s=300.0)
    assert m.never_started == 2
    # its wait still counts (censored at the horizon) in the p95s
    assert m.wait_p95_large_s == pytest.approx(50.0)
    assert policy_metrics(t, 1000.0, grace_s=2000.0).never_started == 0
    with pytest.raises(ValueError, match="grace_s"):
        policy_metrics(t, 1000.0, grace_s=-1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.1, 1e4), min_size=1, max_size=8), st.floats(0.1, 100.0))
def test_jain_index_theory(x, c):
    j = jain_index(np.asarray(x))
    assert 1.0 / len(x) - 1e-12 <= j <= 1.0 + 1e-12
    assert jain_index(np.full(len(x), c)) == pytest.approx(1.0)  # all equal: perfectly fair
    assert jain_index(np.asarray(x) * c) == pytest.approx(j)  # scale-free
    one = np.zeros(len(x))
    one[0] = c
    assert jain_index(one) == pytest.approx(1.0 / len(x))  # one division takes all: 1/n


def test_compare_writes_report_with_cdfs_and_table(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    r = subprocess.run([sys.executable, "-c", "from colossus.cli import main; main()", "compare", str(HERE / "small.toml"),
                        "--days", "0.25", "--policy", "milp", "--policy", "fairshare", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    cmp = json.loads((out / "compare.json").read_text())
    # the metric table: every metric, every policy, the figures of compare.json
    assert "<table id='metrics'>" in html
    for _, label, _ in METRICS:
        assert escape(label) in html
    for p in ("milp", "fairshare"):
        m = cmp["policies"][p]["metrics"]
        assert f"{m['never_started']:,.0f}" in html
    # one CDF panel per division, one line per policy in each
    spec = re.search(r'Plotly\.newPlot\(\s*"wait-cdf-chart",\s*(\[.*?\]),\s*\{', html, re.S)
    assert spec is not None
    traces = json.loads(spec.group(1))
    divisions = sorted({k for p in cmp["policies"].values() for k in p["divisions"]})
    assert {(t["name"], t.get("xaxis", "x")) for t in traces} == {
        (p, "x" if i == 0 else f"x{i + 1}") for p in ("milp", "fairshare") for i in range(len(divisions))}
    for t in traces:  # CDFs: non-decreasing in both coordinates, ending at 1
        assert np.all(np.diff(t["x"]) >= 0) and np.all(np.diff(t["y"]) >= 0) and t["y"][-1] == pytest.approx(1.0)
    assert "replay-chart" not in html and "<table id='replay'>" not in html  # no recorded waits: no replay


def _spec(html: str, div_id: str) -> list[dict]:
    m = re.search(r'Plotly\.newPlot\(\s*"' + div_id + r'",\s*(\[.*?\]),\s*\{', html, re.S)
    assert m is not None, div_id
    return json.loads(m.group(1))


def _block(rec: list[float], sim: list[float], tau: float) -> dict:
    levels = [0.0, 0.5, 1.0]
    return {
        "trace": "mine.parquet", "jobs_matched": 4, "jobs_not_simulated": 0, "kendall_tau_start_order": tau,
        "all": {"jobs": 4, "censored": 0, "recorded": {"p50_s": rec[1], "p95_s": rec[2], "p99_s": rec[2], "mean_s": 7.0},
                "simulated": {"p50_s": sim[1], "p95_s": sim[2], "p99_s": sim[2], "mean_s": 9.0}},
        "divisions": {"a": {"jobs": 4, "censored": 0,
                            "recorded": {"p50_s": rec[1], "p95_s": rec[2], "p99_s": rec[2], "mean_s": 7.0},
                            "simulated": {"p50_s": sim[1], "p95_s": sim[2], "p99_s": sim[2], "mean_s": 9.0}}},
        "quantiles": {"levels": levels, "a": {"recorded": rec, "simulated": sim}},
    }


def test_replay_section_by_hand() -> None:
    """Recorded vs simulated per policy: the table (recorded once, a column per policy with a
    block, the best tau marked), and one panel per division with the recorded line and a line per
    policy; plotly.js inlined once even when the CDF chart is absent."""
    from colossus.sim.compare_report import render_compare_html

    replays = {"fifo": _block([0.0, 60.0, 7200.0], [0.0, 30.0, 3600.0], 0.5),
               "milp": _block([0.0, 60.0, 7200.0], [0.0, 90.0, 5400.0], 0.8),
               "fairshare": None}  # a policy without a block (e.g. stopped) is left out
    html = render_compare_html("t", {}, {}, replays)
    table = html[html.index("<table id='replay'>"):]
    table = table[: table.index("</table>")]
    assert "<th>fifo (simulated)</th><th>milp (simulated)</th></tr>" in table and "fairshare" not in table
    assert "<td class='rec'>60 s / 2.00 h / 2.00 h / 7 s</td><td>30 s / 1.00 h / 1.00 h / 9 s</td>" in table
    assert "<td>90 s / 1.50 h / 1.50 h / 9 s</td>" in table
    assert "<td class=''>0.500</td><td class='best'>0.800</td>" in table
    traces = _spec(html, "replay-chart")
    assert [(t["name"], t["x"]) for t in traces] == [
        ("recorded", [1.0, 60.0, 7200.0]), ("fifo (simulated)", [1.0, 30.0, 3600.0]),
        ("milp (simulated)", [1.0, 90.0, 5400.0])]  # waits < 1 s drawn at 1 s (log axis)
    assert all(t["y"] == [0.0, 0.5, 1.0] for t in traces)
    assert html.count("window.PlotlyConfig") == 1  # plotly.js once, with the replay chart here
    assert "Replay against what happened" not in render_compare_html("t", {}, {}, {"fifo": None})


def test_compare_trace_report_shows_replay(tmp_path: Path) -> None:
    """compare --trace T --out DIR with recorded waits (a real Slurm 22.05 export): DIR/report.html
    has the replay table and chart, with the figures of each DIR/<policy>/summary.json."""
    from click.testing import CliRunner

    from colossus.cli import cli
    from colossus.sim.compare_report import read_policy_replays

    src = REPO / "tests" / "traces" / "fixtures" / "sacct" / "slurm-22.05" / "sacct_allocations_typed.txt"
    trace, out = tmp_path / "mine.parquet", tmp_path / "cmp"
    runner = CliRunner()
    r = runner.invoke(cli, ["trace", "import", "sacct", str(src), "-o", str(trace), "--scenario",
                            str(REPO / "examples" / "slurm_4node.toml"), "--division-map",
                            str(REPO / "examples" / "slurm_4node_accounts.toml")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["compare", str(REPO / "examples" / "slurm_4node.toml"), "--trace", str(trace),
                            "--policy", "fifo", "--policy", "backfill", "--days", "0.1", "--out", str(out), "--quiet"],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text(encoding="utf-8")
    replays = read_policy_replays(out, ["fifo", "backfill", "milp"])
    assert set(replays) == {"fifo", "backfill"}  # milp was not run: no folder
    assert "Replay against what happened" in html and "Trace mine.parquet" in html
    table = html[html.index("<table id='replay'>"):]
    for p, b in replays.items():
        assert f"<th>{p} (simulated)</th>" in table
        for name, d in [*b["divisions"].items(), ("all", b["all"])]:
            assert f"<th style='text-align:left'>{name}</th><td>{d['jobs']:,}</td>" in table
            assert f"{d['simulated']['p99_s']:,.0f} s" in table
        assert f"{b['kendall_tau_start_order']:.3f}" in table
    traces = _spec(html, "replay-chart")
    divisions = sorted(replays["fifo"]["divisions"])
    assert len(divisions) >= 2
    assert {(t["name"], t.get("xaxis", "x")) for t in traces} == {
        (n, "x" if i == 0 else f"x{i + 1}") for n in ("recorded", "fifo (simulated)", "backfill (simulated)")
        for i in range(len(divisions))}
    rec = [t for t in traces if t["name"] == "recorded"]
    for t, d in zip(rec, divisions, strict=True):
        assert t["x"] == [max(w, 1.0) for w in replays["fifo"]["quantiles"][d]["recorded"]]
    assert html.count("window.PlotlyConfig") == 1

