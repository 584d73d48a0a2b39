r"""The MILP policy: jobs aggregated into types, integer counts against ~10 capacities.

Why aggregate
-------------
A per-job x per-pool binary model does not reach a 1% gap in 60 s at 1,000-5,000 jobs
(shared/DESIGN.md §4). Here pending jobs are grouped into *types*
``t = (division, shape, slot class, elastic shape, priority, long?, hero?, forced?, wait bucket)`` and
the model chooses how many jobs of each type start, ``x_t`` (full shape) and ``y_t`` (elastic
minimum). Thanks to the shapes of :mod:`scheduler.shapes`, placeability is exactly the nested
capacity condition -- one row per level (1, 2, 4, 8 GPUs inside nodes; 2..64 whole nodes inside
pools) -- so the model has ``O(types)`` columns and ``O(levels + divisions)`` rows however
large the cluster. Within a type jobs start in value order (rank order -- priority, then
submit time -- among equals). :mod:`scheduler.exact` solves the per-job model for comparison.

Model
-----
Sets: types ``t`` (``N_t`` jobs, division ``d(t)``, shape ``g_t``, elastic shape ``m_t``),
levels ``l`` (capacity ``C_l``, contribution ``A_{lt}``), divisions ``d`` (guarantee ``G_d``,
usage ``U_d``, cap ``K_d = G_d + borrow limit``, reserve ``R_d`` = its idle guarantee it does
not lend), running types ``r`` eligible for preemption (``M_r`` jobs of ``a_r`` GPUs, freeing
``F_{lr}``). The weights (``w_*``, ``wait_cap``, ``preempt_*``, ``reserve_after``, the wait
targets) are the fields of :class:`scheduler.objective.MilpWeights`; that module's docstring
gives the meaning, unit and default of each.

.. math::

    \max\; & \sum_t \bigl[(v_t g_t + w_{job}) x_t + (0.95\, v_t m_t + w_{job}) y_t\bigr]
             + w_{guarantee} \sum_d q_d - \sum_r a_r c_r p_r
             - \tfrac{w_{frag\_node}}{G_N} b_N - \tfrac{w_{frag\_array}}{G_A} b_A \\
    \text{s.t. } & x_t + y_t \le N_t,\quad x,y,p \in \mathbb{Z}_{\ge 0},\; p_r \le M_r \\
    & \textstyle\sum_t (A_{lt} x_t + A^{m}_{lt} y_t) - \sum_r F_{lr} p_r \le C_l \quad \forall l
      \quad\text{(placeable shapes)} \\
    & n_d := \textstyle\sum_{t\in d} (g_t x_t + m_t y_t),\quad f_d := \sum_{r\in d} a_r p_r \\
    & U_d + n_d - f_d \le \max(K_d, U_d) \quad\text{(borrow limit)} \\
    & q_d \le n_d,\; 0 \le q_d \le \max(0, G_d - U_d) \quad\text{(GPUs inside the guarantee)} \\
    & f_d \le \max(0, U_d - G_d) \quad\text{(only borrowed GPUs are preempted)} \\
    & \textstyle\sum_d f_d \le \sum_{d\ \mathrm{starving}} q_d + \max_r a_r - 1
      \quad\text{(preempt only for starving guarantees)} \\
    & s_d \ge n_d - R_d,\; s_d \ge 0,\; \sum_d s_d \le \max(0, C_{1} - \sum_d R_d) + \sum_d f_d
      \quad\text{(lend limits)} \\
    & \textstyle\sum_{t\ \mathrm{long}} (B_{lt} x_t + B^m_{lt} y_t) \le E_l \quad\text{(reservation)} \\
    & \textstyle\sum_{t:\, g_t < G_N} g_t x_t + \sum_{t:\, m_t < G_N} m_t y_t - b_N \le P_N,\; b_N \ge 0
      \quad\text{(packing: nodes)} \\
    & \textstyle\sum_{t:\, g_t < G_A} g_t x_t + \sum_{t:\, m_t < G_A} m_t y_t - b_A \le P_A,\; b_A \ge 0
      \quad\text{(packing: arrays)} \\
    & x_{t_H} + y_{t_H} \ge 1 \quad\text{(reserved head job, when it fits now)}

Values per GPU (:func:`job_values`): ``v_t`` is the mean over the type's jobs of
``1 + w_wait r_j + w_priority prio_j + w_division w_d + w_fairshare F_d + w_short s_j + hero_j``
(``s_j`` the short-job bonus, :func:`scheduler.objective.short_bonus`), with
``r_j = min(wait_cap, wait_j / target_d)`` the job's wait relative to its division's wait target
(``wait_targets_s``, from the scenario's ``capacity.wait_p95_slo_s``, else
``default_wait_target_s``). Types are split by geometric wait bucket
(:func:`scheduler.objective.wait_bucket`), so inside a division old jobs outbid new ones; the
per-job term ``w_job`` favours more starts among equally old jobs; within a type jobs start in
value order (a shorter expected run first), rank order (priority, then submit time) among
equals. ``q_d`` earns ``w_guarantee`` per GPU started inside a division's unused guarantee.
Packing: ``G_N`` / ``G_A`` are the GPUs of a node / of an array (pool; 8 and 512 on memphis),
``P_N`` / ``P_A`` the free GPUs already in partly used nodes / arrays, so ``b_N`` / ``b_A``
count the GPUs of sub-node / sub-array starts that break whole free nodes / arrays, at
``w_frag_node`` per node and ``w_frag_array`` per array (a tie-break of at most 0.08 per GPU at
the defaults: a job that fits always adds value). When charging every such GPU (``b = S - P``,
no rows) moves the objective by at most a quarter of the solver's gap -- ``w_frag_node P_N /
G_N + w_frag_array P_A / G_A`` against the value of the greedy admission in value order -- the
two packing rows are dropped for that linear cost: on 1,000-type rounds they kept HiGHS in its
root cut separation for seconds.

Preemption is priced by the work it loses: ``c_r = ceil(preempt_base + preempt_per_gpu_h L_r /
3600)`` per GPU, ``L_r`` the victim's restart cost plus its run time since its start, at most
``preempt_lost_cap_s``. It is considered only for a *starving* guarantee: a division below its
guarantee with a waiting job that has waited at least ``preempt_after`` wait targets; victims
are preemptible, non-hero jobs that ran at least ``min_runtime_s``, of divisions above their
guarantee, only as far as it takes them down to it, cheapest first, and only those whose cost
is below what a start inside the guarantee gains (``w_guarantee`` + the best waiting value +
``w_job``). A preemption moves both divisions towards their guarantees, so
``sum_d |U_d - G_d|`` falls with every preemption and there are no start-preempt-start loops.

Reservation: only for an *overdue* gang job: the most overdue job of at least
``reserve_min_gpus`` GPUs that has waited ``reserve_after`` wait targets (and fits its
division's cap) either is forced to start (when it fits now) or gets an EASY reservation at its
shadow time, computed from the running jobs' expected ends: jobs that end before the shadow
time use the reserved GPUs freely (backfill inside the MILP); jobs still running then
(``long``) may use only capacity it will not need (``E_l``, with conservative per-level costs
``B``). Before ``reserve_after`` a big job competes on value and nothing is held for it.

The value order's starts are kept (``keep_order``, on by default): every job that a pass in
value order (:meth:`MilpPolicy._value_order`: value per GPU plus ``w_job`` over the job's GPUs;
every job that fits starts, as under Slurm's fair share) starts must start (``x_t + y_t >=
H_t``, ``H_t`` the type's jobs the pass started). The objective is then lexicographic in
effect: first the value order, then what the solve can add on top -- starts made room for by
an elastic job at its minimum shape, and, in rounds where a guarantee starves (preemption on,
no order kept), which running jobs to preempt and what to start in their place. Measured on
the policy matrix (benchmarks/policies.py --phases 3): the free knapsack changed the pass's
decision in about half the rounds it solved (all200k load 1.0 seed 2, default weights: 142 of
287, 579 of the pass's starts dropped for 363 others that packed a few more GPUs; large-job p95
3,220 s and 72 jobs never started, against 2,410 s and 58 with the order kept) and left old
mid-size and gang jobs waiting behind later small ones (with the weights of before: large-job
p95 within the goal in 15 of 24 cases, never started 17); keeping only the pass's prefix up to its
first job that does not fit gave 17 and 19; keeping all of its starts, with ``w_wait = 0.25``
and ``w_job = 0.1``, 21 and 23. The solve then adds starts in a handful of rounds (4 of those
287).

Work conservation: after the solve, :meth:`MilpPolicy._fill` starts, in value order, every
candidate the solution left waiting that still fits the capacity left -- counting the GPUs the
round's preemptions free -- without breaking the reservation's spare capacity, a borrow cap or
a lend limit. So whatever the solver's gap (or time limit), no job waits that could start now
within those limits.

Solving: HiGHS (threads, time limit and gap explicit), CBC as fallback; the true status is
read from the solver; the round's budget ``time_limit_s`` is a deadline the solve cannot
overrun (HiGHS runs in a worker thread, see :mod:`scheduler.solver`): at the deadline the
round takes HiGHS's incumbent when it is within ``POOR_INCUMBENT_GAP`` of the bound. Without a
(good) solution -- deadline, infeasible, missing solver -- the policy falls back to greedy
admission in value order (the forced head first) and records it. The solver is skipped when
everything fits (``skipped_all_fit``) or when the model is the same as last round's
(``skipped_unchanged``). Same input, same decision.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pulp

from scheduler._round import (
    AllFitFirst,
    GreedyResult,
    ReservationPlan,
    RoundInput,
    all_fit,
    finish_round,
    greedy_admit,
    plan_reservation,
    unique_rows,
    with_usage,
)
from scheduler.baselines import fairshare_factor
from scheduler.objective import MilpWeights, relative_wait, short_bonus, wait_bucket
from scheduler.policy import register_policy
from scheduler.solver import affine, solve
from scheduler.types import ClusterView, Decision, PendingJob, RunningJob
from scheduler.victims import victim_types

__all__ = ["V_GUARANTEE", "MilpPolicy", "job_values", "relative_waits"]

V_GUARANTEE = MilpWeights().w_guarantee
ELASTIC_DISCOUNT = 0.95
POOR_INCUMBENT_GAP = 0.02
"""At the round's deadline, an incumbent further than this from HiGHS's bound (or without a
bound) is dropped for the greedy pass in value order, which is rarely worse."""


def relative_waits(ri: RoundInput, weights: MilpWeights) -> np.ndarray:
    """(n,) each pending job's wait over its division's wait target, capped at ``weights.wait_cap``."""
    targets = weights.targets([d.name for d in ri.view.divisions])
    return relative_wait(ri.now_s, ri.submit, targets[ri.div], weights.wait_cap)


def job_values(ri: RoundInput, weights: MilpWeights | None = None, rel_wait: np.ndarray | None = None) -> np.ndarray:
    """(n,) value per GPU of each pending job, without the per-job term (see :mod:`scheduler.objective`)."""
    w8 = weights or MilpWeights()
    prios = np.unique(ri.prio)
    prio_norm = np.searchsorted(prios, ri.prio) / max(1, prios.size - 1)
    w = ri.weight / ri.weight.max() if ri.weight.size else ri.weight
    r = relative_waits(ri, w8) if rel_wait is None else rel_wait
    v = 1.0 + w8.w_priority * prio_norm + w8.w_division * w[ri.div] + ri.hero.astype(np.float64) + w8.w_wait * r
    if w8.w_fairshare > 0 and ri.decayed.sum() > 0:
        f = fairshare_factor(ri.decayed, np.where(ri.guar > 0, ri.guar, ri.weight))
        v = v + w8.w_fairshare * f[ri.div]
    if w8.w_short > 0:
        v = v + w8.w_short * short_bonus(ri.dur, w8.short_ref_s)
    return v


@register_policy("milp")
@dataclass(kw_only=True)
class MilpPolicy(AllFitFirst):
    """Aggregated MILP over job types (see module docstring).

    Parameters
    ----------
    solver : {"highs", "cbc"}
    time_limit_s : float
        Wall-clock budget of the whole round (arrays, model, solve, fill, placement): the solver
        gets what is left of it less ``finish_reserve_s``, as a deadline it cannot overrun
        (:func:`scheduler.solver.solve`); at the deadline the round goes on with HiGHS's best
        solution so far, completed by the work-conserving fill.
    finish_reserve_s : float
        Wall time kept after the solve for the fill, placement and explanations (at most a
        quarter of ``time_limit_s``).
    gap_rel, threads
        Passed to the solver.
    presolve : bool
        HiGHS's presolve. Off by default: on 10k-job rounds of ``benchmarks/scheduler.py`` (after
        the packing rows' linearisation) it turned 0.05-1.1 s solves into 0.2-5 s ones, most of
        it in root cut separation HiGHS does not interrupt.
    min_runtime_s : float
        A job must have run this long before it may be preempted.
    preemption, reservation : bool
        Switch preemption and the big-job reservation on or off.
    reserve_min_gpus : int
        Jobs at least this big get the reservation.
    skip_unchanged : bool
        Reuse last round's solution when the model is identical.
    keep_order : bool
        The value order is never traded for packing: every job a pass in value order starts (each
        job that fits, in that order) must start; the solve adds what it can on top (elastic
        shapes) and decides preemption in rounds where a guarantee starves. Off: the plain
        knapsack, which on the policy matrix left mid-size and gang jobs waiting behind later
        small ones that packed better (see the module docstring).
    """

    name: str = "milp"
    solver: str = "highs"
    time_limit_s: float = 2.0
    finish_reserve_s: float = 0.25
    gap_rel: float = 1e-3
    threads: int = 1
    presolve: bool = False
    min_runtime_s: float = 600.0
    preemption: bool = True
    reservation: bool = True
    reserve_min_gpus: int = 256
    skip_unchanged: bool = True
    keep_order: bool = True
    weights: MilpWeights = field(default_factory=MilpWeights)
    """Objective weights and wait targets (:mod:`scheduler.objective`)."""
    work_conserving: bool = True
    """After the solve, start in value order every remaining job that still fits (without
    delaying the reservation or breaking a cap): the solver's gap never leaves a job waiting
    that could start."""
    _cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ round
    def schedule(self, view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float) -> Decision:
        t0 = time.perf_counter()
        fast = self._all_fit_decision(view, pending, running, now_s, t0)
        if fast is not None:
            return fast
        ri = RoundInput.build(view, pending, running, now_s)
        if ri.n == 0:
            return finish_round(ri, [], [], policy=self.name, explain_waiting=self.explain, record={"status": "skipped_empty"}, t0=t0)
        drained = ri.drained_capacity()
        placeable = np.all(np.minimum(ri.a_f, ri.a_m) <= drained[:, None], axis=0)
        cand = ri.rank[placeable[ri.rank]]

        rel = relative_waits(ri, self.weights)
        vals = job_values(ri, self.weights, rel)  # value per GPU of each job, once per round
        res, forced, cand = self._reservation(ri, cand, rel)

        # fast path: everything fits
        if res is None and all_fit(ri, cand):
            return finish_round(ri, cand.tolist(), [False] * cand.size, policy=self.name, explain_waiting=self.explain,
                                record={"solver": "none", "status": "skipped_all_fit"}, t0=t0)

        t_build = time.perf_counter()
        starved = self._starved(ri, cand, rel)
        # greedy admission in value order: its starts (kept), a bound for the packing rows'
        # linearisation, and the fallback
        greedy, kept = self._kept_starts(ri, cand, vals, res, forced, starved)
        model = self._aggregate(ri, cand, res, forced, rel, vals, starved=starved, kept=kept)
        key = model["key"]
        if self.skip_unchanged and self._cache.get("key") == key:
            sol = self._cache["sol"]
            rec = {"solver": self._cache["solver"], "status": "skipped_unchanged", "n_types": model["n_types"],
                   "objective": self._cache["objective"], "build_s": time.perf_counter() - t_build}
        else:
            prob, xs, ys, ps, obj_terms, offset = self._build(ri, model, linear_frag=self._linear_frag_ok(ri, self._greedy_value(ri, greedy, vals)))
            build_s = time.perf_counter() - t_build
            deadline = t0 + self.time_limit_s - min(self.finish_reserve_s, 0.25 * self.time_limit_s)
            r = solve(prob, solver=self.solver, time_limit_s=self.time_limit_s, gap_rel=self.gap_rel, threads=self.threads,
                      deadline_s=deadline, presolve=self.presolve)
            rec = {"solver": r.solver, "status": r.status, "build_s": build_s, "solve_s": r.solve_s, "gap": r.gap,
                   "n_types": model["n_types"]}
            if r.status == "deadline_feasible" and (r.gap is None or r.gap > POOR_INCUMBENT_GAP):
                r = replace(r, has_solution=False, status="deadline_poor_incumbent")
                rec["status"] = r.status
            if r.has_solution:
                sol = (
                    np.array([round(v.varValue or 0.0) for v in xs], dtype=np.int64),
                    np.array([round(v.varValue or 0.0) if v is not None else 0 for v in ys], dtype=np.int64),
                    np.array([round(v.varValue or 0.0) for v in ps], dtype=np.int64),
                )
                rec["objective"] = float(sum(c * (v.varValue or 0.0) for v, c in obj_terms)) + offset
                self._cache.update(key=key, sol=sol, solver=r.solver, objective=rec["objective"])
            else:
                self._cache.clear()
                g = greedy
                rec.update(fallback_used=True, fallback_reason=r.status)
                return finish_round(ri, g.admitted, g.use_min, policy=self.name, explain_waiting=self.explain, reservation=res,
                                    quota_blocked=g.quota_blocked, record=rec, t0=t0)
        x, y, p = sol
        admitted: list[int] = []
        use_min: list[bool] = []
        for t, jobs in enumerate(model["type_jobs"]):
            nx, ny = int(x[t]), int(y[t])
            admitted.extend(jobs[:nx])
            use_min.extend([False] * min(nx, len(jobs)))
            admitted.extend(jobs[nx : nx + ny])
            use_min.extend([True] * len(jobs[nx : nx + ny]))
        preempted: list[int] = []
        freed = np.zeros_like(ri.cap)
        freed_div = np.zeros_like(ri.usage)
        for r_t, jobs in enumerate(model["rtype_jobs"]):
            n_p = int(p[r_t])
            preempted.extend(jobs[:n_p])
            if n_p:
                dv, gpus, credit = (int(v) for v in model["rkeys"][r_t][:3])
                freed += n_p * gpus * (np.asarray(ri.spec.levels) <= credit)
                freed_div[dv] += n_p * gpus
        if self.work_conserving:
            extra, extra_min = self._fill(ri, cand, admitted, use_min, res, vals, freed=freed, freed_div=freed_div)
            if extra:
                admitted.extend(extra)
                use_min.extend(extra_min)
        return finish_round(ri, admitted, use_min, policy=self.name, explain_waiting=self.explain, preempted=preempted,
                            preempt_reason="reclaim borrowed GPUs for a division below its guarantee",
                            reservation=res, record=rec, t0=t0)

    # ------------------------------------------------------------- helpers
    def _reservation(self, ri: RoundInput, cand: np.ndarray, rel: np.ndarray) -> tuple[ReservationPlan | None, int, np.ndarray]:
        """``(reservation, forced head, candidates)``: the most overdue big job (first in rank
        order among equals), once it has waited ``reserve_after`` wait targets, is forced to
        start when it fits now, else it gets an EASY reservation and leaves the candidates."""
        if not self.reservation:
            return None, -1, cand
        big = cand[(ri.shape_f[cand] >= self.reserve_min_gpus) & (ri.usage[ri.div[cand]] + ri.shape_f[cand] <= ri.div_cap[ri.div[cand]])
                   & (rel[cand] >= self.weights.reserve_after)]
        if not big.size:
            return None, -1, cand
        h = int(big[np.argmax(rel[big])])
        if np.all(ri.a_f[:, h] <= ri.cap):
            return None, h, cand
        return plan_reservation(ri, h, ri.free), -1, cand[cand != h]

    def _fill(self, ri: RoundInput, cand: np.ndarray, admitted: list[int], use_min: list[bool],
              res: ReservationPlan | None, vals: np.ndarray, *, freed: np.ndarray | None = None,
              freed_div: np.ndarray | None = None) -> tuple[list[int], list[bool]]:
        """Greedy pass over the candidates the solution left waiting, in value order: each one
        that still fits the capacity left (and the reservation's spare capacity, the caps and
        the lend limits) starts. Makes the round work-conserving whatever the solver's gap.

        ``freed`` (GPUs per capacity level) and ``freed_div`` (GPUs per division) are what the
        round's preemptions give back: counted as free, as the MILP's level rows count them."""
        taken = np.zeros(ri.n, dtype=bool)
        taken[admitted] = True
        rest = cand[~taken[cand]]
        if rest.size == 0:
            return [], []
        adm = np.asarray(admitted, dtype=np.int64)
        um = np.asarray(use_min, dtype=bool)
        used = np.where(um, ri.a_m[:, adm], ri.a_f[:, adm]).sum(axis=1) if adm.size else np.zeros_like(ri.cap)
        left = ri.cap - used + (freed if freed is not None else 0)
        if not np.any(left > 0):
            return [], []
        order = self._value_order(ri, rest, vals)
        if res is not None and adm.size:
            lg = res.long[adm]
            spent = (np.where(um[lg], res.cost_min[:, adm[lg]], res.cost[:, adm[lg]]).sum(axis=1)
                     if lg.any() else np.zeros_like(res.extra))
            res = replace(res, extra=np.maximum(0, res.extra - spent))
        ri2 = with_usage(ri, adm, um)
        if freed_div is not None and freed_div.any():
            ri2.usage = ri2.usage - freed_div
        g = greedy_admit(ri2, order, reservation=res, cap=left)
        return g.admitted, g.use_min

    def _value_order(self, ri: RoundInput, cand: np.ndarray, vals: np.ndarray, *, first: int = -1) -> np.ndarray:
        """``cand`` by value per GPU (the per-job term spread over the job's GPUs), descending;
        ties keep ``cand``'s order; job ``first`` (the forced head, if >= 0) leads."""
        per_gpu = vals + self.weights.w_job / ri.shape_f
        order = cand[np.lexsort((np.arange(cand.size), -per_gpu[cand]))]
        return order if first < 0 else np.concatenate(([first], order[order != first]))

    def _greedy_value(self, ri: RoundInput, g: GreedyResult, vals: np.ndarray) -> float:
        """Objective value of a greedy admission without its guarantee and packing terms."""
        adm = np.asarray(g.admitted, np.int64)
        if not adm.size:
            return 0.0
        um = np.asarray(g.use_min, bool)
        gpus = np.where(um, ri.shape_m[adm] * ELASTIC_DISCOUNT, ri.shape_f[adm])
        return float((vals[adm] * gpus).sum() + self.weights.w_job * adm.size)

    def _starved(self, ri: RoundInput, cand: np.ndarray, rel: np.ndarray) -> np.ndarray:
        """(n_divisions,) bool: below its guarantee with a candidate that has waited
        ``preempt_after`` wait targets (a *starving* guarantee: only it may preempt)."""
        overdue = cand[rel[cand] >= self.weights.preempt_after]
        return (ri.usage < ri.guar) & (np.bincount(ri.div[overdue], minlength=ri.usage.size) > 0)

    def _kept_starts(self, ri: RoundInput, cand: np.ndarray, vals: np.ndarray, res: ReservationPlan | None, forced: int,
                     starved: np.ndarray) -> tuple[GreedyResult, np.ndarray | None]:
        """``(greedy pass in value order, (n,) bool of the jobs it starts, or None)``: with
        ``keep_order`` those jobs must start, except in a round where a guarantee starves and
        preemption is on (that round is the preemption's: None)."""
        order = self._value_order(ri, cand, vals, first=forced)
        greedy = greedy_admit(ri, order, reservation=res)
        if not self.keep_order or (self.preemption and starved.any()):
            return greedy, None
        kept = np.zeros(ri.n, dtype=bool)
        kept[greedy.admitted] = True
        return greedy, kept

    def _aggregate(self, ri: RoundInput, cand: np.ndarray, res: ReservationPlan | None, forced: int, rel: np.ndarray,
                   vals: np.ndarray, *, starved: np.ndarray, kept: np.ndarray | None = None) -> dict:
        """The model's data: job types, running (victim) types and the round's key. ``starved``:
        :meth:`_starved`; ``kept``: jobs that must start (their count per type becomes a lower
        bound: :meth:`_kept_starts`, see ``keep_order``)."""
        long = res.long.astype(np.int64) if res is not None else np.zeros(ri.n, np.int64)
        is_forced = np.zeros(ri.n, np.int64)
        if forced >= 0:
            is_forced[forced] = 1
        bucket = wait_bucket(rel)
        cols = np.stack([ri.div, ri.shape_f, ri.klass_f, ri.shape_m, ri.klass_m, ri.prio, long,
                         ri.hero.astype(np.int64), is_forced, -bucket], axis=1)[cand]
        keys, inv = unique_rows(cols)
        # per type, its jobs in value order (rank order among equals): a type's first x start
        order = np.lexsort((np.arange(cand.size), -vals[cand], inv))
        bounds = np.searchsorted(inv[order], np.arange(keys.shape[0] + 1))
        cand_sorted = cand[order]
        type_jobs = [cand_sorted[bounds[t] : bounds[t + 1]].tolist() for t in range(keys.shape[0])]
        first = cand_sorted[bounds[:-1]]  # representative job per type
        counts = np.diff(bounds)
        type_vals = np.add.reduceat(vals[cand_sorted], bounds[:-1]) / counts if counts.size else np.zeros(0)

        # running types eligible for preemption
        rtype_jobs: list[list[int]] = []
        rkeys = np.zeros((0, 5), np.int64)
        deficit = starved
        must = (np.add.reduceat(kept[cand_sorted].astype(np.int64), bounds[:-1]) if kept is not None and counts.size
                else None)
        # preemption only for a division below its guarantee whose jobs have waited preempt_after targets
        if self.preemption and deficit.any() and len(ri.running):
            overdue = cand[rel[cand] >= self.weights.preempt_after]
            rkeys, rtype_jobs = victim_types(ri, overdue, deficit, vals, self.weights, self.min_runtime_s)
        rcounts = np.array([len(j) for j in rtype_jobs], dtype=np.int64)
        h = hashlib.sha256()
        for a in (keys, counts, rkeys, rcounts, ri.cap, ri.usage, ri.div_cap, ri.reserve, ri.guar, ri.weight,
                  np.unique(ri.prio), np.round(type_vals, 1), deficit, must if must is not None else np.zeros(0, np.int64)):
            h.update(np.ascontiguousarray(a).tobytes())
            h.update(b"|")
        if res is not None:
            for a in (res.levels, res.extra):
                h.update(np.ascontiguousarray(a).tobytes())
        return {"keys": keys, "counts": counts, "first": first, "type_jobs": type_jobs, "vals": type_vals, "starved": deficit, "must": must,
                "rkeys": rkeys, "rcounts": rcounts, "rtype_jobs": rtype_jobs, "res": res, "forced": forced,
                "n_types": int(keys.shape[0]), "key": h.hexdigest()}

    def _build(self, ri: RoundInput, m: dict, *, linear_frag: bool = False) -> tuple:
        """``(problem, x vars, y vars (None where not elastic), p vars, objective terms, objective
        constant)``. ``linear_frag``: packing costs charged per GPU of every sub-node / sub-array
        start, without their rows (see :meth:`_linear_frag_ok`)."""
        prob = pulp.LpProblem("colossus_round", pulp.LpMaximize)
        offset = 0.0
        first = m["first"]
        counts = m["counts"]
        nt = counts.size
        ndiv = ri.usage.size
        w8 = self.weights
        xs, ys = [], []
        obj: list[tuple[pulp.LpVariable, float]] = []
        gpn = ri.spec.gpn
        pool_gpus = gpn * int(ri.spec.nodes_per_pool)
        frag_node: list[tuple[pulp.LpVariable, float]] = []  # GPUs of sub-node starts
        frag_arr: list[tuple[pulp.LpVariable, float]] = []  # GPUs of sub-array starts
        level_terms: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(ri.cap.size)]
        div_new: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(ndiv)]
        res_terms: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(m["res"].levels.size if m["res"] is not None else 0)]
        for t in range(nt):
            j = int(first[t])
            x = prob.add_variable(f"x{t}", 0, int(counts[t]), pulp.LpInteger)
            xs.append(x)
            gf = float(ri.shape_f[j])
            obj.append((x, float(m["vals"][t]) * gf + w8.w_job))
            d = int(ri.div[j])
            div_new[d].append((x, gf))
            if gf < gpn:
                frag_node.append((x, gf))
            if gf < pool_gpus:
                frag_arr.append((x, gf))
            for lvl in np.flatnonzero(ri.a_f[:, j]).tolist():
                level_terms[lvl].append((x, float(ri.a_f[lvl, j])))
            y = None
            if ri.elastic[j]:
                y = prob.add_variable(f"y{t}", 0, int(counts[t]), pulp.LpInteger)
                gm = float(ri.shape_m[j])
                obj.append((y, float(m["vals"][t]) * gm * ELASTIC_DISCOUNT + w8.w_job))
                div_new[d].append((y, gm))
                if gm < gpn:
                    frag_node.append((y, gm))
                if gm < pool_gpus:
                    frag_arr.append((y, gm))
                for lvl in np.flatnonzero(ri.a_m[:, j]).tolist():
                    level_terms[lvl].append((y, float(ri.a_m[lvl, j])))
                prob += affine([(x, 1.0), (y, 1.0)]) <= int(counts[t]), f"count{t}"
            ys.append(y)
            res = m["res"]
            if res is not None and res.long[j]:
                for k in range(res.levels.size):
                    if res.cost[k, j]:
                        res_terms[k].append((x, float(res.cost[k, j])))
                    if y is not None and res.cost_min[k, j]:
                        res_terms[k].append((y, float(res.cost_min[k, j])))
            if j == m["forced"]:
                prob += affine([(x, 1.0)] + ([(y, 1.0)] if y is not None else [])) >= 1, "head"
            if m["must"] is not None and m["must"][t] > 0:  # the value order's starts (keep_order)
                prob += affine([(x, 1.0)] + ([(y, 1.0)] if y is not None else [])) >= int(m["must"][t]), f"must{t}"
        # preemption
        ps = []
        div_freed: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(ndiv)]
        for rt in range(m["rcounts"].size):
            dv, gpus, credit, _prio, rcost = (int(v) for v in m["rkeys"][rt])
            p = prob.add_variable(f"p{rt}", 0, int(m["rcounts"][rt]), pulp.LpInteger)
            ps.append(p)
            obj.append((p, -gpus * rcost / 100.0))
            div_freed[dv].append((p, float(gpus)))
            for lvl in range(ri.cap.size):
                if ri.spec.levels[lvl] <= credit:
                    level_terms[lvl].append((p, -float(gpus)))
        for lvl, terms in enumerate(level_terms):
            if any(c > 0 for _, c in terms):
                prob += affine(terms) <= int(ri.cap[lvl]), f"level{lvl}"
        qs = []
        starved_qs: list[pulp.LpVariable] = []
        for d in range(ndiv):
            room = max(0.0, ri.guar[d] - ri.usage[d])
            if div_new[d] and room > 0:
                q = prob.add_variable(f"q{d}", 0, room, pulp.LpContinuous)
                qs.append(q)
                obj.append((q, w8.w_guarantee))
                if m["starved"][d]:
                    starved_qs.append(q)
                prob += affine(div_new[d] + [(q, -1.0)]) >= 0, f"guar{d}"
            if div_new[d] and np.isfinite(ri.div_cap[d]):
                lim = max(ri.div_cap[d], ri.usage[d]) - ri.usage[d]
                prob += affine(div_new[d] + [(v, -c) for v, c in div_freed[d]]) <= lim, f"cap{d}"
            if div_freed[d]:
                prob += affine(div_freed[d]) <= max(0.0, ri.usage[d] - ri.guar[d]), f"victim{d}"
        qs = starved_qs  # only starving guarantees justify a preemption
        if ps:
            slack = float(max(int(k[1]) for k in m["rkeys"]) - 1)
            prob += affine([(v, c) for d in range(ndiv) for v, c in div_freed[d]] + [(q, -1.0) for q in qs]) <= slack, "preempt_for_guarantee"
        if ri.reserve.sum() > 0:
            s_terms = []
            for d in range(ndiv):
                if div_new[d]:
                    s = prob.add_variable(f"s{d}", 0, None, pulp.LpContinuous)
                    prob += affine(div_new[d] + [(s, -1.0)]) <= float(ri.reserve[d]), f"lend{d}"
                    s_terms.append((s, 1.0))
            if s_terms:
                shared = max(0.0, float(ri.cap[0] - ri.reserve.sum()))
                prob += affine(s_terms + [(v, -c) for d in range(ndiv) for v, c in div_freed[d]]) <= shared, "shared"
        for k, terms in enumerate(res_terms):
            if terms:
                prob += affine(terms) <= float(m["res"].extra[k]), f"reserve{k}"
        # packing: GPUs of small starts beyond the free GPUs of partly used nodes / arrays break
        # whole ones (cost per broken node / array, see scheduler.objective)
        partial_node, partial_arr = _partial_free(ri)
        for name, terms, have, unit, wgt in (("frag_node", frag_node, partial_node, gpn, w8.w_frag_node),
                                             ("frag_arr", frag_arr, partial_arr, pool_gpus, w8.w_frag_array)):
            if terms and wgt > 0 and sum(c * v.upBound for v, c in terms) > have:
                if linear_frag:  # cost - wgt/unit * (S - have): within wgt/unit * have of the exact one
                    obj.extend((v, -wgt / unit * c) for v, c in terms)
                    offset += wgt / unit * have
                    continue
                b = prob.add_variable(f"b_{name}", 0, None, pulp.LpContinuous)
                prob += affine([*terms, (b, -1.0)]) <= have, name
                obj.append((b, -wgt / unit))
        coef: dict = {}
        for v, c in obj:  # a variable may appear more than once (linearised packing costs)
            coef[v] = coef.get(v, 0.0) + c
        obj = list(coef.items())
        prob += affine(obj)
        return prob, xs, ys, ps, obj, offset

    def _linear_frag_ok(self, ri: RoundInput, value_lb: float) -> bool:
        """Whether the packing rows may be linearised: charging every GPU of a sub-node /
        sub-array start moves the objective by at most ``sum(w / unit * have)`` (the free GPUs
        of partly used nodes / arrays), which must stay below a quarter of the solver's gap on
        ``value_lb``, a feasible solution's value. The two dense packing rows make HiGHS's root
        cut separation run for seconds on 1,000-type rounds; without them it solves in a
        fraction of that."""
        gpn, w8 = ri.spec.gpn, self.weights
        partial_node, partial_arr = _partial_free(ri)
        err = w8.w_frag_node / gpn * partial_node + w8.w_frag_array / (gpn * ri.spec.nodes_per_pool) * partial_arr
        return err <= 0.25 * self.gap_rel * value_lb


def _partial_free(ri: RoundInput) -> tuple[float, float]:
    """Free GPUs in partly used nodes and in partly used arrays (pools): what sub-node and
    sub-array starts can take without breaking a whole one."""
    free, gpn = ri.free, ri.spec.gpn
    partial_node = float(free[(free > 0) & (free < gpn)].sum())
    pool_free = np.bincount(ri.view.node_pool, weights=free, minlength=ri.view.num_pools)
    partial_arr = float(pool_free[pool_free < ri.view.nodes_per_pool * gpn].sum())
    return partial_node, partial_arr
