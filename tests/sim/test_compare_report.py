"""`colossus compare` report.html (per-division wait CDFs of each policy, the metric table) and the policy metrics."""

from __future__ import annotations

import json
import re
from html import escape
import subprocess
import sys
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
