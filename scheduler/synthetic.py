"""Random snapshots for tests, benchmarks and examples (explicit ``numpy.random.Generator``)."""

from __future__ import annotations

import numpy as np

from scheduler.placement import place
from scheduler.shapes import ShapeSpec, shapes_of
from scheduler.types import ClusterView, DivisionState, PendingJob, RunningJob

__all__ = ["DIVISIONS", "random_snapshot"]

DIVISIONS = ("grok", "coding", "data", "macrohard")
_SHARES = (0.4, 0.3, 0.2, 0.1)
_SIZES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 3, 24])
_SIZE_P = np.array([0.15, 0.1, 0.12, 0.25, 0.1, 0.08, 0.06, 0.04, 0.02, 0.01, 0.005, 0.02, 0.035])


def random_snapshot(
    rng: np.random.Generator,
    *,
    num_pools: int = 4,
    nodes_per_pool: int = 64,
    num_halls: int = 2,
    n_pending: int = 100,
    occupancy: float = 0.6,
    failed_frac: float = 0.01,
    max_gpus: int | None = None,
    elastic_frac: float = 0.1,
    hot_spare_nodes: int = 0,
    now_s: float = 10_000.0,
    borrow_frac: float | None = 0.5,
) -> tuple[ClusterView, list[PendingJob], list[RunningJob], float]:
    """A random cluster with running jobs filling about ``occupancy`` and ``n_pending`` jobs.

    Returns ``(view, pending, running, now_s)``.
    """
    gpn = 8
    nn = num_pools * nodes_per_pool
    spec = ShapeSpec(gpn, nodes_per_pool)
    node_pool = np.repeat(np.arange(num_pools), nodes_per_pool)
    pool_hall = np.arange(num_pools) * num_halls // max(1, num_pools)
    free = np.full(nn, gpn, dtype=np.int64)
    free[rng.random(nn) < failed_frac] = 0
    total = int(free.sum())
    p = _SIZE_P / _SIZE_P.sum()
    cap_size = max_gpus if max_gpus is not None else total
    sizes = _SIZES[_SIZES <= max(1, cap_size)]
    ps = p[: sizes.size] if sizes.size == _SIZES.size else p[_SIZES <= max(1, cap_size)]
    ps = ps / ps.sum()
    # running jobs: draw and place until occupancy reached
    running: list[RunningJob] = []
    target = occupancy * total
    used = 0
    k = 0
    while used < target and k < 100_000:
        nb = int(min(64, max(1, (target - used) / 64)))
        batch = rng.choice(sizes, size=nb, p=ps)
        sh, kl = shapes_of(batch, spec)
        ids = [f"r{k + i}" for i in range(batch.size)]
        starts, _, free = place(free, node_pool, pool_hall, spec, ids, sh, kl)
        if not starts:
            break
        for i, jid in enumerate(ids):
            if jid not in starts:
                continue
            d = int(rng.integers(0, 4))
            st = float(now_s - rng.uniform(0, 20_000))
            end = float(now_s + rng.exponential(3600.0)) if rng.random() < 0.8 else None
            running.append(RunningJob(
                job_id=jid, division=DIVISIONS[d], num_gpus=int(batch[i]), allocation=starts[jid],
                priority=int(rng.integers(0, 3)), preemptible=bool(rng.random() < 0.7), start_time_s=st,
                expected_end_s=end, restart_cost_s=float(rng.uniform(60, 1800)),
            ))
            used += int(sh[i])
        k += batch.size
    usage = np.zeros(4)
    for r in running:
        usage[DIVISIONS.index(r.division)] += r.allocated_gpus
    divisions = tuple(
        DivisionState(
            name=name, guaranteed_gpus=int(total * s * 0.9), weight=float(1 + i % 2),
            borrow_limit_gpus=None if borrow_frac is None else int(total * borrow_frac),
            usage_gpus=int(usage[i]), decayed_usage_gpu_s=float(rng.uniform(0, 1e7)),
        )
        for i, (name, s) in enumerate(zip(DIVISIONS, _SHARES, strict=True))
    )
    g = rng.choice(sizes, size=n_pending, p=ps)
    pending = []
    for i in range(n_pending):
        gi = int(g[i])
        mn = int(max(1, gi // 2)) if (gi > 1 and rng.random() < elastic_frac) else None
        pending.append(PendingJob(
            job_id=f"p{i:06d}", division=DIVISIONS[int(rng.integers(0, 4))], num_gpus=gi,
            priority=int(rng.integers(0, 3)), preemptible=bool(rng.random() < 0.7), min_gpus=mn,
            submit_time_s=float(now_s - rng.exponential(1800.0)),
            expected_duration_s=float(rng.exponential(3600.0)) if rng.random() < 0.7 else None,
        ))
    view = ClusterView(free_gpus=free, node_pool=node_pool, pool_hall=pool_hall, divisions=divisions,
                       gpus_per_node=gpn, hot_spare_nodes=hot_spare_nodes)
    return view, pending, running, now_s
