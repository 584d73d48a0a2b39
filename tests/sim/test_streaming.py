"""Results streamed to a folder as the run goes; memory bounded by live jobs; clean stops (issue 16)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossus.errors import InputError
from colossus.scenario import load_scenario
from colossus.sim import JOB_STATES, read_results, simulate

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _jobs(n: int, seed: int = 0, gap_s: float = 40.0):
    rng = np.random.default_rng(seed)
    t = 0.0
    for i in range(n):
        t += float(rng.exponential(gap_s))
        yield {"job_id": f"j{i}", "submit_time_s": t, "division": ["vc-a", "vc-b", "vc-c", "vc-d"][i % 4],
               "num_gpus": int(rng.choice([1, 2, 8, 16, 64])), "duration_s": float(rng.exponential(3600.0)),
               "kind": "train"}


def _scn(failures: bool = True):
    scn = load_scenario(HERE / "small.toml")
    if failures:
        f = dataclasses.replace(scn.failures, enabled=True, rates_per_gpu_year={"gpu": 20.0})
        scn = dataclasses.replace(scn, failures=f)
    return scn


def _sorted_jobs(tab) -> str:
    """The jobs table's values sorted by job_id, as text (NaN equals NaN; any chunking)."""
    tab = tab.take(np.argsort(np.asarray(tab.column("job_id").to_pylist(), dtype=object), kind="stable"))
    return json.dumps({"schema": str(tab.schema), **tab.to_pydict()})


def _close(a, b) -> bool:
    """Summaries equal up to float rounding (a streamed run sums its jobs in finish order)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-9)
    return a == b


def _strip(s: dict) -> dict:
    """The summary without wall-clock figures."""
    s = {k: v for k, v in s.items() if k != "performance"}
    s["scheduler"] = {k: v for k, v in s["scheduler"].items() if k not in ("policy_wall_s", "solver_reported_total_s")}
    return s


def test_streamed_folder_holds_the_in_memory_results(tmp_path: Path, monkeypatch) -> None:
    """Same run in memory and streamed in small row groups: same rows, same summary."""
    from colossus.sim import sink

    scn = _scn()
    mem = simulate(scn, _jobs(400), "milp", 3, 43200.0)
    monkeypatch.setattr(sink, "BATCH_ROWS", 50)  # many row groups
    out = simulate(scn, _jobs(400), "milp", 3, 43200.0, out_dir=tmp_path / "run")
    assert out.folder == tmp_path / "run"
    assert pq.ParquetFile(tmp_path / "run" / "jobs.parquet").num_row_groups > 5
    assert _sorted_jobs(out.jobs) == _sorted_jobs(mem.jobs)
    assert out.timeseries.equals(mem.timeseries) and out.rounds.equals(mem.rounds)
    assert _close(_strip(out.summary), _strip(mem.summary))
    back = read_results(tmp_path / "run")
    assert back.summary["complete"] is True and back.jobs.num_rows == mem.jobs.num_rows
    # streamed order: completed jobs as they ended, then the open ones in submit order
    states = out.jobs.column("state").to_pylist()
    n_done = states.count("completed")
    assert set(states[:n_done]) == {"completed"} and "completed" not in states[n_done:]
    end = out.jobs.column("end_time_s").to_numpy()[:n_done]
    assert np.all(np.diff(end) >= 0)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


def test_stop_ends_the_run_with_a_valid_incomplete_result(tmp_path: Path) -> None:
    """``stop()`` true at the 5th sample: the results cover the run up to then."""
    scn = _scn()
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 5

    res = simulate(scn, _jobs(1000), "fifo", 1, 10 * 86400.0, out_dir=tmp_path / "r", stop=stop)
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["complete"] is False and res.complete is False
    assert s["horizon_s"] == 4 * scn.simulation.sample_interval_s  # samples at t = 0, dt, ..., 4 dt
    assert s["horizon_requested_s"] == 10 * 86400.0
    jobs = pq.read_table(tmp_path / "r" / "jobs.parquet")
    assert jobs.num_rows == s["jobs"]["total"] > 0
    assert float(np.max(jobs.column("submit_time_s").to_numpy())) <= s["horizon_s"]
    assert set(jobs.column("state").to_pylist()) <= set(JOB_STATES)
    assert pq.read_table(tmp_path / "r" / "timeseries.parquet").num_rows == 5


def test_a_failed_run_leaves_no_folder(tmp_path: Path) -> None:
    """An error mid-run removes the temporary folder; an earlier results folder stays as it was."""
    scn = _scn(failures=False)
    simulate(scn, _jobs(50), "fifo", 0, 3600.0, out_dir=tmp_path / "r")
    before = (tmp_path / "r" / "summary.json").read_bytes()

    def bad():
        yield from _jobs(30)
        yield {"job_id": "x", "submit_time_s": 1.0, "division": "vc-a", "num_gpus": 1, "duration_s": 1.0}

    with pytest.raises(InputError, match="submit order"):
        simulate(scn, bad(), "fifo", 0, 86400.0, out_dir=tmp_path / "r")
    assert (tmp_path / "r" / "summary.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_out_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(InputError, match="mine.txt"):
        simulate(_scn(False), _jobs(5), "fifo", 0, 3600.0, out_dir=tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def _held_bytes(n_jobs: int, tmp: Path) -> int:
    """Most Python heap held at any sample of a streamed run (after a full collection), bytes."""
    import gc

    from colossus.sim import sink

    assert n_jobs > 4 * sink.BATCH_ROWS
    freeze, gc.freeze = gc.freeze, lambda: None  # let the collections below see everything
    held = []

    def at_sample(_day: float, _total: float, _n: int) -> None:
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    try:
        simulate(_scn(failures=False), _jobs(n_jobs, gap_s=90.0), "fifo", 0, n_jobs * 90.0, out_dir=tmp,
                 progress=at_sample)
    finally:
        tracemalloc.stop()
        gc.freeze = freeze
    return max(held)


def held_bytes_short_long(tmp: str) -> tuple[int, int]:
    """(short, long) heap held by a run and by a 4x longer one, in this process (row groups of 50)."""
    from colossus.sim import sink

    sink.BATCH_ROWS = 50
    _held_bytes(300, Path(tmp) / "w")  # imports and caches
    return _held_bytes(300, Path(tmp) / "a"), _held_bytes(1200, Path(tmp) / "b")


def test_memory_follows_live_jobs_not_history(tmp_path: Path) -> None:
    """Streamed, a 4x longer run at the same load holds about as much memory (Python heap).

    Measured in a fresh interpreter, so nothing other tests left behind is counted.
    """
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_streaming as t; "
            f"print(*t.held_bytes_short_long({str(tmp_path)!r}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr
    short, long = map(int, r.stdout.split()[-2:])
    assert long < 1.25 * short, (short, long)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 120), batch=st.integers(1, 40), seed=st.integers(0, 3))
def test_row_groups_do_not_change_the_rows(tmp_path_factory, n: int, batch: int, seed: int) -> None:
    """Any row-group size gives the same jobs as the in-memory run (one row per job, unique ids)."""
    from colossus.sim import sink

    scn = _scn()
    mem = simulate(scn, _jobs(n, seed, gap_s=200.0), "fifo", seed, 6 * 3600.0)
    old = sink.BATCH_ROWS
    sink.BATCH_ROWS = batch
    try:
        out = simulate(scn, _jobs(n, seed, gap_s=200.0), "fifo", seed, 6 * 3600.0,
                       out_dir=tmp_path_factory.mktemp("r") / "run")
    finally:
        sink.BATCH_ROWS = old
    assert _sorted_jobs(out.jobs) == _sorted_jobs(mem.jobs)
    assert out.jobs.num_rows == len(set(out.jobs.column("job_id").to_pylist())) == mem.summary["jobs"]["total"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_leaves_a_valid_folder_marked_incomplete(tmp_path: Path) -> None:
    """SIGINT to ``colossus simulate``: exit 130, a readable results folder with complete = false."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", "from colossus.cli import main; main()", "simulate",
                             str(HERE / "small.toml"), "--days", "3000", "--policy", "fifo", "--out", str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "120"})
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:  # not a terminal: one progress line per simulated day
        if line.startswith("day 2"):
            break
        assert time.monotonic() < deadline, "no progress"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "complete" in err
    s = json.loads((out / "summary.json").read_text())
    assert s["complete"] is False and 2 <= s["days"] < 3000
    for name in ("jobs", "timeseries", "rounds"):
        pq.read_table(out / f"{name}.parquet")
    assert pq.read_table(out / "jobs.parquet").num_rows == s["jobs"]["total"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_columnar_running_set_matches_the_jobs_with_a_hero_failing(tmp_path: Path) -> None:
    """Debug mode checks, every full round, that the columnar running set holds exactly the
    running jobs' arrays; here with a hero run that fails often, uses up its spares and waits."""
    scn = load_scenario(REPO / "examples" / "llama3_reliability.toml")
    f = dataclasses.replace(scn.failures, rates_per_gpu_year={k: 40 * v for k, v in scn.failures.rates_per_gpu_year.items()})
    scn = dataclasses.replace(scn, failures=f, hero=dataclasses.replace(scn.hero, hot_spare_nodes=2))
    rng = np.random.default_rng(5)
    t = np.cumsum(rng.exponential(300.0, 300))
    jobs = [{"job_id": f"b{i}", "submit_time_s": float(t[i]), "division": "Llama", "kind": "train",
             "num_gpus": int(rng.choice([8, 16, 64, 128])), "duration_s": float(rng.exponential(4 * 3600.0))}
            for i in range(t.size)]
    res = simulate(scn, jobs, "milp", 2, 86400.0, debug=True, out_dir=tmp_path / "r")
    st = res.rounds.column("status").to_pylist()
    assert any(s != "skipped_all_fit" for s in st)  # full rounds ran (with their column check)
    h = res.summary["hero"]
    assert h["interruptions"] > 5 and res.summary["cluster"]["failures"] > 5
