"""A real Slurm for the tests: munge, MariaDB + slurmdbd, slurmctld and 4 slurmd of 8 GPUs.

The cluster (colossus/adapters/slurm/localcluster.py) starts once per session in a temporary
folder and is stopped by PID at the end. Tests that need it skip with one line when Slurm's
Debian packages are not installed (or we are not root); `.ci/run` installs them, and the
terminal summary says how many Slurm tests ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from colossus.adapters.slurm.localcluster import LocalSlurm, why_cannot_run

FIXTURES = Path(__file__).with_name("fixtures")
_COUNTS = {"passed": 0, "failed": 0, "skipped": 0}
_SKIP_REASON: list[str] = []


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    """The session's local Slurm cluster (skips when Slurm cannot run here)."""
    why = why_cannot_run()
    if why is not None:
        _SKIP_REASON.append(why)
        pytest.skip(why)
    cluster = LocalSlurm(root=tmp_path_factory.mktemp("slurm"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture()
def slurm(slurm_cluster: LocalSlurm, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSlurm]:
    """The cluster with an empty queue, and SLURM_CONF set for in-process CLI calls."""
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    yield slurm_cluster
    slurm_cluster.run(["scancel", "--user=root"], check=False)
    slurm_cluster.wait_for(lambda: not slurm_cluster.run(["squeue", "-h", "-o", "%i"]).stdout.strip(),
                           timeout_s=30, what="an empty queue")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/slurm/" not in report.nodeid.replace("\\", "/"):
        return
    if report.when == "call" and report.passed:
        _COUNTS["passed"] += 1
    elif report.failed:
        _COUNTS["failed"] += 1
    elif report.skipped:
        _COUNTS["skipped"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    c = _COUNTS
    line = f"slurm tests: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"
    if _SKIP_REASON:
        line += f" ({_SKIP_REASON[0]})"
    terminalreporter.write_line(line)
