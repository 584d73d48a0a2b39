"""Shared machinery for every policy: one round's arrays, greedy admission, reservations,
and turning admitted jobs into a :class:`~scheduler.types.Decision` with explanations.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

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

__all__ = ["GreedyResult", "ReservationPlan", "RoundInput", "finish_round", "greedy_admit", "plan_reservation"]

_MAX_ETA_POINTS = 48


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

    @classmethod
    def build(
        cls, view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float
    ) -> RoundInput:
        spec = ShapeSpec.for_view(view)
        dix = view.division_index()
        n = len(pending)
        try:
            div = np.fromiter((dix[j.division] for j in pending), dtype=np.int64, count=n)
            r_div = np.fromiter((dix[r.division] for r in running), dtype=np.int64, count=len(running))
        except KeyError as exc:
            raise SchedulerInputError(f"job of unknown division {exc.args[0]!r}; divisions: {sorted(dix)}") from None
        ids = [j.job_id for j in pending]
        if len(set(ids)) != n:
            raise SchedulerInputError("pending job ids must be unique")
        gpus = np.fromiter((j.num_gpus for j in pending), dtype=np.int64, count=n)
        mins = np.fromiter((j.min_gpus if j.min_gpus is not None else j.num_gpus for j in pending), dtype=np.int64, count=n)
        prio = np.fromiter((j.priority for j in pending), dtype=np.int64, count=n)
        submit = np.fromiter((j.submit_time_s for j in pending), dtype=np.float64, count=n)
        dur = np.fromiter(
            (j.expected_duration_s if j.expected_duration_s is not None else np.nan for j in pending),
            dtype=np.float64, count=n,
        )
        hero = np.fromiter((j.is_hero for j in pending), dtype=bool, count=n)
        shape_f, klass_f = shapes_of(gpus, spec)
        shape_m, klass_m = shapes_of(mins, spec)
        elastic = shape_m < shape_f
        id_rank = np.argsort(np.argsort(np.asarray(ids, dtype=object), kind="stable"), kind="stable") if n else np.zeros(0, np.int64)
        rank = np.lexsort((id_rank, submit, -prio)) if n else np.zeros(0, np.int64)

        # running jobs, flattened allocations
        r_gpus = np.fromiter((r.allocated_gpus for r in running), dtype=np.int64, count=len(running))
        r_end = np.fromiter(
            (r.expected_end_s if r.expected_end_s is not None else np.nan for r in running),
            dtype=np.float64, count=len(running),
        )
        r_start = np.fromiter((r.start_time_s for r in running), dtype=np.float64, count=len(running))
        lens = np.fromiter((len(r.allocation) for r in running), dtype=np.int64, count=len(running))
        tot = int(lens.sum())
        r_nodes = np.fromiter((nd for r in running for nd, _ in r.allocation), dtype=np.int64, count=tot)
        r_node_gpus = np.fromiter((g for r in running for _, g in r.allocation), dtype=np.int64, count=tot)
        r_owner = np.repeat(np.arange(len(running), dtype=np.int64), lens)

        ndiv = len(view.divisions)
        guar = np.array([d.guaranteed_gpus for d in view.divisions], dtype=np.float64)
        div_cap = np.array([d.cap_gpus for d in view.divisions], dtype=np.float64)
        usage = np.bincount(r_div, weights=r_gpus, minlength=ndiv).astype(np.float64)
        lend = np.array([d.lend_limit_gpus if d.lend_limit_gpus is not None else d.guaranteed_gpus for d in view.divisions], dtype=np.float64)
        reserve = np.maximum(0.0, guar - np.minimum(lend, guar) - usage)
        weight = np.array([d.weight for d in view.divisions], dtype=np.float64)
        decayed = np.array([d.decayed_usage_gpu_s for d in view.divisions], dtype=np.float64)

        free = view.free_gpus.copy()
        spares = np.empty(0, dtype=np.int64)
        if view.hot_spare_nodes > 0:
            hero_run = [i for i, r in enumerate(running) if r.is_hero]
            pref = None
            if hero_run:
                pref = np.unique(view.node_pool[r_nodes[np.isin(r_owner, hero_run)]])
            spares = choose_spares(free, view.node_pool, view.pool_hall, spec.gpn, view.hot_spare_nodes, pref)
            free[spares] = 0
        cap = level_capacity(free, view.node_pool, view.num_pools, spec)
        return cls(
            view=view, pending=pending, running=running, now_s=float(now_s), spec=spec, ids=ids,
            gpus=gpus, div=div, prio=prio, submit=submit, dur=dur, hero=hero,
            shape_f=shape_f, klass_f=klass_f, shape_m=shape_m, klass_m=klass_m, elastic=elastic,
            a_f=contributions(shape_f, klass_f, spec), a_m=contributions(shape_m, klass_m, spec),
            rank=rank, free=free, spare_nodes=spares, cap=cap, guar=guar, div_cap=div_cap,
            usage=usage, reserve=reserve, weight=weight, decayed=decayed, r_div=r_div,
            r_gpus=r_gpus, r_end=r_end, r_start=r_start, r_nodes=r_nodes, r_node_gpus=r_node_gpus,
            r_owner=r_owner,
        )

    @property
    def n(self) -> int:
        return len(self.ids)

    def capacity_with_releases(self, free: np.ndarray, released: np.ndarray) -> np.ndarray:
        """Level capacity of ``free`` plus the GPUs of running jobs ``released`` (indices)."""
        f = free.copy()
        if released.size:
            m = np.isin(self.r_owner, released)
            np.add.at(f, self.r_nodes[m], self.r_node_gpus[m])
        return level_capacity(f, self.view.node_pool, self.view.num_pools, self.spec)

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
) -> Decision:
    """Place admitted jobs, explain the others, and assemble the decision."""
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
        pos = {jid: i for i, jid in enumerate(ri.ids)}
        started[[pos[j] for j in starts]] = True
    explanations = explain(
        ri, started, free_after, pre, reservation,
        quota_blocked if quota_blocked is not None else np.zeros(ri.n, bool),
        fifo_blocked if fifo_blocked is not None else np.zeros(ri.n, bool),
    )
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
        spare_nodes=tuple(int(x) for x in ri.spare_nodes.tolist()),
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
    caps = [cap_after]
    for c in cut.tolist():
        caps.append(ri.capacity_with_releases(free_after, order[: c + 1]))
    caps_arr = np.stack(caps)  # (K, L)
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
            wj = waiting[quota[waiting] & (ri.div[waiting] == d)]
            short = usage[d] + ri.shape_m[wj] - ri.div_cap[d]
            k = np.searchsorted(rel, short, side="left")
            t = np.where(k < own.size, ri.r_end[own[np.minimum(k, max(own.size - 1, 0))]] if own.size else np.nan, np.nan)
            idx = {int(x): i for i, x in enumerate(waiting.tolist())}
            for jj, tt in zip(wj.tolist(), np.atleast_1d(t).tolist(), strict=False):
                i = idx[jj]
                eta[i] = np.nan if not np.isfinite(tt) else max(eta[i] if np.isfinite(eta[i]) else ri.now_s, tt)

    names = [d.name for d in ri.view.divisions]
    out: dict[str, Explanation] = {}
    head = reservation.head if reservation is not None else -1
    head_id = ri.ids[head] if head >= 0 else ""
    for i, j in enumerate(waiting.tolist()):
        e = float(eta[i]) if np.isfinite(eta[i]) else None
        g = int(ri.shape_f[j])
        if no_shape[j]:
            reason, text, e = WaitReason.NO_SHAPE, f"no placeable shape: {g} GPUs exceed what all healthy nodes could hold in that shape", None
        elif j == head:
            e = reservation.start_s if reservation is not None else e
            reason, text = WaitReason.RESERVED, f"holds the reservation for {g} GPUs; starts when running jobs free enough capacity"
        elif quota[j]:
            d = ri.div[j]
            reason, text = WaitReason.QUOTA, (
                f"division {names[d]!r} quota: using {int(usage[d])} GPUs, cap {ri.div_cap[d]:g} "
                f"(guarantee {int(ri.guar[d])}) or others' reserved guarantee"
            )
        elif fifo_blocked[j]:
            reason, text = WaitReason.FIFO_BLOCKED, "strict FIFO: a job submitted earlier does not fit yet"
        elif reservation is not None and reservation.long[j] and fits_now[j]:
            reason, text = WaitReason.RESERVATION, f"held for the reservation of job {head_id!r} (would run past its start)"
        else:
            reason, text = WaitReason.PRIORITY, f"lower priority: no room for a {g}-GPU shape after higher-value jobs"
        out[ri.ids[j]] = Explanation(reason=reason, text=text, estimated_start_s=e)
    return out
