"""Shortfalls follow the scheduler's rules (issue 12 item 2): guarantees first, then weights, the hero as its division's."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.inputs import plan_inputs
from capacity.milp import solve_plan
from capacity.shares import division_capacity, entitlements, share_capacity

NAMES = ("A", "B", "C", "D")


def _floor(d, capacity, guarantees, hero_division, hero):
    """The floor the issue names: min(demand, guaranteed share of the non-hero capacity served);
    the hero division's guarantee of the whole capacity is first used by the hero."""
    g = guarantees[d] / sum(guarantees.values())
    if d == hero_division:
        return max(0.0, g * (capacity + hero) - hero)
    return g * capacity


@settings(max_examples=300, deadline=None)
@given(capacity=st.floats(0.0, 2e5),
       demand=st.lists(st.floats(0.0, 1.5e5), min_size=4, max_size=4),
       guarantees=st.lists(st.floats(0.01, 1.0), min_size=4, max_size=4),
       weights=st.lists(st.floats(0.1, 5.0), min_size=4, max_size=4),
       hero=st.floats(0.0, 1.5e5), hero_div=st.sampled_from([None, *NAMES]))  # fmt: skip
def test_share_capacity_honours_guarantees_then_weights(capacity, demand, guarantees, weights, hero, hero_div):
    dem, g, w = dict(zip(NAMES, demand, strict=True)), dict(zip(NAMES, guarantees, strict=True)), dict(zip(NAMES, weights, strict=True))
    h = hero if hero_div else 0.0
    alloc = share_capacity(capacity, dem, g, w, hero_division=hero_div, hero=h)
    tol = 1e-6 * max(1.0, capacity, sum(demand))
    assert sum(alloc.values()) == pytest.approx(min(capacity, sum(demand)), abs=tol)  # nothing idle while asked for
    for d in NAMES:
        assert -tol <= alloc[d] <= dem[d] + tol
        assert alloc[d] >= min(dem[d], _floor(d, capacity, g, hero_div, h)) - tol, d
    ent = entitlements(capacity, g, hero_division=hero_div, hero=h)
    assert sum(ent.values()) == pytest.approx(capacity, abs=tol)
    # above its floor, a short division never gets more per unit weight than another short division
    extra = {d: (alloc[d] - min(dem[d], ent[d])) / w[d] for d in NAMES}
    short = [d for d in NAMES if alloc[d] < dem[d] - tol]
    for d in short:
        for e in NAMES:
            if extra[e] > tol:
                assert extra[d] >= extra[e] - 1e-6 * max(1.0, capacity), (d, e)


@settings(max_examples=100, deadline=None)
@given(capacity=st.floats(1.0, 2e5), load=st.lists(st.floats(0.0, 1.5e5), min_size=4, max_size=4),
       guarantees=st.lists(st.floats(0.01, 1.0), min_size=4, max_size=4))  # fmt: skip
def test_division_capacity_is_what_an_unbounded_division_gets(capacity, load, guarantees):
    """A division overloads (load >= its capacity) exactly when the sharing rule gives it less than its load."""
    ld, g = dict(zip(NAMES, load, strict=True)), dict(zip(NAMES, guarantees, strict=True))
    cap = division_capacity(capacity, ld, g)
    alloc = share_capacity(capacity, ld, g)
    for d in NAMES:
        assert cap[d] >= alloc[d] - 1e-6 * capacity
        assert cap[d] >= g[d] / sum(guarantees) * capacity - 1e-6 * capacity
        if ld[d] > cap[d] * (1 + 1e-9) + 1e-6:
            assert alloc[d] < ld[d]


def test_entitlements_known_case():
    """memphis-like: the hero (90k) exceeds its division's 55/95 of 100k; the others split the 10k left pro rata."""
    g = {"A": 0.55, "B": 0.15, "C": 0.10, "D": 0.15}
    e = entitlements(10_000.0, g, hero_division="A", hero=90_000.0)
    assert e["A"] == 0.0
    assert e["B"] == pytest.approx(3750.0) and e["C"] == pytest.approx(2500.0) and e["D"] == pytest.approx(3750.0)
    alloc = share_capacity(10_000.0, {"A": 1000.0, "B": 9000.0, "C": 500.0, "D": 9000.0}, g,
                           {"A": 2.0, "B": 1.0, "C": 1.0, "D": 1.0}, hero_division="A", hero=90_000.0)  # fmt: skip
    # floors 0 / 3750 / 500 / 3750; the 2000 left by weight 2:1:1 -> A 1000 (all it asks), B and D 500 each
    assert alloc == pytest.approx({"A": 1000.0, "B": 4250.0, "C": 500.0, "D": 4250.0})


@pytest.fixture(scope="module")
def starved_plan():
    """memphis, 9 months, ``budget_usd_per_quarter = 1.0``: nothing can be bought (the issue's case)."""
    from colossus.scenario import load_scenario

    scn = load_scenario(None)
    scn = dataclasses.replace(scn, capacity=dataclasses.replace(scn.capacity, budget_usd_per_quarter=1.0))
    return solve_plan(plan_inputs(scn, horizon_months=9))


def test_no_short_month_gives_a_division_less_than_its_floor(starved_plan):
    """Issue 12 goal: in every short month each division gets >= min(demand, guaranteed share of what is served)."""
    inp = starved_plan.inputs
    hero_perf = inp.sku_perf[inp.hero.sku]
    short_months = [m for m in range(inp.horizon) if sum(starved_plan.unmet_gpus[d][m] for d in inp.divisions) > 0.5]
    assert short_months, "the starved plan has short months"
    for m in short_months:
        served = sum(starved_plan.allocated_gpus[d][m] for d in inp.divisions)
        hero = starved_plan.hero_gpus[m] * hero_perf
        for d in inp.divisions:
            floor = _floor(d, served, inp.guaranteed_share, inp.hero_division, hero)
            assert starved_plan.allocated_gpus[d][m] >= min(inp.demand_gpus[d][m], floor) - 1e-6 * served, (m, d)
