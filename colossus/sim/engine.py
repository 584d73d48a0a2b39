"""The SimPy model of the supercluster: :func:`simulate`.

SimPy processes: arrivals (streamed from the job iterator, one timeout per arrival), the hero
submission, scheduling rounds (requested by arrivals, completions, failures and repairs, at most
one per ``scheduler.min_interval_s``, plus a periodic ``scheduler.round_s`` tick while jobs wait;
a requested round is skipped when nothing that could change the decision happened, see
``_Sim._round_useful``),
job completions (one timeout per run segment; stale ones are ignored by epoch), one superposed
failure process for the whole fleet (thinning over every node of every phase), repairs, phases
coming online, grid-cap steps, and time-series sampling. Cluster state lives in NumPy arrays
(:mod:`colossus.sim.cluster`); site power and the battery in :mod:`colossus.sim.power`; the hero
run's spares and regrowth in :mod:`colossus.sim.hero`; sampling and debug checks in
:mod:`colossus.sim.observe`.

A round first asks :func:`scheduler._round.admit_if_all_fit` whether every pending job fits now
(policies with ``all_fit_fast_path``: milp, fifo, backfill); that is exactly what the policy
would decide then, at a cost independent of the running jobs. Otherwise the policy runs on the
full snapshot. Starts are then gated on power (highest priority first) when
``power.enforce_cap`` is on.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from colossus.errors import InputError
from colossus.scenario.types import Scenario
from colossus.sim.cluster import SECONDS_PER_YEAR, build_cluster
from colossus.sim.hero import HERO_PRIORITY, HeroMixin
from colossus.sim.jobs import (
    SimJob,
    checkpoint_cost_s,
    checkpoint_interval_s,
    iter_job_records,
    model_params,
    throughput_fn,
)
from colossus.sim.observe import ObserveMixin, SimulationError, StopSimulation
from colossus.sim.power import PowerState
from colossus.sim.results import Results
from colossus.sim.rounds import RoundsMixin
from colossus.sim.running import RunningSet
from colossus.sim.sink import ResultSink
from colossus.sim.tables import build_results, job_row
from colossus.streams import Streams
from scheduler.types import PendingJob, RunningJob

__all__ = ["SimulationError", "resolve_policy", "simulate"]

_FALSE_FIX_REFAIL_S = 86400.0  # ASSUMPTION: a falsely fixed node fails again within a day (uniform)


def resolve_policy(policy: Any, scenario: Scenario) -> tuple[Any, str | None]:
    """A policy object for ``policy`` (a registered name or an object); the note is always None.

    ``milp`` gets the scenario's solver settings. Unknown names raise
    :class:`scheduler.errors.SchedulerInputError` (bad input); import errors surface.
    """
    if not isinstance(policy, str):
        return policy, None
    from scheduler.policy import make_policy

    if policy == "milp":
        pol = make_policy(policy, **scenario.milp_options())
    else:
        pol = make_policy(policy)
    # the simulation never reads explanations and tries the all-fit fast path itself; a
    # registered policy without these switches is left as it is
    for switch in ("explain", "try_all_fit"):
        if hasattr(pol, switch):
            setattr(pol, switch, False)
    return pol, None


def _may_preempt(policy: Any) -> bool:
    """Whether ``policy`` may preempt: its ``preemption`` attribute; the baselines never do."""
    flag = getattr(policy, "preemption", None)
    if flag is not None:
        return bool(flag)
    from scheduler.baselines import BackfillPolicy, FairsharePolicy, FifoPolicy

    return not isinstance(policy, (FifoPolicy, BackfillPolicy, FairsharePolicy))


class _Sim(HeroMixin, ObserveMixin, RoundsMixin):
    """One run: state and SimPy callbacks (internal)."""

    def __init__(self, scenario: Scenario, policy: Any, seed: int, horizon_s: float, debug: bool,
                 progress: Callable[[float, float, int], None] | None, sink: ResultSink,
                 stop: Callable[[], bool] | None = None) -> None:
        self.sc = scenario
        self.sink = sink
        self.stop = stop
        self.policy = policy
        self.horizon_s = float(horizon_s)
        self.debug = debug
        self.progress = progress
        self.streams = Streams(seed)
        self.rng_fail = self.streams.get("failures")
        self.rng_repair = self.streams.get("repairs")
        self.cl = build_cluster(scenario, self.streams.get("lemons"))
        self.env = simpy.Environment()
        self.div_names = [d.name for d in scenario.divisions]
        self.div_index = {n: i for i, n in enumerate(self.div_names)}
        self.div_alloc = np.zeros(len(self.div_names), dtype=np.int64)
        self.alloc_total = 0  # == div_alloc.sum(), kept as an int (checked in debug mode)
        self.div_decayed = np.zeros(len(self.div_names), dtype=np.float64)
        self.decay_t = 0.0
        # only live jobs are held: a completed job's row goes to the sink and the job is dropped
        self.n_submitted = 0
        self.live: dict[int, SimJob] = {}  # by submit index, in submit order
        self.job_by_id: dict[str, SimJob] = {}
        self.pending: dict[int, SimJob] = {}
        self.running: dict[int, SimJob] = {}
        self.run_cols = RunningSet(self.div_names)  # the same jobs as columns, for full rounds
        self.hero: SimJob | None = None
        self.tps = throughput_fn(scenario)
        f = scenario.failures
        self.fail_rate_gpu_s = f.total_per_gpu_year / SECONDS_PER_YEAR if f.enabled else 0.0
        comp = sorted(f.rates_per_gpu_year.items())
        self.comp_names = [c for c, _ in comp]
        w = np.asarray([r for _, r in comp], dtype=np.float64)
        self.comp_p = w / w.sum() if w.sum() > 0 else None
        self.failures_by_comp: dict[str, int] = {c: 0 for c in self.comp_names}
        self.n_failures = 0
        self.events = 0
        self.round_pending = False
        self.last_round_s = -math.inf
        # what happened since the last round that ran (a round with none of these is skipped)
        self.new_arrivals = False
        self.new_capacity = False
        self.force_round = False
        self.may_preempt = _may_preempt(policy)
        self.fast_path = bool(getattr(policy, "all_fit_fast_path", False))
        self.policy_name = str(getattr(policy, "name", type(policy).__name__))
        self.rounds_skipped = 0
        self.n_rounds = 0
        self.n_fallbacks = 0
        self.solver_total_s = 0.0
        self.round_wall_s = 0.0
        self.sample_t: list[float] = []  # sample times and GPUs online (the online GPU-hours integral)
        self.sample_online: list[int] = []
        self.alloc_gpu_s_check = 0.0
        self.healthy_gpu_s_check = 0.0
        self.last_check_t = 0.0
        self.last_alloc_total = 0
        self.last_healthy_total = self.cl.gpus_healthy()
        self.power = self._power_state()
        self.ckpt_costs: dict[str, float] = {}
        self._ent: tuple[list[int], list[int], list[int]] = ([], [], [])
        self._ent_online = -1

    # -- helpers -----------------------------------------------------------------------------
    def _power_state(self) -> PowerState:
        sc, cl = self.sc, self.cl
        busy = np.array([sc.facility_mw_per_gpu(k, True) for k in cl.sku_names], dtype=np.float64)
        idle = np.array([sc.facility_mw_per_gpu(k, False) for k in cl.sku_names], dtype=np.float64)
        p = sc.power
        steps = sorted((sc.day_of(g.date) * 86400.0, g.mw) for g in p.grid)
        ps = PowerState(busy_delta_mw=busy - idle, idle_mw=idle, grid_t_s=[t for t, _ in steps],
                        grid_mw=[mw for _, mw in steps], battery_mw=p.battery_mw, battery_mwh=p.battery_mwh,
                        enforce=p.enforce_cap, soc_mwh=p.battery_mwh)
        ps.change(0.0, float(idle @ cl.online_by_sku()))
        return ps

    def request_round(self) -> None:
        if self.round_pending:
            return
        self.round_pending = True
        now = self.env.now
        t = max(now, self.last_round_s + self.sc.scheduler.min_interval_s)
        self.env.timeout(t - now).callbacks.append(self._round_cb)

    def _configure(self, job: SimJob) -> None:
        ck = self.sc.checkpoint
        if job.ckpt:
            mtti = 1.0 / (self.fail_rate_gpu_s * job.num_gpus) if self.fail_rate_gpu_s > 0 else math.inf
            job.ckpt_cost_s = self._ckpt_cost(job.model)
            job.ckpt_interval_s = checkpoint_interval_s(ck, mtti, job.ckpt_cost_s)
            # a trace duration is measured wall time and already holds the job's own checkpoint
            # stalls: only work_tokens jobs pay them on top of their progress
            job.ckpt_stall_s = job.ckpt_cost_s if job.work_tokens is not None else 0.0
            job.restart_s = ck.restart_s
        job.pending_obj = PendingJob(
            job_id=job.job_id, division=job.division, num_gpus=job.num_gpus, kind=job.kind,
            priority=HERO_PRIORITY if job.is_hero else job.priority,
            preemptible=job.preemptible and not job.is_hero, min_gpus=job.min_gpus,
            submit_time_s=job.submit_s, expected_duration_s=job.estimate_s(), is_hero=job.is_hero,
            restart_cost_s=job.restart_s)

    def _ckpt_cost(self, model: Any) -> float:
        key = str(model) if model else ""
        c = self.ckpt_costs.get(key)
        if c is None:
            c = self.ckpt_costs[key] = checkpoint_cost_s(self.sc.checkpoint, model_params(key or None))
        return c

    def _rate(self, job: SimJob, gpus: int) -> float:
        if job.work_tokens is None:
            return 1.0
        sku = self.sc.hero.sku if (job.is_hero and self.sc.hero) else self.cl.sku_names[int(self.cl.node_sku[job.nodes[0]])]
        if not job.model:
            raise InputError(f"job {job.job_id!r}: work_tokens needs a model")
        return self.tps(str(job.model), sku, max(1, gpus))

    def submit(self, rec: dict[str, Any]) -> None:
        div = self.div_index.get(str(rec["division"]))
        if div is None:
            raise InputError(f"job {rec['job_id']!r}: division {rec['division']!r} is not a division of the scenario "
                             f"(choices: {', '.join(self.div_names)})")
        h = self.sc.hero
        if h is not None and h.enabled and str(rec["job_id"]) == h.name:
            # the scenario's hero run, also in the trace (``colossus trace generate`` writes it):
            # one job, submitted by whichever comes first; the other copy is dropped
            if self.hero is not None and self.hero.job_id == h.name:
                return
            rec = {**rec, "is_hero": True}
        job = SimJob(self.n_submitted, rec, div)
        if job.job_id in self.job_by_id:  # (a job that already completed is no longer held)
            raise InputError(f"job {job.job_id!r}: duplicate job_id in the trace")
        self._configure(job)
        self.n_submitted += 1
        self.live[job.idx] = job
        self.job_by_id[job.job_id] = job
        self.pending[job.idx] = job
        self.new_arrivals = True
        if job.is_hero:
            self.hero = job
        self.request_round()

    # -- processes ---------------------------------------------------------------------------
    def arrivals(self, records: Iterable[dict[str, Any]]):
        env = self.env
        last = 0.0
        for rec in records:
            t = float(rec["submit_time_s"])
            if t >= self.horizon_s:
                break
            if t < last:
                raise InputError(f"job {rec['job_id']!r}: submit_time_s {t} is earlier than the previous job's; traces must be in submit order")
            last = t
            if t > env.now:
                yield env.timeout(t - env.now)
            self.events += 1
            self.submit(rec)

    def ticks(self):
        while True:
            yield self.env.timeout(self.sc.scheduler.round_s)
            if self.hero is not None and self.hero.missing_nodes:
                self.force_round = True
                self.request_round()
            elif self.pending:
                spares = self.sc.hero.hot_spare_nodes if (self.sc.hero and self.hero is not None) else 0
                free = self.cl.gpus_healthy() - self.alloc_total - spares * self.cl.gpus_per_node
                if free > 0 or self.may_preempt:  # time-dependent decisions (runtimes, reservations)
                    self.force_round = True
                    self.request_round()

    def phases(self):
        order = np.argsort(self.cl.phase_start_s, kind="stable")
        for p in order:
            t = float(self.cl.phase_start_s[p])
            if t <= 0:
                continue
            if t >= self.horizon_s:
                return
            yield self.env.timeout(t - self.env.now)
            new = self.cl.node_phase == p
            self.cl.online[new] = True
            self.cl.invalidate()
            self.power.change(self.env.now, float(self.power.idle_mw[self.cl.node_sku[new]].sum()) * self.cl.gpus_per_node)
            self.new_capacity = True
            self.events += 1
            self._track_capacity()
            self.request_round()

    def grid_steps(self):
        """Close the power integral at every grid-cap step (the cap is constant in between)."""
        for step in self.sc.power.grid:
            t = self.sc.day_of(step.date) * 86400.0
            if t <= self.env.now:
                continue
            if t >= self.horizon_s:
                return
            yield self.env.timeout(t - self.env.now)
            self.power.advance(self.env.now)
            self.new_capacity = True
            self.request_round()

    def failures(self):
        if self.fail_rate_gpu_s <= 0 or self.cl.num_nodes == 0:
            return
        cl = self.cl
        cum = np.cumsum(cl.fail_weight)
        total_rate = self.fail_rate_gpu_s * cl.gpus_per_node * float(cum[-1])
        rng = self.rng_fail
        while True:
            yield self.env.timeout(float(rng.exponential(1.0 / total_rate)))
            node = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
            node = min(node, cl.num_nodes - 1)
            comp = self.comp_names[int(rng.choice(len(self.comp_names), p=self.comp_p))]
            if cl.online[node] and cl.healthy[node]:  # thinning: failed/offline nodes cannot fail
                self.fail_node(node, comp)

    # -- state changes -------------------------------------------------------------------------
    def _attach(self, job: SimJob, nodes: np.ndarray, gpus: np.ndarray, dmw: float | None = None) -> None:
        cl = self.cl
        if nodes.size == 1:  # most jobs: scalar updates (same values, no fancy indexing)
            n0, g = int(nodes[0]), int(gpus[0])
            cl.alloc_gpus[n0] += g
            cl.node_jobs[n0].add(job.idx)
        else:
            cl.alloc_gpus[nodes] += gpus
            for n in nodes.tolist():
                cl.node_jobs[n].add(job.idx)
            g = int(gpus.sum())
        job.alloc_pairs = None
        if dmw is None:
            dmw = self.power.job_delta_mw(cl.node_sku[nodes], gpus)
        job.power_mw += dmw
        self.power.change(self.env.now, dmw)
        job.alloc_gpus += g
        self.div_alloc[job.div_idx] += g
        self.alloc_total += g
        if job.nodes is None or job.nodes.size == 0:
            job.nodes, job.gpus = nodes, gpus
        else:
            job.nodes = np.concatenate([job.nodes, nodes])
            job.gpus = np.concatenate([job.gpus, gpus])

    def _detach_all(self, job: SimJob) -> None:
        cl = self.cl
        self.new_capacity = True
        nodes = job.nodes
        if nodes is not None and nodes.size == 1:
            n0 = int(nodes[0])
            cl.alloc_gpus[n0] -= int(job.gpus[0])
            cl.node_jobs[n0].discard(job.idx)
        elif nodes is not None and nodes.size:
            cl.alloc_gpus[nodes] -= job.gpus
            for n in nodes.tolist():
                cl.node_jobs[n].discard(job.idx)
        self.div_alloc[job.div_idx] -= job.alloc_gpus
        self.alloc_total -= job.alloc_gpus
        self.power.change(self.env.now, -job.power_mw)
        job.power_mw = 0.0
        job.alloc_gpus = 0
        job.alloc_pairs = None
        job.nodes = None
        job.gpus = None

    def _detach_node(self, job: SimJob, node: int) -> None:
        cl = self.cl
        self.new_capacity = True
        assert job.nodes is not None and job.gpus is not None
        keep = job.nodes != node
        g = int(job.gpus[~keep].sum())
        dmw = g * float(self.power.busy_delta_mw[cl.node_sku[node]])
        job.power_mw -= dmw
        self.power.change(self.env.now, -dmw)
        cl.alloc_gpus[node] -= g
        cl.node_jobs[node].discard(job.idx)
        job.nodes, job.gpus = job.nodes[keep], job.gpus[keep]
        job.alloc_pairs = None
        job.alloc_gpus -= g
        self.div_alloc[job.div_idx] -= g
        self.alloc_total -= g

    def _start_segment(self, job: SimJob, overhead_s: float) -> None:
        now = self.env.now
        job.epoch += 1
        job.seg_start_s = now
        job.seg_overhead_s = overhead_s
        job.seg_rate = self._rate(job, job.alloc_gpus)
        wall = job.segment_wall_s()
        epoch = job.epoch
        job.seg_end_s = now + wall
        job.running_obj = None  # built when a round needs it (_running_obj)
        self.run_cols.put(job, div=job.div_idx, priority=HERO_PRIORITY if job.is_hero else job.priority,
                          preemptible=job.preemptible and not job.is_hero)
        if now + wall < self.horizon_s + 1.0:
            ev = self.env.timeout(wall)
            ev.callbacks.append(lambda _e, j=job, ep=epoch: self._complete(j, ep))

    @staticmethod
    def _running_obj(job: SimJob) -> RunningJob:
        """The scheduler's view of a running job (built on first use per run segment)."""
        r = job.running_obj
        if r is None:
            r = job.running_obj = RunningJob(
                job_id=job.job_id, division=job.division, num_gpus=job.num_gpus,
                allocation=job.alloc_pairs if job.alloc_pairs is not None
                else tuple(zip(job.nodes.tolist(), job.gpus.tolist(), strict=True)), kind=job.kind,
                priority=HERO_PRIORITY if job.is_hero else job.priority,
                preemptible=job.preemptible and not job.is_hero, start_time_s=job.seg_start_s,
                expected_end_s=job.expected_end_s(), restart_cost_s=job.restart_s, is_hero=job.is_hero)
        return r

    def start(self, job: SimJob, allocation: Any, nodes: np.ndarray, gpus: np.ndarray, dmw: float) -> None:
        """Start ``job`` on ``allocation`` (the same as ``nodes``/``gpus`` arrays), adding ``dmw`` MW."""
        now = self.env.now
        del self.pending[job.idx]
        job.queue_s += now - job.pending_since_s
        restart = job.work_saved > 0 or job.interruptions + job.preemptions > 0
        if math.isnan(job.first_start_s):
            job.first_start_s = now
        job.state = "running"
        self.running[job.idx] = job
        self._attach(job, nodes, gpus, dmw)
        job.alloc_pairs = tuple(allocation)
        self._start_segment(job, job.restart_s if restart else 0.0)

    def _complete(self, job: SimJob, epoch: int) -> None:
        if job.epoch != epoch or job.state != "running":
            return
        self.events += 1
        now = self.env.now
        job.close_segment(now, completed=True)
        job.state = "completed"
        job.end_s = now
        self._detach_all(job)
        del self.running[job.idx]
        self.run_cols.remove(job)
        job.running_obj = None
        # the job is done: its row goes to the sink and the loop drops it
        self.sink.job(job.idx, job_row(job, now))
        del self.live[job.idx]
        del self.job_by_id[job.job_id]
        job.pending_obj = None
        self._track_capacity()
        self.request_round()

    def _requeue(self, job: SimJob, at_s: float) -> None:
        job.state = "pending"
        job.running_obj = None
        job.pending_since_s = at_s
        if job.ckpt is False:
            job.work_saved = 0.0
        self.pending[job.idx] = job
        self.new_arrivals = True

    def interrupt(self, job: SimJob, *, failure: bool) -> None:
        """Stop a running job (failure or preemption), keep its checkpointed work, requeue it."""
        now = self.env.now
        if job.missing_nodes == 0:
            job.close_segment(now, completed=False)
        job.epoch += 1
        job.missing_nodes = 0
        self._detach_all(job)
        del self.running[job.idx]
        self.run_cols.remove(job)
        if failure:
            job.interruptions += 1
        else:
            job.preemptions += 1
        delay = self.sc.repair.detection_s if failure else 0.0
        if delay > 0:
            ev = self.env.timeout(delay)
            ev.callbacks.append(lambda _e, j=job, t=now + delay: self._requeue_later(j, t))
            job.state = "detecting"
        else:
            self._requeue(job, now)

    def _requeue_later(self, job: SimJob, t: float) -> None:
        if job.state == "detecting":
            self._requeue(job, t)
            self.request_round()

    def fail_node(self, node: int, comp: str) -> None:
        self.events += 1
        cl = self.cl
        self.n_failures += 1
        self.failures_by_comp[comp] += 1
        cl.healthy[node] = False
        cl.invalidate()
        for idx in sorted(cl.node_jobs[node]):
            job = self.live[idx]
            if job.is_hero and job is self.hero:
                self._hero_failure(job, node)
            else:
                self.interrupt(job, failure=True)
        r = self.sc.repair
        fix = r.soft_fix_s if self.rng_repair.random() < r.soft_fix_fraction else r.manual_repair_s
        refail = self.rng_repair.random() < r.false_fixed_probability
        ev = self.env.timeout(r.detection_s + fix)
        ev.callbacks.append(lambda _e, n=node, rf=refail: self._repaired(n, rf))
        self._track_capacity()
        self.request_round()

    def _repaired(self, node: int, refail: bool) -> None:
        self.events += 1
        self.cl.healthy[node] = True
        self.cl.invalidate()
        self.new_capacity = True
        if refail and self.fail_rate_gpu_s > 0:
            t = float(self.rng_repair.random()) * _FALSE_FIX_REFAIL_S
            comp = "false_fixed"
            self.failures_by_comp.setdefault(comp, 0)
            ev = self.env.timeout(t)
            ev.callbacks.append(lambda _e, n=node: self.fail_node(n, comp) if self.cl.healthy[n] else None)
        self._track_capacity()
        self.request_round()


def simulate(scenario: Scenario, jobs: Iterable[Any], policy: Any = None, seed: int = 0,
             horizon_s: float | None = None, *, debug: bool = False,
             progress: Callable[[float, float, int], None] | None = None,
             out_dir: str | Path | None = None, stop: Callable[[], bool] | None = None) -> Results:
    """Simulate ``scenario`` running ``jobs`` under ``policy`` until ``horizon_s``.

    Parameters
    ----------
    scenario : Scenario
    jobs : iterable
        pyarrow RecordBatches (trace schema v1, in submit order) or job-record dicts; consumed
        lazily (never held whole). The scenario's hero run is added when ``[hero]`` is enabled.
    policy : str or Policy, optional
        A registered policy name (default: ``scenario.scheduler.policy``) or a policy object.
    seed : int
        Root seed of every random stream (failures, repairs, lemons).
    horizon_s : float, optional
        Simulated seconds (default ``scenario.simulation.days`` days).
    debug : bool
        Check every decision and the conservation invariants every round (slow).
    progress : callable, optional
        Called ``progress(day_done, days_total, jobs_submitted)`` at every time-series sample.
    out_dir : path, optional
        Stream the results to this folder as the run goes (memory then holds only live jobs).
        The rows go to a temporary folder beside it that replaces ``out_dir`` when the run ends;
        ``out_dir`` must be new, empty or an earlier results folder. Without it the run does
        no I/O and the tables are returned in memory.
    stop : callable, optional
        Polled at every time-series sample; when it returns True the run ends there and the
        results (``summary["complete"]`` False) cover the run up to that time.

    Returns
    -------
    Results
    """
    wall0 = time.perf_counter()
    horizon = float(horizon_s if horizon_s is not None else scenario.simulation.days * 86400.0)
    if not horizon > 0:
        raise InputError(f"horizon must be > 0 s, got {horizon}")
    pol, note = resolve_policy(policy if policy is not None else scenario.scheduler.policy, scenario)
    sink = ResultSink(out_dir)
    try:
        sim = _Sim(scenario, pol, seed, horizon, debug, progress, sink, stop)
        env = sim.env
        env.process(sim.arrivals(iter_job_records(jobs)))
        h = scenario.hero
        if h is not None and h.enabled:
            env.process(sim.hero_process())
        env.process(sim.ticks())
        env.process(sim.phases())
        env.process(sim.grid_steps())
        env.process(sim.failures())
        env.process(sim.sampler())
        # The loop makes almost no cyclic garbage (~1k objects per simulated day), so the sampler
        # moves what exists into the GC's permanent generation each sample (gc.freeze): full
        # collections then scan only new objects (~30 % of the wall time at 200k GPUs otherwise).
        # Objects frozen so are still freed by reference counting when a job ends. Everything is
        # unfrozen when the run ends.
        end, complete = horizon, True
        try:
            env.run(until=horizon)
        except StopSimulation as stopped:
            end, complete = float(stopped.args[0]), False
        finally:
            gc.unfreeze()
        sim._track_capacity()
        if debug:
            sim.check()
        wall = time.perf_counter() - wall0
        return build_results(sim, pol, seed, end, wall, note, complete=complete, horizon_s=horizon)
    except BaseException:
        sink.abort()
        raise
