"""How few jobs can any schedule leave unstarted while meeting the other goals of a policy case?

benchmarks/policies.py judges the milp per case against the best baseline on each goal metric
*separately*, and two of those bests can come from baselines that trade one metric for another:
on phase1 load 1.1 seed 0 backfill drains capacity for a 2048-GPU gang job and delivers 3.5 %
more useful GPU-hours than fairshare (medians over 3 round spacings), with 15 jobs never started
and a large-job p95 wait of 3,696 s against fairshare's 2 and 621 s. This script asks whether
*any* schedule can have the best of each: it computes a floor on the jobs never started of every
schedule that delivers ``USEFUL_REL`` (99 %) of the best baseline's useful GPU-hours and meets
both p95 wait goals, from a linear relaxation solved by HiGHS. When the floor is above what the
never-started goal allows (or the LP is infeasible), the goals of that case conflict whatever
the policy; otherwise the check shows nothing (it can fail either way).

The relaxation (every simplification only loosens it, so the floor stays valid):

- time from ``window_start_s`` to the horizon ``H`` is cut into slots; a job of ``g`` GPUs,
  duration ``d``, submitted at ``s`` either starts before the window (if ``s`` is before it), in
  one slot at or after ``s``, or never (the fractional LP allows any mix);
- a job started in a slot at the earliest at ``a = max(s, slot start)`` delivers at most
  ``g * min(d, H - a)`` useful GPU-seconds (no checkpoint overhead, no lost work);
- capacity is checked only at the slot boundaries: a job is counted there only when it
  *surely* runs then (its slot ended by then and ``a + d`` is later), at its minimum shape;
  the capacity at a boundary is the most the background jobs held plus left free in any
  scheduling round of the reference run since the previous boundary (GPUs the hero run, hot
  spares and failed nodes take are not the background's);
- before the window, capacity is not checked at all;
- a p95 goal ``<= X`` over ``n`` jobs allows at most :func:`p95_allowed_late` of them to wait
  longer than ``X`` (a never-started job waits until the horizon); a slot counts as on time when
  its earliest start is within ``X`` of the job's submit.

Assumed (stated with the figure): no preemption (each run of the matrix that the comparison uses
had 0) and no job interrupted by a failure is away from its GPUs at a boundary. Jobs submitted
in the last ``grace_s`` do not count as never started, as in :mod:`colossus.sim.policy_metrics`.

    python benchmarks/policy_bound.py --jsonl runs.jsonl --cases phase1:1.1:0
    python benchmarks/policy_bound.py --jsonl runs.jsonl --cases phase1:1.1:0 --slot-s 300   # tighter, slower
    python benchmarks/policy_bound.py --jsonl runs.jsonl            # every case of the file

``--jsonl`` is the file benchmarks/policies.py writes: the best baseline's figures are taken
from it (medians over ``--phases`` runs, as its verdicts do); each case reruns fairshare once
for the background capacity.

Measured 2026-12-08 on the ``--phases 3`` matrix: phase1 load 1.1 seed 0 (useful >= 57,806
GPU-h, p95 waits <= 117 s / 683 s) gives a floor of 1 job never started (LP 0.83; 0.84 with 300 s
slots), the goal allows 3: no conflict shown. The relaxation starts the 0.65 h Coding 2048-GPU
job submitted at 10.9 h (backfill instead starts the 13 h Macrohard one at 9.0 h) and delays
112 of the 202 jobs of 9-63 GPUs by over 30 min (mean 1.6 h; no wait goal measures them) and
216 small jobs (inside p95's 5 %) -- so the miss of that case is not shown to be a forced
trade-off, though the schedule the relaxation hints at is one no user would ask for.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


@dataclass(frozen=True, kw_only=True, slots=True)
class WaitCap:
    """At most ``allowed`` of the jobs in ``mask`` wait longer than ``wait_s`` (s)."""

    mask: np.ndarray
    wait_s: float
    allowed: int


def p95_allowed_late(n: int, q: float = 0.95) -> int:
    """Most values of ``n`` that may exceed ``X`` when ``numpy.quantile(values, q) <= X``.

    numpy's default (linear) quantile is at least the sorted value of index ``floor(q (n - 1))``,
    so that value must be ``<= X``: at most ``n - 1 - floor(q (n - 1))`` values above ``X``.
    """
    return n - 1 - math.floor(q * (n - 1)) if n > 0 else 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Floor:
    """Result of :func:`never_started_floor`."""

    status: str
    """HiGHS's model status ("Optimal", "Infeasible", ...)."""
    floor: int | None
    """Fewest jobs never started (LP bound rounded up); None when the LP is infeasible (then no
    schedule reaches ``need_gpu_h`` at all under the relaxation)."""
    lp_value: float | None
    """The LP's fractional count of jobs never started."""
    counted_jobs: int
    """Jobs that count as never started when not started (submitted by ``horizon - grace``)."""
    columns: int
    max_useful_gpu_h: float
    """Useful GPU-hours if every job started at submit and none lost work: no schedule exceeds it."""


def never_started_floor(
    *, gpus: np.ndarray, min_gpus: np.ndarray, submit_s: np.ndarray, duration_s: np.ndarray, horizon_s: float,
    grace_s: float, window_start_s: float, boundaries_s: np.ndarray, capacity_gpus: np.ndarray, need_gpu_h: float,
    wait_caps: tuple[WaitCap, ...] = (),
) -> Floor:
    """Floor on the jobs never started of any schedule delivering ``need_gpu_h`` useful GPU-hours.

    Parameters
    ----------
    gpus, min_gpus : (n,) arrays
        GPUs each job asks for, and the fewest it runs on (``gpus`` unless elastic).
    submit_s, duration_s : (n,) arrays
        Submit time and run time at ``gpus`` without interruption, s.
    horizon_s : float
        End of the simulated time, s.
    grace_s : float
        Jobs submitted after ``horizon_s - grace_s`` do not count as never started, s.
    window_start_s : float
        Start of the slotted window, s; capacity is checked from there on.
    boundaries_s : (K,) array
        Increasing slot ends in ``(window_start_s, horizon_s]``, the last one ``horizon_s``, s.
    capacity_gpus : (K,) array
        GPUs the background jobs can hold at each boundary.
    need_gpu_h : float
        Useful GPU-hours the schedule must deliver by the horizon.
    wait_caps : tuple of WaitCap
        Wait goals the schedule must also meet (a never-started job waits until the horizon).

    Returns
    -------
    Floor
    """
    import highspy

    b = np.asarray(boundaries_s, dtype=np.float64)
    cap = np.asarray(capacity_gpus, dtype=np.float64)
    if b.ndim != 1 or b.size == 0 or not np.all(np.diff(b) > 0) or b[0] <= window_start_s or b[-1] != horizon_s:
        raise ValueError("boundaries_s: increasing, after window_start_s, ending at horizon_s")
    if cap.shape != b.shape:
        raise ValueError("capacity_gpus: one value per boundary")
    starts = np.concatenate([[window_start_s], b[:-1]])
    g = np.asarray(gpus, dtype=np.float64)
    gm = np.asarray(min_gpus, dtype=np.float64)
    s = np.asarray(submit_s, dtype=np.float64)
    d = np.asarray(duration_s, dtype=np.float64)
    keep = s < horizon_s
    g, gm, s, d = g[keep], gm[keep], s[keep], d[keep]
    caps = [(np.asarray(c.mask, dtype=bool)[keep], float(c.wait_s), int(c.allowed)) for c in wait_caps]
    n = s.size
    counted = s <= horizon_s - grace_s

    # columns: (job, earliest start a, latest start-interval end e)
    job_l, a_l, e_l = [], [], []
    pre = np.flatnonzero(s < window_start_s)
    job_l.append(pre)
    a_l.append(s[pre])
    e_l.append(np.full(pre.size, window_start_s))
    for k in range(b.size):
        j = np.flatnonzero(s < b[k])
        job_l.append(j)
        a_l.append(np.maximum(s[j], starts[k]))
        e_l.append(np.full(j.size, b[k]))
    job = np.concatenate(job_l)
    a = np.concatenate(a_l)
    e = np.concatenate(e_l)
    m = job.size
    contrib_h = g[job] * np.minimum(d[job], horizon_s - a) / 3600.0
    # boundaries the column surely runs at: slot ended (e <= b) and still running (a + d > b)
    lo = np.searchsorted(b, e, side="left")
    hi = np.searchsorted(b, a + d[job], side="left")
    nb = np.maximum(0, hi - lo)

    # wait rows: a column is on time for a cap when its earliest start is within wait_s of submit;
    # jobs submitted within wait_s of the horizon are on time even if never started
    cap_rows: list[tuple[np.ndarray, float]] = []  # (columns on time, fewest on-time jobs)
    for mask, wait_s, allowed in caps:
        late_possible = mask & (s < horizon_s - wait_s)
        need_on_time = float(late_possible.sum() - allowed)
        if need_on_time > 0:
            cap_rows.append((late_possible[job] & (a <= s[job] + wait_s), need_on_time))
    on_time = np.stack([c for c, _ in cap_rows], axis=1) if cap_rows else np.zeros((job.size, 0), dtype=bool)
    n_on = on_time.sum(axis=1)

    # column-wise sparse matrix; rows: n job rows, 1 useful row, K capacity rows, one row per wait cap
    nnz_per_col = 2 + nb + n_on
    start = np.concatenate([[0], np.cumsum(nnz_per_col)]).astype(np.int32)
    index = np.empty(int(start[-1]), dtype=np.int32)
    value = np.empty(int(start[-1]), dtype=np.float64)
    index[start[:-1]] = job
    value[start[:-1]] = 1.0
    index[start[:-1] + 1] = n
    value[start[:-1] + 1] = contrib_h
    has = np.flatnonzero(nb > 0)
    if has.size:
        reps = nb[has]
        col_of = np.repeat(has, reps)
        offs = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        pos = start[col_of] + 2 + offs
        index[pos] = n + 1 + lo[col_of] + offs
        value[pos] = gm[job[col_of]]
    for r in range(on_time.shape[1]):  # after the capacity entries of each column
        cols = np.flatnonzero(on_time[:, r])
        pos = start[cols] + 2 + nb[cols] + on_time[cols, :r].sum(axis=1)
        index[pos] = n + 1 + b.size + r
        value[pos] = 1.0

    lp = highspy.HighsLp()
    lp.num_col_ = m
    lp.num_row_ = n + 1 + b.size + len(cap_rows)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = counted[job].astype(np.float64)
    lp.col_lower_ = np.zeros(m)
    lp.col_upper_ = np.ones(m)
    lp.row_lower_ = np.concatenate([np.full(n, -highspy.kHighsInf), [need_gpu_h], np.full(b.size, -highspy.kHighsInf),
                                    [v for _, v in cap_rows]])
    lp.row_upper_ = np.concatenate([np.ones(n), [highspy.kHighsInf], cap, np.full(len(cap_rows), highspy.kHighsInf)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    max_useful = float((g * np.minimum(d, horizon_s - s)).sum() / 3600.0)
    if status != "Optimal":
        return Floor(status=status, floor=None, lp_value=None, counted_jobs=int(counted.sum()), columns=m,
                     max_useful_gpu_h=max_useful)
    started = float(h.getInfo().objective_function_value)
    lp_value = float(counted.sum()) - started
    return Floor(status=status, floor=math.ceil(lp_value - 1e-6), lp_value=lp_value, counted_jobs=int(counted.sum()),
                 columns=m, max_useful_gpu_h=max_useful)


@functools.cache
def _policies_module():
    spec = importlib.util.spec_from_file_location("policies_benchmark", Path(__file__).resolve().parent / "policies.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def background_capacity(scn, batches, seed: int, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(round times s, GPUs the background held plus left free) of a fairshare run of the case.

    What the hero run, hot spares and failed nodes take does not depend on the background
    policy (the hero is placed first and never preempted; failures come from the seed).
    """
    from colossus.sim import simulate
    from scheduler import FairsharePolicy
    from scheduler._round import RoundInput

    times: list[float] = []
    held: list[float] = []

    class Recording(FairsharePolicy):
        def schedule(self, view, pending, running, now_s):
            ri = RoundInput.build(view, pending, running, now_s)
            times.append(float(now_s))
            held.append(float(ri.cap[0] + ri.r_gpus[~ri.r_hero].sum()))
            return super().schedule(view, pending, running, now_s)

    simulate(scn, batches, Recording(), seed, horizon_s)
    return np.asarray(times), np.asarray(held)


def _best_baselines(path: str, estimate_x: float = 1.0) -> dict[tuple, dict[str, float]]:
    """Per (fleet, load, seed): the best baseline's value of each goal metric (medians over
    phases), over the runs of ``estimate_x`` (benchmarks/policies.py --estimate-x)."""
    import json

    pb = _policies_module()
    with open(path, encoding="utf-8") as fh:
        runs = [r for r in (json.loads(line) for line in fh if line.strip()) if r.get("estimate_x", 1.0) == estimate_x]
    missing = sorted({k for r in runs for k in ("fleet", "load", "seed", "policy", *pb.GOAL_FIELDS) if k not in r})
    if missing:
        raise ValueError(f"not a runs file of benchmarks/policies.py --jsonl (rows without {', '.join(missing)})")
    rows, _ = pb.aggregate_phases(runs)
    best: dict[tuple, dict[str, float]] = {}
    for (f, ld, s, p), r in rows.items():
        if p == "milp":
            continue
        b = best.setdefault((f, ld, s), {})
        for k in pb.GOAL_FIELDS:
            v = float(r[k])
            b[k] = v if k not in b else (max(b[k], v) if k == "useful_gpu_h" else min(b[k], v))
    return best


def case_floor(fleet: str, load: float, seed: int, best: dict[str, float], *, days: float = 0.5, slot_s: float = 600.0) -> dict:
    """The floor of one case of benchmarks/policies.py against the goal set by ``best``."""
    import pyarrow as pa

    from colossus.sim.workload import workload_batches

    pb = _policies_module()
    scn = pb._scenario(fleet, load)
    horizon_s = days * 86400.0
    batches = list(workload_batches(scn, days, seed))
    wl = pa.Table.from_batches(batches)
    t, held = background_capacity(scn, batches, seed, horizon_s)
    bounds = np.arange(slot_s, horizon_s + 0.5 * slot_s, slot_s)
    bounds[-1] = horizon_s
    prev = np.concatenate([[0.0], bounds[:-1]])
    cap = np.array([held[(t > p) & (t <= q)].max() if np.any((t > p) & (t <= q)) else held.max()
                    for p, q in zip(prev, bounds, strict=True)])
    g = wl.column("num_gpus").to_numpy().astype(np.float64)
    mg = wl.column("min_gpus").to_numpy(zero_copy_only=False).astype(np.float64)
    mg = np.where(np.isnan(mg), g, mg)
    submit = wl.column("submit_time_s").to_numpy()
    n_in = submit < horizon_s
    caps = []
    for key, mask in (("wait_p95_small_s", g <= 8), ("wait_p95_large_s", g >= 64)):
        x = max(best[key] * (1 + pb.WAIT_REL), best[key] + pb.WAIT_ABS_S)
        caps.append(WaitCap(mask=mask, wait_s=x, allowed=p95_allowed_late(int((mask & n_in).sum()))))
    need = pb.USEFUL_REL * best["useful_gpu_h"]
    allowed = math.ceil(best["never_started"] * (1 + pb.NEVER_REL))
    t0 = time.perf_counter()
    fl = never_started_floor(gpus=g, min_gpus=mg, submit_s=submit, duration_s=wl.column("duration_s").to_numpy(),
                             horizon_s=horizon_s, grace_s=scn.scheduler.round_s, window_start_s=0.0, boundaries_s=bounds,
                             capacity_gpus=cap, need_gpu_h=need, wait_caps=tuple(caps))
    return {"fleet": fleet, "load": load, "seed": seed, "need_gpu_h": need, "allowed": allowed,
            "large_wait_s": caps[1].wait_s, "small_wait_s": caps[0].wait_s, "floor": fl, "lp_s": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jsonl", required=True, help="runs of benchmarks/policies.py (the baselines' are used)")
    ap.add_argument("--cases", default=None,
                    help="fleet:load:seed, comma-separated (default: every case of the file), e.g. phase1:1.1:0")
    ap.add_argument("--days", type=float, default=0.5, help="simulated days the runs used (default 0.5)")
    ap.add_argument("--slot-s", type=float, default=600.0, help="slot length, s (default 600; shorter is tighter and slower)")
    ap.add_argument("--estimate-x", type=float, default=1.0,
                    help="use the runs of benchmarks/policies.py --estimate-x X (default 1: exact run times)")
    a = ap.parse_args(argv)
    if a.slot_s <= 0:
        ap.error("--slot-s: must be > 0")
    try:
        best = _best_baselines(a.jsonl, a.estimate_x)
    except (OSError, ValueError) as exc:
        print(f"error: {a.jsonl}: {exc}", file=sys.stderr)
        return 2
    cases = sorted(best)
    if not cases:
        print(f"error: {a.jsonl}: no baseline runs with --estimate-x {a.estimate_x:g}", file=sys.stderr)
        return 2
    if a.cases:
        try:
            want = [(f, float(ld), int(s)) for f, ld, s in (c.split(":") for c in a.cases.split(","))]
        except ValueError:
            ap.error("--cases: fleet:load:seed, comma-separated")
        missing = [c for c in want if c not in best]
        if missing:
            ap.error(f"--cases: no baseline runs in {a.jsonl} for {missing}")
        cases = want
    print(f"floor on jobs never started of any schedule (no preemption) meeting the best baseline's useful GPU-hours x "
          f"{_policies_module().USEFUL_REL} and both p95 wait goals ({len(cases)} cases, {a.slot_s:g} s slots)")
    for c in cases:
        r = case_floor(*c, best[c], days=a.days, slot_s=a.slot_s)
        fl = r["floor"]
        head = (f"  {c[0]} load {c[1]:g} seed {c[2]}: useful >= {r['need_gpu_h']:,.0f} GPU-h, p95 waits <= "
                f"{r['small_wait_s']:,.0f} s (<= 8 GPUs) / {r['large_wait_s']:,.0f} s (>= 64 GPUs): ")
        if fl.floor is None:
            print(head + f"no schedule reaches it (LP {fl.status}): the goals conflict ({r['lp_s']:.1f} s)")
        else:
            verdict = "the goals conflict" if fl.floor > r["allowed"] else "no conflict shown"
            print(head + f"never started >= {fl.floor} (LP {fl.lp_value:.2f}); the goal allows {r['allowed']}: "
                  f"{verdict} ({r['lp_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
