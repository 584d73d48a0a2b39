"""Errors that mean "bad input" (exit code 2 at the CLI), as opposed to internal errors."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input: the message is one line that names the file and the key, row or column."""
