"""Scheduling rounds inside the simulation: when a round runs, what the policy sees, what it starts.

A mixin of :class:`colossus.sim.engine._Sim` (it uses the loop's state and helpers). A round
first asks :func:`scheduler._round.admit_if_all_fit` whether every pending job fits now; else
the policy runs on the full snapshot, with the running jobs from the columnar running set
(:mod:`colossus.sim.running`). Under an enforced power cap the policy is told how many GPUs
the power headroom can feed (``ClusterView.start_budget_gpus``, when fewer than are free), so it
chooses what to start within the power as it does within the GPUs; starts are then still gated
on power, highest priority first (a no-op within the budget, kept as the exact check per SKU).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from colossus.sim.observe import SimulationError
from colossus.sim.tables import round_row
from scheduler._round import admit_if_all_fit
from scheduler.types import ClusterView, Decision, DivisionState

__all__ = ["RoundsMixin"]


class RoundsMixin:
    """Round scheduling of the simulation loop."""

    sc: Any
    env: Any
    cl: Any
    hero: Any
    pending: dict[int, Any]
    running: dict[int, Any]

    def _view(self) -> ClusterView:
        cl = self.cl
        now = self.env.now
        online = cl.gpus_online()
        hl = self.sc.scheduler.usage_half_life_s
        dt = now - self.decay_t
        if dt > 0:
            self.div_decayed = self.div_decayed * 2.0 ** (-dt / hl) + self.div_alloc * dt
            self.decay_t = now
        guar, borrow, _ = self._entitlements(online)
        divs = tuple(
            DivisionState(name=d.name, guaranteed_gpus=guar[i], weight=d.weight, borrow_limit_gpus=borrow[i],
                          usage_gpus=int(self.div_alloc[i]), decayed_usage_gpu_s=float(self.div_decayed[i]))
            for i, d in enumerate(self.sc.divisions))
        spares = self.sc.hero.hot_spare_nodes if (self.sc.hero and self.hero is not None
                                                  and self.hero.state == "running") else 0
        free = cl.free_gpus()
        budget = self.power.start_budget_gpus(now)
        if budget is not None and budget >= int(free.sum()):
            budget = None  # the power can feed every free GPU: no limit (the view is as without a cap)
        return ClusterView(free_gpus=free, node_pool=cl.node_pool, pool_hall=cl.pool_hall,
                           divisions=divs, gpus_per_node=cl.gpus_per_node, pool_sku=cl.pool_sku,
                           hot_spare_nodes=spares, start_budget_gpus=budget)

    def _round_useful(self) -> bool:
        """Whether a round could change anything (skipping it is then exact, not an approximation).

        A deterministic policy given the same cluster and queue decides the same, so a round runs
        only after an arrival or requeue, after GPUs were freed or came online, or on the periodic
        tick (time-dependent rules: minimum runtimes, reservations). A policy that never preempts
        cannot start anything while no GPU is free, so such rounds are skipped too. Nor can any
        policy start a job whose division would pass its cap (guarantee + borrow limit): when every
        pending job is held so, the round is skipped (no division with demand is below its
        guarantee then, so nothing may be preempted either). Under an enforced power cap, while
        the headroom cannot feed one more busy GPU nothing can start without a preemption, so
        such a round runs only on the periodic tick of a policy that preempts (a preemption's
        freed power is what its preemptor then uses).
        """
        if not (self.force_round or self.new_arrivals or self.new_capacity):
            return False
        if self._all_quota_held():
            return False
        if self.power.start_budget_gpus(self.env.now) == 0 and not (self.may_preempt and self.force_round):
            return False
        if not self.may_preempt and not self.force_round:
            spares = self.sc.hero.hot_spare_nodes if (self.sc.hero and self.hero is not None
                                                      and self.hero.state == "running") else 0
            free = self.cl.gpus_healthy() - self.alloc_total - spares * self.cl.gpus_per_node
            if free <= 0:
                return False
        return True

    def _entitlements(self, online: int) -> tuple[list[int], list[int], list[int]]:
        """Per division: guaranteed GPUs, borrow limit and cap (their sum) with ``online`` GPUs online."""
        if self._ent_online != online:
            guar = [int(d.guaranteed_share * online) for d in self.sc.divisions]
            borrow = [int(d.borrow_limit_share * online) for d in self.sc.divisions]
            self._ent = (guar, borrow, [g + b for g, b in zip(guar, borrow, strict=True)])
            self._ent_online = online
        return self._ent

    def _all_quota_held(self) -> bool:
        """Whether every pending job's division would exceed its cap with even its minimum size."""
        caps, usage = self._entitlements(self.cl.gpus_online())[2], self.div_alloc
        for j in self.pending.values():
            if int(usage[j.div_idx]) + (j.min_gpus or j.num_gpus) <= caps[j.div_idx]:
                return False
        return True

    def _check_columns(self, cols: Any, view: ClusterView) -> None:
        """Debug: the columnar running set lists the same jobs, in the same order, as the objects."""
        objs = [self._running_obj(j) for j in self.running.values() if not j.missing_nodes]
        if [r.job_id for r in cols] != [r.job_id for r in objs]:
            raise SimulationError("columnar running set out of step with the running jobs")
        from scheduler._round import RoundInput

        a, b = RoundInput.build(view, [], cols, self.env.now), RoundInput.build(view, [], objs, self.env.now)
        for name in ("r_div", "r_gpus", "r_end", "r_start", "r_nodes", "r_node_gpus", "r_owner", "r_first", "r_prio",
                     "r_preemptible", "r_hero", "r_restart"):
            x, y = getattr(a, name), getattr(b, name)
            if x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                raise SimulationError(f"columnar running set: {name} differs from the running jobs'")

    def _round_cb(self, _ev: Any) -> None:
        self.round_pending = False
        self.events += 1
        now = self.env.now
        self.last_round_s = now
        self._hero_regrow()
        if not self.pending:
            if self.debug:
                self.check()
            return
        if not self._round_useful():
            self.rounds_skipped += 1
            if self.debug:
                self.check()
            return
        self.new_arrivals = self.new_capacity = self.force_round = False
        view = self._view()
        pending = [j.pending_obj for j in self.pending.values()]
        t0 = time.perf_counter()
        decision: Decision | None = None
        if self.fast_path:  # everything fits: the policy would start it all (exact, see scheduler)
            hero = self.hero
            heroes = ([self._running_obj(hero)] if (hero is not None and hero.state == "running"
                                                    and not hero.missing_nodes) else [])
            decision = admit_if_all_fit(view, pending, heroes, now, policy=self.policy_name, t0=t0)
        if decision is None:
            hero = self.hero
            running = self.run_cols.snapshot(self._running_obj, hero if hero is not None and hero.missing_nodes else None)
            if self.debug:
                self._check_columns(running, view)
            decision = self.policy.schedule(view, pending, running, now)
        elif self.debug:
            running = [self._running_obj(j) for j in self.running.values() if not j.missing_nodes]
        self.round_wall_s += time.perf_counter() - t0
        if self.debug:
            from scheduler.check import check_decision

            check_decision(view, pending, running, decision)
        by_id = self.job_by_id
        for p in decision.preemptions:
            job = by_id[p.job_id]
            self.interrupt(job, failure=False)
        if decision.starts:
            starts = [(by_id[jid], alloc) for jid, alloc in decision.starts.items()]
            if self.power.enforce:  # highest priority first while power lasts
                starts.sort(key=lambda ja: (-ja[0].pending_obj.priority, ja[0].submit_s, ja[0].job_id))
            node_sku = self.cl.node_sku
            pw = self.power
            pw.advance(now)
            for job, alloc in starts:
                if len(alloc) == 1:
                    (n0, g0), = alloc
                    nodes, gpus = np.array((n0,), dtype=np.int64), np.array((g0,), dtype=np.int64)
                    dmw = pw.busy_delta_list[node_sku[n0]] * g0
                else:
                    nodes = np.fromiter((n for n, _ in alloc), dtype=np.int64, count=len(alloc))
                    gpus = np.fromiter((g for _, g in alloc), dtype=np.int64, count=len(alloc))
                    dmw = pw.job_delta_mw(node_sku[nodes], gpus)
                if not pw.admits(dmw):
                    pw.blocked_starts += 1
                    job.power_blocked += 1
                    continue
                self.start(job, alloc, nodes, gpus, dmw)
        rec = decision.record
        self.sink.round(round_row(now, rec))
        self.n_rounds += 1
        self.n_fallbacks += bool(rec.fallback_used)
        self.solver_total_s += getattr(rec, "total_s", 0.0)
        self._track_capacity()
        if self.debug:
            self.check()
