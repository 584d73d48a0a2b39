"""Apply a decision to the free-GPU array, and check a decision's invariants.

The simulation calls :func:`check_decision` every round in debug mode; tests call it on every
decision of every policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from scheduler.errors import DecisionError
from scheduler.shapes import ShapeSpec, shapes_of
from scheduler.types import Allocation, ClusterView, Decision, PendingJob, RunningJob

__all__ = ["allocation_arrays", "apply_decision", "check_decision"]


def allocation_arrays(allocs: Iterable[Allocation]) -> tuple[np.ndarray, np.ndarray]:
    """Flatten allocations into (node ids, GPUs) int64 arrays."""
    nodes: list[int] = []
    gpus: list[int] = []
    for alloc in allocs:
        for n, g in alloc:
            nodes.append(n)
            gpus.append(g)
    return np.asarray(nodes, dtype=np.int64), np.asarray(gpus, dtype=np.int64)


def apply_decision(view: ClusterView, running: Sequence[RunningJob], decision: Decision) -> np.ndarray:
    """Free GPUs per node after the decision: preempted jobs' GPUs back, starts' GPUs taken.

    Returns
    -------
    (num_nodes,) int64
        May hold negative entries when the decision is invalid; see :func:`check_decision`.
    """
    free = view.free_gpus.copy()
    pre = set(decision.preempted_ids)
    if pre:
        n, g = allocation_arrays(r.allocation for r in running if r.job_id in pre)
        np.add.at(free, n, g)
    n, g = allocation_arrays(decision.starts.values())
    np.subtract.at(free, n, g)
    return free


def check_decision(
    view: ClusterView,
    pending: Sequence[PendingJob],
    running: Sequence[RunningJob],
    decision: Decision,
) -> np.ndarray:
    """Raise :class:`DecisionError` unless the decision is valid; return the new free array.

    Checks: started jobs are pending and preempted ones running, preemptible and not hero;
    every allocation has a valid shape (gang all-or-nothing: the whole shape or nothing; one
    node below a node, whole nodes in one pool up to a pool, whole nodes above); no node gets
    more GPUs than it has free (after preemptions), i.e. no GPU is given twice; hot-spare
    nodes stay idle.
    """
    spec = ShapeSpec.for_view(view)
    by_id = {j.job_id: j for j in pending}
    run_by_id = {r.job_id: r for r in running}
    for p in decision.preemptions:
        r = run_by_id.get(p.job_id)
        if r is None:
            raise DecisionError(f"preempted job {p.job_id!r} is not running")
        if not r.preemptible or r.is_hero:
            raise DecisionError(f"job {p.job_id!r} is not preemptible but was preempted")
    if len(set(decision.preempted_ids)) != len(decision.preemptions):
        raise DecisionError("a job is preempted twice")
    nn = view.num_nodes
    for jid, alloc in decision.starts.items():
        job = by_id.get(jid)
        if job is None:
            raise DecisionError(f"started job {jid!r} is not pending")
        if not alloc:
            raise DecisionError(f"job {jid!r}: empty allocation")
        nodes = [n for n, _ in alloc]
        gpus = [g for _, g in alloc]
        if len(set(nodes)) != len(nodes):
            raise DecisionError(f"job {jid!r}: a node appears twice in its allocation")
        if min(nodes) < 0 or max(nodes) >= nn or min(gpus) < 1:
            raise DecisionError(f"job {jid!r}: node id out of range or GPUs < 1")
        total = sum(gpus)
        wanted = [job.num_gpus] + ([job.min_gpus] if job.min_gpus is not None else [])
        shapes, _ = shapes_of(np.asarray(wanted), spec)
        if total not in set(shapes.tolist()):
            raise DecisionError(
                f"job {jid!r}: allocation has {total} GPUs, allowed shapes {sorted(set(shapes.tolist()))} (partial gang?)"
            )
        if total <= spec.gpn:
            if len(alloc) != 1:
                raise DecisionError(f"job {jid!r}: a {total}-GPU job must sit in one node")
        else:
            if any(g != spec.gpn for g in gpus):
                raise DecisionError(f"job {jid!r}: a multi-node job must take whole nodes")
            if total <= spec.pool_gpus and len({int(view.node_pool[n]) for n in nodes}) != 1:
                raise DecisionError(f"job {jid!r}: a job of <= one array must sit in one pool")
    free = apply_decision(view, running, decision)
    bad = np.flatnonzero(free < 0)
    if bad.size:
        raise DecisionError(f"node {int(bad[0])} over-allocated by {int(-free[bad[0]])} GPUs")
    if decision.spare_nodes:
        n, _ = allocation_arrays(decision.starts.values())
        hit = set(n.tolist()) & set(decision.spare_nodes)
        if hit:
            raise DecisionError(f"hot-spare node {min(hit)} given to a job")
    return free
