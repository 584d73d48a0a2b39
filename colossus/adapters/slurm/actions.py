"""A scheduler decision as ``scontrol`` commands that make Slurm start jobs in the decided order.

The decided order is: the jobs the policy starts now (in the decision's order), then the jobs it
keeps waiting, by estimated start, then queue order. Each pending job gets a Slurm priority from
that order (``PRIORITY_TOP`` for the first, one less for each next), so Slurm's own main and
backfill passes pick jobs in our order. A waiting job that would fit on the GPUs left free after
the decision's starts is **held** (Slurm would otherwise start it at once, against the policy)
and marked, in one command: ``scontrol update JobId=X AdminComment=colossus-hold Priority=0``
(``Priority=0`` is the admin hold ``scontrol hold`` sends), so no failure can leave a hold without
its mark. The adapter releases only admin holds carrying that mark (``Reason=JobHeldAdmin``; a
user hold is never its own), when a later round starts them or no longer needs the hold:
``scontrol release``, then the mark is cleared (a mark left by a failure in between is cleared by
the next round), then the priority is set again.

Slurm behaviours that limit this, and what the adapter does about them:

- ``scontrol release`` recomputes the job's priority (a priority set earlier is lost): every
  release is followed by a fresh ``Priority=`` update.
- ``scontrol top`` swaps priorities among one user's jobs in a partition, so other jobs move too:
  not used; absolute ``Priority=`` values are set instead.
- An explicitly set priority stays fixed (``priority/multifactor`` stops recomputing it) until the
  next round sets it again.
- Slurm chooses the nodes: the decision's placement is not imposed, only which jobs start and in
  what order. Slurm's backfill may still start a lower-ranked job that fits into a gap before the
  next round (EASY backfill does the same); jobs the policy wants waiting *now* are held so it
  cannot.
- Holds are lifted only by a later round: run ``colossus schedule --slurm --apply`` again (or
  with ``--every S``) so held jobs start when their turn comes.
- No preemption through Slurm: running jobs are given to the policy as not preemptible, so the
  decision never preempts; a preemption would be reported and ignored.
- Jobs that end or start between reading the state and applying an action make that action fail
  ("already finished", "not pending"): reported and skipped, the rest still run.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from colossus.adapters.slurm.snapshot import LiveSnapshot
from colossus.adapters.slurm.state import HOLD_MARK, SlurmError, SlurmRunner
from scheduler import ClusterView, Decision, PendingJob, WaitReason

__all__ = ["PRIORITY_TOP", "ActionPlan", "ActionResult", "SlurmAction", "apply_actions", "hold_argv", "plan_actions"]

PRIORITY_TOP = 4_294_967_000
"""Priority of the first job in the decided order: above priority/basic's automatic values
(which count down from 4,294,901,759), below Slurm's infinite (2**32 - 1)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SlurmAction:
    """One Slurm command, with the job it acts on and why."""

    job_id: str
    argv: tuple[str, ...]
    why: str

    @property
    def shell(self) -> str:
        """The command as a user would type it."""
        return shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionPlan:
    """The decided order and the commands that make Slurm follow it."""

    order: tuple[str, ...]
    """Pending job ids in the decided start order."""
    start_now: tuple[str, ...]
    """Jobs the policy starts this round (a prefix of ``order``)."""
    hold: tuple[str, ...]
    """Jobs held this round (kept waiting although they would fit now)."""
    actions: tuple[SlurmAction, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionResult:
    action: SlurmAction
    ok: bool
    message: str = ""


def hold_argv(job_id: str) -> tuple[str, ...]:
    """The adapter's hold: an admin hold (``Priority=0``) and its mark, in one ``scontrol update``."""
    return ("scontrol", "update", f"JobId={job_id}", f"AdminComment={HOLD_MARK}", "Priority=0")


def _fits(free: np.ndarray, gpn: int, num_gpus: int) -> bool:
    """Whether a job of ``num_gpus`` fits the free GPUs (one node, or whole free nodes)."""
    if num_gpus <= gpn:
        return bool((free >= num_gpus).any())
    return int((free >= gpn).sum()) >= -(-num_gpus // gpn)


def plan_actions(live: LiveSnapshot, view: ClusterView, pending: Sequence[PendingJob], decision: Decision) -> ActionPlan:
    """The ``scontrol`` commands for ``decision`` (pure: nothing runs here)."""
    rank = {j.job_id: i for i, j in enumerate(pending)}
    starts = [j for j in decision.starts if j in rank]
    waiting = sorted((j.job_id for j in pending if j.job_id not in decision.starts),
                     key=lambda jid: (_est(decision, jid), rank[jid]))
    order = starts + waiting
    free = view.free_gpus.copy()
    for alloc in decision.starts.values():
        for n, g in alloc:
            free[n] -= g
    by_id = {j.job_id: j for j in pending}
    hold = []
    for jid in waiting:
        e = decision.explanations.get(jid)
        if e is not None and e.reason == WaitReason.NO_SHAPE:
            continue
        if _fits(free, view.gpus_per_node, by_id[jid].num_gpus):
            hold.append(jid)
    hold_set = set(hold)
    holds: list[SlurmAction] = []
    orders: list[SlurmAction] = []
    for i, jid in enumerate(order):
        sj = live.jobs[jid]
        if jid in hold_set:
            if not sj.held_by_us:
                # one RPC carries the mark and the hold (Priority=0 is what `scontrol hold` sends):
                # no failure can leave an unmarked hold that no later round would release
                why = _why(decision, jid)
                holds.append(SlurmAction(job_id=jid, argv=hold_argv(jid), why=f"keep waiting: {why}"))
            continue
        prio = PRIORITY_TOP - i
        what = "start now" if jid in decision.starts else "wait"
        if sj.held_by_us:
            # release first, then clear the mark: a failure between the two leaves a released job with a
            # stale mark (harmless, cleared below next round), never a hold nobody releases
            orders.append(SlurmAction(job_id=jid, argv=("scontrol", "release", jid), why=f"{what}: its turn has come"))
        if sj.held_by_us or sj.admin_comment == HOLD_MARK:
            orders.append(SlurmAction(job_id=jid, argv=("scontrol", "update", f"JobId={jid}", "AdminComment="),
                                      why="clear the adapter's hold mark"))
        if sj.held_by_us or sj.priority != prio:
            orders.append(SlurmAction(job_id=jid, argv=("scontrol", "update", f"JobId={jid}", f"Priority={prio}"),
                                      why=f"{what}: place {i + 1} of {len(order)}"))
    notes = []
    if decision.preemptions:
        notes.append(f"{len(decision.preemptions)} preemption(s) ignored: no preemption through Slurm")
    return ActionPlan(order=tuple(order), start_now=tuple(starts), hold=tuple(hold), actions=tuple(holds + orders),
                      notes=tuple(notes))


def _est(decision: Decision, jid: str) -> float:
    e = decision.explanations.get(jid)
    return float("inf") if e is None or e.estimated_start_s is None else float(e.estimated_start_s)


def _why(decision: Decision, jid: str) -> str:
    e = decision.explanations.get(jid)
    return "the policy keeps it waiting" if e is None else f"{e.reason}: {e.text}"


_GONE = ("already finished", "invalid job id", "job is no longer pending", "not pending", "already completing",
         "job has already")


def apply_actions(plan: ActionPlan, runner: SlurmRunner) -> list[ActionResult]:
    """Run the plan's commands in order; a job that ended or started meanwhile is skipped, not fatal.

    Raises
    ------
    SlurmError
        A command failed for any other reason (later commands are not run).
    """
    results: list[ActionResult] = []
    gone: set[str] = set()
    for a in plan.actions:
        if a.job_id in gone:
            results.append(ActionResult(action=a, ok=False, message="skipped: job no longer pending"))
            continue
        try:
            runner(a.argv)
        except SlurmError as exc:
            msg = str(exc)
            if any(s in msg.lower() for s in _GONE):
                gone.add(a.job_id)
                results.append(ActionResult(action=a, ok=False, message=msg))
                continue
            raise
        results.append(ActionResult(action=a, ok=True))
    return results
