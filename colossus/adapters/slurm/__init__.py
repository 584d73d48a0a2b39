"""Slurm adapter: a live cluster's state as a scheduler snapshot, a decision as ``scontrol`` actions.

It only runs Slurm's own client commands (``sinfo``, ``squeue``, ``scontrol``); the scheduler
stays pure. Modules: :mod:`.state` (reading nodes and jobs, JSON or ``scontrol -o`` text),
:mod:`.snapshot` (state -> snapshot dict), :mod:`.actions` (decision -> commands, applying them),
:mod:`.live` (one round), :mod:`.localcluster` (a throwaway local Slurm for tests and benchmarks).
"""

from colossus.adapters.slurm.actions import (
    PRIORITY_TOP,
    ActionPlan,
    SlurmAction,
    apply_actions,
    hold_argv,
    plan_actions,
)
from colossus.adapters.slurm.live import LiveRound, live_round
from colossus.adapters.slurm.snapshot import (
    DivisionSpec,
    LiveSnapshot,
    build_snapshot,
    divisions_from_scenario,
)
from colossus.adapters.slurm.state import (
    HOLD_MARK,
    SlurmError,
    SlurmJob,
    SlurmNode,
    SlurmState,
    read_state,
    subprocess_runner,
)

__all__ = [
    "HOLD_MARK",
    "PRIORITY_TOP",
    "ActionPlan",
    "DivisionSpec",
    "LiveRound",
    "LiveSnapshot",
    "SlurmAction",
    "SlurmError",
    "SlurmJob",
    "SlurmNode",
    "SlurmState",
    "apply_actions",
    "build_snapshot",
    "divisions_from_scenario",
    "hold_argv",
    "live_round",
    "plan_actions",
    "read_state",
    "subprocess_runner",
]
