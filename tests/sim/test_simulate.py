"""Conservation (debug mode), determinism, CLI and example scenarios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from colossus.scenario import load_scenario
from colossus.sim import JOB_STATES, simulate

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


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
    return load_scenario(HERE / "small.toml")


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
    r = _cli(["simulate", str(HERE / "small.toml"), "--days", "0.5",
                                  "--policy", "fifo", "--out", str(tmp_path / "run"), "--quiet"])
    assert r.returncode == 0, r.stderr
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"jobs.parquet", "timeseries.parquet", "rounds.parquet", "summary.json"}
    r = _cli(["compare", str(HERE / "small.toml"), "--days", "0.25",
                                  "--policy", "fifo", "--policy", "backfill", "--json"])
    assert r.returncode == 0, r.stderr
    r = _cli(["simulate", "nope.toml"])
    assert r.returncode == 2


def test_unknown_policy_is_bad_input_not_a_silent_fallback() -> None:
    import pytest

    from scheduler.errors import SchedulerInputError

    scn = load_scenario(HERE / "small.toml")
    with pytest.raises(SchedulerInputError, match="unknown policy"):
        simulate(scn, _jobs(3), "no-such-policy", 0, 3600.0)


def test_generated_workload_uses_the_scenario_divisions() -> None:
    from colossus.sim.workload import workload_batches

    scn = load_scenario("memphis")
    batches = list(workload_batches(scn, 0.05, 3))
    assert batches and sum(b.num_rows for b in batches) > 100
    names = {d.name for d in scn.divisions}
    for b in batches:
        assert set(b.column("division").to_pylist()) <= names
        t = b.column("submit_time_s").to_numpy()
        assert (np.diff(t) >= 0).all() and t.max() < 0.05 * 86400.0
    again = list(workload_batches(scn, 0.05, 3))
    assert all(a.equals(b) for a, b in zip(batches, again, strict=True))


def test_duplicate_job_ids_are_bad_input() -> None:
    import pytest

    from colossus.errors import InputError

    scn = load_scenario(HERE / "small.toml")
    jobs = list(_jobs(2))
    jobs[1]["job_id"] = jobs[0]["job_id"]
    with pytest.raises(InputError, match="duplicate job_id"):
        simulate(scn, jobs, "fifo", 0, 86400.0)


def test_skipped_rounds_do_not_change_results(monkeypatch) -> None:
    """Skipping rounds that cannot change anything leaves every job's start and end unchanged."""
    import tomllib

    from colossus.scenario.loader import parse_scenario
    from colossus.sim import engine

    text = (REPO / "tests" / "sim" / "mmc.toml").read_text().replace("ARRAYS", "2")  # 16 GPUs
    scn = parse_scenario(tomllib.loads(text), source="mmc.toml")

    def jobs():  # ~1.5x the cluster: many arrivals find no free GPU
        for j in _jobs(400, 5):
            yield {**j, "division": "A", "num_gpus": min(j["num_gpus"], 4), "duration_s": j["duration_s"] / 7.5}

    base = simulate(scn, jobs(), "fifo", 0, 30 * 86400.0)
    assert base.summary["scheduler"]["rounds_skipped"] > 0
    monkeypatch.setattr(engine._Sim, "_round_useful", lambda self: True)
    full = simulate(scn, jobs(), "fifo", 0, 30 * 86400.0)
    assert full.summary["scheduler"]["rounds_skipped"] == 0
    for col in ("job_id", "wait_s", "end_s", "state"):
        if col in base.jobs.column_names:
            assert base.jobs.column(col).equals(full.jobs.column(col)), col


def test_trace_with_the_hero_runs_it_once(tmp_path: Path) -> None:
    """`colossus trace generate` writes the hero into the trace; simulate must not submit it twice."""
    trace = tmp_path / "w.parquet"
    r = _cli(["trace", "generate", "memphis", "--days", "0.05", "-o", str(trace), "--seed", "3"])
    assert r.returncode == 0, r.stderr
    r = _cli(["simulate", "--trace", str(trace), "--days", "0.05", "--policy", "fifo", "--json", "--quiet"])
    assert r.returncode == 0, r.stderr
    import json

    s = json.loads(r.stdout)
    assert s["hero"] is not None and s["hero"]["job_id"] == "grok-3"
    assert s["hero"]["state"] in ("running", "completed", "detecting", "pending")


def test_fast_path_and_quiet_policy_change_nothing() -> None:
    """The simulator's all-fit fast path and skipped explanations are exact: same jobs table as a
    MILP policy object that takes neither shortcut."""
    from dataclasses import dataclass
    from typing import ClassVar

    from scheduler.milp import MilpPolicy

    @dataclass(kw_only=True)
    class SlowMilp(MilpPolicy):
        all_fit_fast_path: ClassVar[bool] = False

    def busy(n: int):  # ~4x the load of _jobs: queues form, so full MILP rounds run too
        for rec in _jobs(n, seed=2):
            yield {**rec, "submit_time_s": rec["submit_time_s"] / 4.0}

    scn = _scn()
    fast = simulate(scn, busy(500), "milp", 5, 86400.0)
    slow = simulate(scn, busy(500), SlowMilp(try_all_fit=False, min_runtime_s=scn.scheduler.preempt_min_runtime_s,
                                              time_limit_s=scn.scheduler.time_limit_s, gap_rel=scn.scheduler.gap), 5, 86400.0)
    assert slow.summary["scheduler"]["rounds"] == fast.summary["scheduler"]["rounds"]
    st = fast.rounds.column("status").to_pylist()
    assert "skipped_all_fit" in st and any(x != "skipped_all_fit" for x in st)  # both paths were taken
    cols = list(fast.jobs.column_names)
    assert fast.jobs.select(cols).equals(slow.jobs.select(cols))
