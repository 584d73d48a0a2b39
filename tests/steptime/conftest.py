"""Fixtures for the step-time tests: array backends and small models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from colossus.steptime.backend import cupy_status

DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "steptime"


def _xp_params() -> list:
    params = [pytest.param("numpy", id="numpy")]
    params.append(pytest.param("cupy", id="cupy", marks=pytest.mark.gpu))
    return params


@pytest.fixture(params=_xp_params())
def xp(request: pytest.FixtureRequest):
    """The array module under test: numpy always, cupy only with a usable GPU."""
    if request.param == "numpy":
        return np
    cp, reason = cupy_status()
    if cp is None:
        pytest.skip(reason)
    return cp


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ~/.cache from tests."""
    monkeypatch.setenv("COLOSSUS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def calibration_csv() -> Path:
    path = DATA_DIR / "calibration.csv"
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path
