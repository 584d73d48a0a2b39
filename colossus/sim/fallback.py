"""A minimal strict-FIFO policy used when :mod:`scheduler`'s policies cannot be loaded.

Same protocol as :class:`scheduler.policy.Policy`. Shapes follow DESIGN.md: ``g <= gpus_per_node``
rounds up to a power of two inside one node (best fit), larger jobs take ``ceil(g / gpn)``
whole free nodes (lowest ids). ``view.hot_spare_nodes`` whole nodes are kept free for the hero
run. Jobs start in (priority desc, submit time, list order); the first that does not fit blocks
all behind it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scheduler.types import ClusterView, Decision, PendingJob, RoundRecord, RunningJob

__all__ = ["SimpleFifo"]


class SimpleFifo:
    """Strict FIFO, first-fit; no preemption."""

    name = "fifo"

    def schedule(self, view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob],
                 now_s: float) -> Decision:
        gpn = view.gpus_per_node
        npp = int(view.nodes_per_pool.max(initial=1))
        free = view.free_gpus.copy()
        starts: dict[str, tuple[tuple[int, int], ...]] = {}
        order = sorted(range(len(pending)), key=lambda i: (not pending[i].is_hero, -pending[i].priority,
                                                            pending[i].submit_time_s, i))
        for i in order:
            job = pending[i]
            g = job.num_gpus
            spares = 0 if job.is_hero else view.hot_spare_nodes
            if g <= gpn:
                shape = 1 << (g - 1).bit_length()
                cand = np.flatnonzero(free >= shape)
                if spares:
                    whole = np.flatnonzero(free == gpn)
                    if whole.size <= spares:
                        cand = np.flatnonzero((free >= shape) & (free < gpn))
                if cand.size == 0:
                    break
                node = int(cand[np.argmin(free[cand])])
                free[node] -= shape
                starts[job.job_id] = ((node, shape),)
            else:
                k = -(-g // gpn)
                whole = np.flatnonzero(free == gpn)
                if whole.size - spares < k:
                    break
                if k <= npp:  # inside one pool: the first pool with k whole free nodes
                    per_pool = np.bincount(view.node_pool[whole], minlength=view.num_pools)
                    ok = np.flatnonzero(per_pool >= k)
                    if ok.size == 0:
                        break
                    whole = whole[view.node_pool[whole] == ok[0]]
                nodes = whole[:k]
                free[nodes] = 0
                starts[job.job_id] = tuple((int(n), gpn) for n in nodes)
        rec = RoundRecord(policy="fifo", solver="greedy", status="greedy", n_pending=len(pending),
                          n_running=len(running), n_started=len(starts))
        return Decision(starts=starts, record=rec)
