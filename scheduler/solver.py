"""Solve a PuLP model with HiGHS (default) or CBC and read the solver's *true* status.

PuLP 3.3 maps a HiGHS time limit to "Optimal" and leaves LP-relaxation values in a stopped
CBC run's variables (shared/reference/ecosystem.md §1.1), so the status reported here comes
from the solver itself (HiGHS model status and primal solution status; CBC's status pair), and
values may be read only when ``has_solution`` is true. Works on PuLP 3.3 and 4.x: variables
via ``prob.add_variable``, expressions via ``LpAffineExpression``, CBC via ``COIN_CMD``.

A *deadline* (``deadline_s``, a ``time.perf_counter()`` instant) bounds the wall time of a HiGHS
solve, which its own ``time_limit`` does not: HiGHS checks its limit between phases, and one
root cut-separation round on a 1,000-type scheduling model was measured at 1-5 s past it. With a
deadline, HiGHS runs in a worker thread (it releases the GIL) while a callback keeps its best
solution so far; at the deadline the solve returns that incumbent (status
``deadline_feasible``, its gap as HiGHS last reported it) and asks HiGHS to stop at its next
check. The abandoned thread owns its model and touches nothing else; the interpreter waits for
it at exit.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
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


def _solve_highs(prob: pulp.LpProblem, time_limit_s: float, gap_rel: float, threads: int, presolve: bool = True) -> SolveResult:
    t = time.perf_counter()
    s = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, threads=threads, presolve="on" if presolve else "off")
    with quiet_stdout():
        prob.solve(s)
    return _highs_result(prob.solverModel, time.perf_counter() - t)


def _solve_highs_deadline(prob: pulp.LpProblem, deadline_s: float, time_limit_s: float, gap_rel: float, threads: int,
                          presolve: bool = True) -> SolveResult:
    """HiGHS in a worker thread; at ``deadline_s`` return its incumbent (see the module docstring)."""
    import highspy

    t = time.perf_counter()
    limit = max(0.01, min(time_limit_s, deadline_s - t))
    s = pulp.HiGHS(msg=False, timeLimit=limit, gapRel=gap_rel, threads=threads, presolve="on" if presolve else "off")
    with quiet_stdout():
        s.createAndConfigureSolver(prob)
    s.buildSolverModel(prob)
    h = prob.solverModel
    cb_type = highspy.cb.HighsCallbackType
    best: dict[str, object] = {}

    def callback(ctype: object, _msg: str, data_out: object, data_in: object, _user: object) -> None:
        if ctype == cb_type.kCallbackMipImprovingSolution:
            best.update(x=list(data_out.mip_solution), gap=float(data_out.mip_gap))  # type: ignore[attr-defined]
        elif time.perf_counter() > deadline_s:
            data_in.user_interrupt = True  # type: ignore[attr-defined]

    h.setCallback(callback, None)
    for c in ("kCallbackMipImprovingSolution", "kCallbackMipInterrupt", "kCallbackSimplexInterrupt"):
        h.startCallback(getattr(cb_type, c))
    # not a daemon: an abandoned solve stops at HiGHS's next check, and the interpreter waits for
    # it at exit (a daemon thread still inside HiGHS aborts the process when it ends)
    worker = threading.Thread(target=h.run, name="highs-round")
    worker.start()
    worker.join(max(0.0, deadline_s - time.perf_counter()) + 0.02)
    if worker.is_alive():  # past the deadline inside a phase HiGHS does not interrupt: keep the incumbent
        dt = time.perf_counter() - t
        x = best.get("x")
        if x is None:
            return SolveResult(solver="highs", status="deadline_no_solution", has_solution=False, gap=None, solve_s=dt)
        for v in prob.variables():
            v.varValue = x[v.index]  # type: ignore[index]
        g = float(best["gap"])  # type: ignore[arg-type]
        return SolveResult(solver="highs", status="deadline_feasible", has_solution=True, gap=g if g < 1e30 else None, solve_s=dt)
    status, sol_status = s.findSolutionValues(prob)
    prob.assignStatus(status, sol_status)
    return _highs_result(h, time.perf_counter() - t)


def _highs_result(h: object, dt: float) -> SolveResult:
    """Status, solution flag and gap read from a finished HiGHS model."""
    import highspy

    ms = h.getModelStatus()  # type: ignore[attr-defined]
    info = h.getInfo()  # type: ignore[attr-defined]
    has = int(info.primal_solution_status) == 2
    st = highspy.HighsModelStatus
    if ms == st.kOptimal:
        status = "optimal"
    elif ms in (st.kTimeLimit, st.kInterrupt):
        status = "time_limit_feasible" if has else "time_limit_no_solution"
    elif ms in (st.kInfeasible, st.kUnboundedOrInfeasible):
        status, has = "infeasible", False
    else:
        status = h.modelStatusToString(ms).lower().replace(" ", "_")  # type: ignore[attr-defined]
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


def solve(prob: pulp.LpProblem, *, solver: str = "highs", time_limit_s: float = 2.0, gap_rel: float = 1e-3, threads: int = 1,
          deadline_s: float | None = None, presolve: bool = True) -> SolveResult:
    """Solve ``prob``; HiGHS first (unless ``solver='cbc'``), CBC when HiGHS is missing or errors.

    ``deadline_s`` (a ``time.perf_counter()`` instant) bounds a HiGHS solve's wall time, see the
    module docstring; CBC gets ``time_limit_s`` cut to the time left before it. ``presolve``:
    HiGHS's presolve on or off (CBC always presolves).
    """
    if solver not in ("highs", "cbc"):
        raise ValueError(f"unknown solver {solver!r}; choices: highs, cbc")
    if deadline_s is not None:
        time_limit_s = max(0.01, min(time_limit_s, deadline_s - time.perf_counter()))
    if solver == "highs":
        try:
            if deadline_s is not None:
                return _solve_highs_deadline(prob, deadline_s, time_limit_s, gap_rel, threads, presolve)
            return _solve_highs(prob, time_limit_s, gap_rel, threads, presolve)
        except (ImportError, pulp.PulpSolverError, AttributeError, RuntimeError):
            pass
    try:
        return _solve_cbc(prob, time_limit_s, gap_rel, threads)
    except (pulp.PulpSolverError, OSError) as exc:
        return SolveResult(solver="cbc", status=f"error: {type(exc).__name__}", has_solution=False, gap=None, solve_s=0.0)
