"""Conservation (debug mode), determinism, CLI and example scenarios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from colossus.scenario import load_scenario
from colossus.sim import JOB_STATES, simulate

REPO = Path(__file__).resolve().parents[2]


def _jobs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = 0.0
    for i in range(n):
        t += float(rng.exponential(60.0))
        yield {"job_id": f"j{i}", "submit_time_s": t, "division": ["vc-a", "vc-b", "vc-c", "vc-d"][i % 4],
               "num_gpus": int(rng.choice([1, 2, 8, 16, 64])), "duration_s": float(rng.exponential(3600.0)),
               "kind": "train"}


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from colossus.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


def _scn():
    return load_scenario(REPO / "examples" / "philly_replay.toml")


def test_conservation_debug_mode_with_failures() -> None:
    """(c) every job ends in one state; checks run every round (debug raises on a violation)."""
    import dataclasses

    scn = _scn()
    f = dataclasses.replace(scn.failures, enabled=True, rates_per_gpu_year={"gpu": 20.0})
    scn = dataclasses.replace(scn, failures=f)
    res = simulate(scn, _jobs(800), "fifo", 3, 2 * 86400.0, debug=True)
    states = res.jobs.column("state").to_pylist()
    assert set(states) <= set(JOB_STATES)
    assert len(states) == res.jobs.num_rows == len(set(res.jobs.column("job_id").to_pylist()))
    assert res.summary["cluster"]["failures"] > 0
    alloc = res.jobs.column("gpu_s_allocated").to_numpy()
    useful = res.jobs.column("gpu_s_useful").to_numpy()
    assert np.all(useful <= alloc + 1e-6)
    ts = res.timeseries
    assert np.all(ts.column("gpus_allocated").to_numpy() <= ts.column("gpus_healthy").to_numpy())


def test_same_seed_byte_identical_parquet(tmp_path: Path) -> None:
    scn = _scn()
    for name in ("a", "b"):
        simulate(scn, _jobs(300), "fifo", 7, 86400.0).write(tmp_path / name)
    for f in ("jobs.parquet", "timeseries.parquet", "rounds.parquet"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_cli_simulate_and_compare(tmp_path: Path) -> None:
    r = _cli(["simulate", str(REPO / "examples" / "philly_replay.toml"), "--days", "0.5",
                                  "--policy", "fifo", "--out", str(tmp_path / "run"), "--quiet"])
    assert r.returncode == 0, r.stderr
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"jobs.parquet", "timeseries.parquet", "rounds.parquet", "summary.json"}
    r = _cli(["compare", str(REPO / "examples" / "philly_replay.toml"), "--days", "0.25",
                                  "--policy", "fifo", "--policy", "backfill", "--json"])
    assert r.returncode == 0, r.stderr
    r = _cli(["simulate", "nope.toml"])
    assert r.returncode == 2
