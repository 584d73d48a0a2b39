"""Placement: map admitted shapes onto concrete node ids (vectorised, deterministic).

Order (largest slot class first, which the nested capacity condition of
:mod:`scheduler.shapes` makes always succeed):

1. jobs of 2..64 whole nodes, one pool each: best fit on the pool's remaining slot room
   (fewest spare whole nodes left), ties to the lowest pool id;
2. pool-spanning jobs (> one array; the hero run): whole nodes, fully free arrays first, in
   one hall when one hall has room (best-fitting hall), else halls with most room first;
3. one-node jobs: whole free nodes in the most fragmented pools first (keeps big holes);
4. sub-node jobs, largest first: best fit on partially used nodes, whole nodes last.
"""

from __future__ import annotations

import numpy as np

from scheduler.shapes import ShapeSpec
from scheduler.types import Allocation

__all__ = ["choose_spares", "place"]


def _smallest(keys: list[np.ndarray], k: int) -> np.ndarray:
    """Indices of the ``k`` smallest rows in lexicographic order of ``keys`` (most significant
    first; all non-negative ints, the last unique), ascending -- the first ``k`` entries of
    ``np.lexsort(keys[::-1])``, found by one ``argpartition`` on a packed int64 key."""
    n = keys[0].size
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    bits = [max(1, int(a.max(initial=0)).bit_length()) for a in keys]
    if sum(bits) > 62:  # does not pack: plain lexsort
        return np.lexsort(keys[::-1])[:k]
    packed = np.zeros(n, dtype=np.int64)
    for a, b in zip(keys, bits, strict=True):
        packed = (packed << b) | a.astype(np.int64)
    part = np.argpartition(packed, k - 1)[:k] if k < n else np.arange(n)
    return part[np.argsort(packed[part], kind="stable")]


def choose_spares(
    free: np.ndarray, node_pool: np.ndarray, pool_hall: np.ndarray, gpn: int, count: int,
    prefer_pools: np.ndarray | None = None,
) -> np.ndarray:
    """Pick ``count`` whole free nodes as hot spares (fewer when fewer exist).

    Prefers the pools in ``prefer_pools`` (the hero run's), then their halls, then the most
    fragmented pools, then the lowest node id.
    """
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    whole = np.flatnonzero(free == gpn)
    if whole.size == 0:
        return whole
    num_pools = pool_hall.size
    w = np.bincount(node_pool[whole], minlength=num_pools)
    in_pref = np.zeros(num_pools, dtype=bool)
    in_hall = np.zeros(num_pools, dtype=bool)
    if prefer_pools is not None and prefer_pools.size:
        in_pref[prefer_pools] = True
        in_hall = np.isin(pool_hall, pool_hall[prefer_pools])
    p = node_pool[whole]
    first = _smallest([(~in_pref[p]).astype(np.int64), (~in_hall[p]).astype(np.int64), w[p], whole], count)
    return np.sort(whole[first])


def place(
    free: np.ndarray,
    node_pool: np.ndarray,
    pool_hall: np.ndarray,
    spec: ShapeSpec,
    job_ids: list[str],
    shapes: np.ndarray,
    klasses: np.ndarray,
) -> tuple[dict[str, Allocation], list[str], np.ndarray]:
    """Place jobs on nodes.

    Parameters
    ----------
    free : (num_nodes,) int
        Free GPUs per node (not modified).
    job_ids, shapes, klasses : (n,)
        Jobs to place with their shape and slot class in GPUs, in priority order.

    Returns
    -------
    starts : dict
        job id -> allocation ``((node, gpus), ...)``.
    unplaced : list of str
        Jobs that found no room (never happens when the nested capacity condition holds).
    free_after : (num_nodes,) int64
    """
    free = np.array(free, dtype=np.int64, copy=True)
    gpn = spec.gpn
    num_pools = pool_hall.size
    starts: dict[str, Allocation] = {}
    unplaced: list[str] = []
    shapes = np.asarray(shapes, dtype=np.int64)
    klasses = np.asarray(klasses, dtype=np.int64)
    idx = np.arange(shapes.size)
    in_pool = (shapes > gpn) & (klasses <= spec.pool_gpus)
    spanning = klasses > spec.pool_gpus

    # 1. in-pool multi-node jobs, slot class descending (stable: keeps priority order)
    mp = idx[in_pool]
    if mp.size:
        mp = mp[np.argsort(-klasses[mp], kind="stable")]
        whole = np.flatnonzero(free == gpn)
        pools_of_whole = node_pool[whole]
        w = np.bincount(pools_of_whole, minlength=num_pools).astype(np.int64)
        starts_at = np.concatenate(([0], np.cumsum(w)))
        taken = np.zeros(num_pools, dtype=np.int64)
        slot_rem = w.copy()
        big = np.int64(1) << 62
        for j in mp:
            m = int(klasses[j]) // gpn
            k = int(shapes[j]) // gpn
            cand = np.where(slot_rem >= m, slot_rem, big)
            p = int(cand.argmin())
            if cand[p] == big:
                unplaced.append(job_ids[j])
                continue
            slot_rem[p] -= m
            a = starts_at[p] + taken[p]
            nodes = whole[a : a + k]
            taken[p] += k
            free[nodes] = 0
            starts[job_ids[j]] = tuple((int(n), gpn) for n in nodes)

    # 2. pool-spanning jobs
    for j in idx[spanning]:
        k = int(shapes[j]) // gpn
        whole = np.flatnonzero(free == gpn)
        if whole.size < k:
            unplaced.append(job_ids[j])
            continue
        p = node_pool[whole]
        w = np.bincount(p, minlength=num_pools)
        size = np.bincount(node_pool, minlength=num_pools)
        hall_room = np.bincount(pool_hall, weights=w, minlength=int(pool_hall.max()) + 1)
        fits = np.flatnonzero(hall_room >= k)
        if fits.size:
            best = fits[np.argmin(hall_room[fits])]
            hall_rank = np.where(np.arange(hall_room.size) == best, 0, 1)
        else:
            hall_rank = np.argsort(np.argsort(-hall_room, kind="stable"), kind="stable")
        full = (w == size).astype(np.int64)
        order = np.lexsort((whole, -w[p], -full[p], hall_rank[pool_hall[p]]))
        nodes = np.sort(whole[order[:k]])
        free[nodes] = 0
        starts[job_ids[j]] = tuple((int(n), gpn) for n in nodes)

    # 3. one-node jobs
    one = idx[(shapes == gpn) & ~in_pool & ~spanning]
    if one.size:
        whole = np.flatnonzero(free == gpn)
        w = np.bincount(node_pool[whole], minlength=num_pools)
        chosen = whole[_smallest([w[node_pool[whole]], whole], one.size)]
        for j, n in zip(one[: chosen.size], chosen, strict=False):
            starts[job_ids[j]] = ((int(n), gpn),)
        free[chosen] = 0
        unplaced.extend(job_ids[j] for j in one[chosen.size :])

    # 4. sub-node jobs, shape descending; best fit on nodes
    sub = idx[shapes < gpn]
    for s in sorted(set(shapes[sub].tolist()), reverse=True):
        js = sub[shapes[sub] == s]
        cand = np.flatnonzero(free >= s)
        if cand.size == 0:
            unplaced.extend(job_ids[j] for j in js)
            continue
        w = np.bincount(node_pool[free == gpn], minlength=num_pools)
        cand = cand[_smallest([free[cand], w[node_pool[cand]], cand], js.size)]  # each node holds >= 1
        slots = free[cand] // s
        cum = np.cumsum(slots)
        c = min(js.size, int(cum[-1]))
        last = int(np.searchsorted(cum, c))
        used_nodes = cand[: last + 1]
        per_job_node = np.repeat(used_nodes, slots[: last + 1])[:c]
        for j, n in zip(js[:c], per_job_node, strict=True):
            starts[job_ids[j]] = ((int(n), int(s)),)
        np.subtract.at(free, per_job_node, s)
        unplaced.extend(job_ids[j] for j in js[c:])
    return starts, unplaced, free
