"""The hero's finish from simulated progress (issue 12 item 4): per-month goodput, stitched window to window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.evaluators import hero_from_sim_progress, stitch_goodput


def test_stitching_holds_each_window_until_the_next_checked_month():
    g = stitch_goodput([0, 3, 6, 8], {0: None, 3: 0.6, 6: 0.5, 8: None}, 9, fallback=0.9)
    # month 0's window had no hero: nearest measured (3); 3-5 from 3; 6-7 from 6; 8 measured nothing: nearest (6)
    assert g == [0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5]
    assert stitch_goodput([0, 3], {}, 4, fallback=0.9) == [0.9] * 4


@settings(max_examples=50, deadline=None)
@given(tokens_by_month=st.lists(st.floats(0.0, 1e13), min_size=1, max_size=12), plan_ettr=st.floats(0.2, 1.0))
def test_measured_goodput_equal_to_the_plan_ettr_reproduces_the_plan(tokens_by_month, plan_ettr):
    """Theory: if every window measures the plan's own ETTR, simulated progress is the plan's progress."""
    total = sum(tokens_by_month)
    if total <= 0:
        return
    r = hero_from_sim_progress(tokens=total, planned_tokens_by_month=tokens_by_month, plan_ettr=plan_ettr,
                               goodput_by_month=[plan_ettr] * len(tokens_by_month))  # fmt: skip
    assert r["tokens_by_month"][-1] == pytest.approx(total, rel=1e-9)
    assert r["finish_month_frac"] is not None and r["finish_month_frac"] <= len(tokens_by_month) + 1e-9


def test_lower_goodput_finishes_later():
    plan = [4e12, 4e12, 4e12, 4e12]
    on_plan = hero_from_sim_progress(tokens=1e13, planned_tokens_by_month=plan, plan_ettr=0.8, goodput_by_month=[0.8] * 4)
    worse = hero_from_sim_progress(tokens=1e13, planned_tokens_by_month=plan, plan_ettr=0.8, goodput_by_month=[0.8, 0.4, 0.4, 0.4])
    assert on_plan["finish_month_frac"] == pytest.approx(2.5)  # 4e12 per month: 2 months + half of the third
    # month 0: 4e12; then 2e12 a month: 1e13 after 0 + 3 months of 2e12 = 1e13 exactly at the end of month 3
    assert worse["finish_month_frac"] == pytest.approx(4.0)
    never = hero_from_sim_progress(tokens=1e14, planned_tokens_by_month=plan, plan_ettr=0.8, goodput_by_month=[0.8] * 4)
    assert never["finish_month_frac"] is None
