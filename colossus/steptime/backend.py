"""Array backend: CuPy when it imports *and* a device is usable, else NumPy.

Every step-time kernel takes an ``xp`` argument (the ``numpy`` or ``cupy`` module) and is written
once against the common NumPy API.  ``COLOSSUS_ARRAY=numpy|cupy`` forces a choice; forcing
``cupy`` when it is unusable raises :class:`BackendError` (an :class:`~colossus.errors.InputError`, so
the CLI prints one line naming the variable and exits 2) with the reason.  The probe never
raises: CuPy 13 raises on the first ``is_available()`` without a driver (cupy#9091), so the probe
wraps import, device count and a tiny kernel in one ``try`` (shared/reference/ecosystem.md §3).
"""

from __future__ import annotations

import os
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from colossus.errors import InputError

__all__ = ["ENV_VAR", "BackendError", "backend_name", "cupy_status", "get_xp", "to_numpy", "xp_of"]

ENV_VAR = "COLOSSUS_ARRAY"
"""Environment variable that forces the backend: ``numpy`` or ``cupy``."""


class BackendError(InputError, RuntimeError):
    """``$COLOSSUS_ARRAY`` asks for a backend that is unknown or unusable here (bad input, exit 2)."""


@lru_cache(maxsize=1)
def cupy_status() -> tuple[ModuleType | None, str]:
    """Probe CuPy once: ``(cupy module or None, reason)``; never raises."""
    try:
        import cupy  # type: ignore[import-not-found]
    except Exception as exc:
        return None, f"cupy not importable ({type(exc).__name__}: {exc})"
    try:
        if int(cupy.cuda.runtime.getDeviceCount()) < 1:
            return None, "cupy present but no CUDA device"
        value = int(cupy.asnumpy(cupy.arange(4).sum()))
        if value != 6:
            return None, f"cupy smoke test returned {value}, expected 6"
    except Exception as exc:
        return None, f"cupy present but unusable ({type(exc).__name__}: {str(exc)[:200]})"
    return cupy, "cupy usable"


def get_xp(name: str | None = None) -> ModuleType:
    """Return the array module to compute with.

    Parameters
    ----------
    name : {"numpy", "cupy", None}
        Explicit choice; ``None`` reads ``$COLOSSUS_ARRAY`` and otherwise picks CuPy when usable.

    Raises
    ------
    BackendError
        When ``cupy`` is forced but unusable, or the name is neither ``numpy`` nor ``cupy``; the
        one-line message names the variable and says why.
    """
    choice = (name or os.environ.get(ENV_VAR, "") or "auto").strip().lower()
    if choice == "numpy":
        return np
    if choice not in ("cupy", "auto"):
        raise BackendError(f"{ENV_VAR}={choice!r}: expected 'numpy' or 'cupy'")
    cp, reason = cupy_status()
    if cp is not None:
        return cp
    if choice == "cupy":
        raise BackendError(f"{ENV_VAR}=cupy but {' '.join(reason.split())}")
    return np


def backend_name(xp: ModuleType) -> str:
    """``"numpy"`` or ``"cupy"`` for an array module."""
    return "cupy" if xp.__name__.startswith("cupy") else "numpy"


def xp_of(*arrays: Any) -> ModuleType:
    """Array module of the given arrays, without importing CuPy (NumPy unless one is CuPy)."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            import cupy  # type: ignore[import-not-found]

            return cupy  # type: ignore[no-any-return]
    return np


def to_numpy(a: Any) -> np.ndarray:
    """Copy a CuPy array to host (``.get()``); NumPy arrays and scalars pass through."""
    if hasattr(a, "get") and type(a).__module__.startswith("cupy"):
        return a.get()  # type: ignore[no-any-return]
    return np.asarray(a)
