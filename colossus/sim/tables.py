"""Rows and summary of a run: one jobs-table row per job, and the summary from the written tables.

:func:`job_row` turns a job into its ``jobs.parquet`` row (when it completes, or at the end for
jobs still open); :func:`build_results` closes the run: open jobs' rows, the tables, and a
summary computed from the jobs table one piece at a time (exact percentiles; nothing else of
every job is held).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from colossus.sim.results import Results
from colossus.sim.sink import ResultSink

__all__ = ["build_results", "job_row", "round_row"]


def _f(x: float | None) -> float | None:
    """JSON-safe float (NaN/inf -> None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _q(a: np.ndarray, q: float) -> float | None:
    return _f(float(np.quantile(a, q))) if a.size else None


def job_row(j: Any, now: float) -> tuple[Any, ...]:
    """The ``jobs.parquet`` row of job ``j`` at time ``now`` (its end, or the end of the run), s."""
    a, u = j.gpu_s_alloc, j.gpu_s_useful
    inflight = 0.0
    if j.state == "running":
        if not j.missing_nodes:
            wall = max(0.0, now - j.seg_start_s)
            a += wall * j.alloc_gpus
            inflight = j.inflight_work(now)
            u += inflight / j.seg_rate * j.alloc_gpus
        else:
            a += max(0.0, now - j.seg_start_s) * j.alloc_gpus
        st = "running"
    elif j.state == "completed":
        st = "completed"
    else:
        st = "pending"
    q = j.queue_s + (now - j.pending_since_s if st == "pending" and j.state == "pending" else 0.0)
    progress = min(1.0, (j.work_saved + inflight) / j.work_total) if j.work_total > 0 else 1.0
    first = j.first_start_s
    done = st == "completed"
    end = j.end_s if done else math.nan
    ck = j.ckpt
    return (j.job_id, j.division, j.kind, j.num_gpus, j.is_hero, j.submit_s, first, end, st,
            first - j.submit_s, q, end - j.submit_s if done else math.nan, a / j.num_gpus, a, u,
            max(0.0, a - u), j.interruptions, j.preemptions, progress,
            j.ckpt_interval_s if ck and math.isfinite(j.ckpt_interval_s) else None,
            j.ckpt_cost_s if ck else None, j.power_blocked)


def round_row(t: float, r: Any) -> tuple[Any, ...]:
    """The ``rounds.parquet`` row of the round at ``t`` with record ``r`` (deterministic figures)."""
    return (t, r.policy, r.solver, r.status, r.gap, r.objective, bool(r.fallback_used), r.n_pending, r.n_running,
            r.n_types, r.n_started, r.n_preempted)


_SUMMARY_COLS = ["division", "is_hero", "state", "submit_time_s", "first_start_s", "jct_s", "gpu_s_allocated",
                 "gpu_s_useful", "gpu_s_lost", "interruptions", "preemptions"]


_WAIT_COLS = ["division", "is_hero", "submit_time_s", "first_start_s", "jct_s"]


def _waits(piece: Any, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Division and observed wait of each job in ``piece``, s. A job never started by the end counts
    its wait so far (a lower bound) instead of being dropped, so a division whose jobs never start
    cannot report short waits."""
    div = np.asarray(piece.column("division").to_numpy(zero_copy_only=False), dtype=object)
    submit, first = piece.column("submit_time_s").to_numpy(), piece.column("first_start_s").to_numpy()
    return div, np.where(np.isnan(first), np.maximum(0.0, end_s - submit), first - submit)


def _divisions(pieces: Callable[[list[str]], Iterable[Any]], names: list[str], end_s: float,
               online_gh: float) -> tuple[dict[str, Any], dict[str, int], float]:
    """Per-division figures from the jobs table; also state counts and GPU-s allocated.

    ``pieces(columns)`` iterates over the table's pieces (row groups when streamed), afresh on
    each call. One pass sums the counts and GPU-seconds; then each division's waits and JCTs are
    gathered in a pass of their own, so the per-job arrays behind the exact percentiles (17 B a
    job) are held for one division at a time, not for the whole run.
    """
    acc: dict[str, dict[str, Any]] = {n: {"jobs": 0, "completed": 0, "running": 0,
                                          "pending": 0, "censored": 0, "alloc": 0.0, "useful": 0.0, "lost": 0.0,
                                          "pre": 0, "inter": 0} for n in names}
    alloc_total = 0.0
    for piece in pieces(_SUMMARY_COLS):
        col = {c: piece.column(c) for c in _SUMMARY_COLS}
        div = np.asarray(col["division"].to_numpy(zero_copy_only=False), dtype=object)
        state = np.asarray(col["state"].to_numpy(zero_copy_only=False), dtype=object)
        unstarted = np.isnan(col["first_start_s"].to_numpy())
        alloc_s = col["gpu_s_allocated"].to_numpy()
        useful_s = col["gpu_s_useful"].to_numpy()
        lost = col["gpu_s_lost"].to_numpy()
        inter = col["interruptions"].to_numpy()
        pre = col["preemptions"].to_numpy()
        alloc_total += float(alloc_s.sum())
        for name in names:
            m = div == name
            a = acc[name]
            a["jobs"] += int(m.sum())
            for s in ("completed", "running", "pending"):
                a[s] += int(np.sum(m & (state == s)))
            a["censored"] += int(np.sum(m & unstarted))
            a["alloc"] += float(alloc_s[m].sum())
            a["useful"] += float(useful_s[m].sum())
            a["lost"] += float(lost[m].sum())
            a["pre"] += int(pre[m].sum())
            a["inter"] += int(inter[m].sum())
    out: dict[str, Any] = {}
    counts = {"completed": 0, "running": 0, "pending": 0}
    for name in names:
        a = acc[name]
        parts: dict[str, list[np.ndarray]] = {"w": [], "hero": [], "c": []}
        for piece in pieces(_WAIT_COLS):
            div, wait_obs = _waits(piece, end_s)
            m = div == name
            jct = piece.column("jct_s").to_numpy()
            parts["w"].append(wait_obs[m])
            parts["hero"].append(piece.column("is_hero").to_numpy(zero_copy_only=False).astype(bool)[m])
            parts["c"].append(jct[m & ~np.isnan(jct)])
        w, hero, c = (np.concatenate(p) if (p := parts.pop(k)) else np.zeros(0) for k in ("w", "hero", "c"))
        w_nh = w[~hero] if hero.any() else w
        del hero
        gh = a["alloc"] / 3600.0
        for s in counts:
            counts[s] += a[s]
        out[name] = {
            "jobs": a["jobs"], "completed": a["completed"], "running": a["running"], "pending": a["pending"],
            "gpu_hours": gh, "wait_p50_s": _q(w, 0.5), "wait_p95_s": _q(w, 0.95), "wait_p99_s": _q(w, 0.99),
            "wait_mean_s": _f(w.mean()) if w.size else None, "wait_p95_s_excluding_hero": _q(w_nh, 0.95),
            "waits_censored": a["censored"],
            "jct_p50_s": _q(c, 0.5), "jct_mean_s": _f(c.mean()) if c.size else None,
            "utilisation": _f(gh / online_gh) if online_gh > 0 else None,
            "preemptions": a["pre"], "interruptions": a["inter"],
            "lost_gpu_hours": a["lost"] / 3600.0,
            "goodput": _f(a["useful"] / a["alloc"]) if a["alloc"] > 0 else None,
        }
    return out, counts, alloc_total


def _hero_summary(sim: Any, end_s: float) -> dict[str, Any] | None:
    h = sim.hero
    if h is None:
        return None
    row = dict(zip(sim.sink.jobs.schema.names, job_row(h, end_s), strict=True))  # a completed row keeps
    state, progress = row["state"], row["progress"]
    started = not math.isnan(h.first_start_s)
    span_end = h.end_s if state == "completed" else end_s
    prod = h.productive_s + (h.inflight_work(end_s) / h.seg_rate if state == "running" else 0.0)
    hero = {
        "job_id": h.job_id, "gpus": h.num_gpus, "state": state, "start_s": _f(h.first_start_s),
        "finish_s": _f(h.end_s) if state == "completed" else None,
        "finish_day": _f(h.end_s / 86400.0) if state == "completed" else None,
        "progress": float(progress), "tokens_done": float(progress * h.work_total),
        "ettr": _f(prod / (span_end - h.first_start_s)) if started and span_end > h.first_start_s else None,
        "interruptions": int(h.interruptions), "lost_gpu_hours": float(row["gpu_s_lost"]) / 3600.0,
        "checkpoint_interval_s": _f(h.ckpt_interval_s),
        "checkpoint_cost_s": _f(h.ckpt_cost_s),
    }
    if started and state != "completed" and progress > 0:
        rate_day = progress / ((end_s - h.first_start_s) / 86400.0)
        hero["projected_finish_day"] = _f(h.first_start_s / 86400.0 + 1.0 / rate_day)
    return hero


def build_results(sim: Any, policy: Any, seed: int, end_s: float, wall_s: float, note: str | None, *,
                  complete: bool = True, horizon_s: float | None = None) -> Results:
    """Close the run at ``end_s``: rows of the open jobs, the tables, the summary; move the folder.

    ``end_s`` is the horizon, or the time the run was stopped at (``complete=False``;
    ``horizon_s`` is then the horizon asked for).
    """
    sink: ResultSink = sim.sink
    for j in sim.live.values():  # insertion order = submit order
        sink.job(j.idx, job_row(j, end_s))
    sink.close_tables()

    # time series figures (a few thousand samples: held as two short lists by the sampler)
    dt = sim.sc.simulation.sample_interval_s
    if sim.sample_t:
        t_arr = np.asarray(sim.sample_t)
        steps = np.diff(np.append(t_arr, end_s))
        online_gh = float(np.sum(np.asarray(sim.sample_online) * steps)) / 3600.0
        pw = sim.power
        pw.advance(end_s)
        energy = pw.energy_mwh
        power = {"peak_mw": _f(pw.peak_mw), "mean_mw": _f(energy / (end_s / 3600.0)) if end_s > 0 else None,
                 "energy_mwh": _f(energy),
                 "energy_cost_usd": _f(energy * sim.sc.power.electricity_usd_per_mwh),
                 "hours_above_grid": _f(pw.above_grid_s / 3600.0),
                 "hours_over_cap": _f(pw.over_cap_s / 3600.0), "energy_over_cap_mwh": _f(pw.over_cap_mwh),
                 "battery_discharged_mwh": _f(pw.battery_out_mwh), "enforce_cap": bool(pw.enforce),
                 "starts_held_for_power": int(pw.blocked_starts),
                 "sample_interval_s": dt}
    else:
        online_gh, power = 0.0, {}

    tables: dict[str, pa.Table] = {}
    if sink.tmp is None:  # memory: build the tables once, summarise from them
        tables = {name: sink.table(name) for name in ("jobs", "timeseries", "rounds")}
        jobs = tables["jobs"]

        def pieces(cols: list[str]) -> Iterable[Any]:
            return [jobs.select(cols)]
    else:
        pieces = sink.job_batches
    divisions, counts, alloc_total = _divisions(pieces, sim.div_names, end_s, online_gh)
    n = sink.n_jobs
    summary = {
        "scenario": sim.sc.name, "policy": getattr(policy, "name", type(policy).__name__), "policy_note": note,
        "seed": seed, "horizon_s": end_s, "days": end_s / 86400.0, "complete": bool(complete),
        "jobs": {"total": n, **counts},
        "divisions": divisions,
        "cluster": {"gpus_total": int(sim.cl.num_nodes * sim.cl.gpus_per_node), "gpu_hours_online": online_gh,
                    "gpu_hours_allocated": alloc_total / 3600.0,
                    "utilisation": _f(alloc_total / 3600.0 / online_gh) if online_gh > 0 else None,
                    "failures": int(sim.n_failures),
                    "failures_by_component": dict(sorted(sim.failures_by_comp.items()))},
        "hero": _hero_summary(sim, end_s), "power": power,
        "scheduler": {"rounds": sim.n_rounds, "rounds_skipped": sim.rounds_skipped, "policy_wall_s": sim.round_wall_s,
                      "solver_reported_total_s": float(sim.solver_total_s),
                      "fallbacks": int(sim.n_fallbacks)},
        "performance": {"wall_s": wall_s, "events": int(sim.events),
                        "jobs_per_wall_s": n / wall_s if wall_s > 0 else None,
                        "events_per_wall_s": sim.events / wall_s if wall_s > 0 else None},
    }
    if not complete:
        summary["horizon_requested_s"] = horizon_s
    folder = sink.finish(summary)
    return Results(summary=summary, folder=folder, tables=tables)
