"""benchmarks/policies.py: the round-spacing replicas (``--phases``) and their aggregation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("policies_benchmark", REPO / "benchmarks" / "policies.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_phase_factors(bench):
    assert bench.phase_factors(1) == [1.0]
    f3 = bench.phase_factors(3)
    assert f3 == pytest.approx([1 - bench.PHASE_SPAN, 1.0, 1 + bench.PHASE_SPAN])
    assert 1.0 in bench.phase_factors(5) and len(bench.phase_factors(4)) == 4
    with pytest.raises(ValueError):
        bench.phase_factors(0)


def _run(policy, phase, large, never):
    return {"fleet": "phase1", "load": 1.0, "seed": 0, "policy": policy, "phase": phase, "wall_s": 1.0, "jobs": 10,
            "hero_progress": None, "wait_p95_small_s": 60.0, "wait_p95_large_s": large, "never_started": never,
            "useful_gpu_h": 100.0, "preemptions": 0, "lost_gpu_h": 0.0, "jain_slowdown": 1.0, "slo_met_share": 1.0,
            "wait_p95_rel": 0.1}


def test_aggregate_takes_the_median_and_measures_the_spread(bench):
    runs = [_run("milp", 0.97, 900.0, 3), _run("milp", 1.0, 1000.0, 9), _run("milp", 1.03, 1500.0, 4),
            _run("fairshare", 1.0, 800.0, 2)]
    rows, spread = bench.aggregate_phases(runs)
    m = rows[("phase1", 1.0, 0, "milp")]
    assert m["wait_p95_large_s"] == 1000.0 and m["never_started"] == 4.0 and m["phases"] == 3 and m["wall_s"] == 3.0
    assert rows[("phase1", 1.0, 0, "fairshare")]["phases"] == 1
    assert spread["wait_p95_large_s"]["milp"] == pytest.approx(600.0 / 1000.0)
    assert spread["never_started"]["milp"] == pytest.approx(6.0 / 4.0)
    assert "fairshare" not in spread["wait_p95_large_s"]  # one run: no spread to report


def test_time_limits_are_seeded_over_estimates(bench):
    import numpy as np
    import pyarrow as pa

    b = pa.record_batch({"job_id": ["a", "b", "c"], "duration_s": pa.array([100.0, None, 3600.0], type=pa.float64())})
    assert bench.with_time_limits([b], 1.0, 0) == [b]  # X = 1: exact run times, no limits
    one = bench.with_time_limits([b, b], 4.0, 7)
    tl = np.array([x.column("time_limit_s").to_pylist() for x in one], dtype=float)
    d = np.array([100.0, np.nan, 3600.0])
    assert np.all(np.isnan(tl[:, 1]))  # no run time, no limit
    ok = ~np.isnan(d)
    assert np.all(tl[:, ok] >= d[ok]) and np.all(tl[:, ok] <= 4.0 * d[ok])
    assert not np.array_equal(tl[0], tl[1], equal_nan=True)  # one generator across batches, not one per batch

    def limits(batches):
        return np.array([x.column("time_limit_s").to_pylist() for x in batches], dtype=float)

    assert np.array_equal(limits(bench.with_time_limits([b, b], 4.0, 7)), tl, equal_nan=True)  # same seed, same limits
    assert not np.array_equal(limits(bench.with_time_limits([b], 4.0, 8)), tl[:1], equal_nan=True)
    again = bench.with_time_limits(one, 4.0, 7)  # a limit already there is replaced, not doubled
    assert again[0].schema.names.count("time_limit_s") == 1


def test_estimate_x_below_one_is_a_usage_error(bench, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--estimate-x", "0.5", "--report-only", "--jsonl", "x.jsonl"])
    assert exc.value.code == 2 and "--estimate-x" in capsys.readouterr().err


def test_report_lists_each_miss_with_its_ranges(bench, capsys):
    runs = [_run("milp", 0.97, 900.0, 3), _run("milp", 1.0, 1000.0, 9), _run("milp", 1.03, 1500.0, 4),
            _run("fairshare", 0.97, 700.0, 2), _run("fairshare", 1.0, 800.0, 2), _run("fairshare", 1.03, 850.0, 2)]
    rows, _ = bench.aggregate_phases(runs)
    assert rows[("phase1", 1.0, 0, "milp")]["wait_p95_large_s_range"] == (900.0, 1500.0)
    bench.report(rows, ["phase1"], [1.0], [0], ["milp", "fairshare"])
    out = capsys.readouterr().out
    # large-job p95 1,000 against 800 (limit 880) and 4 never started against 2 (limit 3) miss; small-job p95 does not
    assert "phase1 load 1 seed 0, p95 wait, jobs >= 64 GPUs: milp 1,000 [900-1,500] vs fairshare 800 [700-850]" in out
    assert "phase1 load 1 seed 0, jobs never started: milp 4 [3-9] vs fairshare 2 [2-2]" in out
    assert "jobs <= 8 GPUs: milp" not in out
