"""One scheduling round on a live Slurm cluster: read, build the snapshot, decide, plan actions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from colossus.adapters.slurm.actions import ActionPlan, plan_actions
from colossus.adapters.slurm.snapshot import DivisionSpec, LiveSnapshot, build_snapshot
from colossus.adapters.slurm.state import SlurmRunner, SlurmState, read_state
from scheduler import ClusterView, Decision, PendingJob, RunningJob, check_decision, parse_snapshot
from traces.importers.divisions import DivisionMap

__all__ = ["LiveRound", "live_round"]


@dataclass(frozen=True, kw_only=True, slots=True)
class LiveRound:
    """Everything one round produced, for printing and applying."""

    state: SlurmState
    live: LiveSnapshot
    view: ClusterView
    pending: list[PendingJob]
    running: list[RunningJob]
    decision: Decision
    plan: ActionPlan


def live_round(runner: SlurmRunner, divisions: Sequence[DivisionSpec], policy: Any, *, nodes_per_pool: int = 64,
               dmap: DivisionMap | None = None, source: str = "auto") -> LiveRound:
    """Read the cluster with ``runner``, run ``policy`` on its snapshot, and plan the Slurm actions."""
    state = read_state(runner, source=source)
    live = build_snapshot(state, divisions, nodes_per_pool=nodes_per_pool, dmap=dmap)
    view, pending, running, now_s = parse_snapshot(live.snapshot, "<live Slurm snapshot>")
    decision = policy.schedule(view, pending, running, now_s)
    check_decision(view, pending, running, decision)
    plan = plan_actions(live, view, pending, decision)
    return LiveRound(state=state, live=live, view=view, pending=pending, running=running, decision=decision, plan=plan)
