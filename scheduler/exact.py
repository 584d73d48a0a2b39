"""The exact per-job model, for proving the aggregated MILP (tests and benchmarks only).

The objective of :mod:`scheduler.milp` with every job's own relative wait (the aggregated
model uses its wait bucket's mean) and the same division constraints, but every job gets its
own binaries and the placement is explicit: sub-node jobs choose a node, one-node jobs and
whole-node jobs of up to one array choose a pool, pool-spanning jobs take an integer number of
whole nodes per pool, and per node ``sum(sub-node GPUs) + 8 * whole(n) <= free(n)``. Elastic
jobs choose their full or their minimum shape. With ``policy`` given, its preemption rules
(the same eligible victims, one binary each, freeing their actual nodes, at the same cost), its
reservation (the same head and per-level budget for long jobs) and its ``keep_order`` (the jobs
its pass in value order starts must start) are modelled too. The
packing cost is left out of both (the exact placement makes it a different quantity).
Small instances only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pulp

from scheduler._round import RoundInput
from scheduler.milp import ELASTIC_DISCOUNT, MilpPolicy, job_values, relative_waits
from scheduler.objective import MilpWeights
from scheduler.solver import affine, solve
from scheduler.types import ClusterView, Decision, PendingJob, RunningJob

__all__ = ["ExactResult", "aggregated_objective", "featured_instance", "solve_exact"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ExactResult:
    status: str
    objective: float | None
    bound: float | None
    admitted: tuple[str, ...]


def featured_instance(rng: np.random.Generator) -> tuple[ClusterView, list[PendingJob], list[RunningJob], float, MilpPolicy]:
    """A small random round (4 x 8 nodes, 120 pending jobs, 30 % elastic) and a MILP policy with
    preemption and reservations on and made likely (gang jobs >= 64 GPUs reserve, and guarantees
    preempt, after half a wait target): the instances on which the aggregated model is checked
    against the exact one with all three features on (tests and benchmarks/scheduler.py)."""
    from scheduler.policy import make_policy
    from scheduler.synthetic import random_snapshot

    view, pending, running, now = random_snapshot(rng, num_pools=4, nodes_per_pool=8, n_pending=120, elastic_frac=0.3,
                                                  occupancy=0.6, max_gpus=128, now_s=20_000.0)
    pol = make_policy("milp", gap_rel=1e-4, reserve_min_gpus=64, min_runtime_s=600,
                      weights=MilpWeights(reserve_after=0.5, preempt_after=0.5))
    return view, pending, running, now, pol  # type: ignore[return-value]


def _weights(policy: MilpPolicy | None) -> MilpWeights:
    return policy.weights if policy is not None else MilpWeights()


def aggregated_objective(view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float,
                         started: Sequence[str] | Decision, policy: MilpPolicy | None = None) -> float:
    """The exact model's objective (per-job waits, no packing cost) of a decision or a set of started jobs."""
    ri = RoundInput.build(view, pending, running, now_s)
    w8 = _weights(policy)
    vals = job_values(ri, w8)
    pos = {j: i for i, j in enumerate(ri.ids)}
    if isinstance(started, Decision):
        starts = started.starts
        ids = list(starts)
        gpus = np.array([sum(g for _, g in starts[j]) for j in ids], dtype=np.float64)
        pre = set(started.preempted_ids)
    else:
        ids = list(started)
        gpus = None
        pre = set()
    idx = np.array([pos[j] for j in ids], dtype=np.int64)
    if gpus is None:
        gpus = ri.shape_f[idx].astype(np.float64) if idx.size else np.zeros(0)
    disc = np.where(gpus < ri.shape_f[idx], ELASTIC_DISCOUNT, 1.0) if idx.size else np.zeros(0)
    tot = float((vals[idx] * gpus * disc).sum() + w8.w_job * idx.size) if idx.size else 0.0
    new = np.bincount(ri.div[idx], weights=gpus, minlength=ri.usage.size) if idx.size else np.zeros(ri.usage.size)
    room = np.maximum(0.0, ri.guar - ri.usage)
    tot += w8.w_guarantee * float(np.minimum(new, room).sum())
    if pre and policy is not None:
        for i, r in enumerate(ri.running):
            if r.job_id in pre:
                tot -= _preempt_cost(ri, i, w8)
    return tot


def _preempt_cost(ri: RoundInput, i: int, w8: MilpWeights) -> float:
    lost_s = ri.r_restart[i] + min(ri.now_s - ri.r_start[i], w8.preempt_lost_cap_s)
    per_gpu = math.ceil(w8.preempt_base + w8.preempt_per_gpu_h * lost_s / 3600.0)  # as the MILP: whole units, up
    return float(ri.r_gpus[i]) * per_gpu


def solve_exact(view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float, *,
                time_limit_s: float = 30.0, gap_rel: float = 1e-4, policy: MilpPolicy | None = None) -> ExactResult:
    """The per-job optimum (see the module docstring); ``policy`` switches on its preemption,
    reservation and weights (``None``: no preemption or reservation, default weights)."""
    ri = RoundInput.build(view, pending, running, now_s)
    spec = ri.spec
    gpn = spec.gpn
    w8 = _weights(policy)
    vals = job_values(ri, w8)
    free = ri.free
    node_pool = view.node_pool
    npools = view.num_pools
    prob = pulp.LpProblem("exact", pulp.LpMaximize)
    node_terms: list[list] = [[] for _ in range(free.size)]
    pool_terms: list[list] = [[] for _ in range(npools)]
    obj: list = []
    # the policy's candidates, reservation and eligible victims (same rules as the aggregated model)
    res, forced, victims = None, -1, []
    if policy is not None:
        drained = ri.drained_capacity()
        placeable = np.all(np.minimum(ri.a_f, ri.a_m) <= drained[:, None], axis=0)
        cand = ri.rank[placeable[ri.rank]]
        rel = relative_waits(ri, w8)
        res, forced, cand = policy._reservation(ri, cand, rel)
        starved = policy._starved(ri, cand, rel)
        _, kept = policy._kept_starts(ri, cand, vals, res, forced, starved)  # the same jobs must start
        m = policy._aggregate(ri, cand, res, forced, rel, vals, starved=starved)
        victims = sorted(j for jobs in m["rtype_jobs"] for j in jobs)
        must = kept if kept is not None else np.zeros(ri.n, dtype=bool)
    else:
        cand = ri.rank
        starved = np.zeros(ri.usage.size, dtype=bool)
        must = np.zeros(ri.n, dtype=bool)
    in_cand = np.zeros(ri.n, dtype=bool)
    in_cand[cand] = True
    whole = np.flatnonzero(free == gpn) if not victims else np.arange(free.size)
    w = {int(n): prob.add_variable(f"w{n}", 0, 1, pulp.LpBinary) for n in whole}
    for n, v in w.items():
        node_terms[n].append((v, float(gpn)))
        pool_terms[int(node_pool[n])].append((v, -1.0))
    node_free = free.astype(np.float64).copy()
    ps = []
    for i in victims:  # a preempted job's GPUs come back on its own nodes
        p = prob.add_variable(f"p{i}", 0, 1, pulp.LpBinary)
        ps.append((i, p))
        obj.append((p, -_preempt_cost(ri, i, w8)))
        e = ri.entries_of(np.array([i]))
        for n, g in zip(ri.r_nodes[e].tolist(), ri.r_node_gpus[e].tolist(), strict=True):
            node_terms[n].append((p, -float(g)))
    zs: list[list[tuple[pulp.LpVariable, int]]] = [[] for _ in range(ri.n)]
    can_grow = {n for i in victims for n in ri.r_nodes[ri.entries_of(np.array([i]))].tolist()}

    def add_shape(j: int, s: int, tag: str) -> pulp.LpVariable:
        z = prob.add_variable(f"z{tag}{j}", 0, 1, pulp.LpBinary)
        if s < gpn:
            nodes = [n for n in range(free.size) if free[n] >= s or n in can_grow]
            bs = [prob.add_variable(f"b{tag}{j}_{n}", 0, 1, pulp.LpBinary) for n in nodes]
            for n, b in zip(nodes, bs, strict=True):
                node_terms[n].append((b, float(s)))
            prob.addConstraint(affine([(b, 1.0) for b in bs] + [(z, -1.0)]) == 0, f"one{tag}{j}")
        elif s <= spec.pool_gpus:
            k = s // gpn
            a = [prob.add_variable(f"a{tag}{j}_{p}", 0, 1, pulp.LpBinary) for p in range(npools)]
            for p in range(npools):
                pool_terms[p].append((a[p], float(k)))
            prob.addConstraint(affine([(v, 1.0) for v in a] + [(z, -1.0)]) == 0, f"pool{tag}{j}")
        else:
            k = s // gpn
            kk = [prob.add_variable(f"k{tag}{j}_{p}", 0, None, pulp.LpInteger) for p in range(npools)]
            for p in range(npools):
                pool_terms[p].append((kk[p], 1.0))
            prob.addConstraint(affine([(v, 1.0) for v in kk] + [(z, -float(k))]) == 0, f"span{tag}{j}")
        return z

    for j in range(ri.n):
        if not in_cand[j]:
            continue
        zf = add_shape(j, int(ri.shape_f[j]), "f")
        zs[j].append((zf, int(ri.shape_f[j])))
        obj.append((zf, float(vals[j] * ri.shape_f[j] + w8.w_job)))
        if ri.elastic[j]:
            zm = add_shape(j, int(ri.shape_m[j]), "m")
            zs[j].append((zm, int(ri.shape_m[j])))
            obj.append((zm, float(vals[j] * ri.shape_m[j] * ELASTIC_DISCOUNT + w8.w_job)))
            prob += affine([(zf, 1.0), (zm, 1.0)]) <= 1, f"elastic{j}"
        if j == forced:
            prob += affine([(z, 1.0) for z, _ in zs[j]]) >= 1, "head"
        elif must[j]:
            prob += affine([(z, 1.0) for z, _ in zs[j]]) >= 1, f"must{j}"
    for n, terms in enumerate(node_terms):
        if terms:
            prob += affine(terms) <= float(node_free[n]), f"node{n}"
    for p, terms in enumerate(pool_terms):
        if terms:
            prob += affine(terms) <= 0, f"poolcap{p}"
    ndiv = ri.usage.size
    div_new = [[(z, float(s)) for j in range(ri.n) if ri.div[j] == d for z, s in zs[j]] for d in range(ndiv)]
    div_freed = [[(p, float(ri.r_gpus[i])) for i, p in ps if ri.r_div[i] == d] for d in range(ndiv)]
    qs = []
    for d in range(ndiv):
        room = max(0.0, ri.guar[d] - ri.usage[d])
        if div_new[d] and room > 0:
            q = prob.add_variable(f"q{d}", 0, room, pulp.LpContinuous)
            obj.append((q, w8.w_guarantee))
            prob += affine(div_new[d] + [(q, -1.0)]) >= 0, f"guar{d}"
            if starved[d]:
                qs.append(q)
        if div_new[d] and np.isfinite(ri.div_cap[d]):
            prob += affine(div_new[d] + [(v, -c) for v, c in div_freed[d]]) <= max(ri.div_cap[d], ri.usage[d]) - ri.usage[d], f"cap{d}"
        if div_freed[d]:
            prob += affine(div_freed[d]) <= max(0.0, ri.usage[d] - ri.guar[d]), f"victim{d}"
    if ps:
        slack = float(max(ri.r_gpus[i] for i, _ in ps) - 1)
        prob += affine([(v, c) for d in range(ndiv) for v, c in div_freed[d]] + [(q, -1.0) for q in qs]) <= slack, "preempt_for_guarantee"
    if ri.reserve.sum() > 0:
        st = []
        for d in range(ndiv):
            if div_new[d]:
                s_ = prob.add_variable(f"s{d}", 0, None, pulp.LpContinuous)
                prob += affine(div_new[d] + [(s_, -1.0)]) <= float(ri.reserve[d]), f"lend{d}"
                st.append((s_, 1.0))
        if st:
            prob += affine(st + [(v, -c) for d in range(ndiv) for v, c in div_freed[d]]) <= max(0.0, float(ri.cap[0] - ri.reserve.sum())), "shared"
    if res is not None:
        for k in range(res.levels.size):
            terms = [(z, float(res.cost[k, j] if s == ri.shape_f[j] else res.cost_min[k, j]))
                     for j in range(ri.n) if res.long[j] for z, s in zs[j]]
            terms = [(z, c) for z, c in terms if c]
            if terms:
                prob += affine(terms) <= float(res.extra[k]), f"reserve{k}"
    prob += affine(obj)
    r = solve(prob, time_limit_s=time_limit_s, gap_rel=gap_rel)
    if not r.has_solution:
        return ExactResult(status=r.status, objective=None, bound=None, admitted=())
    val = float(sum(c * (v.varValue or 0.0) for v, c in obj))
    bound = None
    try:
        bound = -float(prob.solverModel.getInfo().mip_dual_bound)
    except Exception:
        bound = None
    adm = tuple(ri.ids[j] for j in range(ri.n) if any((z.varValue or 0) > 0.5 for z, _ in zs[j]))
    return ExactResult(status=r.status, objective=val, bound=bound, admitted=adm)
