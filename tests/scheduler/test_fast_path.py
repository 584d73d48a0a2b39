"""The all-fit fast path (``scheduler._round.admit_if_all_fit``) is exact, not an approximation.

When it fires, the MILP round it short-cuts would start the same jobs on the same nodes, and
the greedy baselines start the same set of jobs.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scheduler._round import RoundInput, admit_if_all_fit, all_fit, finish_round
from scheduler.check import check_decision
from scheduler.policy import make_policy
from scheduler.synthetic import random_snapshot


@st.composite
def light_snapshots(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return random_snapshot(rng, num_pools=draw(st.integers(1, 4)), nodes_per_pool=draw(st.sampled_from([8, 16, 32])),
                           n_pending=draw(st.integers(1, 12)), occupancy=draw(st.sampled_from([0.1, 0.3, 0.6])),
                           hot_spare_nodes=draw(st.sampled_from([0, 2])), max_gpus=64)


def _full_all_fit(view, pending, running, now_s, name):
    """The decision of the full round (running jobs converted) when everything fits."""
    ri = RoundInput.build(view, pending, running, now_s)
    if not all_fit(ri, ri.rank):
        return None
    return finish_round(ri, ri.rank.tolist(), [False] * ri.n, policy=name)


@given(snap=light_snapshots())
def test_fast_path_matches_full_round(snap):
    view, pending, running, now_s = snap
    fast = admit_if_all_fit(view, pending, running, now_s, policy="milp")
    full = _full_all_fit(view, pending, running, now_s, "milp")
    assert (fast is None) == (full is None)
    if fast is None:
        return
    check_decision(view, pending, running, fast)
    assert fast.starts == full.starts
    assert fast.spare_nodes == full.spare_nodes
    assert set(fast.starts) == {p.job_id for p in pending}
    assert not fast.preemptions and not fast.explanations


@given(snap=light_snapshots())
def test_policies_start_everything_when_all_fit(snap):
    view, pending, running, now_s = snap
    if admit_if_all_fit(view, pending, running, now_s, policy="x") is None:
        return
    for name in ("milp", "fifo", "backfill", "fairshare"):
        d = make_policy(name).schedule(view, pending, running, now_s)
        assert set(d.starts) == {p.job_id for p in pending}, name
        assert not d.preemptions


@given(snap=light_snapshots())
def test_fifo_fast_path_is_its_greedy_pass(snap):
    """FIFO and backfill take the fast path: it equals their strict greedy pass node for node."""
    from scheduler._round import greedy_admit

    view, pending, running, now_s = snap
    fast = admit_if_all_fit(view, pending, running, now_s, policy="fifo")
    if fast is None:
        return
    ri = RoundInput.build(view, pending, running, now_s)
    g = greedy_admit(ri, ri.rank, strict=True)
    full = finish_round(ri, g.admitted, g.use_min, policy="fifo")
    assert fast.starts == full.starts


@given(data=st.data())
def test_smallest_equals_lexsort_prefix(data):
    """Placement's packed-key partial sort gives exactly the first k of a full lexsort."""
    from scheduler.placement import _smallest

    n = data.draw(st.integers(1, 300))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    keys = [rng.integers(0, data.draw(st.sampled_from([2, 9, 65, 1000])), n) for _ in range(data.draw(st.integers(1, 3)))]
    keys.append(rng.permutation(n) * data.draw(st.sampled_from([1, 7])))  # unique last key
    k = data.draw(st.integers(0, n + 3))
    want = np.lexsort(keys[::-1])[:k]
    np.testing.assert_array_equal(_smallest(keys, k), want)


@given(data=st.data())
def test_flatten_allocations_with_big_ones(data):
    """Memoised big allocations splice into the flat arrays exactly where a plain pass puts them."""
    from itertools import chain

    from scheduler import _round

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    sizes = data.draw(st.lists(st.sampled_from([0, 1, 2, 5, 300, 700]), min_size=0, max_size=8))
    allocs = [tuple((int(n), int(g)) for n, g in zip(rng.integers(0, 10_000, k), rng.integers(1, 9, k), strict=True))
              for k in sizes]
    lens = np.array([len(a) for a in allocs], dtype=np.int64)
    tot = int(lens.sum())
    for _ in range(2):  # second pass hits the memo
        nodes, gpus = _round._flatten_allocations(allocs, lens, tot)
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(allocs)), dtype=np.int64, count=2 * tot)
        np.testing.assert_array_equal(nodes, flat[0::2])
        np.testing.assert_array_equal(gpus, flat[1::2])
