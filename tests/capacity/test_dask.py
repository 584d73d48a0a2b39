"""Monte Carlo on Dask distributed (the optional ``dist`` extra): same results as local processes.

Tests that need Dask skip cleanly when it is absent; ``pip install '.[test]'`` installs it, so CI runs them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from capacity.inputs import plan_inputs
from capacity.milp import solve_plan
from capacity.montecarlo import McConfig, make_executor, run_monte_carlo
from colossus.cli import cli
from colossus.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
CFG = McConfig(replications=4, check_every_months=4, window_days=0.5, warmup_days=0.1, seed=11, evaluator="queue")


@pytest.fixture(scope="module")
def planned(small):
    return solve_plan(plan_inputs(small))


def test_capacity_does_not_import_dask():
    """The default install (no ``dist`` extra) never needs Dask: importing the planner does not load it."""
    code = ("import sys, capacity.montecarlo, capacity.replan, capacity.outputs, colossus.commands.plan; "
            "sys.exit(1 if any(m == 'dask' or m.startswith(('dask.', 'distributed')) for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=120).returncode == 0


def test_cluster_without_dask_is_input_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)  # import dask -> ImportError
    with pytest.raises(InputError, match="dist"):
        make_executor(2, "local")


def test_local_cluster_matches_local_processes(small, planned):
    pytest.importorskip("distributed")
    serial = run_monte_carlo(planned, small, CFG)
    ex, close = make_executor(2)
    try:
        pool = run_monte_carlo(planned, small, CFG, executor=ex)
    finally:
        close()
    ex, close = make_executor(2, "local")
    try:
        dask_res = run_monte_carlo(planned, small, CFG, executor=ex)
    finally:
        close()
    assert serial.replications == pool.replications == dask_res.replications
    assert serial.waits == dask_res.waits and serial.hero_finish == dask_res.hero_finish


def test_scheduler_address(small, planned):
    """``--cluster ADDR`` connects to a running scheduler (here an in-process LocalCluster)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as lc:
        ex, close = make_executor(1, lc.scheduler_address)
        try:
            res = run_monte_carlo(planned, small, CFG, executor=ex)
        finally:
            close()
    assert res.replications == run_monte_carlo(planned, small, CFG).replications


def test_unreachable_scheduler_is_input_error_not_hang():
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=r"--cluster tcp://127\.0\.0\.1:9: cannot reach a Dask scheduler"):
        make_executor(1, "tcp://127.0.0.1:9", connect_timeout_s=1.0)
    with pytest.raises(InputError, match="cannot reach"):
        make_executor(1, "not-an-address", connect_timeout_s=1.0)


def test_cli_unreachable_cluster_exits_2_with_one_line():
    pytest.importorskip("distributed")
    proc = subprocess.run([sys.executable, "-c", "from colossus.cli import main; main()", "plan", "--cluster", "tcp://127.0.0.1:9", "-r", "2",
                           "--horizon-months", "2", "--quiet", "--out", "/nonexistent-not-written"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --cluster tcp://127.0.0.1:9: cannot reach"), proc.stderr


def test_cli_cluster_local_gives_identical_plan_json(tmp_path):
    """``colossus plan --cluster local`` writes the same plan.json as ``--workers 1`` and ``--workers 2``."""
    pytest.importorskip("distributed")
    docs = []
    for i, extra in enumerate((["--workers", "1"], ["--workers", "2"], ["--cluster", "local", "--workers", "2"])):
        out = tmp_path / f"o{i}"
        res = CliRunner().invoke(cli, ["plan", str(ROOT / "examples" / "b200_300mw.toml"), "--horizon-months", "6",
                                       "-r", "4", "--check-every", "3", "--window-days", "0.5", "--evaluator", "queue", "--quiet",
                                       "--out", str(out), *extra])  # fmt: skip
        assert res.exit_code == 0, res.output
        docs.append((out / "plan.json").read_bytes())
    assert docs[0] == docs[1] == docs[2]
