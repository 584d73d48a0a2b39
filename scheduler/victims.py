"""Preemption victims of a MILP round, grouped into types (see :mod:`scheduler.milp`).

Only a starving guarantee may preempt (``preempt_after``). Victims are preemptible, non-hero
jobs that have run at least ``min_runtime_s``, of divisions above their guarantee; only the
cheapest that could pay (cost per GPU below what a start inside the guarantee gains) and only
as many GPUs as the starving divisions could reclaim. Victims of one type share division, GPUs,
the capacity level their nodes free, priority and cost (in whole value units).
"""

from __future__ import annotations

import numpy as np

from scheduler._round import RoundInput, unique_rows
from scheduler.objective import MilpWeights

__all__ = ["victim_types"]


def victim_types(ri: RoundInput, overdue: np.ndarray, deficit: np.ndarray, vals: np.ndarray, weights: MilpWeights,
                 min_runtime_s: float) -> tuple[np.ndarray, list[list[int]]]:
    """``(keys, members)``: one row ``(division, GPUs, freed level, priority, cost x 100)`` per
    victim type and its running jobs (indices into ``ri.running``), most recently started first.

    ``overdue``: pending jobs that have waited ``preempt_after`` targets; ``deficit``: (n_div,)
    bool, the starving guarantees; ``vals``: value per GPU of each pending job.
    """
    w8 = weights
    rkeys = np.zeros((0, 5), np.int64)
    rtype_jobs: list[list[int]] = []
    per_gpu = np.zeros(0)
    over = ri.usage > ri.guar
    el = np.flatnonzero(ri.r_preemptible & ~ri.r_hero & over[ri.r_div]
                        & (ri.now_s - ri.r_start >= min_runtime_s)
                        & (ri.r_first[1:] > ri.r_first[:-1]))
    if el.size:  # the cheapest victims that could pay, and only as many GPUs as could be reclaimed
        # cost per GPU in whole value units, rounded up: victims aggregate into few types (a cost
        # per second of run time made every running job a type of its own)
        lost_s = ri.r_restart[el] + np.minimum(ri.now_s - ri.r_start[el], w8.preempt_lost_cap_s)
        per_gpu = np.ceil(w8.preempt_base + w8.preempt_per_gpu_h * lost_s / 3600.0)
        gain = w8.w_guarantee + float(vals[overdue].max()) + w8.w_job
        o = np.lexsort((-ri.r_start[el], per_gpu))
        el, per_gpu = el[o], per_gpu[o]
        keep = per_gpu < gain
        need = float(np.minimum(np.maximum(0.0, ri.guar - ri.usage), np.bincount(
            ri.div[overdue], weights=ri.shape_f[overdue].astype(np.float64), minlength=ri.usage.size))[deficit].sum())
        cum = np.cumsum(ri.r_gpus[el])
        keep &= (cum - ri.r_gpus[el]) < need + float(ri.r_gpus[el].max())
        el, per_gpu = el[keep], per_gpu[keep]
        o = np.argsort(el)
        el, per_gpu = el[o], per_gpu[o]
    if el.size:
        gpn = ri.spec.gpn
        ln = ri.r_first[el + 1] - ri.r_first[el]
        e = ri.entries_of(el)
        seg = np.concatenate(([0], np.cumsum(ln)[:-1]))
        g = ri.r_node_gpus[e]
        pools = ri.view.node_pool[ri.r_nodes[e]]
        whole = np.minimum.reduceat(g, seg) == gpn
        one_pool = np.minimum.reduceat(pools, seg) == np.maximum.reduceat(pools, seg)
        low_g = np.minimum.reduceat(np.where(g > 0, g & -g, 1), seg)
        low_n = np.minimum(ln & -ln, ri.spec.nodes_per_pool)
        credit = np.where(whole & one_pool, gpn * low_n, low_g)
        rcost = per_gpu.astype(np.int64) * 100
        arr = np.stack([ri.r_div[el], ri.r_gpus[el], credit, ri.r_prio[el], rcost], axis=1).astype(np.int64)
        rkeys, rinv = unique_rows(arr)
        # within a type: most recently started first (least progress lost), then id
        o = np.lexsort((-ri.r_start[el], rinv))
        srt, inv_s, st_s = el[o], rinv[o], ri.r_start[el][o]
        bounds = np.searchsorted(inv_s, np.arange(rkeys.shape[0] + 1))
        dup = (inv_s[1:] == inv_s[:-1]) & (st_s[1:] == st_s[:-1])
        tied = set(inv_s[1:][dup].tolist())
        for rt in range(rkeys.shape[0]):
            members = srt[bounds[rt] : bounds[rt + 1]].tolist()
            if rt in tied:
                members = sorted(members, key=lambda i: (-ri.r_start[i], ri.running[i].job_id))
            rtype_jobs.append(members)
    return rkeys, rtype_jobs
