"""Property tests: every policy's decision is valid, deterministic, and honours guarantees."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import POLICIES, check_decision, make_policy, policy_names
from scheduler.placement import place
from scheduler.shapes import ShapeSpec, contributions, level_capacity, shapes_of
from scheduler.synthetic import random_snapshot

GAP = 0.5  # a loose MIP gap in the work-conservation test: the fill pass, not the solver, must make it hold
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def snapshots(draw, age=(1.0,)):
    """Random snapshots; ``age`` lists factors drawn to stretch every pending job's wait
    (aged queues make the MILP preempt and reserve, which fresh queues rarely do)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    factor = draw(st.sampled_from(age))
    snap = random_snapshot(
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
    if factor == 1.0:
        return snap
    view, pending, running, now = snap
    pending = [dataclasses.replace(j, submit_time_s=now - (now - j.submit_time_s) * factor) for j in pending]
    return view, pending, running, now


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


def _after(view, pending, running, d, now):
    """(view, waiting, running) once ``d`` is applied: the round the next decision would see."""
    from scheduler.types import RunningJob

    free_after = check_decision(view, pending, running, d)
    pre = set(d.preempted_ids)
    by_id = {j.job_id: j for j in pending}
    still = [r for r in running if r.job_id not in pre]
    new = [RunningJob(job_id=j, division=by_id[j].division, num_gpus=by_id[j].num_gpus, allocation=a,
                      start_time_s=now, preemptible=by_id[j].preemptible) for j, a in d.starts.items()]
    waiting = [j for j in pending if j.job_id not in d.starts]
    return view.with_free(free_after), waiting, still + new


@pytest.mark.parametrize("reservation", [False, True])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=snapshots(age=(1.0, 8.0)))
def test_milp_work_conserving(snap, reservation):
    """No job waits while it could start now without delaying the reservation, breaking a
    division cap or a lend limit: after the decision (preemptions included: the GPUs they
    free count as free), greedy admission of the waiting jobs (every rule but the objective)
    admits none of them. Half the queues are aged 8x so that rounds preempt; with
    ``reservation`` the policy reserves for any overdue job of >= 32 GPUs."""
    from scheduler._round import RoundInput, greedy_admit
    from scheduler.objective import MilpWeights

    view, pending, running, now = snap
    opts = {"weights": MilpWeights(reserve_after=0.5), "reserve_min_gpus": 32} if reservation else {}
    d = make_policy("milp", reservation=reservation, gap_rel=GAP, **opts).schedule(view, pending, running, now)
    view2, waiting, running2 = _after(view, pending, running, d, now)
    if not waiting:
        return
    ri = RoundInput.build(view2, waiting, running2, now)
    held = {j for j, e in d.explanations.items() if e.reason in ("reservation", "reserved")}
    order = np.asarray([j for j in ri.rank.tolist() if ri.ids[j] not in held], dtype=np.int64)
    g = greedy_admit(ri, order)
    assert not g.admitted, [ri.ids[j] for j in g.admitted]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=snapshots(age=(1.0, 8.0)))
def test_milp_keeps_the_starts_of_the_value_order(snap):
    """keep_order: every job a pass in value order starts (each job that fits, in that order)
    starts in the MILP's decision too, at its full or its minimum shape (the order is not traded
    for packing); the solve may only add starts on top."""
    from scheduler._round import RoundInput, greedy_admit
    from scheduler.milp import job_values, relative_waits

    view, pending, running, now = snap
    pol = make_policy("milp", preemption=False, reservation=False, gap_rel=1e-6)
    d = pol.schedule(view, pending, running, now)
    ri = RoundInput.build(view, pending, running, now)
    if ri.n == 0:
        return
    drained = ri.drained_capacity()
    placeable = np.all(np.minimum(ri.a_f, ri.a_m) <= drained[:, None], axis=0)
    cand = ri.rank[placeable[ri.rank]]
    vals = job_values(ri, pol.weights, relative_waits(ri, pol.weights))
    g = greedy_admit(ri, pol._value_order(ri, cand, vals))
    missing = [ri.ids[j] for j in g.admitted if ri.ids[j] not in d.starts]
    assert not missing, missing
    assert len(d.starts) >= len(g.admitted)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=snapshots(age=(8.0,)))
def test_milp_no_start_preempt_start_loop(snap):
    """A job the MILP preempts is not started again in the next round while the jobs that took
    its GPUs run (nor are those preempted), and a division never reclaims back what it lost."""
    view, pending, running, now = snap
    pol = make_policy("milp")
    d = pol.schedule(view, pending, running, now)
    if not d.preemptions:
        return
    from scheduler.types import PendingJob

    view2, waiting, running2 = _after(view, pending, running, d, now)
    by_run = {r.job_id: r for r in running}
    requeued = [PendingJob(job_id=v, division=by_run[v].division, num_gpus=by_run[v].num_gpus, submit_time_s=now)
                for v in d.preempted_ids]
    d2 = make_policy("milp").schedule(view2, waiting + requeued, running2, now + 60.0)
    check_decision(view2, waiting + requeued, running2, d2)
    assert not (set(d2.preempted_ids) & set(d.starts))  # what just started is not preempted
    gainers = {j.division for j in pending if j.job_id in d.starts}
    by2 = {r.job_id: r for r in running2}
    for v in d2.preempted_ids:  # no reclaim back: the next round's victims are never of a division that gained
        assert by2[v].division not in gainers


def test_milp_fills_after_a_preempting_round():
    """Regression (seed 86, 5 % MIP gap): the solver preempts and leaves a GPU idle that a
    waiting 1-GPU job fits; the fill pass runs in preempting rounds too and starts it."""
    from scheduler._round import RoundInput, greedy_admit

    seed = 86
    rng, r2 = np.random.default_rng(seed), np.random.default_rng(seed + 10**6)
    view, pending, running, now = random_snapshot(
        rng, num_pools=int(r2.integers(1, 5)), nodes_per_pool=int(r2.choice([4, 8, 16])), num_halls=1,
        n_pending=int(r2.integers(5, 60)), occupancy=float(r2.uniform(0.5, 0.95)), failed_frac=0.05,
        elastic_frac=0.3, borrow_frac=0.5)
    pending = [dataclasses.replace(j, submit_time_s=now - (now - j.submit_time_s) * 8) for j in pending]
    d = make_policy("milp", gap_rel=0.05).schedule(view, pending, running, now)
    assert d.preemptions  # the case this test is about
    view2, waiting, running2 = _after(view, pending, running, d, now)
    ri = RoundInput.build(view2, waiting, running2, now)
    assert not greedy_admit(ri, ri.rank).admitted
