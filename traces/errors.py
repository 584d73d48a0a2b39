"""The bad-input error of the traces package (exit code 2 at the CLI)."""

from __future__ import annotations

__all__ = ["TraceError"]


class TraceError(ValueError):
    """Bad trace input: a one-line message naming the file and the row, line or column."""
