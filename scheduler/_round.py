"""Shared machinery for every policy: one round's arrays, greedy admission, reservations,
and turning admitted jobs into a :class:`~scheduler.types.Decision` with explanations.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import ClassVar

import numpy as np

from scheduler.errors import SchedulerInputError
from scheduler.placement import choose_spares, place
from scheduler.shapes import ShapeSpec, contributions, level_capacity, reduction_cost, shapes_of
from scheduler.types import (
    ClusterView,
    Decision,
    Explanation,
    PendingJob,
    Preemption,
    Reservation,
    RoundRecord,
    RunningJob,
    WaitReason,
)

__all__ = ["AllFitFirst", "GreedyResult", "ReservationPlan", "RoundInput", "admit_if_all_fit", "all_fit", "finish_round", "greedy_admit",
           "plan_reservation", "unique_rows", "with_usage"]

_MAX_ETA_POINTS = 48


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct rows of 2-D ``a`` and the inverse index, like ``np.unique(a, axis=0,
    return_inverse=True)`` but via ``lexsort`` (``np.unique`` with ``axis`` sorts opaque
    byte rows, ~10x slower at 10k rows)."""
    a = np.asarray(a)
    n = a.shape[0]
    if n == 0:
        return a[:0], np.zeros(0, dtype=np.int64)
    o = np.lexsort(a.T[::-1])
    s = a[o]
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = np.any(s[1:] != s[:-1], axis=1)
    grp = np.cumsum(new) - 1
    inv = np.empty(n, dtype=np.int64)
    inv[o] = grp
    return s[new], inv


@dataclass(kw_only=True, slots=True, eq=False)
class RoundInput:
    """Arrays for one round, built once from the snapshot (pending jobs in input order)."""

    view: ClusterView
    pending: Sequence[PendingJob]
    running: Sequence[RunningJob]
    now_s: float
    spec: ShapeSpec
    ids: list[str]
    gpus: np.ndarray
    div: np.ndarray
    prio: np.ndarray
    submit: np.ndarray
    dur: np.ndarray
    hero: np.ndarray
    shape_f: np.ndarray
    klass_f: np.ndarray
    shape_m: np.ndarray
    klass_m: np.ndarray
    elastic: np.ndarray
    a_f: np.ndarray
    a_m: np.ndarray
    rank: np.ndarray
    """Pending indices in priority order (priority desc, submit asc, id asc)."""
    free: np.ndarray
    """Free GPUs per node with hot spares masked out."""
    spare_nodes: np.ndarray
    cap: np.ndarray
    guar: np.ndarray
    div_cap: np.ndarray
    usage: np.ndarray
    reserve: np.ndarray
    weight: np.ndarray
    decayed: np.ndarray
    r_div: np.ndarray
    r_gpus: np.ndarray
    r_end: np.ndarray
    r_start: np.ndarray
    r_nodes: np.ndarray
    r_node_gpus: np.ndarray
    r_owner: np.ndarray
    r_first: np.ndarray
    """(n_running + 1,) offsets of each running job's entries in ``r_nodes``."""
    r_prio: np.ndarray
    r_preemptible: np.ndarray
    r_hero: np.ndarray
    r_restart: np.ndarray

    @classmethod
    def build(
        cls, view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float,
        *, usage_from_view: bool = False, spare_pools: np.ndarray | None = None,
    ) -> RoundInput:
        """Arrays of one round.

        ``usage_from_view`` takes division usage from ``view.divisions[i].usage_gpus`` instead
        of summing ``running``, and ``spare_pools`` gives the pools preferred for hot spares
        instead of the running hero runs' pools (both used by :func:`admit_if_all_fit`, which
        passes no running jobs).
        """
        spec = ShapeSpec.for_view(view)
        dix = view.division_index()
        n = len(pending)
        # a columnar running set (colossus.sim.running) hands over its arrays: no per-job pass
        rcols = running.columns(dix) if hasattr(running, "columns") else None
        try:
            div = np.fromiter((dix[j.division] for j in pending), dtype=np.int64, count=n)
            r_div = rcols["div"] if rcols is not None else np.fromiter(
                (dix[r.division] for r in running), dtype=np.int64, count=len(running))
        except KeyError as exc:
            raise SchedulerInputError(f"job of unknown division {exc.args[0]!r}; divisions: {sorted(dix)}") from None
        ids = [j.job_id for j in pending]
        if len(set(ids)) != n:
            raise SchedulerInputError("pending job ids must be unique")

        def col(attr: str, dtype: type, items: Sequence, none: float | None = None) -> np.ndarray:
            vals = list(map(attrgetter(attr), items))
            if none is not None and None in vals:
                vals = [none if v is None else v for v in vals]
            return np.fromiter(vals, dtype=dtype, count=len(items))

        gpus = col("num_gpus", np.int64, pending)
        mins = col("min_gpus", np.int64, pending, none=0)
        mins = np.where(mins > 0, mins, gpus)
        prio = col("priority", np.int64, pending)
        submit = col("submit_time_s", np.float64, pending)
        dur = col("expected_duration_s", np.float64, pending, none=np.nan)
        hero = col("is_hero", bool, pending)
        shape_f, klass_f = shapes_of(gpus, spec)
        shape_m, klass_m = shapes_of(mins, spec)
        elastic = shape_m < shape_f
        id_rank = np.zeros(n, np.int64)
        id_rank[sorted(range(n), key=ids.__getitem__)] = np.arange(n)
        rank = np.lexsort((id_rank, submit, -prio)) if n else np.zeros(0, np.int64)

        # running jobs, flattened allocations (one C-level pass over all (node, gpus) pairs)
        nr = len(running)
        if rcols is not None:
            lens = rcols["lens"]
            r_nodes, r_node_gpus = rcols["nodes"], rcols["node_gpus"]
        else:
            allocs = [r.allocation for r in running]
            lens = np.fromiter(map(len, allocs), dtype=np.int64, count=nr)
            r_nodes, r_node_gpus = _flatten_allocations(allocs, lens, int(lens.sum()))
        r_owner = np.repeat(np.arange(nr, dtype=np.int64), lens)
        r_first = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
        r_gpus = np.bincount(r_owner, weights=r_node_gpus, minlength=nr).astype(np.int64)
        if rcols is not None:
            r_end, r_start, r_prio = rcols["end_s"], rcols["start_s"], rcols["prio"]
            r_preemptible, r_hero, r_restart = rcols["preemptible"], rcols["hero"], rcols["restart_s"]
        else:
            r_end = col("expected_end_s", np.float64, running, none=np.nan)
            r_start = col("start_time_s", np.float64, running)
            r_prio = col("priority", np.int64, running)
            r_preemptible = col("preemptible", bool, running)
            r_hero = col("is_hero", bool, running)
            r_restart = col("restart_cost_s", np.float64, running)

        ndiv = len(view.divisions)
        guar = np.array([d.guaranteed_gpus for d in view.divisions], dtype=np.float64)
        div_cap = np.array([d.cap_gpus for d in view.divisions], dtype=np.float64)
        if usage_from_view:
            usage = np.array([d.usage_gpus for d in view.divisions], dtype=np.float64)
        else:
            usage = np.bincount(r_div, weights=r_gpus, minlength=ndiv).astype(np.float64)
        lend = np.array([d.lend_limit_gpus if d.lend_limit_gpus is not None else d.guaranteed_gpus for d in view.divisions], dtype=np.float64)
        reserve = np.maximum(0.0, guar - np.minimum(lend, guar) - usage)
        weight = np.array([d.weight for d in view.divisions], dtype=np.float64)
        decayed = np.array([d.decayed_usage_gpu_s for d in view.divisions], dtype=np.float64)

        free = view.free_gpus.copy()
        spares = np.empty(0, dtype=np.int64)
        if view.hot_spare_nodes > 0:
            pref = spare_pools
            if r_hero.any():
                pref = np.unique(view.node_pool[r_nodes[r_hero[r_owner]]])
            spares = choose_spares(free, view.node_pool, view.pool_hall, spec.gpn, view.hot_spare_nodes, pref)
            free[spares] = 0
        cap = level_capacity(free, view.node_pool, view.num_pools, spec)
        if view.start_budget_gpus is not None:  # a start budget caps every level (whole units of it)
            cap = np.minimum(cap, (int(view.start_budget_gpus) // spec.levels) * spec.levels)
        return cls(
            view=view, pending=pending, running=running, now_s=float(now_s), spec=spec, ids=ids,
            gpus=gpus, div=div, prio=prio, submit=submit, dur=dur, hero=hero,
            shape_f=shape_f, klass_f=klass_f, shape_m=shape_m, klass_m=klass_m, elastic=elastic,
            a_f=contributions(shape_f, klass_f, spec), a_m=contributions(shape_m, klass_m, spec),
            rank=rank, free=free, spare_nodes=spares, cap=cap, guar=guar, div_cap=div_cap,
            usage=usage, reserve=reserve, weight=weight, decayed=decayed, r_div=r_div,
            r_gpus=r_gpus, r_end=r_end, r_start=r_start, r_nodes=r_nodes, r_node_gpus=r_node_gpus,
            r_owner=r_owner, r_first=r_first, r_prio=r_prio, r_preemptible=r_preemptible, r_hero=r_hero,
            r_restart=r_restart,
        )

    @property
    def n(self) -> int:
        return len(self.ids)

    def capacity_with_releases(self, free: np.ndarray, released: np.ndarray) -> np.ndarray:
        """Level capacity of ``free`` plus the GPUs of running jobs ``released`` (indices)."""
        return level_capacity(self.free_with_releases(free, released), self.view.node_pool, self.view.num_pools, self.spec)

    def free_with_releases(self, free: np.ndarray, released: np.ndarray) -> np.ndarray:
        """``free`` plus the GPUs of running jobs ``released`` (indices, no repeats)."""
        f = np.array(free, dtype=np.int64, copy=True)
        if released.size:
            e = self.entries_of(released)
            f += np.bincount(self.r_nodes[e], weights=self.r_node_gpus[e], minlength=f.size).astype(np.int64)
        return f

    def entries_of(self, jobs: np.ndarray) -> np.ndarray:
        """Indices into ``r_nodes`` of the allocations of running ``jobs``, in that job order."""
        jobs = np.asarray(jobs, dtype=np.int64)
        ln = self.r_first[jobs + 1] - self.r_first[jobs]
        ends = np.cumsum(ln)
        return np.repeat(self.r_first[jobs] - (ends - ln), ln) + np.arange(int(ends[-1]) if ends.size else 0)

    def release_curve(self, free: np.ndarray, order: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(len(counts), L) level capacity after the first ``counts[i]`` jobs of ``order`` end.

        ``counts`` must be non-decreasing; free GPUs are accumulated incrementally, so the
        whole curve costs one pass over the released allocations plus one capacity per point.
        """
        e = self.entries_of(order)
        job_end = np.cumsum(self.r_first[order + 1] - self.r_first[order]) if order.size else np.zeros(0, np.int64)
        f = np.array(free, dtype=np.int64, copy=True)
        out = np.empty((len(counts), self.spec.levels.size), dtype=np.int64)
        done = 0
        pool, npools, spec = self.view.node_pool, self.view.num_pools, self.spec
        for i, c in enumerate(np.asarray(counts, dtype=np.int64).tolist()):
            upto = int(job_end[c - 1]) if c > 0 else 0
            if upto > done:
                sl = e[done:upto]
                np.add.at(f, self.r_nodes[sl], self.r_node_gpus[sl])
                done = upto
            out[i] = level_capacity(f, pool, npools, spec)
        return out

    def drained_capacity(self) -> np.ndarray:
        """Capacity if every running job ended (for 'no placeable shape')."""
        return self.capacity_with_releases(self.view.free_gpus, np.arange(len(self.running)))


@dataclass(frozen=True, kw_only=True, slots=True)
class ReservationPlan:
    """A reservation for the head job: long jobs may use at most ``extra`` per level."""

    head: int
    start_s: float | None
    levels: np.ndarray
    """Level indices constrained."""
    extra: np.ndarray
    """Capacity beyond the head's need at those levels at the shadow time (>= 0)."""
    cost: np.ndarray
    """(len(levels), n) capacity each pending job's full shape may remove at those levels."""
    cost_min: np.ndarray
    long: np.ndarray
    """(n,) bool: jobs that would still run at the shadow time (unknown duration counts)."""

    def held_gpus(self, cap: np.ndarray) -> int:
        return int(max(0, cap[0] - (self.extra[0] if self.levels.size and self.levels[0] == 0 else cap[0])))


def plan_reservation(ri: RoundInput, head: int, free: np.ndarray, exclude_running: np.ndarray | None = None) -> ReservationPlan:
    """Shadow time for ``head`` as running jobs end (EASY backfill), and the spare capacity."""
    need = ri.a_f[:, head]
    lv = np.flatnonzero(need > 0)
    ends = ri.r_end.copy()
    if exclude_running is not None and exclude_running.size:
        ends[exclude_running] = np.nan
    known = np.flatnonzero(np.isfinite(ends))
    order = known[np.argsort(ends[known], kind="stable")]
    start: float | None = None
    cap_at = None
    if order.size:
        lo, hi = 0, order.size  # smallest k with capacity(first k releases) >= need
        cap_all = ri.capacity_with_releases(free, order)
        if np.all(cap_all[lv] >= need[lv]):
            while lo < hi:
                mid = (lo + hi) // 2
                c = ri.capacity_with_releases(free, order[: mid + 1])
                if np.all(c[lv] >= need[lv]):
                    hi = mid
                else:
                    lo = mid + 1
            k = lo
            start = float(max(ri.now_s, ends[order[k]]))
            cap_at = ri.capacity_with_releases(free, order[: k + 1])
        else:
            cap_at = cap_all
    else:
        cap_at = level_capacity(free, ri.view.node_pool, ri.view.num_pools, ri.spec)
    extra = np.maximum(0, cap_at[lv] - need[lv])
    horizon = math.inf if start is None else start
    long = ~(np.isfinite(ri.dur) & (ri.now_s + ri.dur <= horizon))
    long[head] = False
    cost = reduction_cost(ri.shape_f, ri.klass_f, ri.spec)[lv]
    cost_m = reduction_cost(ri.shape_m, ri.klass_m, ri.spec)[lv]
    return ReservationPlan(head=head, start_s=start, levels=lv, extra=extra, cost=cost, cost_min=cost_m, long=long)


def with_usage(ri: RoundInput, admitted: np.ndarray, use_min: np.ndarray) -> RoundInput:
    """A shallow copy whose division usage and lend reserves include ``admitted`` (for a
    second admission pass after a first one)."""
    import copy

    ri2 = copy.copy(ri)
    g = np.where(use_min, ri.shape_m[admitted], ri.shape_f[admitted]).astype(np.float64) if admitted.size else np.zeros(0)
    add = np.bincount(ri.div[admitted], weights=g, minlength=ri.usage.size) if admitted.size else np.zeros_like(ri.usage)
    ri2.usage = ri.usage + add
    ri2.reserve = np.maximum(0.0, ri.reserve - add)
    return ri2


@dataclass(kw_only=True, slots=True)
class GreedyResult:
    admitted: list[int]
    use_min: list[bool]
    quota_blocked: np.ndarray
    fifo_blocked: np.ndarray
    reservation: ReservationPlan | None = None


def greedy_admit(
    ri: RoundInput,
    order: np.ndarray,
    *,
    strict: bool = False,
    reservation: ReservationPlan | None = None,
    cap: np.ndarray | None = None,
) -> GreedyResult:
    """Admit jobs in ``order`` while they fit (nested capacity, borrow caps, lend reserves).

    ``strict``: stop at the first job that does not fit for capacity (strict FIFO); jobs held
    only by their division's caps are skipped. With a ``reservation``, long jobs may only use
    the spare capacity at the reserved levels.
    """
    cap = ri.cap if cap is None else cap
    used = np.zeros_like(cap)
    headroom = ri.div_cap - ri.usage
    own_res = ri.reserve.copy()
    shared = float(cap[0] - ri.reserve.sum())
    r_used = np.zeros(reservation.levels.size) if reservation is not None else None
    admitted: list[int] = []
    use_min: list[bool] = []
    quota_blocked = np.zeros(ri.n, dtype=bool)
    fifo_blocked = np.zeros(ri.n, dtype=bool)
    a_f, a_m = ri.a_f.T, ri.a_m.T
    lending = bool(ri.reserve.sum() > 0)
    for pos, j in enumerate(order.tolist()):
        if used[0] >= cap[0]:  # no GPU left (e.g. a start budget spent): nothing further can fit
            if strict:
                fifo_blocked[order[pos + 1 :]] = True
            break
        d = ri.div[j]
        placed = False
        quota_hit = False
        for use_m in ((False, True) if ri.elastic[j] else (False,)):
            a = a_m[j] if use_m else a_f[j]
            g = float(ri.shape_m[j] if use_m else ri.shape_f[j])
            if np.any(used + a > cap):
                continue
            if reservation is not None and reservation.long[j]:
                c = reservation.cost_min[:, j] if use_m else reservation.cost[:, j]
                if np.any(r_used + c > reservation.extra):
                    continue
            if g > headroom[d]:
                quota_hit = True
                continue
            from_own = min(g, own_res[d])
            need_shared = g - from_own
            if lending and need_shared > 0 and need_shared > shared:
                quota_hit = True
                continue
            if reservation is not None and reservation.long[j]:
                r_used += c
            used += a
            headroom[d] -= g
            own_res[d] -= from_own
            shared -= need_shared
            admitted.append(j)
            use_min.append(use_m)
            placed = True
            break
        if not placed:
            if quota_hit:
                quota_blocked[j] = True
            elif strict:
                fifo_blocked[order[pos + 1 :]] = True
                break
    return GreedyResult(admitted=admitted, use_min=use_min, quota_blocked=quota_blocked, fifo_blocked=fifo_blocked, reservation=reservation)


def all_fit(ri: RoundInput, cand: np.ndarray) -> bool:
    """Whether every pending job (``cand`` must be all of them) can start now at full size.

    True when the summed capacity contributions fit every level (placement is then
    guaranteed, see :mod:`scheduler.shapes`), no division goes past its cap, and the GPUs taken
    beyond the divisions' own reserved guarantees fit in the unreserved capacity.
    """
    if cand.size != ri.n:
        return False
    if np.any(ri.a_f[:, cand].sum(axis=1) > ri.cap):
        return False
    new = np.bincount(ri.div[cand], weights=ri.shape_f[cand].astype(np.float64), minlength=ri.usage.size)
    if np.any(ri.usage + new > np.maximum(ri.div_cap, ri.usage)) and np.any(new[ri.usage + new > ri.div_cap] > 0):
        return False
    shared = np.maximum(0.0, new - ri.reserve).sum()
    return bool(shared <= max(0.0, ri.cap[0] - ri.reserve.sum()) or ri.reserve.sum() == 0)


_BIG_ALLOCATION = 256
"""Allocations with more entries than this (hero runs) are converted once and memoised."""
_ALLOC_MEMO: dict[int, tuple[object, np.ndarray, np.ndarray]] = {}


def _allocation_arrays(allocation: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, gpus) of one allocation, memoised on the allocation object (kept alive by the memo)."""
    hit = _ALLOC_MEMO.get(id(allocation))
    if hit is not None and hit[0] is allocation:
        return hit[1], hit[2]
    flat = np.fromiter(chain.from_iterable(allocation), dtype=np.int64, count=2 * len(allocation))
    nodes, gpus = flat[0::2].copy(), flat[1::2].copy()
    if len(_ALLOC_MEMO) > 16:
        _ALLOC_MEMO.clear()
    _ALLOC_MEMO[id(allocation)] = (allocation, nodes, gpus)
    return nodes, gpus


def _flatten_allocations(allocs: list, lens: np.ndarray, tot: int) -> tuple[np.ndarray, np.ndarray]:
    """All (node, gpus) pairs of ``allocs`` as two arrays, in order; big allocations come from
    :func:`_allocation_arrays` (a hero run's ~11k pairs are not re-read every round)."""
    big = np.flatnonzero(lens > _BIG_ALLOCATION)
    if big.size == 0:
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(allocs)), dtype=np.int64, count=2 * tot)
        return flat[0::2].copy(), flat[1::2].copy()
    small = list(allocs)
    for i in big.tolist():
        small[i] = ()
    n_small = tot - int(lens[big].sum())
    flat = np.fromiter(chain.from_iterable(chain.from_iterable(small)), dtype=np.int64, count=2 * n_small)
    first = np.concatenate(([0], np.cumsum(lens)))
    mask = np.ones(tot, dtype=bool)
    nodes = np.empty(tot, dtype=np.int64)
    gpus = np.empty(tot, dtype=np.int64)
    for i in big.tolist():
        a, b = int(first[i]), int(first[i + 1])
        mask[a:b] = False
        nodes[a:b], gpus[a:b] = _allocation_arrays(allocs[i])
    nodes[mask] = flat[0::2]
    gpus[mask] = flat[1::2]
    return nodes, gpus


@dataclass(kw_only=True)
class AllFitFirst:
    """Base of the policies that start every pending job when all fit (milp, fifo, backfill)."""

    name: str = ""
    explain: bool = True
    """Explain every waiting job (reason, estimated start); a simulation switches it off."""
    try_all_fit: bool = True
    """Try :func:`admit_if_all_fit` first (off when the caller has just tried it, as the simulation does)."""
    all_fit_fast_path: ClassVar[bool] = True
    """Starts every pending job via :func:`admit_if_all_fit` when all fit (callers may try it themselves)."""

    def _all_fit_decision(self, view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob],
                          now_s: float, t0: float) -> Decision | None:
        return admit_if_all_fit(view, pending, running, now_s, policy=self.name, t0=t0) if self.try_all_fit else None


def _hero_pools(view: ClusterView, allocation: Sequence[tuple[int, int]]) -> np.ndarray:
    """Distinct pools of a hero run's allocation (its arrays come from :func:`_allocation_arrays`,
    so the ~11k entries are read once per (re)start, not once per round)."""
    nodes, _ = _allocation_arrays(allocation)
    return np.flatnonzero(np.bincount(view.node_pool[nodes], minlength=view.num_pools))


def admit_if_all_fit(
    view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float,
    *, policy: str, t0: float | None = None,
) -> Decision | None:
    """The decision that starts every pending job, when they all fit now; else None.

    The cheap first step of a round: it reads the running jobs only to find hero runs (their
    pools are preferred for hot spares) and takes division usage from the view, so its cost
    does not grow with the number of running jobs. Jobs are placed in rank order (priority,
    submit time, id), exactly as the full MILP round places an all-fit queue.
    """
    t0 = time.perf_counter() if t0 is None else t0
    if not pending:
        return None
    pools = None
    if view.hot_spare_nodes > 0:
        heroes = [r for r in running if r.is_hero]
        if heroes:
            pools = np.unique(np.concatenate([_hero_pools(view, r.allocation) for r in heroes]))
    ri = RoundInput.build(view, pending, (), now_s, usage_from_view=True, spare_pools=pools)
    if not all_fit(ri, ri.rank):
        return None
    return finish_round(ri, ri.rank.tolist(), [False] * ri.n, policy=policy,
                        record={"solver": "none", "status": "skipped_all_fit"}, t0=t0)


def finish_round(
    ri: RoundInput,
    admitted: Sequence[int],
    use_min: Sequence[bool],
    *,
    policy: str,
    preempted: Sequence[int] = (),
    preempt_reason: str = "",
    reservation: ReservationPlan | None = None,
    quota_blocked: np.ndarray | None = None,
    fifo_blocked: np.ndarray | None = None,
    record: dict | None = None,
    t0: float | None = None,
    first_stage: int | None = None,
    explain_waiting: bool = True,
) -> Decision:
    """Place admitted jobs, explain the others (unless ``explain_waiting`` is off), and
    assemble the decision."""
    t_place = time.perf_counter()
    free = ri.free.copy()
    pre = np.asarray(sorted(preempted), dtype=np.int64)
    if pre.size:
        m = np.isin(ri.r_owner, pre)
        np.add.at(free, ri.r_nodes[m], ri.r_node_gpus[m])
        free[ri.spare_nodes] = 0
    adm = np.asarray(admitted, dtype=np.int64)
    um = np.asarray(use_min, dtype=bool)
    shapes = np.where(um, ri.shape_m[adm], ri.shape_f[adm]) if adm.size else np.zeros(0, np.int64)
    klasses = np.where(um, ri.klass_m[adm], ri.klass_f[adm]) if adm.size else np.zeros(0, np.int64)
    cut = adm.size if first_stage is None else first_stage
    starts, unplaced, free_after = place(
        free, ri.view.node_pool, ri.view.pool_hall, ri.spec, [ri.ids[j] for j in adm[:cut].tolist()], shapes[:cut], klasses[:cut]
    )
    if cut < adm.size:
        s2, u2, free_after = place(
            free_after, ri.view.node_pool, ri.view.pool_hall, ri.spec, [ri.ids[j] for j in adm[cut:].tolist()], shapes[cut:], klasses[cut:]
        )
        starts.update(s2)
        unplaced.extend(u2)
    placement_s = time.perf_counter() - t_place
    started = np.zeros(ri.n, dtype=bool)
    if starts:
        ids = ri.ids
        started[[j for j in adm.tolist() if ids[j] in starts]] = True
    explanations = explain(
        ri, started, free_after, pre, reservation,
        quota_blocked if quota_blocked is not None else np.zeros(ri.n, bool),
        fifo_blocked if fifo_blocked is not None else np.zeros(ri.n, bool),
    ) if explain_waiting else {}
    reservations: tuple[Reservation, ...] = ()
    if reservation is not None and not started[reservation.head]:
        h = reservation.head
        reservations = (Reservation(
            job_id=ri.ids[h], num_gpus=int(ri.shape_f[h]), start_s=reservation.start_s,
            held_gpus=int(max(0, ri.cap[0] - reservation.extra[0])) if reservation.levels.size else 0,
        ),)
    rec = dict(record or {})
    rec.setdefault("fallback_used", False)
    if unplaced:
        rec["fallback_reason"] = (rec.get("fallback_reason") or "") + f" {len(unplaced)} unplaced"
    total = time.perf_counter() - t0 if t0 is not None else 0.0
    record_obj = RoundRecord(
        policy=policy, n_pending=ri.n, n_running=len(ri.running), n_started=len(starts),
        n_preempted=int(pre.size), placement_s=placement_s, total_s=total, **rec,
    )
    return Decision(
        starts=dict(sorted(starts.items())),
        preemptions=tuple(Preemption(job_id=ri.running[i].job_id, reason=preempt_reason) for i in pre.tolist()),
        reservations=reservations,
        explanations=explanations,
        spare_nodes=tuple(ri.spare_nodes.tolist()),
        record=record_obj,
    )


def explain(
    ri: RoundInput,
    started: np.ndarray,
    free_after: np.ndarray,
    preempted: np.ndarray,
    reservation: ReservationPlan | None,
    quota_blocked: np.ndarray,
    fifo_blocked: np.ndarray,
) -> dict[str, Explanation]:
    """Reason and estimated start for every pending job that does not start."""
    waiting = ri.rank[~started[ri.rank]]
    if waiting.size == 0:
        return {}
    spec = ri.spec
    cap_after = level_capacity(free_after, ri.view.node_pool, ri.view.num_pools, spec)
    drained = ri.drained_capacity()
    need_self = np.minimum(ri.a_m, ri.a_f)  # elastic jobs may start at their minimum
    no_shape = np.any(need_self > drained[:, None], axis=0)
    # division usage after this decision
    usage = ri.usage.copy()
    if preempted.size:
        np.subtract.at(usage, ri.r_div[preempted], ri.r_gpus[preempted])
    st = np.flatnonzero(started)
    np.add.at(usage, ri.div[st], ri.shape_f[st].astype(np.float64))
    over_cap = usage[ri.div] + ri.shape_m > ri.div_cap[ri.div]
    quota = (quota_blocked | over_cap) & ~no_shape
    fits_now = np.all(need_self <= cap_after[:, None], axis=0)

    # estimated start: releases of running jobs with known ends, jobs ranked ahead go first
    alive = np.ones(len(ri.running), dtype=bool)
    alive[preempted] = False
    known = np.flatnonzero(alive & np.isfinite(ri.r_end))
    order = known[np.argsort(ri.r_end[known], kind="stable")]
    if order.size > _MAX_ETA_POINTS:
        cut = np.unique(np.linspace(0, order.size - 1, _MAX_ETA_POINTS).round().astype(np.int64))
    else:
        cut = np.arange(order.size)
    times = np.concatenate(([ri.now_s], np.maximum(ri.now_s, ri.r_end[order[cut]]))) if order.size else np.array([ri.now_s])
    caps_arr = ri.release_curve(free_after, order, np.concatenate(([0], cut + 1)) if order.size else np.zeros(1, np.int64))  # (K, L)
    ahead = np.cumsum(need_self[:, waiting], axis=1)  # (L, w)
    k_need = np.zeros(waiting.size, dtype=np.int64)
    for lvl in range(caps_arr.shape[1]):
        col = np.maximum.accumulate(caps_arr[:, lvl])
        k = np.searchsorted(col, ahead[lvl], side="left")
        k = np.where(need_self[lvl, waiting] > 0, k, 0)
        k_need = np.maximum(k_need, k)
    eta = np.where(k_need < times.size, times[np.minimum(k_need, times.size - 1)], np.nan)
    # quota: also wait for the division's own jobs to end
    if np.any(quota[waiting]):
        for d in np.unique(ri.div[waiting[quota[waiting]]]).tolist():
            own = order[ri.r_div[order] == d]
            rel = np.cumsum(ri.r_gpus[own]).astype(np.float64)
            sel = np.flatnonzero(quota[waiting] & (ri.div[waiting] == d))
            short = usage[d] + ri.shape_m[waiting[sel]] - ri.div_cap[d]
            k = np.searchsorted(rel, short, side="left")
            t = ri.r_end[own[np.minimum(k, own.size - 1)]] if own.size else np.full(sel.size, np.nan)
            t = np.where(k < own.size, t, np.nan)
            prev = eta[sel]
            eta[sel] = np.where(np.isfinite(t), np.maximum(np.where(np.isfinite(prev), prev, ri.now_s), t), np.nan)

    # reason per waiting job, vectorised; then one Explanation per distinct
    # (reason, shape, division, estimated start) -- frozen values, shared between jobs
    names = [d.name for d in ri.view.divisions]
    head = reservation.head if reservation is not None else -1
    head_id = ri.ids[head] if head >= 0 else ""
    w_no_shape = no_shape[waiting]
    w_head = waiting == head
    w_quota = quota[waiting]
    w_fifo = fifo_blocked[waiting]
    w_res = (reservation.long[waiting] & fits_now[waiting]) if reservation is not None else np.zeros(waiting.size, bool)
    code = np.select([w_no_shape, w_head, w_quota, w_fifo, w_res], [0, 1, 2, 3, 4], default=5)
    if reservation is not None:
        eta = np.where(w_head, np.nan if reservation.start_s is None else reservation.start_s, eta)
    eta = np.where(code == 0, np.nan, eta)
    g_w = ri.shape_f[waiting]
    d_w = ri.div[waiting]
    # text depends on the shape (no_shape, reserved, priority) or the division (quota) only
    g_key = np.where((code == 0) | (code == 1) | (code == 5), g_w, 0)
    d_key = np.where(code == 2, d_w, 0)
    eta_key = np.where(np.isfinite(eta), eta, -np.inf)
    keys = np.stack([code.astype(np.float64), g_key.astype(np.float64), d_key.astype(np.float64), eta_key], axis=1)
    uniq, inv = unique_rows(keys)
    objs: list[Explanation] = []
    for c_f, g_f, d_f, e_f in uniq.tolist():
        c, g, d = int(c_f), int(g_f), int(d_f)
        e = None if e_f == -math.inf else float(e_f)
        if c == 0:
            reason, text = WaitReason.NO_SHAPE, f"no placeable shape: {g} GPUs exceed what all healthy nodes could hold in that shape"
        elif c == 1:
            reason, text = WaitReason.RESERVED, f"holds the reservation for {g} GPUs; starts when running jobs free enough capacity"
        elif c == 2:
            reason, text = WaitReason.QUOTA, (
                f"division {names[d]!r} quota: using {int(usage[d])} GPUs, cap {ri.div_cap[d]:g} "
                f"(guarantee {int(ri.guar[d])}) or others' reserved guarantee"
            )
        elif c == 3:
            reason, text = WaitReason.FIFO_BLOCKED, "strict FIFO: a job submitted earlier does not fit yet"
        elif c == 4:
            reason, text = WaitReason.RESERVATION, f"held for the reservation of job {head_id!r} (would run past its start)"
        else:
            reason, text = WaitReason.PRIORITY, f"lower priority: no room for a {g}-GPU shape after higher-value jobs"
        objs.append(Explanation(reason=reason, text=text, estimated_start_s=e))
    ids = ri.ids
    return {ids[j]: objs[k] for j, k in zip(waiting.tolist(), inv.tolist(), strict=True)}
