"""scheduler: pure allocation for a GPU supercluster -- a snapshot in, a decision out.

Never imports SimPy or any other package of this distribution.

Quick use::

    from scheduler import make_policy, check_decision
    decision = make_policy("milp").schedule(view, pending, running, now_s)
    check_decision(view, pending, running, decision)   # raises on a broken invariant
"""

__colossus_planner__ = True  # marker checked by the colossus CLI (PyPI has a 'scheduler' too)

from scheduler.baselines import (
    BackfillPolicy,
    FairsharePolicy,
    FifoPolicy,
    decay_usage,
    fairshare_factor,
)
from scheduler.check import apply_decision, check_decision
from scheduler.errors import DecisionError, SchedulerInputError
from scheduler.milp import MilpPolicy
from scheduler.policy import (
    DEFAULT_POLICY,
    POLICIES,
    Policy,
    make_policy,
    policy_names,
    register_policy,
)
from scheduler.snapshot import (
    decision_to_dict,
    load_snapshot,
    parse_snapshot,
    snapshot_schema,
    snapshot_to_dict,
)
from scheduler.types import (
    Allocation,
    ClusterView,
    Decision,
    DivisionState,
    Explanation,
    PendingJob,
    Preemption,
    Reservation,
    RoundRecord,
    RunningJob,
    WaitReason,
)

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "Allocation",
    "BackfillPolicy",
    "ClusterView",
    "Decision",
    "DecisionError",
    "DivisionState",
    "Explanation",
    "FairsharePolicy",
    "FifoPolicy",
    "MilpPolicy",
    "PendingJob",
    "Policy",
    "Preemption",
    "Reservation",
    "RoundRecord",
    "RunningJob",
    "SchedulerInputError",
    "WaitReason",
    "apply_decision",
    "check_decision",
    "decay_usage",
    "decision_to_dict",
    "fairshare_factor",
    "load_snapshot",
    "make_policy",
    "parse_snapshot",
    "policy_names",
    "register_policy",
    "snapshot_schema",
    "snapshot_to_dict",
]
