r"""The MILP's objective: what a start is worth, what packing and preemption cost.

Every figure is in *value units*: one unit is one GPU started now by a fresh job (wait 0) of
the lowest priority. Weights and their defaults (:class:`MilpWeights`; a scenario sets them in
its ``[scheduler]`` section, validated there):

``w_wait`` (1.0)
    Extra value per GPU per unit of *relative wait* ``r = wait / target``, where ``target`` is
    the job's division's wait target (``wait_targets_s``: a division's ``wait_p95_slo_s``, or
    ``default_wait_target_s``, 3600 s). A job waiting one target has value 2 per GPU instead of
    1, so old jobs outbid new ones of any size and are not starved.
``wait_cap`` (8.0)
    ``r`` is capped here (a job 100 targets late is not worth 100x; it keeps the lead anyway).
``w_job`` (0.5)
    Value per *job* started (not per GPU): among equally old jobs, more starts beat one big
    start -- what the per-job wait metrics reward. Small against the wait term, so a big job
    one target late outbids fresh small ones.
``w_priority`` (0.5), ``w_division`` (0.25)
    Per GPU: the job's priority rank scaled to [0, 1], and its division's weight over the
    largest weight.
``w_guarantee`` (10.0)
    Per GPU started inside its division's unused guarantee (``q_d``): a division below its
    guarantee with work waiting outbids one above it.
``w_frag_node`` (0.5), ``w_frag_array`` (8.0)
    Packing cost per whole free node / whole free 512-GPU array that sub-node / sub-array jobs
    break up (linear: GPUs of such jobs beyond the free GPUs already in partly used nodes /
    arrays, over 8 / 512). At most 0.08 per GPU, so a job that fits always adds value (work
    conservation) while ties go to placements that keep whole nodes and arrays for gang jobs.
``preempt_base`` (2.0), ``preempt_per_gpu_h`` (4.0), ``preempt_lost_cap_s`` (1800 s)
    Cost per GPU of preempting a running job: ``preempt_base + preempt_per_gpu_h * L / 3600``
    with ``L`` the work it loses: its ``restart_cost_s`` plus the run time since its start, at
    most ``preempt_lost_cap_s`` (an ASSUMPTION for the unknown time since its last checkpoint).
    Preemption only frees GPUs for starts inside a guarantee, so it pays when
    ``w_guarantee + value of the start > cost`` -- a restart that loses more than about two
    hours of work never pays.
``preempt_after`` (1.0)
    A division below its guarantee may preempt only when one of its waiting jobs has waited
    at least this many wait targets (preemption is for starving guarantees, not for speed).
``reserve_after`` (0.25)
    A big gang job (``>= reserve_min_gpus``) gets a reservation once it has waited this many
    wait targets; the most overdue one, priority order breaking ties. Before that it competes
    on value like any job, so reservations do not idle capacity for jobs that are not late.

The hero run is worth 1 more per GPU, is never preempted and is placed as today.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["DEFAULT_WAIT_TARGET_S", "MilpWeights", "relative_wait", "wait_bucket"]

DEFAULT_WAIT_TARGET_S = 3600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class MilpWeights:
    """Weights of the MILP objective (see the module docstring for meaning and defaults)."""

    w_wait: float = 1.0
    wait_cap: float = 8.0
    w_job: float = 0.05
    w_priority: float = 0.1
    w_division: float = 0.0
    w_fairshare: float = 0.0
    w_guarantee: float = 10.0
    w_frag_node: float = 0.5
    w_frag_array: float = 8.0
    preempt_base: float = 2.0
    preempt_per_gpu_h: float = 4.0
    preempt_lost_cap_s: float = 21600.0
    preempt_after: float = 2.0
    reserve_after: float = 4.0
    default_wait_target_s: float = DEFAULT_WAIT_TARGET_S
    wait_targets_s: Mapping[str, float] = field(default_factory=dict)
    """Division name -> wait target, s (divisions not named use ``default_wait_target_s``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "wait_targets_s":
                continue
            v = getattr(self, f.name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"MilpWeights.{f.name}: must be a finite number >= 0, got {v!r}")
        if self.default_wait_target_s <= 0:
            raise ValueError("MilpWeights.default_wait_target_s: must be > 0")
        if self.w_frag_node / 8.0 + self.w_frag_array / 512.0 >= 1.0:
            raise ValueError("MilpWeights: w_frag_node/8 + w_frag_array/512 must stay below 1 (a start must add value)")
        for k, v in self.wait_targets_s.items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"MilpWeights.wait_targets_s[{k!r}]: must be a finite number > 0, got {v!r}")

    def targets(self, division_names: list[str]) -> np.ndarray:
        """(n_divisions,) wait target per division, s."""
        return np.array([float(self.wait_targets_s.get(n, self.default_wait_target_s)) for n in division_names])


def relative_wait(now_s: float, submit_s: np.ndarray, target_s: np.ndarray, cap: float) -> np.ndarray:
    """``min(cap, max(0, now - submit) / target)`` per job."""
    return np.minimum(cap, np.maximum(0.0, now_s - submit_s) / target_s)


def wait_bucket(r: np.ndarray) -> np.ndarray:
    """Geometric bucket of relative waits: 0 below 1/8, then one per doubling (1/8, 1/4, ... 8+).

    Jobs are aggregated per bucket, so a type's value (its jobs' mean relative wait) is within
    a factor 2 of each member's: the aggregation keeps ``O(types)`` columns.
    """
    with np.errstate(divide="ignore"):
        b = np.floor(np.log2(np.maximum(r, 1e-12) * 8.0)) + 1.0
    return np.clip(b, 0, 8).astype(np.int64)
