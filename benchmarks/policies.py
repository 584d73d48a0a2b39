"""Every scheduling policy on the same generated workload and seed, over offered loads and fleets.

Matrix: offered loads 0.7, 0.9, 1.0, 1.1 of the GPUs the hero run leaves (``[workload]
offered_load_share``) x two fleets -- ``phase1`` (memphis from day 0: 100k H100, ~90k of them
the Grok 3 run, so a few thousand GPUs for everything else) and ``all200k`` (every phase online,
``--start-date 2024-12-03``) -- x 3 seeds. Per case and policy it prints the metrics of
:mod:`colossus.sim.policy_metrics` (background jobs; never-started jobs count with their wait up
to the horizon), then one line per metric comparing milp with the best baseline over all cases,
and one verdict line per goal of issue #11:

- waits: milp's p95 wait (<= 8 GPUs, >= 64 GPUs) within 10 % or 60 s of the best baseline;
- never started: at most 10 % more than the best baseline (rounded up);
- useful GPU-hours: at least 99 % of the best baseline;
- contended cases (offered load >= 1.0): milp strictly better than every baseline on at
  least one of those four metrics.

    python benchmarks/policies.py                   # full matrix, 0.5 simulated day, 2 workers (~6 min on 2 quiet cores)
    python benchmarks/policies.py --days 0.25 --jsonl runs.jsonl   # what fits when the host is shared
    python benchmarks/policies.py --jsonl runs.jsonl --report-only  # the table and verdicts of the runs kept so far
    python benchmarks/policies.py --quick            # phase1 + all200k at load 1.0, seed 0
    python benchmarks/policies.py --loads 1.1 --fleets phase1 --seeds 1 --days 0.5
    python benchmarks/policies.py --phases 3        # each case at 3 round spacings: medians, and the noise floor
    python benchmarks/policies.py --estimate-x 4    # schedulers plan with time limits of 1-4x the run times

``jobs never started`` leaves out jobs submitted within ``scheduler.round_s`` of the horizon (see
:mod:`colossus.sim.policy_metrics`). ``--phases K`` reruns every case with the scheduler's
``min_interval_s`` scaled evenly within +-3 %: nothing changes but the instants rounds fall at, so
how far a metric moves across those runs is the noise floor of a per-case verdict, which the run
prints; the verdicts then compare per-case medians.

Measured 2026-12-07 (full matrix, 0.5 day: 367 s on 2 quiet cores, 1,530 s on a shared host): small-job
p95 within the goal in 24/24 cases; large-job p95 in 14/24 (fairshare is better on Grok Main/Voice's gang
jobs, whose 2 h wait target and hero-filled guarantee put them behind the other divisions); never started
20/24; useful GPU-hours 23/24; strictly better than every baseline in 10/12 contended cases. The goal is
not met yet. Against the divisions' own wait targets milp is level with the best baseline or better: share
of jobs within target milp - best in [-0.12, +1.28] points, p95 of wait/target in [-0.597, 0.011].

Rerun 2026-12-07 after the round deadline, HiGHS presolve off and ``preempt_after`` / ``reserve_after`` at
the wait cap (708 s on a host shared with other simulations, 2 workers): small-job p95 24/24; large-job p95
15/24; never started 19/24; useful GPU-hours 23/24; strictly better in 11/12 contended cases -- still not
met. The same code with the old ``preempt_after = 2`` / ``reserve_after = 4`` gave 14, 19, 23 and 10/12. The
misses are p95s over ~100 gang jobs in phase1 (the 5th-6th longest wait decides) and Grok Main/Voice's
gang jobs on all200k at load >= 0.9; single-case sweeps of w_job, w_priority, w_fairshare, the wait targets,
a size-scaled age and counting the hero apart from its division's guarantee moved cases both ways.

Rerun 2026-12-07 with ``jobs never started`` leaving out the last ``round_s`` of submissions and
``--phases 3`` (per-case medians over 3 round spacings; the baselines' 216 runs took 1,129 s with a CI
run beside them). Before the change below: 24/24, 15/24, 17/24, 23/24, strict 11/12. The milp round
then kept the head of its value order (``keep_order``) and got ``w_fairshare = 8``: its 72 runs
(``--phases 3 --policies milp`` added to the same --jsonl, then ``--report-only``) give small-job p95
24/24; large-job p95 17/24; never started 19/24; useful GPU-hours 23/24; strictly better in 10/12
contended cases -- still not met. The plain single-spacing run of the final code (all 4 policies, 412 s
quiet) gives 24, 16, 18, 23/24 and strict 9/12 (before: 24, 15, 18, 23 and 11/12). Noise floor (median
over cases of the spread across spacings): p95 waits 6-9 %, never started 0-20 % by policy, useful
GPU-hours <= 0.4 %.

Rerun 2026-12-07 after the milp round kept every start of its pass in value order (not only the prefix
up to the first job that does not fit) with ``w_wait = 0.25`` and ``w_job = 0.1``: ``--phases 3`` (its
72 milp runs against the same stored baselines) gives small-job p95 24/24; large-job p95 21/24; never
started 23/24; useful GPU-hours 23/24; strictly better in 11/12 contended cases. The plain single-spacing
run (all 4 policies, 368 s on 2 quiet cores) gives 24, 21, 22, 23/24 and 11/12. Still not met: phase1
1.1 seed 0 trades one 2048-GPU job against later gang jobs (backfill's reservation starts it and
delivers 3.6 % more GPU-hours, but its large-job p95 is 3,696 s against fairshare's 621; the milp
sides with the waits), and three misses within the noise floor (phase1 0.9 seed 1 large-job p95 over
98 gang jobs, phase1 1.0 seed 1 never started 23 against 20, all200k 1.0 large-job p95 on one seed).
Several strict wins are by seconds (small-job p95 57.6 against 58.5 s); the material ones are the
three all200k load 1.1 cases, all200k 1.0 seed 2 and phase1 1.0 seeds 0 and 2.

Rerun 2026-12-08 with the short-job bonus (``w_short = 1``, ``short_ref_s = 8 h``) and the jobs
of a type started in value order: ``--phases 3`` (milp's 72 runs against the same stored
baselines) gives small-job p95 24/24; large-job p95 23/24; never started 24/24; useful GPU-hours
23/24; strictly better in 12/12 contended cases. The plain single-spacing run (all 4 policies,
317 s on 2 quiet cores) gives 24, 23, 23, 23/24 and 12/12 (its extra miss: phase1 1.0 seed 2, 1
job never started against 0). Still not met: phase1 1.1 seed 0's useful GPU-hours (56,395
against backfill's 58,390; backfill starts a 13 h 2048-GPU job at 9 h, at 15 jobs never started
and a 3,696 s large-job p95) and phase1 0.9 seed 1's large-job p95 (12,284 s against backfill's
10,477, whose 3 spacings span 9,714-14,717 s, at a small-job p95 of 2,941 s). For both,
benchmarks/policy_bound.py shows no conflict among the goals: on phase1 1.1 seed 0 its
relaxation starts a 0.65 h 2048-GPU job instead and delays jobs of 9-63 GPUs, which no goal
measures.

The short-job bonus reads each job's expected run time. The generated workload has no time
limits, so by default the schedulers know the exact run times. With ``--estimate-x 4`` every job
gets a time limit of 1-4x its run time (log-uniform, seeded) and the schedulers plan with that, as
Slurm's do (all 4 policies, single spacing, 407 s with a CI run beside it): 24, 24, 22, 23/24 and
12/12. The misses are never started on all200k 0.9 seed 2 (11 against 9) and phase1 1.0 seed 2
(1 against 0), and phase1 1.1 seed 0's useful GPU-hours. Under the same limits, milp without
the bonus (``w_short = 0``) gives 24, 21, 22, 23 and 11/12.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

# keep benchmarks/ (its scheduler.py) off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

FLEETS = {"phase1": None, "all200k": dt.date(2024, 12, 3)}
LOADS = (0.7, 0.9, 1.0, 1.1)
CONTENDED_LOAD = 1.0
"""Cases at or above this offered load are 'contended' (the strict-win goal applies)."""
WAIT_REL, WAIT_ABS_S = 0.10, 60.0
NEVER_REL = 0.10
USEFUL_REL = 0.99
PHASE_SPAN = 0.03
"""``--phases K`` runs every case at K round spacings in ``min_interval_s * [1 - span, 1 + span]``."""


def _scenario(fleet: str, load: float):
    from colossus.scenario import load_scenario

    scn = load_scenario("memphis")
    if FLEETS[fleet] is not None:
        scn = scn.starting_on(FLEETS[fleet])
    import dataclasses

    return dataclasses.replace(scn, workload=scn.workload.model_copy(update={"offered_load_share": load}))


def phase_factors(k: int) -> list[float]:
    """``k`` scale factors of the scheduler's ``min_interval_s``, evenly in [1 - PHASE_SPAN, 1 + PHASE_SPAN]
    (1.0 alone for ``k = 1``; 1.0 among them for odd ``k``)."""
    if k < 1:
        raise ValueError("--phases must be >= 1")
    if k == 1:
        return [1.0]
    return [round(1.0 - PHASE_SPAN + 2.0 * PHASE_SPAN * i / (k - 1), 6) for i in range(k)]


def with_time_limits(batches: list, estimate_x: float, seed: int) -> list:
    """``batches`` with a ``time_limit_s`` column: each job's run time times a factor drawn
    log-uniformly in [1, ``estimate_x``] (one generator seeded by ``seed``; null where the run
    time is; a limit the trace had is replaced). The scheduler then plans with the limits, as a
    Slurm-like one does; jobs still run their run time (:mod:`colossus.sim.jobs`)."""
    import numpy as np
    import pyarrow as pa

    if estimate_x <= 1.0:
        return batches
    rng = np.random.default_rng([seed, 0x7E57])
    out = []
    for b in batches:
        d = b.column("duration_s").to_numpy(zero_copy_only=False).astype(np.float64)
        tl = d * np.exp(rng.uniform(0.0, math.log(estimate_x), d.size))
        col = pa.array(tl, type=pa.float64(), from_pandas=True)
        i = b.schema.get_field_index("time_limit_s")
        out.append(b.set_column(i, "time_limit_s", col) if i >= 0 else b.append_column("time_limit_s", col))
    return out


def run_case(fleet: str, load: float, seed: int, policy: str, days: float, phase: float = 1.0, estimate_x: float = 1.0) -> dict:
    """One simulation; returns its metrics and wall time (runs in a worker process).

    ``phase`` scales the scheduler's ``min_interval_s`` (the spacing of event-driven rounds): the
    same workload and policy, with rounds falling at slightly other instants. ``estimate_x`` > 1
    gives every job a time limit of 1-``estimate_x`` times its run time (:func:`with_time_limits`).
    """
    import dataclasses

    from colossus.sim import simulate
    from colossus.sim.policy_metrics import policy_metrics
    from colossus.sim.workload import workload_batches

    scn = _scenario(fleet, load)
    if phase != 1.0:
        scn = dataclasses.replace(scn, scheduler=dataclasses.replace(scn.scheduler, min_interval_s=scn.scheduler.min_interval_s * phase))
    batches = with_time_limits(list(workload_batches(scn, days, seed)), estimate_x, seed)
    durations: dict[str, float] = {}
    for b in batches:
        durations.update(zip(b.column("job_id").to_pylist(), b.column("duration_s").to_pylist(), strict=True))
    t = time.perf_counter()
    res = simulate(scn, batches, policy, seed, days * 86400.0)
    wall = time.perf_counter() - t
    m = policy_metrics(res.jobs, days * 86400.0, durations, wait_targets_s=scn.wait_targets_s,
                       default_target_s=scn.scheduler.objective.default_wait_target_s, grace_s=scn.scheduler.round_s)
    hero = res.summary.get("hero") or {}
    return {"fleet": fleet, "load": load, "seed": seed, "policy": policy, "phase": phase, "estimate_x": estimate_x,
            "wall_s": wall, "jobs": len(durations),
            "hero_progress": hero.get("progress"), **m.as_dict()}


def _fmt(field: str, v: float) -> str:
    from colossus.sim.policy_metrics import format_metric

    return format_metric(field, v)


def _check(field: str, milp: float, best: float) -> bool:
    if field in ("wait_p95_small_s", "wait_p95_large_s"):
        return milp <= max(best * (1 + WAIT_REL), best + WAIT_ABS_S)
    if field == "never_started":
        return milp <= math.ceil(best * (1 + NEVER_REL))
    if field == "useful_gpu_h":
        return milp >= USEFUL_REL * best
    raise KeyError(field)


GOAL_FIELDS = ("wait_p95_small_s", "wait_p95_large_s", "never_started", "useful_gpu_h")


def aggregate_phases(runs: list[dict]) -> tuple[dict[tuple, dict], dict[str, dict[str, float]]]:
    """Per (fleet, load, seed, policy): the median of every metric over its phase runs; and per goal
    metric and policy, the median over cases of the spread across phases, ``(max - min) / max(|median|, 1)``."""
    import numpy as np

    from colossus.sim.policy_metrics import METRICS

    by: dict[tuple, list[dict]] = {}
    for r in runs:
        by.setdefault((r["fleet"], r["load"], r["seed"], r["policy"]), []).append(r)
    rows: dict[tuple, dict] = {}
    spread: dict[str, dict[str, list[float]]] = {k: {} for k in GOAL_FIELDS}
    for key, rs in by.items():
        agg = dict(rs[0])
        for k, _, _ in METRICS:
            vals = np.asarray([float(r[k]) for r in rs], dtype=np.float64)
            agg[k] = float(np.median(vals))
            agg[f"{k}_range"] = (float(vals.min()), float(vals.max()))
            if k in spread and len(rs) > 1:
                spread[k].setdefault(key[3], []).append(float((vals.max() - vals.min()) / max(abs(agg[k]), 1.0)))
        agg["wall_s"] = float(sum(r["wall_s"] for r in rs))
        agg["phases"] = len(rs)
        rows[key] = agg
    return rows, {k: {p: float(np.median(v)) for p, v in per.items()} for k, per in spread.items()}


def report(rows: dict[tuple, dict], fleets: list[str], loads: list[float], seeds: list[int], pols: list[str]) -> None:
    """Print the table, the closing line per metric and the verdicts over the cases every policy finished."""
    from colossus.sim.policy_metrics import METRICS

    baselines = [p for p in pols if p != "milp"]
    seeds = [s for s in seeds if any((f, ld, s, p) in rows for f in fleets for ld in loads for p in pols)]
    hdr = ["fleet", "load", "seed", "policy"] + [lbl for _, lbl, _ in METRICS] + ["hero progress", "jobs", "wall s"]
    print("\n" + " | ".join(hdr))
    for f in fleets:
        for ld in loads:
            for s in seeds:
                for p in pols:
                    if (f, ld, s, p) not in rows:
                        continue
                    r = rows[(f, ld, s, p)]
                    cells = [f, f"{ld:g}", str(s), p] + [_fmt(k, r[k]) for k, _, _ in METRICS]
                    cells += [f"{r['hero_progress']:.4f}" if r["hero_progress"] is not None else "-", f"{r['jobs']:,}",
                              f"{r['wall_s']:.1f}"]
                    print(" | ".join(cells))
    if not baselines:  # e.g. --policies milp, to add to a --jsonl holding the baselines' runs
        print("\nno baseline in this run: nothing to compare (--report-only --jsonl with every policy compares)")
        return
    cases = [(f, ld, s) for f in fleets for ld in loads for s in seeds if all((f, ld, s, p) in rows for p in pols)]
    print(f"\nmilp against the best baseline ({', '.join(baselines)}) over {len(cases)} cases:")
    ok_by_field: dict[str, list[bool]] = {}
    misses: list[str] = []
    for k, lbl, better in METRICS:
        ratios, oks, worst = [], [], None
        for c in cases:
            m = rows[(*c, "milp")][k]
            vals = [rows[(*c, b)][k] for b in baselines]
            best = min(vals) if better == "lower" else max(vals)
            if k in GOAL_FIELDS:
                ok = _check(k, m, best)
                oks.append(ok)
                if not ok and worst is None:
                    worst = (c, m, best)
                if not ok:
                    misses.append(_miss_line(k, lbl, better, c, rows, baselines))
            ratios.append((m - best, m / best if best else (1.0 if m == best else math.inf)))
        diffs = [d for d, _ in ratios]
        rel = [x for _, x in ratios if math.isfinite(x)]
        goal = ""
        if k in GOAL_FIELDS:
            ok_by_field[k] = oks
            goal = f"; goal met in {sum(oks)}/{len(oks)} cases"
            if worst is not None:
                (f, ld, s), m, best = worst
                goal += f" (first miss: {f} load {ld:g} seed {s}: milp {_fmt(k, m)} vs best {_fmt(k, best)})"
        print(f"  {lbl} ({better} is better): milp - best: median {_fmt(k, float(sorted(diffs)[len(diffs) // 2]))}, "
              f"range [{_fmt(k, min(diffs))}, {_fmt(k, max(diffs))}]; milp / best median "
              f"{sorted(rel)[len(rel) // 2] if rel else math.nan:.3f}{goal}")
    if misses:
        print("\nmisses (per-phase range in brackets when --phases > 1):")
        for line in misses:
            print("  " + line)
    contended = [c for c in cases if c[1] >= CONTENDED_LOAD]
    strict = []
    for c in contended:
        wins = []
        for k in GOAL_FIELDS:
            better = dict((f, b) for f, _, b in METRICS)[k]
            m = rows[(*c, "milp")][k]
            vals = [rows[(*c, b)][k] for b in baselines]
            wins.append(all(m < v for v in vals) if better == "lower" else all(m > v for v in vals))
        strict.append(any(wins))
    print("\nverdict (issue #11 goal):")
    for k, lbl, _ in METRICS:
        if k in ok_by_field:
            oks = ok_by_field[k]
            print(f"  {lbl}: {'MET' if all(oks) else 'NOT MET'} ({sum(oks)}/{len(oks)} cases)")
    if contended:
        print(f"  strictly better than every baseline on >= 1 goal metric in contended cases (load >= {CONTENDED_LOAD:g}): "
              f"{'MET' if all(strict) else 'NOT MET'} ({sum(strict)}/{len(strict)} cases)")


def _miss_line(k: str, lbl: str, better: str, c: tuple, rows: dict[tuple, dict], baselines: list[str]) -> str:
    """One missed goal: milp's figure and the best baseline's, with their ranges across round spacings."""
    def fig(p: str) -> str:
        r = rows[(*c, p)]
        lo, hi = r.get(f"{k}_range", (r[k], r[k]))
        return _fmt(k, r[k]) + (f" [{_fmt(k, lo)}-{_fmt(k, hi)}]" if r.get("phases", 1) > 1 else "")

    vals = {b: rows[(*c, b)][k] for b in baselines}
    best = (min if better == "lower" else max)(vals, key=vals.__getitem__)
    return f"{c[0]} load {c[1]:g} seed {c[2]}, {lbl}: milp {fig('milp')} vs {best} {fig(best)}"


def _print_spread(spread: dict[str, dict[str, float]]) -> None:
    """The noise floor: how far each goal metric moves across round spacings alone (``--phases`` > 1)."""
    if not any(spread.values()):
        return
    print("\nnoise floor (--phases): median over cases of (max - min) / median across round spacings")
    for k, per in spread.items():
        print(f"  {k}: " + ", ".join(f"{p} {v:.1%}" for p, v in sorted(per.items())))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=0.5, help="simulated days per run (default 0.5: ~6 min for the matrix on 2 quiet cores)")
    ap.add_argument("--loads", default=",".join(map(str, LOADS)), help="offered-load shares, comma-separated")
    ap.add_argument("--fleets", default=",".join(FLEETS), help=f"fleets, comma-separated ({', '.join(FLEETS)})")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per case (default 3)")
    ap.add_argument("--policies", default=None, help="policies, comma-separated (default: every registered one)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--quick", action="store_true", help="load 1.0 on both fleets, seed 0 (for iteration)")
    ap.add_argument("--phases", type=int, default=1,
                    help="run every case K times with the scheduler's min_interval_s scaled evenly within +-3 %% "
                         "and compare the medians (default 1; K x the run time). Prints how far each metric "
                         "moves with nothing but the round instants: the benchmark's noise floor")
    ap.add_argument("--estimate-x", type=float, default=1.0,
                    help="give every job a time limit of 1 to X times its run time (log-uniform, seeded): the "
                         "schedulers plan with the limits, as Slurm's do (default 1: no limits, they know "
                         "the exact run times). --report-only keeps the runs of this X")
    ap.add_argument("--jsonl", default=None, help="also append every run's figures to this JSON-lines file as it ends")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: print the table and verdicts from --jsonl (cases every policy finished)")
    a = ap.parse_args(argv)
    from scheduler import policy_names

    print("command:", shlex.join([sys.executable, *sys.argv]), flush=True)
    loads = [1.0] if a.quick else [float(x) for x in a.loads.split(",")]
    seeds = [0] if a.quick else list(range(a.seeds))
    fleets = a.fleets.split(",")
    for f in fleets:
        if f not in FLEETS:
            ap.error(f"--fleets: unknown fleet {f!r}; choices: {', '.join(FLEETS)}")
    pols = a.policies.split(",") if a.policies else policy_names()
    if "milp" not in pols:
        ap.error("--policies must include milp")
    if a.phases < 1:
        ap.error("--phases: must be >= 1")
    if not (math.isfinite(a.estimate_x) and a.estimate_x >= 1.0):
        ap.error("--estimate-x: must be a number >= 1")
    phases = phase_factors(a.phases)
    if a.report_only:
        if a.jsonl is None:
            ap.error("--report-only needs --jsonl")
        saved: dict[tuple, dict] = {}
        with open(a.jsonl, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                if r.get("estimate_x", 1.0) == a.estimate_x:
                    saved[(r["fleet"], r["load"], r["seed"], r["policy"], r.get("phase", 1.0))] = r
        rows, spread = aggregate_phases(list(saved.values()))
        report(rows, fleets, loads, seeds, pols)
        _print_spread(spread)
        return 0
    tasks = [(f, ld, s, p, a.days, ph, a.estimate_x) for s in seeds for f in fleets for ld in loads for p in pols for ph in phases]  # seed 0 of every case first
    print(f"{len(tasks)} runs: fleets {fleets} x loads {loads} x seeds {seeds} x policies {pols} x round spacings "
          f"{phases} (min_interval_s factors), {a.days:g} simulated day(s) each, "
          + (f"time limits 1-{a.estimate_x:g} x run time, " if a.estimate_x > 1 else "exact run times known, ")
          + f"{a.workers} workers "
          f"(host shared: wall times are noisy)", flush=True)
    t0 = time.perf_counter()
    runs: list[dict] = []
    from colossus.sim.policy_metrics import METRICS

    with ProcessPoolExecutor(max_workers=max(1, a.workers)) as ex:
        futs = [ex.submit(run_case, *t) for t in tasks]
        for fut in as_completed(futs):  # progress as runs end (the table below is in a fixed order)
            r = fut.result()
            runs.append(r)
            ph = f" phase {r['phase']:g}" if len(phases) > 1 else ""
            print(f"  done {len(runs)}/{len(tasks)}: {r['fleet']} load {r['load']:g} seed {r['seed']} {r['policy']}{ph}: "
                  + ", ".join(f"{k}={_fmt(k, r[k])}" for k, _, _ in METRICS) + f" ({r['wall_s']:.0f} s)", flush=True)
            if a.jsonl is not None:
                with open(a.jsonl, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({k: v for k, v in r.items()}) + "\n")

    rows, spread = aggregate_phases(runs)
    if len(phases) > 1:
        print(f"\nper case and policy: the median over the {len(phases)} round spacings")
    report(rows, fleets, loads, seeds, pols)
    _print_spread(spread)
    print(f"total wall {time.perf_counter() - t0:.0f} s on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
