"""Property tests: every policy's decision is valid, deterministic, and honours guarantees."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import POLICIES, check_decision, make_policy, policy_names
from scheduler.placement import place
from scheduler.shapes import ShapeSpec, contributions, level_capacity, shapes_of
from scheduler.synthetic import random_snapshot

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def snapshots(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return random_snapshot(
        rng,
        num_pools=draw(st.integers(1, 4)),
        nodes_per_pool=draw(st.sampled_from([4, 8, 16])),
        num_halls=draw(st.integers(1, 2)),
        n_pending=draw(st.integers(0, 60)),
        occupancy=draw(st.floats(0.0, 0.95)),
        failed_frac=draw(st.floats(0.0, 0.2)),
        hot_spare_nodes=draw(st.integers(0, 3)),
        elastic_frac=draw(st.floats(0.0, 0.5)),
        borrow_frac=draw(st.sampled_from([None, 0.1, 0.5])),
    )


def test_registry_lists_all_policies():
    assert policy_names()[0] == "milp"
    assert set(POLICIES) >= {"milp", "fifo", "backfill", "fairshare"}


@pytest.mark.parametrize("name", ["milp", "fifo", "backfill", "fairshare"])
@SETTINGS
@given(snap=snapshots())
def test_decision_valid_and_deterministic(name, snap):
    view, pending, running, now = snap
    d1 = make_policy(name).schedule(view, pending, running, now)
    # no node given twice, never more than free healthy GPUs, gang all-or-nothing shapes,
    # non-preemptible / hero jobs never preempted, hot spares idle
    free_after = check_decision(view, pending, running, d1)
    assert free_after.min() >= 0
    assert not d1.record.fallback_reason or "unplaced" not in d1.record.fallback_reason
    # every pending job either starts or is explained
    assert set(d1.starts) | set(d1.explanations) == {j.job_id for j in pending}
    assert not set(d1.starts) & set(d1.explanations)
    # deterministic: a fresh policy on the same input gives the same decision
    d2 = make_policy(name).schedule(view, pending, running, now)
    assert d1.starts == d2.starts
    assert d1.preemptions == d2.preemptions
    assert d1.explanations == d2.explanations


@SETTINGS
@given(snap=snapshots())
def test_milp_borrow_caps_respected(snap):
    view, pending, running, now = snap
    d = make_policy("milp").schedule(view, pending, running, now)
    usage = {dv.name: 0 for dv in view.divisions}
    pre = set(d.preempted_ids)
    for r in running:
        if r.job_id not in pre:
            usage[r.division] += r.allocated_gpus
    before = {dv.name: 0 for dv in view.divisions}
    for r in running:
        before[r.division] += r.allocated_gpus
    by_id = {j.job_id: j for j in pending}
    for jid, alloc in d.starts.items():
        usage[by_id[jid].division] += sum(g for _, g in alloc)
    for dv in view.divisions:
        if usage[dv.name] > before[dv.name]:
            assert usage[dv.name] <= max(dv.cap_gpus, before[dv.name])
        # preemption never pushes a division below its guarantee
        lost = sum(r.allocated_gpus for r in running if r.job_id in pre and r.division == dv.name)
        if lost:
            assert before[dv.name] - lost >= dv.guaranteed_gpus


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), npp=st.sampled_from([4, 8, 16, 64]), pools=st.integers(1, 5))
def test_nested_capacity_condition_is_sufficient(seed, npp, pools):
    """Any job set meeting the nested capacity condition is placed completely."""
    rng = np.random.default_rng(seed)
    spec = ShapeSpec(8, npp)
    nn = npp * pools
    free = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8], size=nn)
    node_pool = np.repeat(np.arange(pools), npp)
    cap = level_capacity(free, node_pool, pools, spec)
    g = rng.choice([1, 2, 3, 4, 8, 16, 24, 40, 64, 128, 256, 512, 600], size=80)
    sh, kl = shapes_of(g, spec)
    a = contributions(sh, kl, spec)
    used = np.zeros_like(cap)
    keep = []
    for j in range(g.size):
        if np.all(used + a[:, j] <= cap):
            used += a[:, j]
            keep.append(j)
    keep = np.asarray(keep, dtype=int)
    _starts, unplaced, free_after = place(free, node_pool, np.zeros(pools, int), spec, [f"j{i}" for i in keep], sh[keep], kl[keep])
    assert unplaced == []
    assert free_after.min() >= 0
    assert int((free - free_after).sum()) == int(sh[keep].sum())
