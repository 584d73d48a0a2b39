"""A start budget (``ClusterView.start_budget_gpus``, e.g. what the site's power can feed) bounds every policy's starts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import check_decision, make_policy
from scheduler.synthetic import random_snapshot

POLICIES = ["milp", "fifo", "backfill", "fairshare"]


@st.composite
def budgeted(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    view, pending, running, now = random_snapshot(
        rng, num_pools=draw(st.integers(1, 3)), nodes_per_pool=draw(st.sampled_from([4, 8, 16])),
        n_pending=draw(st.integers(1, 50)), occupancy=draw(st.floats(0.0, 0.9)),
        failed_frac=draw(st.floats(0.0, 0.1)), hot_spare_nodes=draw(st.integers(0, 2)),
        elastic_frac=draw(st.floats(0.0, 0.5)))
    free = int(view.free_gpus.sum())
    budget = draw(st.integers(0, max(0, free)))
    factor = draw(st.sampled_from([1.0, 8.0]))  # aged queues make the MILP preempt and reserve
    pending = [dataclasses.replace(j, submit_time_s=now - (now - j.submit_time_s) * factor) for j in pending]
    return dataclasses.replace(view, start_budget_gpus=budget), pending, running, now


@pytest.mark.parametrize("name", POLICIES)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=budgeted())
def test_starts_stay_within_the_budget_plus_what_preemption_frees(name, snap):
    view, pending, running, now = snap
    d = make_policy(name).schedule(view, pending, running, now)
    check_decision(view, pending, running, d)
    started = sum(g for alloc in d.starts.values() for _, g in alloc)
    freed = sum(r.num_gpus for r in running if r.job_id in set(d.preempted_ids))
    assert started <= view.start_budget_gpus + freed


@pytest.mark.parametrize("name", POLICIES)
def test_a_budget_of_every_free_gpu_changes_nothing_and_zero_starts_nothing(name):
    view, pending, running, now = random_snapshot(np.random.default_rng(7), num_pools=2, nodes_per_pool=8,
                                                  n_pending=40, occupancy=0.3)
    free = int(view.free_gpus.sum())
    base = make_policy(name).schedule(view, pending, running, now)
    same = make_policy(name).schedule(dataclasses.replace(view, start_budget_gpus=free), pending, running, now)
    assert same.starts == base.starts and same.preemptions == base.preemptions
    assert base.starts  # the check can fail: without a budget something starts
    none = make_policy(name).schedule(dataclasses.replace(view, start_budget_gpus=0), pending, running, now)
    assert not none.starts or none.preemptions


def test_budget_must_not_be_negative():
    view, *_ = random_snapshot(np.random.default_rng(0), num_pools=1, nodes_per_pool=4, n_pending=1)
    with pytest.raises(ValueError, match="start_budget_gpus"):
        dataclasses.replace(view, start_budget_gpus=-1)
