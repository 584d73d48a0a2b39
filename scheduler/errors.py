"""Errors raised by :mod:`scheduler`.

:class:`SchedulerInputError` means bad input (the CLI prints one line and exits 2);
:class:`DecisionError` means a decision breaks an invariant (a bug, or a bad policy plug-in).
"""

from __future__ import annotations

__all__ = ["DecisionError", "SchedulerInputError"]


class SchedulerInputError(ValueError):
    """Bad user input: the message is one line that names the file and the key, row or column."""


class DecisionError(AssertionError):
    """A decision breaks an invariant (double allocation, over-allocation, partial gang...)."""
