"""Public value types of the scheduler: a cluster snapshot in, a decision out.

Everything here is a frozen keyword-only dataclass; the cluster state is vectorised so that a
200,000-GPU cluster (25,000 nodes of 8 GPUs) costs a few NumPy arrays, not 25,000 objects.

Topology and ids
----------------
- A *node* has ``gpus_per_node`` (8) GPUs. Node ids are indices ``0..num_nodes-1`` into the
  per-node arrays of :class:`ClusterView`.
- A *pool* is one 512-GPU array (64 nodes of 8 GPUs, one non-blocking fabric block); pool ids
  are indices into the per-pool arrays. Pools may be smaller in small test clusters.
- A *hall* groups pools; a job spanning several pools prefers one hall.

Allocation shapes (see :mod:`scheduler.shapes`)
-----------------------------------------------
A job asking for ``g`` GPUs is given a shape that is always placeable: ``g <= 8`` is rounded up
to a power of two inside one node; ``8 < g <= 512`` takes ``ceil(g/8)`` whole nodes inside one
pool; ``g > 512`` takes ``ceil(g/8)`` whole nodes across pools, whole arrays first, one hall
preferred. An allocation is a tuple of ``(node_id, gpus)`` pairs whose GPUs sum to the shape
(for an elastic job: the shape of ``num_gpus`` or of ``min_gpus``).

Decision
--------
``Decision.starts`` maps job ids to allocations, ``preemptions`` lists running jobs to stop
(their GPUs are free for this decision's starts), ``reservations`` the capacity held for a big
gang job, ``explanations`` says for every pending job that does not start why it waits and
when it may start, and ``record`` holds the solver's own figures for the round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

__all__ = [
    "Allocation",
    "ClusterView",
    "Decision",
    "DivisionState",
    "Explanation",
    "PendingJob",
    "Preemption",
    "Reservation",
    "RoundRecord",
    "RunningJob",
    "WaitReason",
]

Allocation = tuple[tuple[int, int], ...]
"""``((node_id, gpus), ...)``: GPUs given to one job on each node, node ids ascending."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DivisionState:
    """One division (tenant): entitlement and usage."""

    name: str
    guaranteed_gpus: int
    """GPUs the division is entitled to whenever it has demand (its nominal quota)."""
    weight: float = 1.0
    """Share of borrowable capacity relative to other divisions (> 0)."""
    borrow_limit_gpus: int | None = None
    """At most this many GPUs above the guarantee (``None``: no limit)."""
    lend_limit_gpus: int | None = None
    """At most this many GPUs of its idle guarantee may be used by others (``None``: all)."""
    usage_gpus: int = 0
    """GPUs allocated to its running jobs now."""
    decayed_usage_gpu_s: float = 0.0
    """GPU-seconds used, exponentially decayed with the fair-share half-life (Slurm-style)."""

    def __post_init__(self) -> None:
        if self.guaranteed_gpus < 0:
            raise ValueError(f"division {self.name!r}: guaranteed_gpus must be >= 0")
        if not self.weight > 0:
            raise ValueError(f"division {self.name!r}: weight must be > 0")
        if self.borrow_limit_gpus is not None and self.borrow_limit_gpus < 0:
            raise ValueError(f"division {self.name!r}: borrow_limit_gpus must be >= 0")
        if self.lend_limit_gpus is not None and self.lend_limit_gpus < 0:
            raise ValueError(f"division {self.name!r}: lend_limit_gpus must be >= 0")

    @property
    def cap_gpus(self) -> float:
        """Most GPUs the division may hold: guarantee + borrow limit (inf without a limit)."""
        if self.borrow_limit_gpus is None:
            return float("inf")
        return float(self.guaranteed_gpus + self.borrow_limit_gpus)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class ClusterView:
    """The cluster as the scheduler sees it in one round.

    Parameters
    ----------
    free_gpus : (num_nodes,) int
        Healthy, unallocated GPUs per node; 0 for failed or drained nodes.
    node_pool : (num_nodes,) int
        Pool (512-GPU array) index of each node.
    pool_hall : (num_pools,) int
        Hall index of each pool.
    pool_sku : tuple of str, optional
        GPU type per pool (informational; the model treats GPUs as one type).
    gpus_per_node : int
        GPUs in a healthy node (8).
    divisions : tuple of DivisionState
        The divisions, in a fixed order.
    hot_spare_nodes : int
        Whole free nodes to keep idle as hot spares for the hero run.
    node_rack : (num_nodes,) int, optional
        Rack index of each node (informational).
    start_budget_gpus : int, optional
        Most GPUs that may start this round, whatever is free (e.g. what the site's power
        headroom can feed: a simulation under a power cap sets it). GPUs freed by the round's
        own preemptions come on top. None: no limit beyond the free GPUs.
    """

    free_gpus: np.ndarray
    node_pool: np.ndarray
    pool_hall: np.ndarray
    divisions: tuple[DivisionState, ...]
    gpus_per_node: int = 8
    pool_sku: tuple[str, ...] | None = None
    hot_spare_nodes: int = 0
    node_rack: np.ndarray | None = None
    start_budget_gpus: int | None = None

    def __post_init__(self) -> None:
        free = np.ascontiguousarray(self.free_gpus, dtype=np.int64)
        pool = np.ascontiguousarray(self.node_pool, dtype=np.int64)
        hall = np.ascontiguousarray(self.pool_hall, dtype=np.int64)
        object.__setattr__(self, "free_gpus", free)
        object.__setattr__(self, "node_pool", pool)
        object.__setattr__(self, "pool_hall", hall)
        if free.ndim != 1 or pool.shape != free.shape:
            raise ValueError("free_gpus and node_pool must be 1-D arrays of the same length")
        if self.gpus_per_node < 1 or self.gpus_per_node & (self.gpus_per_node - 1):
            raise ValueError("gpus_per_node must be a power of two")
        if free.size and (free.min() < 0 or free.max() > self.gpus_per_node):
            raise ValueError(f"free_gpus must lie in [0, {self.gpus_per_node}]")
        if pool.size and (pool.min() < 0 or pool.max() >= hall.size):
            raise ValueError("node_pool holds an index outside pool_hall")
        if pool.size > 1 and np.any(np.diff(pool) < 0):
            raise ValueError("nodes must be numbered pool by pool (node_pool non-decreasing)")
        if self.pool_sku is not None and len(self.pool_sku) != hall.size:
            raise ValueError("pool_sku must have one entry per pool")
        names = [d.name for d in self.divisions]
        if len(set(names)) != len(names):
            raise ValueError("division names must be unique")
        if self.hot_spare_nodes < 0:
            raise ValueError("hot_spare_nodes must be >= 0")
        if self.start_budget_gpus is not None and self.start_budget_gpus < 0:
            raise ValueError("start_budget_gpus must be >= 0 (or None for no limit)")

    @property
    def num_nodes(self) -> int:
        return int(self.free_gpus.size)

    @property
    def num_pools(self) -> int:
        return int(self.pool_hall.size)

    @property
    def nodes_per_pool(self) -> np.ndarray:
        """(num_pools,) int: nodes in each pool (healthy or not)."""
        return np.bincount(self.node_pool, minlength=self.num_pools)

    def division_index(self) -> dict[str, int]:
        return {d.name: i for i, d in enumerate(self.divisions)}

    def with_free(self, free_gpus: np.ndarray) -> ClusterView:
        """A copy with other free GPUs per node (e.g. after applying a decision)."""
        return ClusterView(
            free_gpus=free_gpus, node_pool=self.node_pool, pool_hall=self.pool_hall,
            divisions=self.divisions, gpus_per_node=self.gpus_per_node, pool_sku=self.pool_sku,
            hot_spare_nodes=self.hot_spare_nodes, node_rack=self.node_rack,
            start_budget_gpus=self.start_budget_gpus,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingJob:
    """A job waiting to start."""

    job_id: str
    division: str
    num_gpus: int
    kind: str = "train"
    priority: int = 0
    """Higher runs first."""
    preemptible: bool = True
    min_gpus: int | None = None
    """Elastic jobs may start on this many GPUs instead (``None``: rigid)."""
    submit_time_s: float = 0.0
    expected_duration_s: float | None = None
    """Run time estimate at ``num_gpus`` (``None``: unknown; never backfilled)."""
    is_hero: bool = False
    """The giant pretraining run: whole arrays, hot spares, never preempted."""
    restart_cost_s: float = 0.0
    """Seconds of work lost when it is preempted (restore + lost since checkpoint)."""

    def __post_init__(self) -> None:
        if self.num_gpus < 1:
            raise ValueError(f"job {self.job_id!r}: num_gpus must be >= 1")
        if self.min_gpus is not None and not 1 <= self.min_gpus <= self.num_gpus:
            raise ValueError(f"job {self.job_id!r}: min_gpus must lie in [1, num_gpus]")


@dataclass(frozen=True, kw_only=True, slots=True)
class RunningJob:
    """A job holding GPUs now."""

    job_id: str
    division: str
    num_gpus: int
    allocation: Allocation
    kind: str = "train"
    priority: int = 0
    preemptible: bool = True
    start_time_s: float = 0.0
    expected_end_s: float | None = None
    restart_cost_s: float = 0.0
    is_hero: bool = False

    @property
    def allocated_gpus(self) -> int:
        return sum(g for _, g in self.allocation)

    def run_time_s(self, now_s: float) -> float:
        """Seconds since it (re)started."""
        return max(0.0, now_s - self.start_time_s)


class WaitReason(StrEnum):
    """Why a pending job did not start this round."""

    QUOTA = "quota"
    """Its division is at its borrow limit (or others' reserved guarantee blocks it)."""
    NO_SHAPE = "no_shape"
    """Its shape cannot be placed even on every healthy node of the cluster."""
    RESERVATION = "reservation"
    """Capacity is held for the reservation of another (big gang) job."""
    RESERVED = "reserved"
    """It is the job holding the reservation; it starts when enough capacity frees up."""
    PRIORITY = "priority"
    """Free capacity went to higher-value jobs (or there is none of its shape)."""
    FIFO_BLOCKED = "fifo_blocked"
    """Strict FIFO: a job ahead of it does not fit."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Explanation:
    """Why a pending job waits, and when it may start."""

    reason: WaitReason
    text: str
    estimated_start_s: float | None = None
    """Earliest time its shape fits as running jobs end (``None``: unknown)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Preemption:
    job_id: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Reservation:
    """Capacity held for a big gang job that does not fit now."""

    job_id: str
    num_gpus: int
    start_s: float | None
    """When it is expected to fit (the shadow time), ``None`` when unknown."""
    held_gpus: int = 0
    """Free GPUs other jobs running past ``start_s`` may not take."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RoundRecord:
    """The solver's own figures for one round (one row of ``rounds.parquet``)."""

    policy: str
    solver: str = "none"
    """``highs``, ``cbc``, ``greedy`` or ``none``."""
    status: str = "not_run"
    """The solver's true status: ``optimal``, ``time_limit_feasible``, ``time_limit_no_solution``,
    ``infeasible``, ``error``, ``skipped_all_fit``, ``skipped_unchanged``, ``skipped_empty``..."""
    build_s: float = 0.0
    solve_s: float = 0.0
    gap: float | None = None
    objective: float | None = None
    fallback_used: bool = False
    fallback_reason: str | None = None
    n_pending: int = 0
    n_running: int = 0
    n_types: int = 0
    n_started: int = 0
    n_preempted: int = 0
    placement_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """What to do this round."""

    starts: dict[str, Allocation] = field(default_factory=dict)
    preemptions: tuple[Preemption, ...] = ()
    reservations: tuple[Reservation, ...] = ()
    explanations: dict[str, Explanation] = field(default_factory=dict)
    spare_nodes: tuple[int, ...] = ()
    """Whole free nodes held idle as hot spares this round."""
    record: RoundRecord = field(default_factory=lambda: RoundRecord(policy="none"))

    @property
    def preempted_ids(self) -> tuple[str, ...]:
        return tuple(p.job_id for p in self.preemptions)
