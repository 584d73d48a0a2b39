"""The Monte Carlo evaluator registry (import-light: the CLI reads it when building ``--help``).

Making ``sim`` the default of ``colossus plan``, :class:`capacity.montecarlo.McConfig` and
``benchmarks/plan.py`` is the one-line change of :data:`DEFAULT_EVALUATOR`.
"""

from __future__ import annotations

__all__ = ["DEFAULT_EVALUATOR", "DEFAULT_MAX_ITERATIONS", "EVALUATORS", "EVALUATOR_DEFAULTS"]

EVALUATORS: tuple[str, ...] = ("queue", "sim")
"""Registered evaluators (:mod:`capacity.evaluators`): ``queue``, a fast FIFO-queue approximation of
the simulation with the first-order hero ETTR; ``sim``, :func:`colossus.sim.simulate` on a window per
checked month, which measures the hero's ETTR that :mod:`capacity.replan` feeds back into a second
MILP pass."""

DEFAULT_EVALUATOR: str = "sim"
"""The evaluator used unless told otherwise: the simulation itself."""

EVALUATOR_DEFAULTS: dict[str, dict[str, float]] = {
    # 16 x 9 half-day windows on 4,096-GPU replicas: see benchmarks/plan.py for the time on memphis
    "sim": {"replications": 16, "check_every_months": 3, "window_days": 0.5},
    "queue": {"replications": 16, "check_every_months": 3, "window_days": 1.0},
}
"""Monte Carlo defaults per evaluator (``colossus plan`` fills options left unset from these)."""

DEFAULT_MAX_ITERATIONS: int = 3
"""Plan-and-check rounds of SLO sizing at most (:mod:`capacity.sizing`); each round is one Monte Carlo run."""
