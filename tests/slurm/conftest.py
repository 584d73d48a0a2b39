"""A real Slurm for the tests: munge, MariaDB + slurmdbd, slurmctld and 4 slurmd of 8 GPUs.

The cluster (colossus/adapters/slurm/localcluster.py) starts once per session in a temporary
folder and is stopped by PID at the end. Tests that need it skip with one line when Slurm's
Debian packages are not installed (or we are not root); `.ci/run` installs them, and the
terminal summary says how many Slurm tests ran against the live cluster (tests that use the
``slurm_available`` fixture, which ``slurm_cluster`` and ``slurm`` build on) and how many on recorded
output or properties alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from colossus.adapters.slurm.localcluster import LocalSlurm, why_cannot_run

FIXTURES = Path(__file__).with_name("fixtures")
LIVE_FIXTURE = "slurm_available"
"""Tests that request it (directly or through ``slurm_cluster``/``slurm``) run against a real Slurm."""
_COUNTS = {"live passed": 0, "offline passed": 0, "failed": 0, "skipped": 0}
_SKIP_REASON: list[str] = []
_LIVE: set[str] = set()


@pytest.fixture(scope="session")
def slurm_available() -> None:
    """Skip (one line, the same for every test) where a local Slurm cannot run here."""
    why = why_cannot_run()
    if why is not None:
        if not _SKIP_REASON:
            _SKIP_REASON.append(why)
        pytest.skip(why)


@pytest.fixture(scope="session")
def slurm_cluster(slurm_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    """The session's local Slurm cluster (skips when Slurm cannot run here)."""
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


def _is_slurm_test(nodeid: str) -> bool:
    return "tests/slurm/" in nodeid.replace("\\", "/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_slurm_test(item.nodeid) and LIVE_FIXTURE in getattr(item, "fixturenames", ()):
            _LIVE.add(item.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _is_slurm_test(report.nodeid):
        return
    if report.when == "call" and report.passed:
        _COUNTS["live passed" if report.nodeid in _LIVE else "offline passed"] += 1
    elif report.failed:
        _COUNTS["failed"] += 1
    elif report.skipped:
        _COUNTS["skipped"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    c = _COUNTS
    line = "slurm tests: " + ", ".join(f"{n} {what}" for what, n in c.items())
    if _SKIP_REASON:
        line += f" ({_SKIP_REASON[0]})"
    terminalreporter.write_line(line)
