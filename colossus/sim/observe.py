"""Observation inside the simulation: time-series sampling and the debug-mode conservation checks.

A mixin of :class:`colossus.sim.engine._Sim` (it reads the loop's state).
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np

__all__ = ["ObserveMixin", "SimulationError", "StopSimulation"]


class SimulationError(AssertionError):
    """A conservation check failed in debug mode (a bug, not bad input)."""


class StopSimulation(Exception):  # noqa: N818 - a signal, not an error
    """Raised by the sampler when the run's ``stop()`` says so; the run ends at ``args[0]`` s."""


class ObserveMixin:
    """Sampling and checks of the simulation loop."""

    sc: Any
    env: Any
    cl: Any

    def sampler(self):
        dt = self.sc.simulation.sample_interval_s
        k = 0
        freeze = gc.isenabled()
        while True:
            self.sample()
            if freeze:  # jobs and records live to the end: keep full collections off them
                gc.freeze()
            if self.progress is not None:
                self.progress(self.env.now / 86400.0, self.horizon_s / 86400.0, self.n_submitted)
            if self.stop is not None and self.stop():
                raise StopSimulation(self.env.now)
            k += 1
            t = k * dt
            if t >= self.horizon_s:
                return
            yield self.env.timeout(t - self.env.now)

    def _track_capacity(self) -> None:
        """Integrate allocated and healthy GPU-seconds (for the conservation check)."""
        now = self.env.now
        dt = now - self.last_check_t
        if dt > 0:
            self.alloc_gpu_s_check += dt * self.last_alloc_total
            self.healthy_gpu_s_check += dt * self.last_healthy_total
            self.last_check_t = now
        self.last_alloc_total = self.alloc_total
        self.last_healthy_total = self.cl.gpus_healthy()

    def sample(self) -> None:
        cl = self.cl
        now = self.env.now
        sc = self.sc
        day = now / 86400.0
        online = cl.online_by_sku()
        pw = self.power
        pw.advance(now)
        pend_div = np.zeros(len(self.div_names), dtype=np.int64)
        for j in self.pending.values():
            pend_div[j.div_idx] += j.num_gpus
        hero = self.hero
        row: dict[str, Any] = {
            "time_s": float(now), "day": day, "gpus_online": int(online.sum()),
            "gpus_healthy": cl.gpus_healthy(), "gpus_allocated": int(self.div_alloc.sum()),
            "pending_jobs": len(self.pending), "pending_gpus": int(pend_div.sum()),
            "running_jobs": len(self.running), "power_mw": float(pw.draw_mw),
            "grid_cap_mw": float(sc.grid_mw(day)), "available_mw": float(pw.available_mw()),
            "battery_soc_mwh": float(pw.soc_mwh),
            "hero_gpus": int(hero.alloc_gpus) if hero is not None and not hero.missing_nodes else 0,
            "hero_progress": float((hero.work_saved + hero.inflight_work(now)) / hero.work_total) if hero is not None else 0.0,
        }
        for i, name in enumerate(self.div_names):
            row[f"allocated_gpus.{name}"] = int(self.div_alloc[i])
        for i, name in enumerate(self.div_names):
            row[f"pending_gpus.{name}"] = int(pend_div[i])
        self.sink.sample(row)
        self.sample_t.append(float(now))
        self.sample_online.append(row["gpus_online"])
        self.events += 1

    def check(self) -> None:
        """Conservation checks (debug mode): raise :class:`SimulationError` on any violation."""
        cl = self.cl
        gpn = cl.gpus_per_node
        alloc = np.zeros(cl.num_nodes, dtype=np.int64)
        for job in self.running.values():
            if job.nodes is None:
                continue
            if np.unique(job.nodes).size != job.nodes.size:
                raise SimulationError(f"job {job.job_id}: a node appears twice in its allocation")
            alloc[job.nodes] += job.gpus
            if job.alloc_gpus != int(job.gpus.sum()):
                raise SimulationError(f"job {job.job_id}: GPU count out of step")
            if not (cl.healthy[job.nodes].all() and cl.online[job.nodes].all()):
                raise SimulationError(f"job {job.job_id}: holds a failed or offline node")
        if not np.array_equal(alloc, cl.alloc_gpus):
            raise SimulationError("per-node allocation differs from the jobs' allocations")
        if alloc.max(initial=0) > gpn:
            raise SimulationError("a node has more GPUs allocated than it has")
        for job in self.running.values():
            if job.nodes is not None:
                for n in job.nodes[job.gpus == gpn].tolist():
                    if len(cl.node_jobs[n]) != 1:
                        raise SimulationError(f"node {n} is owned by two jobs")
        if int(alloc.sum()) > cl.gpus_healthy():
            raise SimulationError("allocated GPUs exceed healthy capacity")
        if int(self.div_alloc.sum()) != int(alloc.sum()) or self.alloc_total != int(alloc.sum()):
            raise SimulationError("division usage differs from allocations")
        if cl.gpus_healthy() != int(np.count_nonzero(cl.online & cl.healthy)) * gpn:
            raise SimulationError("cached healthy GPU count is stale")
        pw = self.power
        expect_mw = float(pw.idle_mw @ cl.online_by_sku() + pw.busy_delta_mw @ cl.allocated_by_sku())
        if abs(pw.draw_mw - expect_mw) > 1e-6 * max(1.0, expect_mw):
            raise SimulationError(f"facility draw {pw.draw_mw:.6f} MW differs from the allocations' {expect_mw:.6f} MW")
        self._track_capacity()
        if self.alloc_gpu_s_check > self.healthy_gpu_s_check + 1e-6:
            raise SimulationError("allocated GPU-seconds exceed healthy capacity x time")
        states = {"pending": self.pending, "running": self.running}
        for name, d in states.items():
            for job in d.values():
                if job.state != name:
                    raise SimulationError(f"job {job.job_id}: in the {name} set but state {job.state}")
        if len(set(self.pending) & set(self.running)):
            raise SimulationError("a job is both pending and running")
