"""Solve a PuLP model with HiGHS (default) or CBC and read the solver's *true* status.

PuLP 3.3 maps a HiGHS time limit to "Optimal" and leaves LP-relaxation values in a stopped
CBC run's variables (shared/reference/ecosystem.md §1.1), so the status reported here comes
from the solver itself (HiGHS model status and primal solution status; CBC's status pair), and
values may be read only when ``has_solution`` is true. Works on PuLP 3.3 and 4.x: variables
via ``prob.add_variable``, expressions via ``LpAffineExpression``, CBC via ``COIN_CMD``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pulp

__all__ = ["SolveResult", "affine", "solve"]


def affine(pairs: Sequence[tuple[pulp.LpVariable, float]]) -> pulp.LpAffineExpression:
    """A linear expression from ``(variable, coefficient)`` pairs (never ``lpSum`` of tuples)."""
    return pulp.LpAffineExpression(list(pairs))


@dataclass(frozen=True, kw_only=True, slots=True)
class SolveResult:
    solver: str
    status: str
    has_solution: bool
    gap: float | None
    solve_s: float


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (HiGHS prints a banner even with ``msg=False``); shared with capacity."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _solve_highs(prob: pulp.LpProblem, time_limit_s: float, gap_rel: float, threads: int) -> SolveResult:
    import highspy

    t = time.perf_counter()
    s = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, threads=threads, presolve="on")
    with quiet_stdout():
        prob.solve(s)
    dt = time.perf_counter() - t
    h = prob.solverModel
    ms = h.getModelStatus()
    info = h.getInfo()
    has = int(info.primal_solution_status) == 2
    st = highspy.HighsModelStatus
    if ms == st.kOptimal:
        status = "optimal"
    elif ms == st.kTimeLimit:
        status = "time_limit_feasible" if has else "time_limit_no_solution"
    elif ms in (st.kInfeasible, st.kUnboundedOrInfeasible):
        status, has = "infeasible", False
    else:
        status = h.modelStatusToString(ms).lower().replace(" ", "_")
    gap = float(info.mip_gap) if has and info.mip_gap < 1e30 else None
    return SolveResult(solver="highs", status=status, has_solution=has, gap=gap, solve_s=dt)


def _cbc_solver(time_limit_s: float, gap_rel: float, threads: int) -> pulp.LpSolver:
    path = None
    try:
        from pulp.apis.coin_api import pulp_cbc_path  # bundled with PuLP 3.x only

        if os.path.exists(pulp_cbc_path):
            path = pulp_cbc_path
    except ImportError:
        pass
    return pulp.COIN_CMD(path=path, msg=False, timeLimit=time_limit_s, gapRel=gap_rel, threads=threads)


def _solve_cbc(prob: pulp.LpProblem, time_limit_s: float, gap_rel: float, threads: int) -> SolveResult:
    s = _cbc_solver(time_limit_s, gap_rel, threads)
    if not s.available():
        return SolveResult(solver="cbc", status="missing_solver", has_solution=False, gap=None, solve_s=0.0)
    t = time.perf_counter()
    prob.solve(s)
    dt = time.perf_counter() - t
    sol = prob.sol_status
    has = sol in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if prob.status == pulp.LpStatusInfeasible:
        status, has = "infeasible", False
    elif sol == pulp.LpSolutionOptimal:
        status = "optimal"
    elif sol == pulp.LpSolutionIntegerFeasible:
        status = "time_limit_feasible"
    else:
        status = "time_limit_no_solution" if dt >= time_limit_s * 0.9 else pulp.LpStatus.get(prob.status, "unknown").lower().replace(" ", "_")
    return SolveResult(solver="cbc", status=status, has_solution=has, gap=None, solve_s=dt)


def solve(prob: pulp.LpProblem, *, solver: str = "highs", time_limit_s: float = 2.0, gap_rel: float = 1e-3, threads: int = 1) -> SolveResult:
    """Solve ``prob``; HiGHS first (unless ``solver='cbc'``), CBC when HiGHS is missing or errors."""
    if solver not in ("highs", "cbc"):
        raise ValueError(f"unknown solver {solver!r}; choices: highs, cbc")
    if solver == "highs":
        try:
            return _solve_highs(prob, time_limit_s, gap_rel, threads)
        except (ImportError, pulp.PulpSolverError, AttributeError, RuntimeError):
            pass
    try:
        return _solve_cbc(prob, time_limit_s, gap_rel, threads)
    except (pulp.PulpSolverError, OSError) as exc:
        return SolveResult(solver="cbc", status=f"error: {type(exc).__name__}", has_solution=False, gap=None, solve_s=0.0)
