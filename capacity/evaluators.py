"""What one Monte Carlo replication computes: division waits in a month, and the hero's finish.

``sim`` (the default) runs :func:`colossus.sim.simulate` on a short window around each checked
month (see :func:`sim_window`): the scenario with the plan's arrays as extra phases, the
scenario's workload generator scaled to each division's *forecast load* for the month (never the
plan's allocation: DESIGN §3.4b), the replication's seed; it reads per-division wait p50/p95 and
the hero's ETTR and goodput from the Results. The window is a shrunk replica of the planned fleet
(``scale`` = simulated GPUs / planned GPUs, load and the hero shrunk alike) so that ``colossus
plan`` stays within its time budget; phases dated inside the checked month are online from the
window's start and submissions during a warm-up are not measured (see :func:`sim_window` for
these choices). The hero's measured ETTR feeds the next MILP pass (:mod:`capacity.replan`) and
its per-window goodput gives its finish (:func:`stitch_goodput`, :func:`hero_from_sim_progress`).

``queue`` is a fast surrogate of the simulation: for each division, a first-come
first-served multi-GPU queue whose capacity is what the scheduler's sharing rules could give it
while the others offer their load (:func:`capacity.shares.division_capacity`) and whose arrivals
carry its forecast load (Poisson arrivals, a fixed size mix, exponential run times).
The hero's finish date is sampled with the first-order failure model (Poisson interruptions
on its GPUs, each losing half a checkpoint interval on average plus detection and restart).

Every function here is pure: inputs and a seed in, a JSON-able dict out.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from capacity.registry import DEFAULT_EVALUATOR, EVALUATORS  # re-exported

__all__ = ["CENSORED_FRACTION", "DEFAULT_EVALUATOR", "EVALUATORS", "EVALUATOR_VERSION", "JOB_SIZE_MIX", "MEAN_RUN_S", "SIM_EVALUATOR_VERSION", "hero_from_sim_progress", "stitch_goodput",
           "hero_replication", "queue_waits", "scaled_workload", "sim_window", "window_replica",
           "window_scenario"]

EVALUATOR_VERSION = "queue-3"
"""Part of every cache key: bump when the evaluators change their results."""

JOB_SIZE_MIX: tuple[tuple[int, float], ...] = ((8, 0.55), (64, 0.30), (512, 0.12), (4096, 0.03))
"""ASSUMPTION: job sizes (GPUs) and their probabilities; shaped like the Philly/Meta RSC mix
(most jobs one node, a few thousand-GPU runs) (traces.md)."""

MEAN_RUN_S = 4 * 3600.0
"""ASSUMPTION: mean run time of a non-hero job, s (exponential)."""

CENSORED_FRACTION = 0.05
"""A window's wait percentiles are *censored* (lower bounds) when at least this fraction of its measured
jobs had not started by the window's end: those jobs count with their wait so far, so the p95 is the
wait of a job still queued and the true p95 is longer (both evaluators report ``unstarted`` and
``censored`` per division)."""


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
        (offered load / capacity), ``unstarted`` (measured jobs not started by the window's end)
        and ``censored`` (see :data:`CENSORED_FRACTION`).  Jobs still waiting at the end count
        with their wait so far.
    """
    cap = int(math.floor(capacity_gpus))
    sizes = np.array([k for k, _ in JOB_SIZE_MIX], dtype=np.int64)
    probs = np.array([p for _, p in JOB_SIZE_MIX])
    mean_gpu_s = float((sizes * probs).sum()) * MEAN_RUN_S
    rate = demand_gpus / mean_gpu_s if demand_gpus > 0 else 0.0
    n = int(rng.poisson(rate * window_s)) if rate > 0 else 0
    if n == 0:
        return {"p50_s": 0.0, "p95_s": 0.0, "mean_s": 0.0, "jobs": 0, "unstarted": 0, "censored": False,
                "load": 0.0 if cap else math.inf}  # fmt: skip
    arrivals = np.sort(rng.uniform(0.0, window_s, n))
    k = rng.choice(sizes, size=n, p=probs)
    run = rng.exponential(MEAN_RUN_S, n)
    if cap <= 0:
        waits = window_s - arrivals
        started = np.zeros(n, dtype=bool)
    else:
        k = np.minimum(k, max(cap, 1))
        free = cap
        running: list[tuple[float, int]] = []  # heap of (end time, gpus)
        waits = np.empty(n)
        started = np.empty(n, dtype=bool)
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
            started[i] = t < window_s
    sel = arrivals >= warmup_s
    if not sel.any():
        sel = np.ones(n, dtype=bool)
    measured = waits[sel]
    unstarted = int((~started[sel]).sum())
    return {"p50_s": float(np.percentile(measured, 50)), "p95_s": float(np.percentile(measured, 95)),
            "mean_s": float(measured.mean()), "jobs": int(measured.size), "unstarted": unstarted,
            "censored": bool(unstarted >= CENSORED_FRACTION * measured.size),
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


# --------------------------------------------------------------------------------------------
# Simulation-backed evaluator: colossus.sim.simulate on a window around each checked month.
# --------------------------------------------------------------------------------------------

SIM_EVALUATOR_VERSION = "sim-9"
"""Part of every ``sim`` cache key: bump when the simulation-backed evaluator changes."""


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def _dates(obj: Any) -> Any:
    """ISO date strings back to dates (the scenario loader is strict about types)."""
    import datetime as dt
    import re

    if isinstance(obj, dict):
        return {k: _dates(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_dates(v) for v in obj]
    if isinstance(obj, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", obj):
        return dt.date.fromisoformat(obj)
    return obj


def window_scenario(scn_dict: dict[str, Any], mo: dict[str, Any], *, window_days: float) -> Any:
    """The scenario of one checked month's window, shrunk to the task's simulated size.

    Starts on the month's first day; the plan's arrays (``mo["phases"]``: ``[date, sku, arrays]``)
    are extra phases on their months, and phases dated inside the checked month are online from
    its start. Every phase's arrays are multiplied by ``mo["scale"]`` (whole arrays, at least
    one); the hero's GPUs, failure rates and (through the workload, :func:`sim_window`) each
    division's demand use the *effective* scale, the replica's GPUs online at the start over the
    full fleet's (:func:`window_replica`), so the rounding of arrays does not change the hero's
    share of the fleet. Failure rates are divided by the effective scale so the shrunk hero run
    sees the full run's interruption rate (its ETTR is the full-size one; ASSUMPTION: division
    jobs then see ``1/scale`` times their real failure rate, a pessimistic bias). The grid cap is
    *not* scaled: the simulator powers every online GPU while the plan switches unneeded ones off,
    so a scaled cap held starts the plan can run (memphis 2025-12: every division waited the
    whole window). What the cap lets the fleet serve is checked without simulating, by the
    overload check (:mod:`capacity.overload`). The hero is enabled only in months where the
    plan runs it, starting at the window's start.
    """
    return window_replica(scn_dict, mo, window_days=window_days)[0]


def window_replica(scn_dict: dict[str, Any], mo: dict[str, Any], *, window_days: float) -> tuple[Any, float]:
    """:func:`window_scenario` and its effective scale (replica GPUs / full-fleet GPUs online at the window's start)."""
    import dataclasses
    import datetime as dt

    from capacity.inputs import month_starts
    from colossus.scenario.loader import parse_scenario

    scn = parse_scenario(_dates(scn_dict), source="monte-carlo task")
    scale = float(mo["scale"])
    start = dt.date.fromisoformat(mo["date"])
    month_end = month_starts(start, 1)[1]
    phases = [(p.date, p.sku, p.arrays, p.name) for p in scn.phases]
    phases += [(dt.date.fromisoformat(d), s, int(n), f"plan {s} {d}") for d, s, n in mo["phases"]]
    # A phase dated inside the checked month is online from the window's start (the plan counts
    # a month's arrays as serving that month). Without this, memphis' first phase (2024-09-02)
    # was still offline during a month-0 window starting 2024-09-01: no GPUs, p95 = the window.
    phases = sorted(((min(d, start) if d < month_end else d), sk, n, name) for d, sk, n, name in phases if n > 0)
    shrunk = [max(1, round(n * scale)) for _, _, n, _ in phases]
    full_now = sum(n for (d, _, n, _) in phases if d <= start)
    eff = (sum(k for (d, _, _, _), k in zip(phases, shrunk, strict=True) if d <= start) / full_now) if full_now else scale
    new_phases = tuple(dataclasses.replace(scn.phases[0], name=name, date=d, sku=s, arrays=k)
                       for (d, s, _, name), k in zip(phases, shrunk, strict=True))  # fmt: skip
    info = dataclasses.replace(scn.scenario, start_date=start)
    fail = dataclasses.replace(scn.failures, rates_per_gpu_year={k: v / eff for k, v in scn.failures.rates_per_gpu_year.items()})
    hero = scn.hero
    if hero is not None:
        gpn = scn.cluster.gpus_per_node
        if mo["hero_gpus"] > 0:
            # The plan's hero GPUs are a month's average (a run finishing early in the month
            # averages to a few GPUs), but the run itself always holds its full size: the
            # replica's hero is the full run scaled like the fleet, so every window that has the
            # hero measures the ETTR the plan derates by. Whole nodes, rounded down.
            g = max(gpn, int(hero.gpus * eff / gpn) * gpn)
            hero = dataclasses.replace(hero, enabled=True, start_day=0.0, gpus=g, model=_fitting_model(scn, hero.model, hero.sku, g),
                                       hot_spare_nodes=int(round(hero.hot_spare_nodes * eff)))  # fmt: skip
        else:
            hero = dataclasses.replace(hero, enabled=False)
    sim_sec = dataclasses.replace(scn.simulation, days=window_days)
    return dataclasses.replace(scn, scenario=info, phases=new_phases, failures=fail, hero=hero, simulation=sim_sec), eff


def _fitting_model(scn: Any, model: str, sku: str, gpus: int) -> str:
    """``model`` if the step-time model finds a layout on ``gpus`` (and on half of them) of ``sku``, else the
    largest preset that does.

    The shrunk hero of a replica (e.g. grok-3 on 232 H100s) may not fit in memory, and the
    simulation cannot run a model that does not fit. The ETTR the evaluator reads does not depend
    on the model (productive time / time since start; checkpoint cost and interval come from the
    ``[checkpoint]`` section and the run's interruption rate), so a smaller stand-in keeps the
    measurement (ASSUMPTION); only the hero's tokens/s in the window change, and they are not used.
    """
    from colossus.steptime.models import PRESETS, get_model
    from colossus.steptime.throughput import throughput_table

    spec = scn.gpu_spec(sku)
    gpn = scn.cluster.gpus_per_node
    counts = sorted({gpus, max(gpn, (gpus // 2) // gpn * gpn)})

    def fits(m: Any) -> bool:
        try:
            tab = throughput_table(m, spec, counts)
            return all(float(tab.tokens_per_s(c)) > 0 for c in counts)
        except Exception:  # noqa: BLE001 - a model the step-time model rejects does not fit
            return False

    if fits(get_model(model)):
        return model
    for name, m in sorted(PRESETS.items(), key=lambda kv: (-kv[1].params_active(), kv[0])):
        if fits(m):
            return name
    return model  # nothing fits: let the simulation say so


def _generator_batches(scn: Any, days: float, seed: int, offered_load_gpus: float) -> Any:
    """The scenario's workload generator at a constant ``offered_load_gpus`` (the scenario's own
    load when <= 0), through :func:`colossus.sim.workload.workload_batches`."""
    from colossus.sim.workload import workload_batches

    return workload_batches(scn, days, seed, offered_load_gpus=offered_load_gpus if offered_load_gpus > 0 else None)


def scaled_workload(scn: Any, *, demand_gpus: dict[str, float], window_s: float, seed: int) -> list[Any]:
    """The scenario generator's jobs over ``window_s``, each division's load scaled to ``demand_gpus``.

    The generator runs at a total offered load of ``sum(demand_gpus)`` over a longer span;
    division ``d`` keeps its jobs submitted before ``window_s x f_d`` and has their submit times
    divided by ``f_d``, where ``f_d = demand_gpus[d] / (the generator's expected GPU load of d)``:
    the total times the division's normalised ``load_share``, the split the generator itself
    uses. (An earlier version measured that load on a probe of generated jobs; with heavy-tailed
    sizes and run times the probe's estimate, and so the simulated load, varied several-fold
    between seeds.) Returns record batches in submit order.
    """
    import pyarrow as pa

    total = sum(max(0.0, v) for v in demand_gpus.values())
    names = [d.name for d in scn.divisions]
    share_sum = sum(float(d.load_share) for d in scn.divisions)
    if not (total > 0 and share_sum > 0):
        return []
    base = {d.name: total * float(d.load_share) / share_sum for d in scn.divisions}
    f = {d: (max(0.0, demand_gpus.get(d, 0.0)) / base[d]) if base[d] > 0 else 0.0 for d in names}
    fmax = max(f.values(), default=0.0)
    if fmax <= 0:
        return []
    batches = list(_generator_batches(scn, fmax * window_s / 86400.0, seed, total))
    if not batches:
        return []
    full = pa.Table.from_batches(batches)
    t = full.column("submit_time_s").to_numpy()
    div = full.column("division").to_numpy(zero_copy_only=False)
    new_t = np.full(t.shape, np.inf)
    for d in names:
        if f[d] > 0:
            sel = div == d
            new_t[sel] = t[sel] / f[d]
    keep = np.flatnonzero(new_t < window_s)
    keep = keep[np.argsort(new_t[keep], kind="stable")]
    out = full.take(pa.array(keep)).set_column(
        full.schema.get_field_index("submit_time_s"), "submit_time_s", pa.array(new_t[keep], pa.float64()))
    return out.to_batches(max_chunksize=8192)


def sim_window(*, scn_dict: dict[str, Any], mo: dict[str, Any], window_s: float, warmup_s: float,
               policy: str | None, seed: int) -> dict[str, Any]:  # fmt: skip
    """Simulate one checked month's window; per-division wait p50/p95 and the hero's ETTR/progress.

    Waits are of jobs submitted after the warm-up (jobs never started count with their wait up
    to the end of the window; each division reports how many had not started, ``unstarted``, and
    whether that makes its percentiles lower bounds, ``censored``: :data:`CENSORED_FRACTION`).

    Start-up and shrinking choices (issue 7 follow-up: month-0 waits looked inflated)
    ---------------------------------------------------------------------------------
    * Cause found: the window starts on the month's first day, but a scenario phase dated later
      in that month (memphis' first phase is 2024-09-02) was still offline, so the month-0
      replica had *no GPUs* for its first day and every job waited the whole window (p95 =
      window - warm-up). :func:`window_scenario` now puts every phase dated inside the checked
      month online from the window's start, matching the plan (arrays of month ``m`` serve
      month ``m``). On the test scenario month-0 p95 waits fell from ~16,500 s (= the window) to
      the range of the other months.
    * Warm-up: the replica starts empty (no running or queued division jobs) and the hero
      arrives at ``t = 0``; an empty start biases waits *low*, so jobs submitted during the first
      ``warmup_s`` are not measured (``colossus plan`` uses a quarter of the window, at most one
      day). The hero is not warmed up: its ETTR is productive time / time since its first start.
    * Shrinking: demand, the fleet and the hero scale by ``mo["scale"]``; division job sizes do
      not (generated jobs are <= 256 GPUs, well inside a >= 1,024-GPU replica). A shrunk hero that
      does not fit in memory runs a smaller stand-in model (:func:`_fitting_model`; ETTR does not
      depend on the model). A short window measures the hero's ETTR from few interruptions (a
      6-hour window of a run with a day's MTTI often sees none: ETTR 1.0), so average it over
      replications and prefer longer windows when it matters.
    """
    from colossus.sim import simulate
    from colossus.streams import Streams

    streams = Streams(seed)
    wl_seed = int(streams.sequence("workload").generate_state(1)[0])
    sim_seed = int(streams.sequence("simulation").generate_state(1)[0])
    scn, eff = window_replica(scn_dict, mo, window_days=window_s / 86400.0)
    demand = {d: v * eff for d, v in mo["demand_gpus"].items()}
    jobs = scaled_workload(scn, demand_gpus=demand, window_s=window_s, seed=wl_seed)
    res = simulate(scn, jobs, policy=policy, seed=sim_seed, horizon_s=window_s)
    tab = res.jobs
    div = tab.column("division").to_numpy(zero_copy_only=False)
    hero_mask = tab.column("is_hero").to_numpy(zero_copy_only=False).astype(bool)
    sub = tab.column("submit_time_s").to_numpy()
    wait = tab.column("wait_s").to_numpy().copy()
    never = np.isnan(wait)
    wait[never] = window_s - sub[never]
    divs = {}
    for d in sorted(mo["demand_gpus"]):
        sel = (div == d) & ~hero_mask & (sub >= warmup_s)
        if not sel.any():
            sel = (div == d) & ~hero_mask
        w = wait[sel]
        unstarted = int(never[sel].sum())
        # no jobs measured: p50/p95 are 0.0 here; the aggregate never reports that as the wait of
        # an overloaded division (capacity.montecarlo: censored at the window)
        divs[d] = {"p50_s": float(np.percentile(w, 50)) if w.size else 0.0,
                   "p95_s": float(np.percentile(w, 95)) if w.size else 0.0,
                   "mean_s": float(w.mean()) if w.size else 0.0, "jobs": int(w.size), "unstarted": unstarted,
                   "censored": bool(w.size and unstarted >= CENSORED_FRACTION * w.size),
                   "load": float(demand.get(d, 0.0))}  # fmt: skip
    h = res.hero
    hero = None
    if h is not None:
        start = h.get("start_s")
        ettr = h.get("ettr")
        # goodput over the whole window: productive time / window (a late start counts as lost)
        goodput = (ettr * (window_s - start) / window_s) if (ettr is not None and start is not None) else (
            0.0 if start is None else None)
        hero = {"ettr": ettr, "progress": h.get("progress"), "interruptions": h.get("interruptions"),
                "gpus": h.get("gpus"), "start_s": start, "goodput": goodput}  # fmt: skip
    return {"month": mo["month"], "divisions": divs, "hero": hero, "sim_jobs": int(tab.num_rows)}


def stitch_goodput(checked: list[int], goodput: dict[int, float | None], horizon: int,
                   fallback: float) -> list[float]:  # fmt: skip
    """Per plan month, the hero goodput of the simulated window that stands for it.

    Stitching rule: a checked month's measured goodput (productive hero seconds / window
    seconds, :func:`sim_window`) holds from that month until the next checked month; a month
    whose window measured nothing (the hero did not run there) takes the nearest checked month
    that did (earlier first); with no measurement at all, ``fallback`` (the plan's ETTR).
    """
    measured = [m for m in checked if goodput.get(m) is not None]
    out = []
    for k in range(horizon):
        own = max((m for m in checked if m <= k), default=None)
        if own is not None and goodput.get(own) is not None:
            out.append(float(goodput[own]))  # type: ignore[arg-type]
        elif measured:
            near = min(measured, key=lambda m: (abs(m - k), m > k))
            out.append(float(goodput[near]))  # type: ignore[arg-type]
        else:
            out.append(float(fallback))
    return out


def hero_from_sim_progress(*, tokens: float, planned_tokens_by_month: list[float], plan_ettr: float,
                           goodput_by_month: list[float]) -> dict[str, Any]:  # fmt: skip
    """The hero's finish from simulated progress: month ``m`` trains the plan's failure-free tokens of
    the month (its hero GPUs x the full-size step-time throughput x active seconds, i.e. the plan's
    tokens / the plan's ETTR) times the goodput the simulation measured for ``m`` (:func:`stitch_goodput`)."""
    done, cum, finish = 0.0, [], None
    for m, tok in enumerate(planned_tokens_by_month):
        gained = (tok / plan_ettr if plan_ettr > 0 else tok) * goodput_by_month[m]
        if finish is None and gained > 0 and done + gained >= tokens * (1 - 1e-9):
            finish = m + (tokens - done) / gained
        done += gained
        cum.append(done)
    active = [g for g, t in zip(goodput_by_month, planned_tokens_by_month, strict=True) if t > 0]
    return {"finish_month_frac": finish, "tokens_by_month": cum, "goodput_by_month": goodput_by_month,
            "ettr": float(np.mean(active)) if active else plan_ettr}  # fmt: skip
