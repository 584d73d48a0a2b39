"""The Monte Carlo evaluator registry (import-light: the CLI reads it when building ``--help``).

Making ``sim`` the default of ``colossus plan``, :class:`capacity.montecarlo.McConfig` and
``benchmarks/plan.py`` is the one-line change of :data:`DEFAULT_EVALUATOR`.
"""

from __future__ import annotations

__all__ = ["DEFAULT_EVALUATOR", "EVALUATORS"]

EVALUATORS: tuple[str, ...] = ("queue", "sim")
"""Registered evaluators (:mod:`capacity.evaluators`): ``queue``, a fast FIFO-queue approximation of
the simulation with the first-order hero ETTR; ``sim``, :func:`colossus.sim.simulate` on a window per
checked month, which measures the hero's ETTR that :mod:`capacity.replan` feeds back into a second
MILP pass."""

DEFAULT_EVALUATOR: str = "queue"
"""The evaluator used unless told otherwise (``sim`` is too slow for the 120 s budget on memphis yet)."""
