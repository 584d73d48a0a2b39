"""The simulator plans with a job's time limit (``time_limit_s``) while the job runs its duration."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from colossus.scenario import load_scenario
from colossus.sim import simulate

SCENARIO = Path(__file__).resolve().parents[2] / "examples" / "slurm_4node.toml"  # 4 nodes x 8 GPUs


def _job(job_id: str, t: float, gpus: int, dur: float, limit: float | None = None) -> dict[str, Any]:
    rec = {"job_id": job_id, "submit_time_s": t, "division": "grok", "num_gpus": gpus, "duration_s": dur,
           "kind": "eval", "priority": 0, "preemptible": False}
    if limit is not None:
        rec["time_limit_s"] = limit
    return rec


def _starts(jobs: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    res = simulate(load_scenario(SCENARIO), jobs, "backfill", 0, 5000.0)
    return {r["job_id"]: (r["first_start_s"], r["end_time_s"]) for r in res.jobs.to_pylist()}


def test_pending_job_time_limit_stops_a_backfill_past_the_shadow_time() -> None:
    # "run" holds 24 of 32 GPUs until 100 s; the head needs all 32; "small" (8 GPUs, 10 s) fits now
    base = [_job("run", 0.0, 24, 100.0), _job("head", 1.0, 32, 50.0)]
    exact = _starts([*base, _job("small", 2.0, 8, 10.0)])
    limited = _starts([*base, _job("small", 2.0, 8, 10.0, limit=600.0)])
    assert exact["small"][0] < 10.0 < exact["head"][0]  # ends before the shadow time: backfilled
    assert limited["small"][0] >= limited["head"][0]  # its limit passes the shadow time: waits
    assert math.isclose(limited["small"][1] - limited["small"][0], 10.0)  # still runs its duration


def test_running_job_time_limit_moves_the_shadow_time() -> None:
    # "small" (8 GPUs, 500 s) would end after "run"'s real end (100 s) but before its limit (1000 s)
    jobs = [_job("run", 0.0, 24, 100.0), _job("head", 1.0, 32, 50.0), _job("small", 2.0, 8, 500.0)]
    exact = _starts(jobs)
    jobs[0] = _job("run", 0.0, 24, 100.0, limit=1000.0)
    limited = _starts(jobs)
    assert exact["head"][0] < exact["small"][0]  # shadow 100 s: small would delay the head
    assert limited["small"][0] < 10.0 < limited["head"][0]  # shadow 1000 s: small backfills
    assert math.isclose(limited["run"][1], 100.0, abs_tol=1.0)  # run still ends at its duration


def test_no_limit_column_and_null_limits_give_the_same_results() -> None:
    jobs = [_job("run", 0.0, 24, 100.0), _job("head", 1.0, 32, 50.0), _job("small", 2.0, 8, 10.0)]
    nulls = [{**j, "time_limit_s": None} for j in jobs]
    assert _starts(jobs) == _starts(nulls)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 60), st.sampled_from([1, 2, 4, 8, 16, 32]), st.floats(1, 120),
                          st.one_of(st.none(), st.floats(0, 600))), min_size=1, max_size=25))
def test_property_limits_change_plans_not_run_times(rows: list[tuple[float, int, float, float | None]]) -> None:
    """With any limits (some shorter than the run), every job starts, runs exactly its duration, and
    the debug checks (no GPU twice, allocation <= capacity, each decision valid) hold every round."""
    rows = sorted(rows)
    jobs = [_job(f"j{i}", t, g, d, None if lim is None else d + lim * (1 if i % 3 else -0.5))
            for i, (t, g, d, lim) in enumerate(rows)]
    res = simulate(load_scenario(SCENARIO), jobs, "backfill", 0, 20000.0, debug=True)
    got = {r["job_id"]: r for r in res.jobs.to_pylist()}
    assert len(got) == len(jobs)
    for j in jobs:
        r = got[j["job_id"]]
        assert r["state"] == "completed" and r["first_start_s"] >= j["submit_time_s"]
        assert math.isclose(r["end_time_s"] - r["first_start_s"], j["duration_s"], rel_tol=1e-9, abs_tol=1e-6)
