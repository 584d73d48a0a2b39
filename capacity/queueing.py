"""Queueing estimate of the capacity a division needs to meet its p95 wait SLO (M/G/c, Erlang C).

Model
-----
A division's jobs arrive as a Poisson stream (rate ``lambda``); job ``i`` holds ``g_i`` GPUs for
``s_i`` seconds. Its queue is modelled as an M/G/c queue of *job slots*:

* slot size ``gbar = E[g s] / E[s]`` GPUs: the mean GPUs of a job in service (time-weighted),
  so that ``C`` GPUs hold ``c = C / gbar`` jobs at once;
* offered load ``a = lambda E[s] = load_gpus / gbar`` slots (``load_gpus = lambda E[g s]``);
* service rate ``mu = 1 / E[s]``; squared coefficient of variation ``cs2 = Var[s] / E[s]^2``.

For M/M/c the wait is 0 with probability ``1 - C(c, a)`` (Erlang C) and otherwise exponential
with rate ``c mu - lambda``, so its ``q``-quantile is::

    t_q = max(0, ln(C(c, a) / (1 - q)) / (c mu - lambda))

and the M/G/c estimate scales it by the Allen-Cunneen factor ``(1 + cs2) / 2`` (Poisson
arrivals). :func:`required_gpus` uses for ``cs2`` the squared coefficient of variation of a
job's GPU-seconds ``g s`` (``JobStats.work_scv``), not of its run time alone: a mix of
one-node and 2,048-GPU jobs waits longer than its slot count says (a big job waits for many
slots to free at once), and the larger factor is the conservative side of that. :func:`required_gpus` returns the smallest ``C`` whose estimate meets the SLO.
This is a first guess: jobs need whole slots of different sizes, the scheduler rounds, and a
division can borrow idle GPUs, so the planner checks it by simulation and raises the
requirement where the simulation misses (:mod:`capacity.sizing`).

Job statistics come from the scenario's workload generator (:func:`division_job_stats`):
per kind, sizes are the generator's power-of-two shapes with probabilities ``~ g^-alpha`` and
durations its clipped log-normal; a division mixes kinds by ``job_share x kind weight``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["JobStats", "clipped_lognormal_moment", "division_job_stats", "erlang_c", "required_gpus", "wait_quantile_s"]


@dataclass(frozen=True, kw_only=True, slots=True)
class JobStats:
    """Moments of one division's jobs.

    Attributes
    ----------
    mean_run_s : float
        ``E[s]``, s.
    run_scv : float
        Squared coefficient of variation of run times, ``Var[s] / E[s]^2``.
    slot_gpus : float
        ``E[g s] / E[s]``: GPUs of a job in service, time-weighted.
    max_gpus : int
        Largest job, GPUs.
    work_scv : float
        Squared coefficient of variation of a job's GPU-seconds ``g s`` (sizes and run times).
    """

    mean_run_s: float
    run_scv: float
    slot_gpus: float
    max_gpus: int
    work_scv: float = 0.0


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a`` (Erlangs); 1 when ``a >= c``.

    Uses the stable Erlang-B recursion ``B(k) = a B(k-1) / (k + a B(k-1))`` and
    ``C = c B / (c - a (1 - B))``.
    """
    if c <= 0 or a >= c:
        return 1.0
    if a <= 0:
        return 0.0
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1.0 - b))


def wait_quantile_s(c: int, a: float, mean_run_s: float, *, q: float = 0.95, run_scv: float = 1.0) -> float:
    """``q``-quantile of the wait in M/G/c (Allen-Cunneen scaled M/M/c), s; ``inf`` when ``a >= c``."""
    if a >= c:
        return math.inf
    pw = erlang_c(c, a)
    if pw <= 1.0 - q:
        return 0.0
    rate = (c - a) / mean_run_s  # c mu - lambda, with mu = 1 / mean_run_s and lambda = a mu
    return math.log(pw / (1.0 - q)) / rate * (1.0 + run_scv) / 2.0


def required_gpus(load_gpus: float, stats: JobStats, slo_s: float, *, q: float = 0.95) -> float:
    """Smallest capacity (GPUs) whose M/G/c ``q``-quantile wait meets ``slo_s`` for ``load_gpus`` of offered load.

    Never below the largest job nor the load itself; 0 when there is no load.
    """
    if load_gpus <= 0:
        return 0.0
    a = load_gpus / stats.slot_gpus
    lo = math.floor(a) + 1
    # The Erlang-B recursion up to lo - 1 once, then one step per extra slot until the SLO is met.
    b = 1.0
    for k in range(1, lo):
        b = a * b / (k + a * b)
    c = lo - 1
    while True:
        c += 1
        b = a * b / (c + a * b)
        pw = c * b / (c - a * (1.0 - b))
        wait = 0.0 if pw <= 1.0 - q else math.log(pw / (1.0 - q)) / ((c - a) / stats.mean_run_s) * (1.0 + stats.work_scv) / 2.0
        if wait <= slo_s:
            break
    return max(c * stats.slot_gpus, float(stats.max_gpus), load_gpus)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def clipped_lognormal_moment(median: float, sigma: float, lo: float, hi: float, n: int) -> float:
    """``E[clip(X, lo, hi)^n]`` for log-normal ``X`` with the given median and sigma."""
    if sigma == 0:
        return min(max(median, lo), hi) ** n
    mu = math.log(median)
    za, zb = (math.log(lo) - mu) / sigma, (math.log(hi) - mu) / sigma
    body = math.exp(n * mu + (n * sigma) ** 2 / 2) * (_phi(zb - n * sigma) - _phi(za - n * sigma))
    return lo**n * _phi(za) + body + hi**n * (1.0 - _phi(zb))


def division_job_stats(scn: object) -> dict[str, JobStats]:
    """Division -> :class:`JobStats` of the scenario's generated workload (closed form, no sampling)."""
    from colossus.scenario.workload import division_loads, to_workload_params
    from traces.generator import placeable_shapes

    params = to_workload_params(scn.workload, gpus_per_node=scn.cluster.gpus_per_node)  # type: ignore[attr-defined]
    loads = division_loads(scn.workload, scn.divisions)  # type: ignore[attr-defined]
    kinds = []
    for k in params.kinds:
        shapes = placeable_shapes(k.gpus_min, k.gpus_max, params.gpus_per_node)
        w = [float(g) ** -k.gpus_alpha for g in shapes]
        mean_g = sum(float(g) * x for g, x in zip(shapes, w, strict=True)) / sum(w)
        m1 = clipped_lognormal_moment(k.duration_median_s, k.duration_sigma, k.duration_min_s, k.duration_max_s, 1)
        m2 = clipped_lognormal_moment(k.duration_median_s, k.duration_sigma, k.duration_min_s, k.duration_max_s, 2)
        mean_g2 = sum(float(g) ** 2 * x for g, x in zip(shapes, w, strict=True)) / sum(w)
        kinds.append((k.kind, k.job_share, mean_g, m1, m2, int(max(shapes)), mean_g2))
    out = {}
    for dl in loads:
        p = [share * float(dl.kind_weights.get(kind, 1.0)) for kind, share, *_ in kinds]
        tot = sum(p)
        p = [x / tot for x in p] if tot > 0 else [1.0 / len(kinds)] * len(kinds)
        e_s = sum(pk * k[3] for pk, k in zip(p, kinds, strict=True))
        e_s2 = sum(pk * k[4] for pk, k in zip(p, kinds, strict=True))
        e_gs = sum(pk * k[2] * k[3] for pk, k in zip(p, kinds, strict=True))
        e_gs2 = sum(pk * k[6] * k[4] for pk, k in zip(p, kinds, strict=True))
        biggest = max((k[5] for pk, k in zip(p, kinds, strict=True) if pk > 0), default=1)
        out[dl.name] = JobStats(mean_run_s=e_s, run_scv=max(0.0, e_s2 / e_s**2 - 1.0), slot_gpus=e_gs / e_s,
                                max_gpus=biggest, work_scv=max(0.0, e_gs2 / e_gs**2 - 1.0))  # fmt: skip
    return out
