"""The hero run inside the simulation: its submission, hot-spare replacement, shrink and regrow.

A mixin of :class:`colossus.sim.engine._Sim` (it uses the loop's state and helpers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colossus.sim.jobs import SimJob

__all__ = ["HERO_PRIORITY", "HeroMixin"]

HERO_PRIORITY = 1_000_000
"""Scheduling priority of the hero run (above every trace priority)."""


class HeroMixin:
    """Hero-run processes and callbacks of the simulation loop."""

    sc: Any
    env: Any
    cl: Any
    hero: SimJob | None
    horizon_s: float

    def hero_process(self):
        h = self.sc.hero
        assert h is not None
        t = h.start_day * 86400.0
        if t >= self.horizon_s:
            return
        if t > 0:
            yield self.env.timeout(t)
        self.submit({"job_id": h.name, "division": h.division, "num_gpus": h.gpus, "kind": "pretrain",
                     "priority": HERO_PRIORITY, "preemptible": False, "submit_time_s": t,
                     "work_tokens": h.tokens, "model": h.model, "is_hero": True})

    def _hero_failure(self, job: SimJob, node: int) -> None:
        now = self.env.now
        job.interruptions += 1
        if job.missing_nodes == 0:
            job.close_segment(now, completed=False)
        job.epoch += 1
        self._detach_node(job, node)
        h = self.sc.hero
        spare = self.cl.whole_free_nodes()
        overhead = self.sc.repair.detection_s + job.restart_s
        if spare.size and job.missing_nodes == 0:
            n = int(spare[0])
            self._attach(job, np.asarray([n]), np.asarray([self.cl.gpus_per_node]))
            self._start_segment(job, overhead)
        elif h is not None and h.on_failure == "shrink":
            job.missing_nodes = 0
            if job.alloc_gpus > 0:
                self._start_segment(job, overhead)
            else:
                self.interrupt(job, failure=False)
                job.preemptions -= 1
        else:
            job.missing_nodes += 1
            job.running_obj = None

    def _hero_regrow(self) -> None:
        """Give a waiting (or shrunk) hero run free whole nodes back; restart it when whole."""
        job = self.hero
        if job is None or job.state != "running":
            return
        want_nodes = -(-job.num_gpus // self.cl.gpus_per_node) - (job.alloc_gpus // self.cl.gpus_per_node)
        if want_nodes <= 0:
            return
        free = self.cl.whole_free_nodes()
        if free.size == 0:
            return
        take = free[:want_nodes]
        now = self.env.now
        if job.missing_nodes == 0:  # shrunk and running: close the segment before regrowing
            job.close_segment(now, completed=False)
        self._attach(job, take, np.full(take.size, self.cl.gpus_per_node, dtype=np.int64))
        job.missing_nodes = max(0, job.missing_nodes - int(take.size))
        if job.missing_nodes == 0:
            self._start_segment(job, job.restart_s)
