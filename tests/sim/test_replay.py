"""Replay against what happened: recorded vs simulated waits, Kendall tau of the start order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from colossus.cli import cli
from colossus.sim.replay import kendall_tau_b, replay_comparison

ROOT = Path(__file__).resolve().parents[2]


def _brute_tau(x: list[float], y: list[float]) -> float | None:
    c = d = tx = ty = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            a = (x[i] > x[j]) - (x[i] < x[j])
            b = (y[i] > y[j]) - (y[i] < y[j])
            if a == 0 and b == 0:
                continue
            if a == 0:
                tx += 1
            elif b == 0:
                ty += 1
            elif a == b:
                c += 1
            else:
                d += 1
    den = math.sqrt((c + d + tx) * (c + d + ty))
    return (c - d) / den if den else None


@settings(max_examples=80, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.integers(0, 12), st.one_of(st.integers(0, 12), st.just(10**9))),
        min_size=0,
        max_size=70,
    )
)
def test_kendall_tau_b_matches_the_definition(pairs: list[tuple[int, int]]) -> None:
    x = [float(a) for a, _ in pairs]
    y = [math.inf if b == 10**9 else float(b) for _, b in pairs]
    got = kendall_tau_b(np.array(x), np.array(y))
    want = _brute_tau(x, y)
    if want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, abs=1e-12)


def test_kendall_tau_extremes() -> None:
    x = np.arange(1000.0)
    assert kendall_tau_b(x, x * 2 + 1) == pytest.approx(1.0)
    assert kendall_tau_b(x, -x) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    assert abs(kendall_tau_b(x, rng.permutation(x))) < 0.06  # sd ~0.021 for n = 1000


def test_replay_comparison_by_hand() -> None:
    jobs = pa.table({
        "job_id": ["a", "b", "c", "d", "x"],
        "division": ["A", "A", "B", "B", "B"],
        "submit_time_s": [0.0, 10.0, 20.0, 30.0, 40.0],
        "first_start_s": [5.0, 110.0, 20.0, math.nan, 41.0],
    })
    trace = pa.table({
        "job_id": ["a", "b", "c", "d", "x", "late"],
        "submit_time_s": [0.0, 10.0, 20.0, 30.0, 40.0, 999.0],
        "recorded_wait_s": [1.0, 2.0, 3.0, 4.0, None, 5.0],
    })
    r = replay_comparison(jobs, trace, horizon_s=1030.0, source="t.parquet")
    assert r is not None
    assert r["jobs_matched"] == 4 and r["jobs_not_simulated"] == 1  # 'x' has no record, 'late' no job
    a, b = r["divisions"]["A"], r["divisions"]["B"]
    assert a["recorded"]["mean_s"] == 1.5 and a["simulated"]["mean_s"] == 52.5
    assert b["censored"] == 1 and b["simulated"]["p99_s"] == pytest.approx(990.0)  # waits 0 and 1000
    assert b["simulated"]["mean_s"] == 500.0  # d waits up to the horizon: 1030 - 30
    # recorded starts a=1, b=12, c=23, d=34; simulated a=5, b=110, c=20, d=never: b and c swap
    assert r["kendall_tau_start_order"] == pytest.approx(_brute_tau([1, 12, 23, 34], [5, 110, 20, math.inf]))
    assert r["quantiles"]["levels"][0] == 0.0 and len(r["quantiles"]["A"]["simulated"]) == 21
    json.dumps(r, allow_nan=False)
    assert replay_comparison(jobs, trace.drop_columns(["recorded_wait_s"]), horizon_s=1.0) is None


def _small_scenario(tmp: Path) -> Path:
    text = (ROOT / "examples" / "philly_replay.toml").read_text()
    text = re.sub(r"^arrays = 39", "arrays = 2", text, count=1, flags=re.M)  # 128 GPUs: queues form
    path = tmp / "small.toml"
    path.write_text(text)
    return path


def test_self_replay_reproduces_itself_and_another_policy_does_not(tmp_path: Path) -> None:
    """A FIFO run's own waits, written back as recorded waits, replay exactly under FIFO with the
    same seed (equal percentiles, tau = 1) and differ under milp (on this quota-bound cluster
    backfill and fairshare start the same order as fifo): end to end through simulate --out,
    compare --out, summary.json, the terminal tables and report.html."""
    from colossus.scenario import load_scenario
    from colossus.scenario.workload import division_loads, to_workload_params
    from traces.generator import generate_table
    from traces.writer import write_trace

    scn_path = _small_scenario(tmp_path)
    scn = load_scenario(scn_path)
    params = dataclasses.replace(to_workload_params(scn.workload), offered_load_gpus=100.0)
    start = dt.datetime.combine(scn.scenario.start_date, dt.time(), tzinfo=dt.UTC)
    t = generate_table(params, division_loads(scn.workload, scn.divisions), days=0.5, seed=2, start=start)
    t = t.filter(pc.less_equal(t.column("num_gpus"), 64))
    plain = tmp_path / "plain.parquet"
    write_trace(plain, t, start=start, source="test")
    runner = CliRunner()
    r = runner.invoke(cli, ["simulate", str(scn_path), "--trace", str(plain), "--days", "1.5", "--policy", "fifo",
                            "--out", str(tmp_path / "first"), "--quiet"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "replay" not in json.loads((tmp_path / "first" / "summary.json").read_text())
    jobs = pq.read_table(tmp_path / "first" / "jobs.parquet")
    waits = dict(zip(jobs.column("job_id").to_pylist(), jobs.column("wait_s").to_pylist(), strict=True))
    rec = [None if (w := waits[j]) is None or math.isnan(w) else w for j in t.column("job_id").to_pylist()]
    assert np.nanmax(np.array(rec, dtype=float)) > 600  # the small cluster really queued jobs
    history = tmp_path / "history.parquet"
    write_trace(history, t.append_column("recorded_wait_s", pa.array(rec, pa.float64())), start=start,
                source="test history")
    r = runner.invoke(cli, ["compare", str(scn_path), "--trace", str(history), "--days", "1.5", "--policy", "fifo",
                            "--policy", "milp", "--out", str(tmp_path / "cmp")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "replay against what happened" in r.output and "start-order Kendall tau" in r.output
    fifo = json.loads((tmp_path / "cmp" / "fifo" / "summary.json").read_text())["replay"]
    back = json.loads((tmp_path / "cmp" / "milp" / "summary.json").read_text())["replay"]
    assert fifo["kendall_tau_start_order"] == pytest.approx(1.0)
    for name, d in fifo["divisions"].items():
        assert d["recorded"] == d["simulated"], name
    assert back["kendall_tau_start_order"] < 1.0
    assert any(d["recorded"] != d["simulated"] for d in back["divisions"].values())
    html = (tmp_path / "cmp" / "milp" / "report.html").read_text()
    assert "Replay: recorded vs simulated waits" in html
    cmp = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert cmp["policies"]["fifo"]["replay"]["kendall_tau_start_order"] == pytest.approx(1.0)
    r = runner.invoke(cli, ["simulate", str(scn_path), "--trace", str(history), "--days", "1.5", "--policy", "fifo",
                            "--json"], catch_exceptions=False)
    assert json.loads(r.stdout)["replay"]["all"]["recorded"] == fifo["all"]["simulated"]
