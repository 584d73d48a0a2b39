"""Shared fixtures of the traces tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TRACES_DATA = DATA / "traces"
DIVISIONS = ("Grok Main/Voice", "Coding", "Data", "Macrohard")
START = datetime(2025, 1, 6, tzinfo=UTC)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def traces_data() -> Path:
    if not TRACES_DATA.is_dir():
        pytest.skip("shared/data/traces is not here")
    return TRACES_DATA


def _table(n: int = 5, **overrides: list):
    """A valid schema-v1 table of n rows; keyword arguments replace whole columns."""
    import pyarrow as pa

    from traces.schema import SCHEMA_V1

    cols = {
        "job_id": [f"job-{i}" for i in range(n)],
        "submit_time_s": [float(10 * i) for i in range(n)],
        "division": ["Coding"] * n,
        "num_gpus": [8] * n,
        "duration_s": [100.0] * n,
        "kind": ["train"] * n,
        "priority": [0] * n,
        "preemptible": [True] * n,
        "work_tokens": [None] * n,
        "model": [None] * n,
        "min_gpus": [None] * n,
        "user": [None] * n,
        "source_status": [None] * n,
    }
    cols.update(overrides)
    return pa.Table.from_pydict(cols, schema=SCHEMA_V1)


@pytest.fixture
def make_table():
    """``make_table(n, **columns)`` -> a valid schema-v1 table."""
    return _table
