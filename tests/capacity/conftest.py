"""Small scenarios for the planner tests (built from the built-in one, shrunk for speed)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from colossus.scenario import load_scenario
from colossus.scenario.types import GridStep


def small_scenario(*, cap_mw: float = 40.0, growth: float = 0.1, hero: bool = True, horizon: int = 8):
    """memphis shrunk to 40 arrays (~20k GPUs), a flat power cap and ``horizon`` months."""
    s = load_scenario(None)
    phases = (dataclasses.replace(s.phases[0], arrays=40),)
    h = None
    if hero:
        h = dataclasses.replace(s.hero, gpus=16384, tokens=2.0e12, hot_spare_nodes=0,
                                target_finish_date=s.scenario.start_date + dt.timedelta(days=60))
    cap = dataclasses.replace(
        s.capacity, horizon_months=horizon, budget_usd_per_quarter=2.0e9,
        demand_growth_per_month={d.name: growth for d in s.divisions},
    )
    power = dataclasses.replace(s.power, grid=(GridStep(date=s.scenario.start_date, mw=cap_mw),))
    return dataclasses.replace(s, phases=phases, hero=h, capacity=cap, power=power)


@pytest.fixture(scope="session")
def small():
    return small_scenario()


@pytest.fixture(scope="session")
def make_small():
    """The :func:`small_scenario` factory (test modules cannot import conftest in importlib mode)."""
    return small_scenario


def starved_scenario():
    """memphis with ``budget_usd_per_quarter = 1.0``: nothing can be bought (a plan that leaves demand unmet)."""
    s = load_scenario(None)
    return dataclasses.replace(s, capacity=dataclasses.replace(s.capacity, budget_usd_per_quarter=1.0))


@pytest.fixture(scope="session")
def starved_scn():
    """The :func:`starved_scenario` (budget $1 a quarter)."""
    return starved_scenario()
