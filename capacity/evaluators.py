"""What one Monte Carlo replication computes: division waits in a month, and the hero's finish.

``queue`` (default) is a fast surrogate of the simulation: for each division, a first-come
first-served multi-GPU queue whose capacity is the plan's allocation for that month and whose
arrivals carry the month's demand (Poisson arrivals, a fixed size mix, exponential run times).
The hero's finish date is sampled with the first-order failure model (Poisson interruptions
on its GPUs, each losing half a checkpoint interval on average plus detection and restart).

Every function here is pure: inputs and a seed in, a JSON-able dict out.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

__all__ = ["EVALUATOR_VERSION", "JOB_SIZE_MIX", "MEAN_RUN_S", "hero_replication", "queue_waits"]

EVALUATOR_VERSION = "queue-1"
"""Part of every cache key: bump when the evaluators change their results."""

JOB_SIZE_MIX: tuple[tuple[int, float], ...] = ((8, 0.55), (64, 0.30), (512, 0.12), (4096, 0.03))
"""ASSUMPTION: job sizes (GPUs) and their probabilities; shaped like the Philly/Meta RSC mix
(most jobs one node, a few thousand-GPU runs) (traces.md)."""

MEAN_RUN_S = 4 * 3600.0
"""ASSUMPTION: mean run time of a non-hero job, s (exponential)."""


def queue_waits(*, capacity_gpus: float, demand_gpus: float, window_s: float, warmup_s: float,
                rng: np.random.Generator) -> dict[str, float]:  # fmt: skip
    """Simulate one division's FIFO queue and return wait percentiles.

    Parameters
    ----------
    capacity_gpus : float
        GPUs the division holds (reference GPUs).
    demand_gpus : float
        Average GPUs its jobs would keep busy (offered load).
    window_s, warmup_s : float
        Simulated time and the initial part whose submissions are not measured, s.
    rng : numpy.random.Generator
        The replication's workload stream.

    Returns
    -------
    dict
        ``p50_s``, ``p95_s``, ``mean_s`` wait of measured jobs (s), ``jobs`` measured, ``load``
        (offered load / capacity).  Jobs still waiting at the end count with their wait so far.
    """
    cap = int(math.floor(capacity_gpus))
    sizes = np.array([k for k, _ in JOB_SIZE_MIX], dtype=np.int64)
    probs = np.array([p for _, p in JOB_SIZE_MIX])
    mean_gpu_s = float((sizes * probs).sum()) * MEAN_RUN_S
    rate = demand_gpus / mean_gpu_s if demand_gpus > 0 else 0.0
    n = int(rng.poisson(rate * window_s)) if rate > 0 else 0
    if n == 0:
        return {"p50_s": 0.0, "p95_s": 0.0, "mean_s": 0.0, "jobs": 0, "load": 0.0 if cap else math.inf}
    arrivals = np.sort(rng.uniform(0.0, window_s, n))
    k = rng.choice(sizes, size=n, p=probs)
    run = rng.exponential(MEAN_RUN_S, n)
    if cap <= 0:
        waits = window_s - arrivals
    else:
        k = np.minimum(k, max(cap, 1))
        free = cap
        running: list[tuple[float, int]] = []  # heap of (end time, gpus)
        waits = np.empty(n)
        prev_start = 0.0
        for i in range(n):  # FIFO: job i starts no earlier than job i-1, once its GPUs are free
            need = int(k[i])
            t = max(prev_start, float(arrivals[i]))
            while running and running[0][0] <= t:
                free += heapq.heappop(running)[1]
            while free < need:
                end, g = heapq.heappop(running)
                free += g
                t = max(t, end)
            prev_start = t
            free -= need
            heapq.heappush(running, (t + float(run[i]), need))
            waits[i] = min(t, window_s) - arrivals[i]
    measured = waits[arrivals >= warmup_s]
    if measured.size == 0:
        measured = waits
    return {"p50_s": float(np.percentile(measured, 50)), "p95_s": float(np.percentile(measured, 95)),
            "mean_s": float(measured.mean()), "jobs": int(measured.size),
            "load": float(demand_gpus / cap) if cap else math.inf}  # fmt: skip


def hero_replication(*, tokens: float, gpus_by_month: list[float], active_s_by_month: list[float],
                     tokens_per_gpu_s: float, failures_per_gpu_s: float, interval_s: float,
                     blocking_s: float, restart_s: float, rng: np.random.Generator) -> dict[str, Any]:  # fmt: skip
    """Sample the hero run's progress month by month under random interruptions.

    Each month the run on ``g`` GPUs for ``active`` seconds is interrupted ``Poisson(rate x g x
    active)`` times; each interruption loses ``U(0, interval)`` of work plus ``restart_s``, and
    checkpoints cost ``blocking_s / interval_s`` of the time.

    Returns
    -------
    dict
        ``finish_month_frac`` (month index + fraction, or ``None`` if not finished),
        ``tokens_by_month`` (cumulative), ``ettr`` (useful / scheduled time).
    """
    done = 0.0
    cum: list[float] = []
    finish = None
    useful_total = sched_total = 0.0
    for m, (g, active) in enumerate(zip(gpus_by_month, active_s_by_month, strict=True)):
        if g <= 0 or active <= 0:
            cum.append(done)
            continue
        n_fail = int(rng.poisson(failures_per_gpu_s * g * active))
        lost = float(rng.uniform(0.0, interval_s, n_fail).sum()) + n_fail * restart_s
        useful = max(0.0, active * (1.0 - blocking_s / interval_s) - lost)
        rate = g * tokens_per_gpu_s
        gained = rate * useful
        if finish is None and done + gained >= tokens:
            finish = m + (tokens - done) / gained
        done += gained
        useful_total += useful
        sched_total += active
        cum.append(done)
    return {"finish_month_frac": finish, "tokens_by_month": cum,
            "ettr": useful_total / sched_total if sched_total else 1.0}  # fmt: skip
