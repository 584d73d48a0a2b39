"""Shared helpers for scheduler tests."""

from __future__ import annotations

import numpy as np
import pytest

from scheduler.types import ClusterView, DivisionState, PendingJob, RunningJob


def make_view(num_pools: int = 2, nodes_per_pool: int = 8, free: np.ndarray | None = None, divisions=None, **kw) -> ClusterView:
    nn = num_pools * nodes_per_pool
    if free is None:
        free = np.full(nn, 8)
    if divisions is None:
        divisions = (DivisionState(name="a", guaranteed_gpus=nn * 4), DivisionState(name="b", guaranteed_gpus=nn * 4))
    return ClusterView(free_gpus=free, node_pool=np.repeat(np.arange(num_pools), nodes_per_pool),
                       pool_hall=np.zeros(num_pools, dtype=int), divisions=tuple(divisions), **kw)


@pytest.fixture(name="make_view")
def make_view_fixture():
    """The :func:`make_view` helper (tests run with --import-mode=importlib)."""
    return make_view


__all__ = ["ClusterView", "DivisionState", "PendingJob", "RunningJob", "make_view"]
