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
