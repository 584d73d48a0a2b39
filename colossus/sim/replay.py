"""Replay against what happened: recorded waits of a trace vs the simulated waits of the same jobs.

Pure: a simulation's jobs table and a trace's recorded waits in, a JSON-able block out (no I/O).
``colossus simulate --trace`` and ``colossus compare --trace`` add it to ``summary.json`` as
``replay`` when the trace has the optional ``recorded_wait_s`` column (sacct, Helios, Acme, Philly
JSON imports).

Jobs are matched by ``job_id``. A job that the simulation never started counts its wait up to
the horizon (a lower bound, as in the summary's own wait figures) and is counted as censored.
The start-order agreement is Kendall's tau-b between the recorded start times
(``submit + recorded_wait_s``) and the simulated ones (never-started jobs tie last), computed
exactly in O(n log^2 n) with NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["QUANTILE_LEVELS", "kendall_tau_b", "replay_comparison"]

#: Quantile levels of the distributions kept for the report's chart (0, 0.05, ..., 1).
QUANTILE_LEVELS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(21))


def _stats(w: np.ndarray) -> dict[str, float | None]:
    if w.size == 0:
        return {"p50_s": None, "p95_s": None, "p99_s": None, "mean_s": None}
    p50, p95, p99 = np.quantile(w, [0.5, 0.95, 0.99])
    return {"p50_s": float(p50), "p95_s": float(p95), "p99_s": float(p99), "mean_s": float(w.mean())}


def _dense_rank(x: np.ndarray) -> np.ndarray:
    _, inv = np.unique(x, return_inverse=True)
    return inv.astype(np.int64)


def _inversions(y: np.ndarray) -> int:
    """Pairs i < j with y[i] > y[j] (strict), by bottom-up merging of sorted blocks."""
    n = y.size
    if n < 2:
        return 0
    a = y.astype(np.int64, copy=True)
    base = int(a.max()) + 1
    idx = np.arange(n, dtype=np.int64)
    inv = 0
    w = 1
    while w < n:
        block = idx // w
        pair = block // 2
        right = (block % 2) == 1
        key = pair * base + a
        left_keys = key[~right]  # sorted: each left block is sorted and pairs increase
        rk, rp = key[right], pair[right]
        le = np.searchsorted(left_keys, rk, side="right")
        end = np.searchsorted(left_keys, (rp + 1) * base, side="left")
        inv += int((end - le).sum())  # left elements of the same pair greater than this one
        a = np.sort(key) - (idx // (2 * w)) * base
        w *= 2
    return inv


def _tie_pairs(x: np.ndarray) -> int:
    _, counts = np.unique(x, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float | None:
    """Kendall's tau-b of two equal-length samples (ties handled); None when undefined.

    Parameters
    ----------
    x, y : numpy.ndarray
        Paired values (any comparable numbers; ``inf`` allowed, NaN not).
    """
    n = x.size
    if n != y.size:
        raise ValueError("x and y need the same length")
    if n < 2:
        return None
    rx, ry = _dense_rank(x), _dense_rank(y)
    order = np.lexsort((ry, rx))  # by x, then y
    rx, ry = rx[order], ry[order]
    n0 = n * (n - 1) // 2
    n1 = _tie_pairs(rx)
    n2 = _tie_pairs(ry)
    n3 = _tie_pairs(rx * (int(ry.max()) + 1) + ry)
    dis = _inversions(ry)
    denom = math.sqrt(float(n0 - n1) * float(n0 - n2))
    if denom == 0:
        return None
    return float((n0 - n1 - n2 + n3 - 2 * dis) / denom)


def replay_comparison(
    jobs: pa.Table, trace: pa.Table, *, horizon_s: float, source: str = ""
) -> dict[str, Any] | None:
    """Recorded vs simulated waits per division, and the start-order Kendall tau.

    Parameters
    ----------
    jobs : pyarrow.Table
        The simulation's jobs table: ``job_id``, ``division``, ``submit_time_s``,
        ``first_start_s`` (NaN when never started).
    trace : pyarrow.Table
        The trace's ``job_id``, ``submit_time_s`` and ``recorded_wait_s`` (seconds; null = unknown).
    horizon_s : float
        Simulated horizon, seconds: a never-started job's wait counts up to it.
    source : str
        The trace's name, recorded in the block.

    Returns
    -------
    dict or None
        None when the trace has no recorded wait. Else ``trace``, ``jobs_matched``,
        ``jobs_not_simulated`` (recorded jobs absent from the jobs table, e.g. submitted after
        the horizon), ``kendall_tau_start_order``, ``all`` and ``divisions`` (name -> ``jobs``,
        ``censored``, ``recorded`` and ``simulated`` each with ``p50_s``, ``p95_s``, ``p99_s``,
        ``mean_s``), and ``quantiles`` (``levels`` and per division the recorded and simulated
        wait at each level, for a chart).
    """
    if "recorded_wait_s" not in trace.column_names:
        return None
    rec_w = trace.column("recorded_wait_s").to_numpy(zero_copy_only=False).astype(np.float64)
    known = ~np.isnan(rec_w)
    if not known.any():
        return None
    t_ids = np.asarray(trace.column("job_id").to_pylist(), dtype=object)[known]
    t_sub = trace.column("submit_time_s").to_numpy()[known]
    rec_w = rec_w[known]
    j_ids = np.asarray(jobs.column("job_id").to_pylist(), dtype=object)
    pos = {jid: i for i, jid in enumerate(j_ids.tolist())}
    where = np.array([pos.get(j, -1) for j in t_ids.tolist()], dtype=np.int64)
    hit = where >= 0
    idx = where[hit]
    rec_w, t_sub = rec_w[hit], t_sub[hit]
    div = np.asarray(jobs.column("division").to_pylist(), dtype=object)[idx]
    sub = jobs.column("submit_time_s").to_numpy()[idx]
    first = jobs.column("first_start_s").to_numpy(zero_copy_only=False).astype(np.float64)[idx]
    censored = np.isnan(first)
    sim_w = np.where(censored, np.maximum(0.0, horizon_s - sub), first - sub)
    tau = kendall_tau_b(t_sub + rec_w, np.where(censored, np.inf, first)) if idx.size else None
    levels = np.array(QUANTILE_LEVELS)

    def block(mask: np.ndarray) -> dict[str, Any]:
        return {
            "jobs": int(mask.sum()),
            "censored": int((mask & censored).sum()),
            "recorded": _stats(rec_w[mask]),
            "simulated": _stats(sim_w[mask]),
        }

    names = sorted(set(div.tolist()))
    quantiles: dict[str, Any] = {"levels": list(QUANTILE_LEVELS)}
    for name in names:
        m = div == name
        quantiles[name] = {
            "recorded": np.quantile(rec_w[m], levels).tolist(),
            "simulated": np.quantile(sim_w[m], levels).tolist(),
        }
    return {
        "trace": source,
        "jobs_matched": int(idx.size),
        "jobs_not_simulated": int((~hit).sum()),
        "kendall_tau_start_order": tau,
        "all": block(np.ones(idx.size, dtype=bool)),
        "divisions": {name: block(div == name) for name in names},
        "quantiles": quantiles,
    }
