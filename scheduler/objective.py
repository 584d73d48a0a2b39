r"""The MILP's objective: what a start is worth, what packing and preemption cost.

Every figure is in *value units*: one unit is one GPU started now by a fresh job (wait 0) of
the lowest priority. A pending job ``j`` of division ``d`` is worth, per GPU,

.. math::

    v_j = 1 + w_{wait}\, r_j + w_{priority}\, \mathrm{prio}_j + w_{division}\, \tfrac{w_d}{\max w}
          + w_{fairshare}\, F_d + w_{short}\, \bigl(1 - \min(1, d_j / short\_ref)\bigr) + \mathrm{hero}_j,
    \qquad r_j = \min\bigl(wait\_cap,\ \mathrm{wait}_j / \mathrm{target}_d\bigr)

(``prio`` the priority's rank scaled to [0, 1], ``F_d`` Slurm's fair-share factor
``2**(-U_d/S_d)``, ``d_j`` the job's expected run time -- its time limit, else its trace duration;
no bonus when unknown --, ``hero`` 1 for the hero run), and a start of ``g`` GPUs adds
``g v_j + w_job`` (0.95 ``g v_j`` at an elastic job's minimum shape), plus ``w_guarantee`` per
GPU inside its division's unused guarantee, minus the packing cost; a preemption subtracts its
cost. :mod:`scheduler.milp` has the model.

Weights and their defaults
--------------------------
One entry per field of :class:`MilpWeights`, as ``name = default -- unit``. A scenario sets
them in ``[scheduler.objective]`` (validated by the loader: errors name the key and the file;
the built-in memphis scenario ships exactly these defaults), the wait targets come from
``capacity.wait_p95_slo_s``. tests/scheduler/test_scenario_weights.py parses this list and
checks it against ``MilpWeights()``, so keep the format.

``w_wait`` = 0.25 -- value units per GPU per wait target waited
    Extra value per GPU per unit of *relative wait* ``r = wait / target``, where ``target`` is
    the job's division's wait target (``wait_targets_s``, else ``default_wait_target_s``). A
    job that has waited one target is worth 1.25 per GPU instead of 1: inside a division old
    jobs outbid new ones (of any size once 0.4 targets older, at equal expected run times;
    ``w_short`` lets a job expected to end soon lead by up to 4 targets) and are not starved; across
    divisions the fair-share term leads (a factor gap of 0.25 is worth the capped age, 2 units),
    as under Slurm's fair share. Measured on the policy matrix (benchmarks/policies.py
    --phases 3): at 1.0 (with the order's prefix kept) age overrode fair share between divisions
    and Grok Main/Voice's gang jobs (2 h target, the lowest factor) waited behind the 1 h
    divisions' jobs -- large-job p95 within the goal in 17 of 24 cases; with every start of the
    order kept and ``w_job = 0.1``, 21 at 0.25 (0.1: 21 too, with one contended case fewer
    strictly better). Without age (0; one run, all200k load 1.1 seed 0) gang jobs starved:
    p95 12,834 s against fairshare's 7,483.
``wait_cap`` = 8.0 -- wait targets
    ``r`` is capped here (a job 100 targets late is not worth 100x; it keeps the lead anyway).
    Must be at least ``preempt_after`` and ``reserve_after`` (a capped ``r`` below them would
    silently switch preemption or reservations off; :class:`MilpWeights` rejects it).
``w_job`` = 0.1 -- value units per job started
    Per *job*, not per GPU: among equally old jobs, more starts beat one big start -- what the
    per-job wait metrics reward (0.1 per GPU for a 1-GPU job: 0.4 wait targets). Without it
    (0, with ``w_wait = 0``) the order is Slurm's fair share and the MILP's small-job p95 on
    all200k at load 1.1 seed 0 was fairshare's, 5,756 s, against 57 s at 0.1 (one run each); at
    0.5 a fresh 1-GPU job would outbid its division's gang jobs that have waited 2 targets.
``w_priority`` = 0.1 -- value units per GPU at the top priority rank
    The job's rank among the priorities pending this round, scaled to [0, 1] (lowest 0,
    highest 1). Small: ranks break ties, age decides after 0.4 wait targets.
``w_division`` = 0.0 -- value units per GPU at the largest division weight
    The division's weight over the largest weight. Off: division weights act through the
    guarantees.
``w_fairshare`` = 8.0 -- value units per GPU at a fair-share factor of 1
    Slurm's classic fair-share factor ``2**(-U/S)`` of the job's division (``U`` its share of
    all divisions' decayed usage, ``S`` its share of their guarantees, a division without one
    counting its weight). Factors of divisions differ by 0.2-0.5 under load, worth 1.6-4 units
    per GPU: across divisions the heavy user goes last, as under Slurm's fair share, while
    within a division age decides. Kept below ``w_guarantee``: at 20 a division above its
    guarantee outbid a starving one and the next round preempted it back (the no-reclaim-back
    property test). On the policy matrix (benchmarks/policies.py --phases 3, with the order's
    prefix kept and ``w_wait = 1``) 8 gave large-job p95 within the goal in 17 of 24 cases and
    never-started in 19, against 15 and 17 at 0.
``w_short`` = 1.0 -- value units per GPU of a job expected to end at once
    Shortest expected job first, as a bonus falling linearly from ``w_short`` (expected run time
    0) to 0 at ``short_ref_s`` and beyond: ``w_short * (1 - min(1, d / short_ref_s))``, ``d`` the
    job's ``expected_duration_s`` (its time limit, else the trace's duration; no bonus when
    unknown). A job that ends sooner frees its GPUs sooner: fewer jobs wait behind it (the
    shortest-processing-time rule minimises mean flow time on one machine) and fewer are left
    unstarted at any moment. At 1.0 it is worth 4 wait targets of age (``w_wait``), so a long job
    outbids an otherwise equal short one after at most 4 targets: SJF does not starve it.
    Measured on the policy matrix (benchmarks/policies.py --phases 3, milp's 72 runs against
    the stored baselines): without it (0), large-job p95 within the goal in 21 of 24 cases,
    never started in 23, strictly better than every baseline in 11 of 12 contended cases; at 1
    with ``short_ref_s`` = 8 h, 23, 24 and 12. Other settings, one matrix each: 2 h, 23 and 23;
    2 per GPU at 8 h, 23 and 23; before jobs of a type started in value order, 2 h gave 23 and
    24, 4 h 23 and 23, 3 per GPU at 4 h 23 and 23 (each strictly better in 12 of 12). Planning
    with time limits of 1-4x the run times instead of the run times (``--estimate-x 4``, single
    spacing, the baselines rerun with the same limits): 24 and 22 (12 of 12), against 21 and 22
    (11 of 12) without the bonus.
``short_ref_s`` = 28800.0 -- seconds
    Expected run time at and beyond which a job gets no ``w_short`` bonus. Must be > 0.
``w_guarantee`` = 10.0 -- value units per GPU
    Per GPU started inside its division's unused guarantee (``q_d``): a division below its
    guarantee with work waiting outbids one above it, and only starts inside a *starving*
    guarantee (see ``preempt_after``) may justify a preemption.
``w_frag_node`` = 0.5 -- value units per whole free node broken
    Packing cost for jobs smaller than a node: their GPUs beyond the free GPUs already in partly
    used nodes break whole nodes, at ``w_frag_node / 8`` per GPU of an 8-GPU node (0.0625 at
    the default).
``w_frag_array`` = 8.0 -- value units per whole free 512-GPU array broken
    The same for jobs smaller than an array (a scheduling pool: 512 GPUs on memphis), at
    ``w_frag_array / 512`` per GPU (0.016). Together at most 0.08 per GPU at the defaults, and
    ``w_frag_node/8 + w_frag_array/512 < 1`` is enforced, so a job that fits always adds value
    (work conservation) while ties go to placements that keep whole nodes and arrays for gang
    jobs.
``preempt_base`` = 2.0 -- value units per GPU preempted
    Fixed part of the cost of preempting a running job.
``preempt_per_gpu_h`` = 4.0 -- value units per GPU-hour of lost work
    Cost per GPU of a preemption: ``ceil(preempt_base + preempt_per_gpu_h * L / 3600)``, with
    ``L`` the work the victim loses: its ``restart_cost_s`` plus its run time since its start,
    at most ``preempt_lost_cap_s`` (rounded up to a whole unit so running jobs aggregate into few
    victim types). Preemption only frees GPUs for starts inside a starving guarantee, worth
    ``w_guarantee + v`` per GPU, so at the defaults it pays only while ``L`` is below about
    ``(8 + v) / 4`` hours, ``v`` the best waiting job's value per GPU: about 3.1 (up to 4.1 with
    the ``w_short`` bonus) plus ``w_fairshare`` times its division's fair-share factor for a job
    that has waited ``preempt_after`` (8) targets, so about 2.8-3.0 h at a factor near 0 and
    4.8-5.0 h at 1; a victim
    whose ``L`` reaches ``preempt_lost_cap_s`` (cost 26 or more) is never preempted.
``preempt_lost_cap_s`` = 21600.0 -- seconds
    Run time counted as lost at most (6 h): an ASSUMPTION for the time since the victim's last
    checkpoint, which the scheduler does not know.
``preempt_after`` = 8.0 -- wait targets
    A division below its guarantee may preempt only when one of its waiting jobs has waited
    at least this many wait targets (preemption is for starving guarantees, not for speed).
    At the cap: on the policy matrix (benchmarks/policies.py) earlier preemptions lost more
    work, and re-queued their victims ahead of waiting gang jobs, than they saved in waits.
``reserve_after`` = 8.0 -- wait targets
    A big gang job (``>= reserve_min_gpus``, a policy / ``[scheduler]`` setting) gets an EASY
    reservation once it has waited this many wait targets: the most overdue one, rank order
    breaking ties. Before that it competes on value like any job, so reservations do not idle
    capacity for jobs that are not late. At the cap: on the policy matrix an earlier
    reservation held back every long job for one gang job, which cost more jobs never started
    and more gang-job waits than it saved.
``default_wait_target_s`` = 3600.0 -- seconds
    Wait target of divisions without one in ``wait_targets_s``. Must be > 0.
``wait_targets_s`` = {} -- seconds per division name
    Division name -> wait target (a scenario fills it from ``capacity.wait_p95_slo_s``; memphis:
    2 h for Grok Main/Voice, 1 h for Coding and Macrohard, 4 h for Data).

The other weights must be finite and >= 0. The hero run is worth 1 more per GPU, is never
preempted and is placed as today. Jobs are aggregated into types by wait bucket
(:func:`wait_bucket`), so a type's value (its jobs' mean ``r``) is within a factor 2 of each
member's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["DEFAULT_WAIT_TARGET_S", "MilpWeights", "relative_wait", "short_bonus", "wait_bucket"]

DEFAULT_WAIT_TARGET_S = 3600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class MilpWeights:
    """Weights of the MILP objective (see the module docstring for meaning and defaults)."""

    w_wait: float = 0.25
    wait_cap: float = 8.0
    w_job: float = 0.1
    w_priority: float = 0.1
    w_division: float = 0.0
    w_fairshare: float = 8.0
    w_short: float = 1.0
    short_ref_s: float = 28800.0
    w_guarantee: float = 10.0
    w_frag_node: float = 0.5
    w_frag_array: float = 8.0
    preempt_base: float = 2.0
    preempt_per_gpu_h: float = 4.0
    preempt_lost_cap_s: float = 21600.0
    preempt_after: float = 8.0
    reserve_after: float = 8.0
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
        for key in ("default_wait_target_s", "short_ref_s"):
            if getattr(self, key) <= 0:
                raise ValueError(f"MilpWeights.{key}: must be > 0")
        for key, what in (("preempt_after", "preemption"), ("reserve_after", "reservations")):
            if getattr(self, key) > self.wait_cap:
                raise ValueError(
                    f"MilpWeights.{key}: {getattr(self, key):g} wait targets is above wait_cap ({self.wait_cap:g}); "
                    f"relative waits are capped at wait_cap, so {what} would never happen: "
                    f"lower {key} or raise wait_cap")
        if self.w_frag_node / 8.0 + self.w_frag_array / 512.0 >= 1.0:
            raise ValueError("MilpWeights: w_frag_node/8 + w_frag_array/512 must stay below 1 (a start must add value)")
        for k, v in self.wait_targets_s.items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"MilpWeights.wait_targets_s[{k!r}]: must be a finite number > 0, got {v!r}")

    def targets(self, division_names: list[str]) -> np.ndarray:
        """(n_divisions,) wait target per division, s."""
        return np.array([float(self.wait_targets_s.get(n, self.default_wait_target_s)) for n in division_names])


def short_bonus(duration_s: np.ndarray, ref_s: float) -> np.ndarray:
    """``1 - min(1, d / ref_s)`` per job (0 where ``d`` is NaN: unknown run time)."""
    d = np.asarray(duration_s, dtype=np.float64)
    return np.where(np.isfinite(d), 1.0 - np.minimum(1.0, np.maximum(0.0, d) / ref_s), 0.0)


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
