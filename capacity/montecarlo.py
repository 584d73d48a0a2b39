"""Monte Carlo check of a plan: R replications on any ``concurrent.futures`` executor, cached.

One *task* is one replication: every checked month's division waits plus one hero run, from
seeds derived with :class:`colossus.streams.Streams` (``rep-<r>`` child; ``workload`` and
``failures`` streams inside it), so replications are independent and reproducible whatever
the executor or completion order.  Each task's result is stored as JSON under the SHA-256 of
its inputs (the cache folder), so a run interrupted after k tasks resumes with R - k.

Defaults (:data:`capacity.registry.EVALUATOR_DEFAULTS`; ``benchmarks/plan.py`` times them):
every 3rd month (and the last) checked. The ``sim`` evaluator (the default) runs the full
simulation on a 4,096-GPU replica of each checked month, a half-day window with the first
quarter as warm-up, on the divisions' forecast load; ``benchmarks/plan.py`` gives the time of
``colossus plan`` on ``memphis``. The ``queue`` evaluator (1-day windows) takes a few seconds.

Every plan month (simulated or not) is also checked for *overload* (:mod:`capacity.overload`):
a division whose forecast load reaches the capacity it could get misses its SLO whatever a
short window measures.

Censored waits (:data:`CENSORING`): an overloaded division's queue grows without bound, so no
finite window measures its wait; its simulated wait percentiles are reported as *at least* the
longest wait a window can observe (window - warm-up), flagged ``censored``, never as the short
(or zero) wait of a window that starts empty or of a replica the power cap does not bind. A
window where at least 5 % of a division's measured jobs had not started by its end is censored
too (:data:`capacity.evaluators.CENSORED_FRACTION`): its p95 is a lower bound.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from capacity.evaluators import (
    DEFAULT_EVALUATOR,
    EVALUATOR_VERSION,
    EVALUATORS,
    SIM_EVALUATOR_VERSION,
    _jsonable,
    hero_from_sim_progress,
    hero_replication,
    queue_waits,
    sim_window,
    stitch_goodput,
)
from capacity.plan import Plan
from colossus.scenario import Scenario
from colossus.streams import Streams

__all__ = ["CENSORING", "McConfig", "McResult", "SerialExecutor", "make_executor", "mc_tasks", "reaggregate", "run_monte_carlo",
           "run_task", "sim_offered_load"]


@dataclass(frozen=True, kw_only=True, slots=True)
class McConfig:
    """Monte Carlo settings.

    Attributes
    ----------
    replications : int
        R, independent replications.
    check_every_months : int
        Check months 0, k, 2k, ... (and the last).
    window_days, warmup_days : float
        Simulated days per checked month, and the warm-up not measured.
    seed : int
        Root seed.
    evaluator : {"sim", "queue"}
        Default :data:`capacity.registry.DEFAULT_EVALUATOR` (``sim``):
        :func:`colossus.sim.simulate` per checked month; ``queue``: the fast FIFO-queue
        approximation. The other defaults here are the ``sim`` ones
        (:data:`capacity.registry.EVALUATOR_DEFAULTS`).
    sim_gpus : int
        ``sim`` only: GPUs of the simulated replica of each month's planned fleet (the fleet,
        its demand and the hero are shrunk by ``sim_gpus / planned GPUs``; never enlarged).
    policy : str, optional
        ``sim`` only: scheduling policy (default: the scenario's).
    """

    replications: int = 16
    check_every_months: int = 3
    window_days: float = 0.5
    warmup_days: float = 0.125
    seed: int = 0
    evaluator: str = DEFAULT_EVALUATOR
    sim_gpus: int = 4096
    policy: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class McResult:
    """Aggregated Monte Carlo figures.

    Attributes
    ----------
    months : tuple[int, ...]
        Checked plan months.
    waits : dict[str, dict[str, list]]
        Division -> {``p50_mean``, ``p50_lo``, ``p50_hi``, ``p95_mean``, ``p95_lo``, ``p95_hi``}
        per checked month, s (95% normal confidence interval over replications), and
        ``censored`` (one bool per checked month): the month's percentiles are lower bounds, not
        measurements: the division is overloaded (then every figure here is at least the window's
        longest observable wait, ``window_s - warmup_s``; see below), or at least 5 % of its
        measured jobs had not started when some replication's window ended
        (:data:`capacity.evaluators.CENSORED_FRACTION`).
    slo_misses : list[dict]
        Every missed (month, division), in month order: ``{month, date, division, p95_s,
        p95_censored, p95_simulated_s, slo_s, reason, load_ratio, simulated}``; ``reason`` is
        ``overloaded`` where the division's forecast load reaches the capacity it could get
        (:mod:`capacity.overload`; every plan month, simulated or not) and ``wait`` where the
        simulated mean p95 exceeds the service level. ``p95_s`` is None in months not simulated.
        In a simulated overloaded month it is **never the simulated value alone**: the queue of an
        overloaded division grows without bound, and the window measures neither that (it starts
        empty, runs hours, and simulates the division's load only up to
        :data:`OVERLOAD_SIM_FACTOR` x its capacity; the replica's grid cap does not bind) nor a
        zero-capacity division's wait; ``p95_s`` is then ``max(simulated mean p95, window_s -
        warmup_s)``, the longest wait a window can observe, with ``p95_censored`` True: a lower
        bound (the true p95 is longer). ``p95_censored`` is also True for a ``wait`` miss whose
        window ended with at least 5 % of the division's measured jobs not started.
        ``p95_simulated_s`` keeps the simulated mean p95 as measured (None: not simulated).
    load_ratio : dict[str, list[float | None]]
        Division -> forecast load / capacity it could get, per plan month (None: no capacity).
    slo_status : dict[str, list[str]]
        Division -> per plan month ``met``, ``missed`` (wait), ``overloaded`` or ``unchecked``.
    hero_finish_months : list[float | None]
        Per replication: month index + fraction when the hero finished (None: not in the horizon).
    hero_finish : dict
        ``p50``, ``lo``, ``hi`` (5th/95th percentile) finish dates and ``on_time_fraction``.
    hero_ettr : dict
        Mean and 95% interval of the sampled ETTR.
    computed, cached : int
        Tasks computed in this call and taken from the cache.
    replications : list[dict]
        Raw per-replication results, in replication order.
    """

    months: tuple[int, ...]
    waits: dict[str, dict[str, list[float]]]
    slo_misses: list[dict[str, Any]]
    hero_finish_months: list[float | None]
    hero_finish: dict[str, Any]
    hero_ettr: dict[str, float]
    computed: int
    cached: int
    replications: list[dict[str, Any]]
    load_ratio: dict[str, list[float | None]] = field(default_factory=dict)
    slo_status: dict[str, list[str]] = field(default_factory=dict)


class SerialExecutor(Executor):
    """An executor that runs each task at submit time, in this process (``--workers 1``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:  # noqa: D102
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(exc)
        return fut


CLUSTER_CONNECT_TIMEOUT_S = 5.0
"""Seconds to wait for a Dask scheduler at ``--cluster ADDR`` before giving up (Dask's default is 30 s)."""


def make_executor(workers: int = 1, cluster: str | None = None, *,
                  connect_timeout_s: float = CLUSTER_CONNECT_TIMEOUT_S) -> tuple[Executor, Callable[[], None]]:  # fmt: skip
    """An executor and its closer.

    Parameters
    ----------
    workers : int
        Local processes (1: run in this process).
    cluster : str, optional
        ``"local"`` to start a Dask ``LocalCluster`` with ``workers`` single-threaded worker
        processes, or a Dask scheduler address (``tcp://host:8786``; its workers must have
        colossus-planner installed). Needs the ``dist`` extra (``pip install 'colossus-planner[dist]'``).
    connect_timeout_s : float
        Connect timeout for a scheduler address, s.

    Raises
    ------
    InputError
        When Dask is not installed or the scheduler at ``cluster`` cannot be reached in time.

    Notes
    -----
    Results do not depend on the executor: every task carries its own seeds and results are
    put back in replication order (``--workers 1``, ``--workers 2`` and ``--cluster local``
    write byte-identical ``plan.json``).
    """
    if cluster:
        from colossus.errors import InputError

        try:
            import dask
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise InputError("--cluster: Dask distributed is not installed (pip install 'colossus-planner[dist]')") from None
        if cluster == "local":
            lc = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(lc)

            def close() -> None:
                client.close()
                lc.close()
        else:
            try:  # probe first: a failed Client() leaves a half-built client whose __del__ blocks ~2x timeout
                _probe_scheduler(cluster, connect_timeout_s)
            except Exception as exc:  # noqa: BLE001 - any failure to reach the scheduler is the user's address
                msg = (str(exc).splitlines() or [""])[0][:160] or type(exc).__name__
                raise InputError(f"--cluster {cluster}: cannot reach a Dask scheduler (timeout {connect_timeout_s:g} s): "
                                 f"{msg}") from None  # fmt: skip
            t = f"{float(connect_timeout_s)}s"
            with dask.config.set({"distributed.comm.timeouts.connect": t}):
                client = Client(cluster, timeout=t, set_as_default=False)

            def close() -> None:
                client.close()
        return client.get_executor(), close
    if workers <= 1:
        return SerialExecutor(), lambda: None
    pool = ProcessPoolExecutor(max_workers=workers)
    return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)


def _probe_scheduler(address: str, timeout_s: float) -> dict[str, Any]:
    """Ask the Dask scheduler at ``address`` for its identity; raise if none answers within ``timeout_s``."""
    import asyncio

    from distributed.core import rpc

    async def probe() -> dict[str, Any]:
        r = rpc(address, timeout=timeout_s)
        try:
            return await r.identity()
        finally:
            await r.close_rpc()

    try:
        return asyncio.run(asyncio.wait_for(probe(), timeout_s + 1.0))
    except TimeoutError:  # asyncio.TimeoutError is TimeoutError on Python >= 3.11
        raise OSError(f"timed out after {timeout_s:g} s") from None


def _check_months(horizon: int, every: int) -> list[int]:
    months = list(range(0, horizon, max(1, every)))
    if months[-1] != horizon - 1:
        months.append(horizon - 1)
    return months


def mc_tasks(plan: Plan, scn: Scenario, cfg: McConfig) -> list[dict[str, Any]]:
    """The replication tasks of a plan: plain JSON-able dicts (their hash is the cache key)."""
    inp = plan.inputs
    months = _check_months(inp.horizon, cfg.check_every_months)
    root = Streams(cfg.seed)
    hero = None
    if inp.hero is not None:
        h = inp.hero
        rate = scn.failures.total_per_gpu_year / (365.25 * 86400.0) if scn.failures.enabled else 0.0
        mtti = 1.0 / (rate * h.gpus) if rate > 0 else math.inf
        delta = max(scn.checkpoint.blocking_s, 1e-9)
        tau = math.sqrt(2 * delta * mtti) if math.isfinite(mtti) else 86400.0
        if scn.checkpoint.interval_policy == "fixed":
            tau = scn.checkpoint.fixed_interval_s
        active = [tpm / (h.tokens_per_gpu_s * h.ettr) if h.tokens_per_gpu_s * h.ettr > 0 else 0.0 for tpm in h.tokens_per_gpu_month]
        hero = {"tokens": h.tokens, "gpus_by_month": [float(h.gpus)] * inp.horizon, "active_s_by_month": active,
                "tokens_per_gpu_s": h.tokens_per_gpu_s, "failures_per_gpu_s": rate, "interval_s": tau,
                "blocking_s": delta, "restart_s": scn.checkpoint.restart_s + scn.repair.detection_s}  # fmt: skip
    if cfg.evaluator not in EVALUATORS:
        from colossus.errors import InputError

        raise InputError(f"--evaluator: unknown {cfg.evaluator!r} (known: {', '.join(EVALUATORS)})")
    if cfg.evaluator == "sim":
        return _sim_tasks(plan, scn, cfg, months, root)
    caps = {m: _division_capacities(plan, m) for m in months}
    tasks = []
    for r in range(cfg.replications):
        rep = root.child(f"rep-{r}")
        tasks.append({
            "version": EVALUATOR_VERSION, "replication": r,
            "workload_seed": int(rep.sequence("workload").generate_state(1)[0]),
            "failures_seed": int(rep.sequence("failures").generate_state(1)[0]),
            "window_s": cfg.window_days * 86400.0, "warmup_s": cfg.warmup_days * 86400.0,
            "months": [{"month": m, "divisions": {d: {"capacity_gpus": round(min(caps[m][d], 1e12), 6),
                                                       "demand_gpus": round(inp.load_gpus[d][m], 6)} for d in inp.divisions}}
                       for m in months],
            "hero": hero,
        })  # fmt: skip
    return tasks


CENSORING = ("an overloaded division-month (forecast load >= the capacity it could get) has a queue that grows "
             "without bound, so no window measures its wait: its p50/p95 are reported as at least the longest "
             "wait a window can observe (window - warm-up) and flagged censored (a lower bound), never as the "
             "short wait of a window that starts empty; a window where at least 5% of a division's measured jobs "
             "had not started by its end is censored too (its p95 is a lower bound)")
"""How wait figures of overloaded or saturated division-months are reported (plan.json ``monte_carlo.wait_censoring``)."""

STITCHING = ("each checked month's window measures the hero's goodput (productive seconds / window seconds, "
             "full-size interruption rate); that goodput holds from the checked month until the next one (months "
             "whose window had no hero take the nearest measured one); month m trains the plan's hero GPUs x the "
             "full-size step-time tokens/s x its active seconds x that goodput")
"""How the ``sim`` evaluator stitches windows into the hero's finish (plan.json ``monte_carlo.hero_stitching``)."""

OVERLOAD_SIM_FACTOR = 1.1
"""An overloaded division's simulated load, as a multiple of the capacity it could get (or of its
guaranteed share of the month's non-hero capacity, when that is larger): see :func:`sim_offered_load`."""


def _division_capacities(plan: Plan, m: int) -> dict[str, float]:
    """Division -> the capacity it could hold in month ``m`` while the others offer their load (queue evaluator)."""
    from capacity.overload import servable_ref_gpus
    from capacity.shares import division_capacity

    inp = plan.inputs
    hero_perf = inp.sku_perf[inp.hero.sku] if inp.hero is not None else 0.0
    return division_capacity(servable_ref_gpus(plan, m), {d: inp.load_gpus[d][m] for d in inp.divisions},
                             inp.guaranteed_share or {d: 1.0 for d in inp.divisions}, inp.weight,
                             hero_division=inp.hero_division, hero=plan.hero_gpus[m] * hero_perf)  # fmt: skip


def sim_offered_load(plan: Plan, m: int) -> dict[str, float]:
    """Division -> the load (reference GPUs) the ``sim`` evaluator offers in plan month ``m``.

    Each division offers its **forecast load** (``PlanInputs.load_gpus``, DESIGN §3.4b), never
    what the plan allocated to it: demand the plan leaves unmet reaches the simulation as queues.
    One exception bounds the window's cost: an *overloaded* division (forecast load >= the
    capacity ``c`` it could get, :func:`capacity.shares.division_capacity`; flagged without
    simulating, :mod:`capacity.overload`) offers ``min(forecast, OVERLOAD_SIM_FACTOR x max(c,
    f))``, ``f`` its guaranteed share of the month's servable non-hero capacity. That is more
    than it can get, so it keeps its share of the fleet busy and the other divisions meet the
    competition its full backlog would give them, without simulating a backlog many times the
    fleet (memphis month 0 offers ~44x the non-hero capacity: +4 s of CPU per window for waits
    that are censored either way). ``f`` gives a division the hero leaves no capacity (``c = 0``)
    jobs in the window; its reported waits are censored lower bounds (:data:`CENSORING`).
    """
    from capacity.overload import servable_ref_gpus

    inp = plan.inputs
    caps = _division_capacities(plan, m)
    g = inp.guaranteed_share or {d: 1.0 for d in inp.divisions}
    g_sum = sum(max(0.0, float(g.get(d, 0.0))) for d in inp.divisions)
    non_hero = servable_ref_gpus(plan, m)
    out = {}
    for d in inp.divisions:
        load = inp.load_gpus[d][m]
        if load < caps[d]:
            out[d] = load
            continue
        floor = non_hero * max(0.0, float(g.get(d, 0.0))) / g_sum if g_sum > 0 else non_hero / len(inp.divisions)
        out[d] = min(load, OVERLOAD_SIM_FACTOR * max(caps[d], floor))
    return out


def _sim_tasks(plan: Plan, scn: Scenario, cfg: McConfig, months: list[int], root: Streams) -> list[dict[str, Any]]:
    """Tasks of the ``sim`` evaluator (one per replication; every checked month inside it).

    Each checked month simulates the divisions' forecast load as :func:`sim_offered_load` says
    (in the replica's physical GPUs: reference GPUs / the fleet's mean performance).
    """
    from colossus.scenario.loader import scenario_to_dict

    inp = plan.inputs
    scn_dict = _jsonable(scenario_to_dict(scn))
    mos = []
    for m in months:
        load = sim_offered_load(plan, m)
        phys = sum(plan.gpus_installed[s][m] for s in inp.skus)
        ref = plan.capacity_ref_gpus(m)
        perf = ref / phys if phys > 0 else 1.0  # ASSUMPTION: a job on a faster SKU needs 1/perf the GPU-time
        extra = [[inp.months[k].isoformat(), s, int(n)] for s, v in plan.arrays_added.items()
                 for k, n in enumerate(v[: m + 1]) if n > 0]  # fmt: skip
        mos.append({"month": m, "date": inp.months[m].isoformat(), "phases": extra,
                    "scale": round(min(1.0, cfg.sim_gpus / phys) if phys > 0 else 1.0, 9),
                    "hero_gpus": int(round(plan.hero_gpus[m])),
                    "demand_gpus": {d: round(load[d] / perf, 6) for d in inp.divisions}})
    hero = None
    if inp.hero is not None:
        hero = {"tokens": inp.hero.tokens, "planned_tokens_by_month": list(plan.hero_tokens), "plan_ettr": inp.hero.ettr,
                "checked_months": list(months), "horizon": inp.horizon}  # fmt: skip
    tasks = []
    for r in range(cfg.replications):
        rep = root.child(f"rep-{r}")
        tasks.append({"version": SIM_EVALUATOR_VERSION, "evaluator": "sim", "replication": r,
                      "seed": int(rep.sequence("simulation").generate_state(1)[0]),
                      "window_s": cfg.window_days * 86400.0, "warmup_s": cfg.warmup_days * 86400.0,
                      "policy": cfg.policy, "scenario": scn_dict, "months": mos, "hero": hero})  # fmt: skip
    return tasks


def task_key(task: dict[str, Any]) -> str:
    """SHA-256 of a task's canonical JSON (the cache file name)."""
    return hashlib.sha256(json.dumps(task, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Compute one replication (pure; picklable for any executor)."""
    if task.get("evaluator") == "sim":
        return _run_sim_task(task)
    wl = np.random.Generator(np.random.PCG64(task["workload_seed"]))
    out_months = []
    for mo in task["months"]:
        divs = {}
        for d in sorted(mo["divisions"]):
            v = mo["divisions"][d]
            divs[d] = queue_waits(capacity_gpus=v["capacity_gpus"], demand_gpus=v["demand_gpus"],
                                  window_s=task["window_s"], warmup_s=task["warmup_s"], rng=wl)  # fmt: skip
        out_months.append({"month": mo["month"], "divisions": divs})
    hero = None
    if task["hero"] is not None:
        fr = np.random.Generator(np.random.PCG64(task["failures_seed"]))
        hero = hero_replication(rng=fr, **task["hero"])
    return {"replication": task["replication"], "months": out_months, "hero": hero,
            "window_s": task["window_s"], "warmup_s": task["warmup_s"]}  # fmt: skip


def _run_sim_task(task: dict[str, Any]) -> dict[str, Any]:
    from colossus.streams import Streams

    rep = Streams(task["seed"])
    out_months, ettrs = [], []
    goodput: dict[int, float | None] = {}
    for mo in task["months"]:
        seed = int(rep.sequence(f"month-{mo['month']}").generate_state(1)[0])
        res = sim_window(scn_dict=task["scenario"], mo=mo, window_s=task["window_s"], warmup_s=task["warmup_s"],
                         policy=task["policy"], seed=seed)  # fmt: skip
        out_months.append({"month": res["month"], "divisions": res["divisions"], "hero_sim": res["hero"],
                           "sim_jobs": res["sim_jobs"]})  # fmt: skip
        if res["hero"] and res["hero"].get("ettr") is not None:  # the full-size run (window_replica)
            ettrs.append(float(res["hero"]["ettr"]))
        if res["hero"]:
            goodput[mo["month"]] = res["hero"].get("goodput")
    hero = None
    if task["hero"] is not None:
        th = task["hero"]
        ettr = float(np.mean(ettrs)) if ettrs else None
        by_month = stitch_goodput(th["checked_months"], goodput, th["horizon"], th["plan_ettr"])
        hero = hero_from_sim_progress(tokens=th["tokens"], planned_tokens_by_month=th["planned_tokens_by_month"],
                                      plan_ettr=th["plan_ettr"], goodput_by_month=by_month)  # fmt: skip
        hero["ettr"] = ettr if ettr is not None else th["plan_ettr"]
        hero["ettr_measured"] = ettr is not None
        hero["stitching"] = STITCHING
    return {"replication": task["replication"], "months": out_months, "hero": hero,
            "window_s": task["window_s"], "warmup_s": task["warmup_s"]}  # fmt: skip


def _write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, sort_keys=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def run_monte_carlo(plan: Plan, scn: Scenario, cfg: McConfig, *, executor: Executor | None = None,
                    cache_dir: Path | None = None,
                    progress: Callable[[int, int], None] | None = None) -> McResult:  # fmt: skip
    """Run (or resume) the Monte Carlo check of ``plan``.

    Parameters
    ----------
    plan, scn : Plan, Scenario
        The plan and the scenario it came from (failure and checkpoint figures, service levels).
    cfg : McConfig
        Replications, months, window, seed.
    executor : concurrent.futures.Executor, optional
        Where tasks run (default: this process).
    cache_dir : Path, optional
        Folder of per-task JSON results; tasks found there are not recomputed.
    progress : callable, optional
        ``progress(done, total)`` after each task.
    """
    tasks = mc_tasks(plan, scn, cfg)
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    cached = computed = 0
    pending: list[int] = []
    for i, t in enumerate(tasks):
        path = cache_dir / f"{task_key(t)}.json" if cache_dir else None
        if path is not None and path.exists():
            try:
                results[i] = json.loads(path.read_text(encoding="utf-8"))
                cached += 1
                continue
            except (OSError, ValueError):
                pass  # a damaged cache entry is recomputed
        pending.append(i)
    if progress:
        progress(cached, len(tasks))
    ex = executor or SerialExecutor()
    futures = {ex.submit(run_task, tasks[i]): i for i in pending}
    for fut in as_completed(futures):
        i = futures[fut]
        res = fut.result()
        results[i] = res
        computed += 1
        if cache_dir is not None:
            _write_json_atomic(cache_dir / f"{task_key(tasks[i])}.json", res)
        if progress:
            progress(cached + computed, len(tasks))
    return _aggregate(plan, scn, [r for r in results if r is not None], computed=computed, cached=cached)


def reaggregate(plan: Plan, scn: Scenario, mc: McResult) -> McResult:
    """``mc``'s replications summarised against ``plan`` (a re-plan not simulated again).

    The simulated waits and hero figures stay those of the plan that was simulated; the overload
    check, which needs no simulation, and the SLO status follow ``plan``.
    """
    return _aggregate(plan, scn, mc.replications, computed=mc.computed, cached=mc.cached)


def _ci(values: Iterable[float]) -> tuple[float, float, float]:
    a = np.asarray(list(values), dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(a.mean())
    half = 1.96 * float(a.std(ddof=1)) / math.sqrt(a.size) if a.size > 1 else 0.0
    return mean, max(0.0, mean - half), mean + half


def _aggregate(plan: Plan, scn: Scenario, reps: list[dict[str, Any]], *, computed: int, cached: int) -> McResult:
    from capacity.overload import load_ratios

    inp = plan.inputs
    months = tuple(m["month"] for m in reps[0]["months"]) if reps else ()
    slo = scn.capacity.wait_p95_slo_s if scn.capacity else {}
    ratios = load_ratios(plan)
    # the longest wait a measured job can show: submitted at the warm-up's end, never started
    bound = max((float(r["window_s"]) - float(r["warmup_s"]) for r in reps if "window_s" in r), default=math.nan)
    waits: dict[str, dict[str, list[Any]]] = {}
    p95: dict[tuple[int, str], float] = {}
    p95_sim: dict[tuple[int, str], float] = {}
    censored: dict[tuple[int, str], bool] = {}
    for d in inp.divisions:
        row: dict[str, list[Any]] = {k: [] for k in ("p50_mean", "p50_lo", "p50_hi", "p95_mean", "p95_lo", "p95_hi", "censored")}
        for j, m in enumerate(months):
            over = ratios[d][m] >= 1.0
            for q in ("p50", "p95"):
                mean, lo, hi = _ci(r["months"][j]["divisions"][d][f"{q}_s"] for r in reps)
                if q == "p95":
                    p95_sim[m, d] = mean
                if over:  # censored at the window: never the (short, or zero) wait of the window alone
                    mean, lo, hi = (_at_least(v, bound) for v in (mean, lo, hi))
                row[f"{q}_mean"].append(mean)
                row[f"{q}_lo"].append(lo)
                row[f"{q}_hi"].append(hi)
            censored[m, d] = over or any(bool(r["months"][j]["divisions"][d].get("censored")) for r in reps)
            row["censored"].append(censored[m, d])
            p95[m, d] = row["p95_mean"][-1]
        waits[d] = row
    misses = []
    status: dict[str, list[str]] = {d: [] for d in inp.divisions}
    for m in range(inp.horizon):
        for d in inp.divisions:
            ratio = ratios[d][m]
            sim = p95.get((m, d))
            reason = None
            if ratio >= 1.0:
                reason = "overloaded"
            elif sim is not None and d in slo and sim > slo[d]:
                reason = "wait"
            status[d].append({None: "met" if sim is not None else "unchecked", "wait": "missed",
                              "overloaded": "overloaded"}[reason])  # fmt: skip
            if reason is not None:
                misses.append({"month": m, "date": inp.months[m].isoformat(), "division": d, "p95_s": sim,
                               "p95_censored": bool(censored.get((m, d), False)), "p95_simulated_s": p95_sim.get((m, d)),
                               "slo_s": slo.get(d), "reason": reason, "load_ratio": _finite(ratio),
                               "simulated": sim is not None})  # fmt: skip
    finish = [r["hero"]["finish_month_frac"] if r["hero"] else None for r in reps]
    hero_finish: dict[str, Any] = {}
    hero_ettr: dict[str, float] = {}
    if inp.hero is not None and reps:
        done = np.array([f for f in finish if f is not None], dtype=float)
        to_date = lambda f: _month_frac_date(plan, float(f)).isoformat()  # noqa: E731
        if done.size:
            hero_finish = {"p50": to_date(np.percentile(done, 50)), "lo": to_date(np.percentile(done, 5)),
                           "hi": to_date(np.percentile(done, 95))}  # fmt: skip
        hero_finish["finished_fraction"] = done.size / len(reps)
        if inp.hero.target_finish_date is not None:
            on_time = sum(1 for f in finish if f is not None and _month_frac_date(plan, f) <= inp.hero.target_finish_date)
            hero_finish["on_time_fraction"] = on_time / len(reps)
        mean, lo, hi = _ci(r["hero"]["ettr"] for r in reps)
        hero_ettr = {"mean": mean, "lo": lo, "hi": hi}
    return McResult(months=months, waits=waits, slo_misses=misses, hero_finish_months=finish,
                    hero_finish=hero_finish, hero_ettr=hero_ettr, computed=computed, cached=cached,
                    replications=reps, load_ratio={d: [_finite(v) for v in ratios[d]] for d in inp.divisions},
                    slo_status=status)  # fmt: skip


def _at_least(v: float, bound: float) -> float:
    """``max(v, bound)``, NaN-safe (a missing or NaN figure becomes ``bound``)."""
    if math.isnan(bound):
        return v
    return v if (math.isfinite(v) and v >= bound) else bound


def _finite(v: float) -> float | None:
    """``v``, or None where it is infinite (JSON has no infinity)."""
    return None if math.isinf(v) else float(v)


def _month_frac_date(plan: Plan, f: float):  # noqa: ANN202 - returns datetime.date
    import datetime as dt

    inp = plan.inputs
    m = min(int(f), inp.horizon - 1)
    days = inp.month_hours[m] / 24.0
    return inp.months[m] + dt.timedelta(days=(f - m) * days)
