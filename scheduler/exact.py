"""The exact per-job model, for proving the aggregated MILP (tests and benchmarks only).

Same objective and division constraints as :mod:`scheduler.milp` (without preemption and
reservations; elastic jobs are treated as rigid), but every job gets its own binaries and the
placement is explicit: sub-node jobs choose a node, one-node jobs and whole-node jobs of up
to one array choose a pool, pool-spanning jobs take an integer number of whole nodes per
pool, and per node ``sum(sub-node GPUs) + 8 * whole(n) <= free(n)``. Small instances only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pulp

from scheduler._round import RoundInput
from scheduler.milp import V_GUARANTEE, job_values
from scheduler.solver import affine, solve
from scheduler.types import ClusterView, PendingJob, RunningJob

__all__ = ["ExactResult", "aggregated_objective", "solve_exact"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ExactResult:
    status: str
    objective: float | None
    bound: float | None
    admitted: tuple[str, ...]


def aggregated_objective(view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float, started: Sequence[str]) -> float:
    """The model objective of a set of started jobs (no preemption), for comparisons."""
    ri = RoundInput.build(view, pending, running, now_s)
    vals = job_values(ri)
    pos = {j: i for i, j in enumerate(ri.ids)}
    idx = np.array([pos[j] for j in started], dtype=np.int64)
    tot = float((vals[idx] * ri.shape_f[idx]).sum()) if idx.size else 0.0
    new = np.bincount(ri.div[idx], weights=ri.shape_f[idx].astype(float), minlength=ri.usage.size) if idx.size else np.zeros(ri.usage.size)
    room = np.maximum(0.0, ri.guar - ri.usage)
    return tot + V_GUARANTEE * float(np.minimum(new, room).sum())


def solve_exact(view: ClusterView, pending: Sequence[PendingJob], running: Sequence[RunningJob], now_s: float, *, time_limit_s: float = 30.0, gap_rel: float = 1e-4) -> ExactResult:
    ri = RoundInput.build(view, pending, running, now_s)
    spec = ri.spec
    gpn = spec.gpn
    vals = job_values(ri)
    free = ri.free
    node_pool = view.node_pool
    npools = view.num_pools
    prob = pulp.LpProblem("exact", pulp.LpMaximize)
    z = [prob.add_variable(f"z{j}", 0, 1, pulp.LpBinary) for j in range(ri.n)]
    obj = [(z[j], float(vals[j] * ri.shape_f[j])) for j in range(ri.n)]
    node_terms: list[list] = [[] for _ in range(free.size)]
    pool_terms: list[list] = [[] for _ in range(npools)]
    whole = np.flatnonzero(free == gpn)
    w = {int(n): prob.add_variable(f"w{n}", 0, 1, pulp.LpBinary) for n in whole}
    for n, v in w.items():
        node_terms[n].append((v, float(gpn)))
        pool_terms[int(node_pool[n])].append((v, -1.0))
    for j in range(ri.n):
        s = int(ri.shape_f[j])
        if s < gpn:
            nodes = np.flatnonzero(free >= s)
            bs = [prob.add_variable(f"b{j}_{n}", 0, 1, pulp.LpBinary) for n in nodes]
            for n, b in zip(nodes.tolist(), bs, strict=True):
                node_terms[n].append((b, float(s)))
            prob += affine([(b, 1.0) for b in bs] + [(z[j], -1.0)]) == 0, f"one{j}"
        elif s <= spec.pool_gpus:
            k = s // gpn
            a = [prob.add_variable(f"a{j}_{p}", 0, 1, pulp.LpBinary) for p in range(npools)]
            for p in range(npools):
                pool_terms[p].append((a[p], float(k)))
            prob += affine([(v, 1.0) for v in a] + [(z[j], -1.0)]) == 0, f"pool{j}"
        else:
            k = s // gpn
            kk = [prob.add_variable(f"k{j}_{p}", 0, None, pulp.LpInteger) for p in range(npools)]
            for p in range(npools):
                pool_terms[p].append((kk[p], 1.0))
            prob += affine([(v, 1.0) for v in kk] + [(z[j], -float(k))]) == 0, f"span{j}"
    for n, terms in enumerate(node_terms):
        if terms:
            prob += affine(terms) <= int(free[n]), f"node{n}"
    for p, terms in enumerate(pool_terms):
        if terms:
            prob += affine(terms) <= 0, f"poolcap{p}"
    ndiv = ri.usage.size
    div_new = [[(z[j], float(ri.shape_f[j])) for j in range(ri.n) if ri.div[j] == d] for d in range(ndiv)]
    for d in range(ndiv):
        room = max(0.0, ri.guar[d] - ri.usage[d])
        if div_new[d] and room > 0:
            q = prob.add_variable(f"q{d}", 0, room, pulp.LpContinuous)
            obj.append((q, V_GUARANTEE))
            prob += affine(div_new[d] + [(q, -1.0)]) >= 0, f"guar{d}"
        if div_new[d] and np.isfinite(ri.div_cap[d]):
            prob += affine(div_new[d]) <= max(ri.div_cap[d], ri.usage[d]) - ri.usage[d], f"cap{d}"
    if ri.reserve.sum() > 0:
        st = []
        for d in range(ndiv):
            if div_new[d]:
                s_ = prob.add_variable(f"s{d}", 0, None, pulp.LpContinuous)
                prob += affine(div_new[d] + [(s_, -1.0)]) <= float(ri.reserve[d]), f"lend{d}"
                st.append((s_, 1.0))
        if st:
            prob += affine(st) <= max(0.0, float(ri.cap[0] - ri.reserve.sum())), "shared"
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
    adm = tuple(ri.ids[j] for j in range(ri.n) if (z[j].varValue or 0) > 0.5)
    return ExactResult(status=r.status, objective=val, bound=bound, admitted=adm)
