"""Sub-node placement is best fit (the fullest node that fits first), as Slurm's cons_tres does."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.placement import place
from scheduler.shapes import ShapeSpec

GPN = 8


@settings(max_examples=200, deadline=None)
@given(free=st.lists(st.integers(0, GPN), min_size=1, max_size=12), shape=st.sampled_from([1, 2, 4]))
def test_one_sub_node_job_goes_to_the_fullest_node_that_fits(free: list[int], shape: int) -> None:
    f = np.asarray(free, dtype=np.int64)
    n = f.size
    starts, unplaced, after = place(f, np.zeros(n, np.int64), np.zeros(1, np.int64), ShapeSpec(GPN, n),
                                    ["j"], np.array([shape]), np.array([shape]))
    fits = np.flatnonzero(f >= shape)
    if fits.size == 0:
        assert unplaced == ["j"] and not starts
        return
    ((node, gpus),) = starts["j"]
    assert gpus == shape and f[node] >= shape
    assert f[node] == f[fits].min()  # best fit: no node that fits has fewer free GPUs
    assert after[node] == f[node] - shape and np.array_equal(np.delete(after, node), np.delete(f, node))


def test_small_job_keeps_the_whole_node_free() -> None:
    # node 0 has 2 free GPUs, node 1 is empty: a 2-GPU job must not break the empty node
    starts, _, after = place(np.array([2, 8]), np.zeros(2, np.int64), np.zeros(1, np.int64), ShapeSpec(GPN, 2),
                             ["a", "b"], np.array([2, 8]), np.array([2, 8]))
    assert starts["a"] == ((0, 2),) and starts["b"] == ((1, 8),)
    assert after.tolist() == [0, 0]
