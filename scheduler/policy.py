"""The policy protocol and the one registry of policies.

A policy turns one snapshot into one decision::

    policy = make_policy("milp", time_limit_s=2.0)
    decision = policy.schedule(view, pending, running, now_s)

``POLICIES`` maps names to classes and feeds the CLI's ``--policy`` choices. Policies
register themselves with :func:`register_policy`; :mod:`scheduler` imports all built-in ones
(``milp`` default, ``fifo``, ``backfill``, ``fairshare``). Policies may keep a small cache
between rounds (e.g. the MILP skips the solver when the model is unchanged), but the same
input always gives the same decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from scheduler.errors import SchedulerInputError
from scheduler.types import ClusterView, Decision, PendingJob, RunningJob

__all__ = ["DEFAULT_POLICY", "POLICIES", "Policy", "make_policy", "policy_names", "register_policy"]

DEFAULT_POLICY = "milp"


@runtime_checkable
class Policy(Protocol):
    """A scheduling policy."""

    name: str

    def schedule(
        self,
        view: ClusterView,
        pending: Sequence[PendingJob],
        running: Sequence[RunningJob],
        now_s: float,
    ) -> Decision:
        """Decide which pending jobs start where and which running jobs are preempted.

        Parameters
        ----------
        view : ClusterView
            Free healthy GPUs per node, topology, division entitlements and usage.
        pending, running : sequences of PendingJob, RunningJob
        now_s : float
            Simulation (or wall) time in seconds.
        """
        ...


POLICIES: dict[str, type] = {}
"""Registry: policy name -> class (constructor takes keyword options only)."""

_T = TypeVar("_T", bound=type)


def register_policy(name: str) -> Callable[[_T], _T]:
    """Class decorator adding a policy class to :data:`POLICIES` under ``name``."""

    def deco(cls: _T) -> _T:
        if name in POLICIES and POLICIES[name] is not cls:
            raise ValueError(f"policy {name!r} registered twice")
        POLICIES[name] = cls
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return deco


def _load_builtin() -> None:
    import scheduler.baselines
    import scheduler.milp  # noqa: F401  (registers milp)


def policy_names() -> list[str]:
    """Registered policy names, default first then alphabetical."""
    _load_builtin()
    return sorted(POLICIES, key=lambda n: (n != DEFAULT_POLICY, n))


def make_policy(name: str = DEFAULT_POLICY, **options: Any) -> Policy:
    """Build a policy by name.

    Raises
    ------
    SchedulerInputError
        Unknown name (the message lists the choices) or unknown option.
    """
    _load_builtin()
    cls = POLICIES.get(name)
    if cls is None:
        raise SchedulerInputError(
            f"unknown policy {name!r}; choices: {', '.join(policy_names())}"
        )
    try:
        return cls(**options)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise SchedulerInputError(f"policy {name!r}: bad options {sorted(options)}: {exc}") from None
