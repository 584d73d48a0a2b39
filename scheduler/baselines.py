"""Baseline policies: strict FIFO, EASY backfill, and Slurm-style fair share.

All three share the MILP's shapes, placement, borrow caps and explanations, so they differ
only in *which* jobs they admit:

- ``fifo``: jobs in priority order (priority desc, then submit time); the first job that does
  not fit blocks every job behind it (jobs held only by their division's caps are skipped).
- ``backfill`` (EASY): as ``fifo``, but the first job that does not fit gets a reservation at
  its shadow time (the earliest time enough running jobs have ended, from their expected
  ends); later jobs start now if they fit and either end before the shadow time or use only
  capacity the reserved job will not need. The reserved job is never delayed by backfill.
- ``fairshare``: jobs ordered by their division's fair-share factor
  ``F = 2**(-U/S)`` (Slurm classic: ``U`` the division's share of decayed usage, ``S`` its
  share of guarantees), then priority and submit time; every job that fits starts.
  Decayed usage is kept by the caller with :func:`decay_usage` (half-life as Slurm's
  ``PriorityDecayHalfLife``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scheduler._round import (
    AllFitFirst,
    RoundInput,
    finish_round,
    greedy_admit,
    plan_reservation,
    with_usage,
)
from scheduler.placement import place
from scheduler.policy import register_policy
from scheduler.types import ClusterView, Decision, PendingJob, RunningJob

__all__ = ["BackfillPolicy", "FairsharePolicy", "FifoPolicy", "decay_usage", "fairshare_factor"]


def decay_usage(decayed_gpu_s: np.ndarray | float, usage_gpus: np.ndarray | float, dt_s: float, half_life_s: float) -> np.ndarray | float:
    """Advance decayed usage by ``dt_s`` seconds at a constant ``usage_gpus``.

    ``U(t+dt) = U(t) * 2**(-dt/h) + usage * h/ln2 * (1 - 2**(-dt/h))`` -- the exact integral of
    usage with exponential decay of half-life ``h`` (GPU-seconds).
    """
    if half_life_s <= 0:
        return np.asarray(usage_gpus) * dt_s + 0 * np.asarray(decayed_gpu_s)
    f = 2.0 ** (-dt_s / half_life_s)
    return np.asarray(decayed_gpu_s) * f + np.asarray(usage_gpus) * half_life_s / np.log(2.0) * (1.0 - f)


def fairshare_factor(decayed_gpu_s: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Slurm classic fair-share factor ``2**(-U/S)`` per division, in (0, 1]."""
    u = np.asarray(decayed_gpu_s, dtype=np.float64)
    s = np.asarray(shares, dtype=np.float64)
    un = u / u.sum() if u.sum() > 0 else np.zeros_like(u)
    sn = s / s.sum() if s.sum() > 0 else np.full_like(s, 1.0 / max(1, s.size))
    with np.errstate(divide="ignore"):
        return np.where(sn > 0, 2.0 ** (-un / np.where(sn > 0, sn, 1.0)), 0.0)


def _placeable_rank(ri: RoundInput) -> np.ndarray:
    """Rank order without the jobs no healthy node set could ever hold (they wait as
    ``no_shape`` instead of blocking the queue forever, as Slurm rejects them at submit)."""
    if ri.n == 0:
        return ri.rank
    if np.all(np.minimum(ri.a_f, ri.a_m).max(axis=1) <= ri.cap):  # all fit now: no drain needed
        return ri.rank
    drained = ri.drained_capacity()
    ok = np.all(np.minimum(ri.a_f, ri.a_m) <= drained[:, None], axis=0)
    return ri.rank[ok[ri.rank]]


@register_policy("fifo")
@dataclass(kw_only=True)
class FifoPolicy(AllFitFirst):
    """Strict FIFO in priority order (head-of-line blocking)."""

    name: str = "fifo"

    def schedule(self, view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float) -> Decision:
        t0 = time.perf_counter()
        fast = self._all_fit_decision(view, pending, running, now_s, t0)
        if fast is not None:  # the same starts as the greedy pass below, in the same order
            return fast
        ri = RoundInput.build(view, pending, running, now_s)
        g = greedy_admit(ri, _placeable_rank(ri), strict=True)
        return finish_round(ri, g.admitted, g.use_min, policy=self.name, explain_waiting=self.explain, quota_blocked=g.quota_blocked,
                            fifo_blocked=g.fifo_blocked, record={"solver": "greedy", "status": "greedy"}, t0=t0)


@register_policy("backfill")
@dataclass(kw_only=True)
class BackfillPolicy(AllFitFirst):
    """EASY backfill: reserve for the first job that does not fit, backfill around it."""

    name: str = "backfill"

    def schedule(self, view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float) -> Decision:
        t0 = time.perf_counter()
        fast = self._all_fit_decision(view, pending, running, now_s, t0)
        if fast is not None:
            return fast
        ri = RoundInput.build(view, pending, running, now_s)
        order = _placeable_rank(ri)
        first = greedy_admit(ri, order, strict=True)
        blocked = np.flatnonzero(first.fifo_blocked)
        if (not first.admitted and blocked.size == 0) or blocked.size == 0:
            return finish_round(ri, first.admitted, first.use_min, policy=self.name, explain_waiting=self.explain, quota_blocked=first.quota_blocked,
                                record={"solver": "greedy", "status": "greedy"}, t0=t0)
        # the head: first job in rank order neither admitted nor quota-blocked
        adm = set(first.admitted)
        head = next(j for j in order.tolist() if j not in adm and not first.quota_blocked[j])
        # place the prefix, then reserve for the head on the real layout
        pa = np.asarray(first.admitted, dtype=np.int64)
        um = np.asarray(first.use_min, dtype=bool)
        shapes = np.where(um, ri.shape_m[pa], ri.shape_f[pa]) if pa.size else np.zeros(0, np.int64)
        klasses = np.where(um, ri.klass_m[pa], ri.klass_f[pa]) if pa.size else np.zeros(0, np.int64)
        _, _, free1 = place(ri.free, view.node_pool, view.pool_hall, ri.spec, [ri.ids[j] for j in pa.tolist()], shapes, klasses)
        res = plan_reservation(ri, head, free1)
        used = (np.where(um, ri.a_m[:, pa], ri.a_f[:, pa]).sum(axis=1) if pa.size else np.zeros_like(ri.cap))
        rest = np.asarray([j for j in order.tolist() if j not in adm and j != head and not first.quota_blocked[j]], dtype=np.int64)
        # division headroom must count the prefix: run the second pass on a copy with updated usage
        ri2 = with_usage(ri, pa, um)
        second = greedy_admit(ri2, rest, reservation=res, cap=ri.cap - used)
        admitted = first.admitted + second.admitted
        use_min = first.use_min + second.use_min
        return finish_round(ri, admitted, use_min, policy=self.name, explain_waiting=self.explain, reservation=res,
                            quota_blocked=first.quota_blocked | second.quota_blocked,
                            record={"solver": "greedy", "status": "greedy"}, t0=t0, first_stage=len(first.admitted))


@register_policy("fairshare")
@dataclass(kw_only=True)
class FairsharePolicy:
    """Divisions ordered by fair-share factor (decayed usage against entitlement)."""

    name: str = "fairshare"
    explain: bool = True
    """Explain every waiting job (reason, estimated start); a simulation switches it off."""

    def schedule(self, view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float) -> Decision:
        t0 = time.perf_counter()
        ri = RoundInput.build(view, pending, running, now_s)
        shares = np.where(ri.guar > 0, ri.guar, ri.weight)
        f = fairshare_factor(ri.decayed, shares)
        pos = np.empty(ri.n, dtype=np.int64)
        pos[ri.rank] = np.arange(ri.n)
        order = np.lexsort((pos, -f[ri.div])) if ri.n else ri.rank
        g = greedy_admit(ri, order)
        return finish_round(ri, g.admitted, g.use_min, policy=self.name, explain_waiting=self.explain, quota_blocked=g.quota_blocked,
                            record={"solver": "greedy", "status": "greedy"}, t0=t0)
