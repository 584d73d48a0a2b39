"""Turn the final simulation state into :class:`~colossus.sim.results.Results` tables and summary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from colossus.sim.results import Results

__all__ = ["build_results"]


def _f(x: float | None) -> float | None:
    """JSON-safe float (NaN/inf -> None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _q(a: np.ndarray, q: float) -> float | None:
    return _f(float(np.quantile(a, q))) if a.size else None


def build_results(sim: Any, policy: Any, seed: int, horizon_s: float, wall_s: float, note: str | None) -> Results:
    """Close open segments at the horizon and assemble the three tables and the summary."""
    now = horizon_s
    jobs = sim.jobs
    n = len(jobs)
    state = []
    alloc_s = np.zeros(n)
    useful_s = np.zeros(n)
    progress = np.zeros(n)
    queue = np.zeros(n)
    run_s = np.zeros(n)
    for i, j in enumerate(jobs):
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
        state.append(st)
        alloc_s[i] = a
        useful_s[i] = u
        queue[i] = q
        progress[i] = min(1.0, (j.work_saved + inflight) / j.work_total) if j.work_total > 0 else 1.0
        run_s[i] = a / j.num_gpus
    submit = np.fromiter((j.submit_s for j in jobs), dtype=np.float64, count=n)
    first = np.fromiter((j.first_start_s for j in jobs), dtype=np.float64, count=n)
    end = np.fromiter((j.end_s for j in jobs), dtype=np.float64, count=n)
    state_arr = np.asarray(state, dtype=object)
    wait = first - submit
    # never started by the horizon: count the wait so far (a lower bound) instead of dropping
    # the job, so a division whose jobs never start cannot report short waits
    wait_obs = np.where(np.isnan(first), np.maximum(0.0, horizon_s - submit), wait)
    jct = np.where(state_arr == "completed", end - submit, np.nan)
    lost = np.maximum(0.0, alloc_s - useful_s)
    inter = np.fromiter((j.interruptions for j in jobs), dtype=np.int32, count=n)
    pre = np.fromiter((j.preemptions for j in jobs), dtype=np.int32, count=n)
    divs = [j.division for j in jobs]
    jobs_tab = pa.table({
        "job_id": pa.array([j.job_id for j in jobs], pa.string()),
        "division": pa.array(divs, pa.string()),
        "kind": pa.array([j.kind for j in jobs], pa.string()),
        "num_gpus": pa.array([j.num_gpus for j in jobs], pa.int32()),
        "is_hero": pa.array([j.is_hero for j in jobs], pa.bool_()),
        "submit_time_s": pa.array(submit, pa.float64()),
        "first_start_s": pa.array(first, pa.float64()),
        "end_time_s": pa.array(np.where(state_arr == "completed", end, np.nan), pa.float64()),
        "state": pa.array(state, pa.string()),
        "wait_s": pa.array(wait, pa.float64()),
        "queue_s": pa.array(queue, pa.float64()),
        "jct_s": pa.array(jct, pa.float64()),
        "run_s": pa.array(run_s, pa.float64()),
        "gpu_s_allocated": pa.array(alloc_s, pa.float64()),
        "gpu_s_useful": pa.array(useful_s, pa.float64()),
        "gpu_s_lost": pa.array(lost, pa.float64()),
        "interruptions": pa.array(inter, pa.int32()),
        "preemptions": pa.array(pre, pa.int32()),
        "progress": pa.array(progress, pa.float64()),
        "checkpoint_interval_s": pa.array([j.ckpt_interval_s if j.ckpt and math.isfinite(j.ckpt_interval_s) else None
                                           for j in jobs], pa.float64()),
        "checkpoint_cost_s": pa.array([j.ckpt_cost_s if j.ckpt else None for j in jobs], pa.float64()),
        "power_held_rounds": pa.array([j.power_blocked for j in jobs], pa.int32()),
    })

    # time series
    samples = sim.samples
    cols: dict[str, list[Any]] = {k: [] for k in (samples[0] if samples else {})}
    for row in samples:
        for k, v in row.items():
            cols[k].append(v)
    ts = pa.table({k: pa.array(v, pa.float64() if isinstance(v[0], float) else pa.int64()) for k, v in cols.items()}) \
        if samples else pa.table({"time_s": pa.array([], pa.float64())})

    # rounds (deterministic figures only)
    recs = sim.rounds
    rounds = pa.table({
        "time_s": pa.array([t for t, _ in recs], pa.float64()),
        "policy": pa.array([r.policy for _, r in recs], pa.string()),
        "solver": pa.array([r.solver for _, r in recs], pa.string()),
        "status": pa.array([r.status for _, r in recs], pa.string()),
        "gap": pa.array([r.gap for _, r in recs], pa.float64()),
        "objective": pa.array([r.objective for _, r in recs], pa.float64()),
        "fallback_used": pa.array([bool(r.fallback_used) for _, r in recs], pa.bool_()),
        "n_pending": pa.array([r.n_pending for _, r in recs], pa.int32()),
        "n_running": pa.array([r.n_running for _, r in recs], pa.int32()),
        "n_types": pa.array([r.n_types for _, r in recs], pa.int32()),
        "n_started": pa.array([r.n_started for _, r in recs], pa.int32()),
        "n_preempted": pa.array([r.n_preempted for _, r in recs], pa.int32()),
    })

    # summary
    dt = sim.sc.simulation.sample_interval_s
    if samples:
        t_arr = np.asarray(cols["time_s"])
        steps = np.diff(np.append(t_arr, horizon_s))
        online_gh = float(np.sum(np.asarray(cols["gpus_online"]) * steps)) / 3600.0
        pw = sim.power
        pw.advance(horizon_s)
        energy = pw.energy_mwh
        power = {"peak_mw": _f(pw.peak_mw), "mean_mw": _f(energy / (horizon_s / 3600.0)), "energy_mwh": _f(energy),
                 "energy_cost_usd": _f(energy * sim.sc.power.electricity_usd_per_mwh),
                 "hours_above_grid": _f(pw.above_grid_s / 3600.0),
                 "hours_over_cap": _f(pw.over_cap_s / 3600.0), "energy_over_cap_mwh": _f(pw.over_cap_mwh),
                 "battery_discharged_mwh": _f(pw.battery_out_mwh), "enforce_cap": bool(pw.enforce),
                 "starts_held_for_power": int(pw.blocked_starts),
                 "sample_interval_s": dt}
    else:
        online_gh, power = 0.0, {}
    div_arr = np.asarray(divs, dtype=object)
    nonhero = ~np.fromiter((j.is_hero for j in jobs), dtype=bool, count=n)
    divisions: dict[str, Any] = {}
    for name in sim.div_names:
        m = div_arr == name
        w = wait_obs[m]
        w_nh = wait_obs[m & nonhero]
        c = jct[m & ~np.isnan(jct)]
        gh = float(alloc_s[m].sum()) / 3600.0
        divisions[name] = {
            "jobs": int(m.sum()), "completed": int(np.sum(m & (state_arr == "completed"))),
            "running": int(np.sum(m & (state_arr == "running"))), "pending": int(np.sum(m & (state_arr == "pending"))),
            "gpu_hours": gh, "wait_p50_s": _q(w, 0.5), "wait_p95_s": _q(w, 0.95), "wait_p99_s": _q(w, 0.99),
            "wait_mean_s": _f(w.mean()) if w.size else None, "wait_p95_s_excluding_hero": _q(w_nh, 0.95),
            "waits_censored": int(np.sum(m & np.isnan(first))),
            "jct_p50_s": _q(c, 0.5), "jct_mean_s": _f(c.mean()) if c.size else None,
            "utilisation": _f(gh / online_gh) if online_gh > 0 else None,
            "preemptions": int(pre[m].sum()), "interruptions": int(inter[m].sum()),
            "lost_gpu_hours": float(lost[m].sum()) / 3600.0,
            "goodput": _f(float(useful_s[m].sum()) / float(alloc_s[m].sum())) if alloc_s[m].sum() > 0 else None,
        }
    hero = None
    h = sim.hero
    if h is not None:
        i = h.idx
        started = not math.isnan(h.first_start_s)
        span_end = h.end_s if state[i] == "completed" else horizon_s
        prod = h.productive_s + (h.inflight_work(horizon_s) / h.seg_rate if state[i] == "running" else 0.0)
        hero = {
            "job_id": h.job_id, "gpus": h.num_gpus, "state": state[i], "start_s": _f(h.first_start_s),
            "finish_s": _f(h.end_s) if state[i] == "completed" else None,
            "finish_day": _f(h.end_s / 86400.0) if state[i] == "completed" else None,
            "progress": float(progress[i]), "tokens_done": float(progress[i] * h.work_total),
            "ettr": _f(prod / (span_end - h.first_start_s)) if started and span_end > h.first_start_s else None,
            "interruptions": int(h.interruptions), "lost_gpu_hours": float(lost[i]) / 3600.0,
            "checkpoint_interval_s": _f(h.ckpt_interval_s),
            "checkpoint_cost_s": _f(h.ckpt_cost_s),
        }
        if started and state[i] != "completed" and progress[i] > 0:
            rate_day = progress[i] / ((horizon_s - h.first_start_s) / 86400.0)
            hero["projected_finish_day"] = _f(h.first_start_s / 86400.0 + 1.0 / rate_day)
    counts = {s: int(np.sum(state_arr == s)) for s in ("completed", "running", "pending")}
    st_wall = [getattr(r, "total_s", 0.0) for _, r in sim.rounds]
    summary = {
        "scenario": sim.sc.name, "policy": getattr(policy, "name", type(policy).__name__), "policy_note": note,
        "seed": seed, "horizon_s": horizon_s, "days": horizon_s / 86400.0, "jobs": {"total": n, **counts},
        "divisions": divisions,
        "cluster": {"gpus_total": int(sim.cl.num_nodes * sim.cl.gpus_per_node), "gpu_hours_online": online_gh,
                    "gpu_hours_allocated": float(alloc_s.sum()) / 3600.0,
                    "utilisation": _f(float(alloc_s.sum()) / 3600.0 / online_gh) if online_gh > 0 else None,
                    "failures": int(sim.n_failures),
                    "failures_by_component": dict(sorted(sim.failures_by_comp.items()))},
        "hero": hero, "power": power,
        "scheduler": {"rounds": len(sim.rounds), "rounds_skipped": sim.rounds_skipped, "policy_wall_s": sim.round_wall_s,
                      "solver_reported_total_s": float(sum(st_wall)),
                      "fallbacks": int(sum(bool(r.fallback_used) for _, r in sim.rounds))},
        "performance": {"wall_s": wall_s, "events": int(sim.events),
                        "jobs_per_wall_s": n / wall_s if wall_s > 0 else None,
                        "events_per_wall_s": sim.events / wall_s if wall_s > 0 else None},
    }
    return Results(jobs=jobs_tab, timeseries=ts, rounds=rounds, summary=summary)
