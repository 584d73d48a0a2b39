"""Cluster state as NumPy arrays: one entry per node, never one object per GPU or node.

Nodes are numbered pool by pool (a pool is one array of ``cluster.nodes_per_array`` nodes) and
phase by phase, so every node of every expansion phase exists from t=0 and simply comes online
at its phase's date. Per node: pool, hall, SKU index, phase index, online, healthy, GPUs
allocated, failure weight (lemon nodes weigh more). Per node the set of job indices holding GPUs
there is kept in a Python list of sets (only touched on allocation, release and failure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossus.scenario.types import Scenario

__all__ = ["ClusterState", "build_cluster"]

SECONDS_PER_YEAR = 365.25 * 86400.0


@dataclass(kw_only=True, slots=True, eq=False)
class ClusterState:
    """Mutable node arrays of the simulated cluster (owned by the simulation loop).

    Attributes
    ----------
    gpus_per_node : int
    node_pool, node_hall, node_sku, node_phase : (num_nodes,) int arrays
    pool_hall : (num_pools,) int
    pool_sku : tuple of str, one per pool
    sku_names : tuple of str (``node_sku`` indexes it)
    phase_start_s : (num_phases,) float, time each phase comes online (may be < 0)
    online, healthy : (num_nodes,) bool
    alloc_gpus : (num_nodes,) int, GPUs allocated to jobs
    fail_weight : (num_nodes,) float, relative failure rate (mean 1 over the fleet)
    node_jobs : list of set of int, job indices holding GPUs on each node
    """

    gpus_per_node: int
    node_pool: np.ndarray
    node_hall: np.ndarray
    node_sku: np.ndarray
    node_phase: np.ndarray
    pool_hall: np.ndarray
    pool_sku: tuple[str, ...]
    sku_names: tuple[str, ...]
    phase_start_s: np.ndarray
    online: np.ndarray
    healthy: np.ndarray
    alloc_gpus: np.ndarray
    fail_weight: np.ndarray
    node_jobs: list[set[int]]
    usable_gpus_cache: int = -1
    """Healthy online GPUs, cached; -1 when stale (call :meth:`invalidate` after changing
    ``online`` or ``healthy``)."""

    def invalidate(self) -> None:
        """Forget cached totals after a change of ``online`` or ``healthy``."""
        self.usable_gpus_cache = -1

    @property
    def num_nodes(self) -> int:
        return int(self.node_pool.size)

    def free_gpus(self) -> np.ndarray:
        """(num_nodes,) int: healthy, online, unallocated GPUs per node."""
        usable = self.online & self.healthy
        return np.where(usable, self.gpus_per_node - self.alloc_gpus, 0)

    def gpus_online(self) -> int:
        return int(self.online.sum()) * self.gpus_per_node

    def gpus_healthy(self) -> int:
        """Healthy online GPUs (cached until :meth:`invalidate`)."""
        if self.usable_gpus_cache < 0:
            self.usable_gpus_cache = int(np.count_nonzero(self.online & self.healthy)) * self.gpus_per_node
        return self.usable_gpus_cache

    def online_by_sku(self) -> np.ndarray:
        """GPUs online per SKU index."""
        return np.bincount(self.node_sku[self.online], minlength=len(self.sku_names)) * self.gpus_per_node

    def allocated_by_sku(self) -> np.ndarray:
        """GPUs allocated per SKU index."""
        return np.bincount(self.node_sku, weights=self.alloc_gpus, minlength=len(self.sku_names)).astype(np.int64)

    def whole_free_nodes(self) -> np.ndarray:
        """Indices of healthy online nodes with no GPU allocated, ascending."""
        return np.flatnonzero(self.online & self.healthy & (self.alloc_gpus == 0))


def build_cluster(scenario: Scenario, rng: np.random.Generator) -> ClusterState:
    """Lay out every node of every phase; draw lemon nodes with ``rng``.

    Arrays of a phase are spread over the halls round-robin. Lemon nodes fail
    ``lemon_rate_multiplier`` times as often as others; weights are normalised to mean 1 so the
    fleet-wide rate stays the scenario's (ASSUMPTION: published rates are fleet averages that
    already include lemons).
    """
    c = scenario.cluster
    npa = c.nodes_per_array
    sku_names = tuple(scenario.skus)
    pools_sku: list[str] = []
    pools_hall: list[int] = []
    pools_phase: list[int] = []
    for p_idx, ph in enumerate(scenario.phases):
        for a in range(ph.arrays):
            pools_sku.append(ph.sku)
            pools_hall.append(a % c.halls)
            pools_phase.append(p_idx)
    num_pools = len(pools_sku)
    node_pool = np.repeat(np.arange(num_pools, dtype=np.int64), npa)
    pool_hall = np.asarray(pools_hall, dtype=np.int64)
    pool_sku_idx = np.asarray([sku_names.index(s) for s in pools_sku], dtype=np.int64)
    pool_phase = np.asarray(pools_phase, dtype=np.int64)
    n = node_pool.size
    phase_start_s = np.asarray([scenario.day_of(ph.date) * 86400.0 for ph in scenario.phases], dtype=np.float64)
    node_phase = pool_phase[node_pool]
    weight = np.ones(n, dtype=np.float64)
    f = scenario.failures
    if f.lemon_node_fraction > 0 and f.lemon_rate_multiplier > 1 and n:
        lemon = rng.random(n) < f.lemon_node_fraction
        weight[lemon] = f.lemon_rate_multiplier
        weight /= weight.mean()
    return ClusterState(
        gpus_per_node=c.gpus_per_node,
        node_pool=node_pool,
        node_hall=pool_hall[node_pool],
        node_sku=pool_sku_idx[node_pool],
        node_phase=node_phase,
        pool_hall=pool_hall,
        pool_sku=tuple(pools_sku),
        sku_names=sku_names,
        phase_start_s=phase_start_s,
        online=phase_start_s[node_phase] <= 0.0,
        healthy=np.ones(n, dtype=bool),
        alloc_gpus=np.zeros(n, dtype=np.int64),
        fail_weight=weight,
        node_jobs=[set() for _ in range(n)],
    )
