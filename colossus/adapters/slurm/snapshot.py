"""A live Slurm state as the scheduler snapshot that ``colossus schedule`` reads (version 1).

Mapping (what the snapshot format can and cannot say):

- **Nodes**: every node with GPUs, in Slurm's order, numbered from 0 and cut into pools of the
  scenario's ``nodes_per_array`` (the last pool may be smaller), all in hall ``A``. Nodes that
  are down, drained, failed or in maintenance are ``failed_nodes``. A draining node that still
  runs jobs stays healthy (the format has no "busy but closed"); Slurm will not start work
  there, so a start the policy puts on it is simply placed elsewhere by Slurm. CPU-only nodes
  are left out; nodes must all have the same GPU count (the format has one ``gpus_per_node``).
- **Divisions**: the scenario's, with guarantees and borrow limits as the simulator computes
  them (``int(share * GPUs online)``) over the live cluster's GPUs. Decayed usage starts at 0
  (Slurm's own fair-share usage is not read).
- **Jobs -> divisions**: a division-map entry for the account, then one for
  ``partition:NAME``, then an account or partition named like a division, then the map's ``*``,
  then the stable hash of the account (as the trace importers do).
- **Running jobs**: allocation per node from Slurm (``gres_detail``), ``expected_end_s`` from
  the time limit, never preemptible (this adapter does not preempt through Slurm).
- **Pending jobs**: ``expected_duration_s`` = time limit (what Slurm's backfill plans with).
  Left out, with the reason kept in :attr:`LiveSnapshot.skipped`: CPU-only jobs, jobs held by
  someone else (user or admin holds without the adapter's mark), jobs waiting for a begin time
  or a dependency. Jobs the adapter itself held earlier are pending like any other. A pending
  array record that still holds several tasks becomes one job per task (``ID_TASK``).
- **Times** are seconds from now (``now_s`` = 0): submit and start times are negative. Slurm
  stamps submit times in whole seconds and breaks ties by job id; jobs submitted in the same
  second are spread 1 ms apart in job-id order, so the policy's submit order is Slurm's.
- **Priorities** are 0: the policy decides the order; Slurm's own priorities are not kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from colossus.adapters.slurm.state import SlurmJob, SlurmState
from traces.importers.divisions import DivisionMap, hash_division

__all__ = ["DivisionSpec", "LiveSnapshot", "build_snapshot", "division_of", "divisions_from_scenario"]

NOT_ELIGIBLE_REASONS = frozenset({"BeginTime", "Dependency", "DependencyNeverSatisfied", "PartitionDown",
                                  "PartitionInactive", "JobHeldUser", "JobHeldAdmin"})


@dataclass(frozen=True, kw_only=True, slots=True)
class DivisionSpec:
    """A division's shares of the cluster (from a scenario's ``[[divisions]]``)."""

    name: str
    guaranteed_share: float
    weight: float = 1.0
    borrow_limit_share: float = 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class LiveSnapshot:
    """The snapshot dict plus what was needed to build it."""

    snapshot: dict[str, Any]
    node_ids: dict[str, int]
    """Slurm node name -> snapshot node id."""
    jobs: dict[str, SlurmJob]
    """Snapshot job id (Slurm job id) -> the Slurm job, for every job in the snapshot."""
    skipped: tuple[tuple[str, str], ...]
    """(Slurm job id, why) of pending or running jobs left out of the snapshot."""


def divisions_from_scenario(scenario: Any) -> tuple[DivisionSpec, ...]:
    """The scenario's divisions as :class:`DivisionSpec`."""
    return tuple(DivisionSpec(name=d.name, guaranteed_share=d.guaranteed_share, weight=d.weight,
                              borrow_limit_share=d.borrow_limit_share) for d in scenario.divisions)


def division_of(job: SlurmJob, divisions: Sequence[str], dmap: DivisionMap | None = None) -> str:
    """The division a Slurm job belongs to (rules in the module docstring)."""
    explicit = dmap.explicit if dmap is not None else {}
    for key in (job.account, f"partition:{job.partition}"):
        if key in explicit:
            return explicit[key]
    for key in (job.account, job.partition):
        if key in divisions:
            return key
    if "*" in explicit:
        return explicit["*"]
    return hash_division(job.account or job.partition, divisions)


def build_snapshot(state: SlurmState, divisions: Sequence[DivisionSpec], *, nodes_per_pool: int = 64,
                   dmap: DivisionMap | None = None) -> LiveSnapshot:
    """Turn a live Slurm state into a snapshot dict (``scheduler.parse_snapshot`` reads it).

    Raises
    ------
    SlurmError
        No GPU nodes, or nodes with different GPU counts (the snapshot has one per cluster).
    """
    from colossus.adapters.slurm.state import SlurmError

    if not divisions:
        raise SlurmError("no divisions to map Slurm accounts onto")
    if nodes_per_pool < 1:
        raise ValueError("nodes_per_pool must be >= 1")
    gpu_nodes = [n for n in state.nodes if n.gpus > 0]
    if not gpu_nodes:
        raise SlurmError("Slurm reports no node with GPUs (gres/gpu)")
    gpn = gpu_nodes[0].gpus
    for n in gpu_nodes:
        if n.gpus != gpn:
            raise SlurmError(f"node {n.name}: {n.gpus} GPUs, but {gpu_nodes[0].name} has {gpn}; "
                             "the snapshot needs one GPU count for every node")
    node_ids = {n.name: i for i, n in enumerate(gpu_nodes)}
    busy = {name for j in state.jobs if j.state == "RUNNING" for name, _ in j.alloc}
    failed = [node_ids[n.name] for n in gpu_nodes if not n.usable and n.name not in busy]
    sizes = [min(nodes_per_pool, len(gpu_nodes) - s) for s in range(0, len(gpu_nodes), nodes_per_pool)]
    types = [n.gpu_type for n in gpu_nodes]
    pools = [{"nodes": size, "hall": "A", "sku": types[k * nodes_per_pool] or None} for k, size in enumerate(sizes)]
    online = gpn * len(gpu_nodes)
    names = [d.name for d in divisions]
    divs = [{"name": d.name, "guaranteed_gpus": int(d.guaranteed_share * online), "weight": d.weight,
             "borrow_limit_gpus": int(d.borrow_limit_share * online), "lend_limit_gpus": None,
             "decayed_usage_gpu_s": 0.0} for d in divisions]
    now = state.now_s
    running: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    jobs: dict[str, SlurmJob] = {}
    skipped: list[tuple[str, str]] = []
    for j in state.jobs:
        if j.num_gpus < 1:
            skipped.append((j.job_id, "no GPUs (CPU-only job)"))
            continue
        div = division_of(j, names, dmap)
        if j.state == "RUNNING":
            alloc = [[node_ids[nm], g] for nm, g in j.alloc if nm in node_ids]
            if not alloc:
                skipped.append((j.job_id, "running, but Slurm reports no GPUs per node for it"))
                continue
            start = (j.start_time_s if j.start_time_s is not None else now) - now
            running.append({"job_id": j.job_id, "division": div, "num_gpus": sum(g for _, g in alloc),
                            "allocation": alloc, "kind": "train", "priority": 0, "preemptible": False,
                            "start_time_s": start,
                            "expected_end_s": None if j.time_limit_s is None else start + j.time_limit_s,
                            "restart_cost_s": 0.0, "is_hero": False})
        else:
            if j.reason in NOT_ELIGIBLE_REASONS and not j.held_by_us:
                skipped.append((j.job_id, f"pending with reason {j.reason} (not eligible to start)"))
                continue
            pending.append({"job_id": j.job_id, "division": div, "num_gpus": j.num_gpus, "kind": "train",
                            "priority": 0, "preemptible": False, "min_gpus": None,
                            "submit_time_s": j.submit_time_s - now, "expected_duration_s": j.time_limit_s,
                            "is_hero": False, "restart_cost_s": 0.0})
        jobs[j.job_id] = j
    _spread_ties(pending)
    snap = {
        "version": 1,
        "now_s": 0.0,
        "cluster": {"gpus_per_node": gpn, "hot_spare_nodes": 0, "pools": pools, "failed_nodes": failed},
        "divisions": divs,
        "running": running,
        "pending": pending,
    }
    return LiveSnapshot(snapshot=snap, node_ids=node_ids, jobs=jobs, skipped=tuple(skipped))


def _spread_ties(pending: list[dict[str, Any]]) -> None:
    """Order pending jobs by (submit second, numeric job id); same-second jobs 1 ms apart."""
    def key(p: dict[str, Any]) -> tuple[float, int, int]:
        base, _, task = p["job_id"].partition("_")
        return (p["submit_time_s"], int(base) if base.isdigit() else 0, int(task) if task.isdigit() else -1)

    pending.sort(key=key)
    prev, k = None, 0
    for p in pending:
        k = k + 1 if p["submit_time_s"] == prev else 0
        prev = p["submit_time_s"]
        p["submit_time_s"] = prev + 1e-3 * k
