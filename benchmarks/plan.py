"""Time `colossus plan` on the default scenario (target: < 120 s on 2 cores), and the issue-12 goal figures.

Run: .venv/bin/python benchmarks/plan.py [--workers N] [--replications R] [--evaluator sim|queue]
     [--cluster local|ADDR] [--ample | --starved] [--horizon-months H] [--mip-gap G] [--out DIR]
Prints the MILP build/solve times, the plan-and-check rounds of SLO sizing (each a Monte Carlo
run; misses by reason, what was raised, each round's MILP status), the re-plan record (the
simulated ETTR; ``sim`` evaluator only), the outputs and the total, against the 120 s target,
with the CPU seconds used (this process and its workers) and the load average at the start and
end: the host is shared, so quote ranges over runs, and CPU seconds / cores as the time on an
idle machine.

Goal figures (issue 12), printed for every run:
* short division-months (the plan leaves demand unmet) and how many the check flags;
* checked division-months where nothing is unmet, and the share that meets its SLO in simulation.

Variants of memphis: ``--ample`` (budget $1e12 per quarter, a 5 GW grid from the start: the
"ample budget and power" goal, >= 90 % of those served months met) and ``--starved`` (budget
$1 per quarter: nothing can be bought; every short division-month must be flagged). With
``--ample`` the MILP has many near-equal schedules: at the default gap (1e-6) each solve runs to
its 60 s limit, so ``--ample`` defaults to ``--mip-gap 1e-3`` (an optimum within 0.1 %).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# benchmarks/scheduler.py would shadow the `scheduler` package when this folder is sys.path[0]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from capacity.montecarlo import McConfig, make_executor  # noqa: E402
from capacity.outputs import write_plan_folder  # noqa: E402
from capacity.registry import DEFAULT_EVALUATOR, EVALUATOR_DEFAULTS, EVALUATORS  # noqa: E402
from capacity.replan import plan_and_check, sizing_to_dict  # noqa: E402
from capacity.sizing import DEFAULT_MAX_ITERATIONS  # noqa: E402
from colossus.scenario import load_scenario  # noqa: E402


def _variant(scn: Any, *, ample: bool, starved: bool) -> Any:
    import dataclasses

    from colossus.scenario.types import GridStep

    if ample:
        return dataclasses.replace(scn, capacity=dataclasses.replace(scn.capacity, budget_usd_per_quarter=1e12),
                                   power=dataclasses.replace(scn.power, grid=(GridStep(date=scn.scenario.start_date, mw=5000.0),)))
    if starved:
        return dataclasses.replace(scn, capacity=dataclasses.replace(scn.capacity, budget_usd_per_quarter=1.0))
    return scn


def _cpu_s() -> float:
    import resource

    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))  # fmt: skip


def main() -> None:
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=max(1, min(8, cpus)), help="default: as colossus plan (the CPU count, at most 8)")
    ap.add_argument("--replications", type=int, default=None, help="default: the evaluator's (16)")
    ap.add_argument("--evaluator", default=DEFAULT_EVALUATOR, choices=list(EVALUATORS))
    ap.add_argument("--cluster", default=None, help="Dask: local or a scheduler address")
    ap.add_argument("--check-every", type=int, default=None, help="default: the evaluator's (3)")
    ap.add_argument("--max-iterations", type=int, default=DEFAULT_MAX_ITERATIONS, help="plan-and-check rounds at most")
    ap.add_argument("--horizon-months", type=int, default=None, help="default: the scenario's (24)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--ample", action="store_true", help="budget $1e12/quarter and a 5 GW grid (the ample-plan goal)")
    g.add_argument("--starved", action="store_true", help="budget $1/quarter: nothing can be bought")
    ap.add_argument("--mip-gap", type=float, default=None, help="MILP relative gap [default: 1e-3 with --ample, else the planner's 1e-6]")
    ap.add_argument("--milp-time-limit", type=float, default=None, help="MILP time limit per solve, s [default: 60]")
    ap.add_argument("--out", type=Path, default=None, help="keep the plan folder (plan.json, report.html) here")
    args = ap.parse_args()
    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.1f} / {load0[1]:.1f} / {load0[2]:.1f} on {cpus} CPUs", flush=True)
    gap = args.mip_gap if args.mip_gap is not None else (1e-3 if args.ample else None)
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    scn = _variant(load_scenario(None), ample=args.ample, starved=args.starved)
    dflt = EVALUATOR_DEFAULTS[args.evaluator]
    window = float(dflt["window_days"])
    cfg = McConfig(replications=int(args.replications if args.replications is not None else dflt["replications"]),
                   evaluator=args.evaluator, window_days=window, warmup_days=min(1.0, window / 4),
                   check_every_months=int(args.check_every if args.check_every is not None else dflt["check_every_months"]))
    ex, close = make_executor(args.workers, args.cluster)
    t_ex = time.perf_counter() - t0
    try:
        run = plan_and_check(scn, horizon_months=args.horizon_months, cfg=cfg, executor=ex, max_iterations=args.max_iterations,
                             milp_gap=gap, milp_time_limit_s=args.milp_time_limit)  # fmt: skip
    finally:
        close()
    t2 = time.perf_counter()
    sizing = sizing_to_dict(run) if run.iterations else None
    if args.out is not None:
        write_plan_folder(args.out, run.plan, run.mc, scn, cfg, run.replan, sizing)
    else:
        with tempfile.TemporaryDirectory() as d:
            write_plan_folder(Path(d), run.plan, run.mc, scn, cfg, run.replan, sizing)
    t3 = time.perf_counter()
    cpu = _cpu_s() - cpu0
    variant = "ample (budget $1e12/quarter, 5 GW grid)" if args.ample else "starved (budget $1/quarter)" if args.starved else "default"
    print(f"scenario: memphis, {variant}, {run.plan.inputs.horizon} months; MILP gap "
          f"{gap if gap is not None else 'default (1e-6)'}, time limit {args.milp_time_limit or 'default (60 s)'}")
    first, rp, mc = run.replan.first_plan, run.replan, run.mc
    where = f"Dask {args.cluster}" if args.cluster else f"{args.workers} worker(s)"
    print(f"executor start ({where}): {t_ex:.2f} s")
    print(f"plan MILP pass 1: build {first.build_s:.3f} s, solve {first.solve_s:.3f} s ({first.status})")
    print(f"Monte Carlo + re-plan: {cfg.replications} replications x {len(mc.months) if mc else 0} months, "
          f"evaluator {args.evaluator}: {t2 - t0 - t_ex:.2f} s (incl. pass 1)")
    for it in run.iterations:
        print(f"  round {it.index}: {it.misses_wait} wait + {it.misses_overloaded} overloaded misses, "
              f"capex ${sum(it.plan.capex_usd) / 1e9:.2f}B, unmet {it.plan.total_unmet_gpu_months:,.0f} GPU-months, "
              f"{len(it.raises)} raise(s); its MILP: {it.plan.status}, solve {it.plan.solve_s:.2f} s"
              + (" (time limit hit)" if it.plan.status != "Optimal" else ""))
    by: dict[str, int] = {}
    for u in run.unresolved:
        by[u.constraint] = by.get(u.constraint, 0) + 1
    print(f"SLO sizing: {len(run.iterations)} round(s); converged (nothing left to raise) {bool(sizing and sizing['converged'])}; "
          f"left missing by constraint: {by or 'none'}")
    if run.mc is not None:
        inp, mc = run.plan.inputs, run.mc
        st = [v for row in mc.slo_status.values() for v in row]
        short = {(m, d) for d in inp.divisions for m in range(inp.horizon) if run.plan.unmet_gpus[d][m] > 0.5}
        flagged = {(x["month"], x["division"]) for x in mc.slo_misses}
        print(f"GOAL starved: short division-months {len(short)}, flagged {len(short & flagged)} "
              f"({len(short & flagged) / len(short):.0%})" if short else "GOAL starved: no division-month is short")
        served = [(m, d) for d in inp.divisions for m in mc.months if run.plan.unmet_gpus[d][m] <= 0.5]
        met = [(m, d) for m, d in served if mc.slo_status[d][m] == "met"]
        print(f"GOAL ample: checked division-months where nothing is unmet: {len(served)}, SLO met in simulation: "
              f"{len(met)} ({len(met) / len(served):.0%}; goal >= 90 % with ample budget and power)"
              if served else "GOAL ample: no checked division-month is fully served")
        for m, d in sorted(set(served) - set(met)):
            j = mc.months.index(m)
            print(f"    not met: {inp.months[m]:%Y-%m} {d}: {mc.slo_status[d][m]}, p95 {mc.waits[d]['p95_mean'][j] / 3600:.2f} h "
                  f"(SLO {inp.wait_p95_slo_s.get(d, float('nan')) / 3600:.2f} h), load ratio {mc.load_ratio[d][m]}")
        cens = sum(1 for row in mc.waits.values() for c in row["censored"] if c)
        print(f"status counts over all months: { {k: st.count(k) for k in sorted(set(st))} }; "
              f"censored checked division-months (lower bounds): {cens}")
    if rp.passes == 2 and not rp.final_checked:
        print(f"plan MILP pass 2 (simulated ETTR {rp.ettr_simulated:.3f} vs first-order {rp.ettr_first_order:.3f}): "
              f"solve {run.plan.solve_s:.3f} s; plan {'changed' if rp.plan_changed else 'unchanged'} "
              f"({len(rp.changes)} difference(s))")
    else:
        print(f"one MILP pass: {rp.reason}")
    print(f"outputs (json, parquet, report.html): {t3 - t2:.2f} s" + (f" -> {args.out}" if args.out else ""))
    load1 = os.getloadavg()
    print(f"total: {t3 - t0:.2f} s wall (target < 120 s); {cpu:.1f} CPU s in this process and its workers "
          f"(= {cpu / max(1, min(args.workers, cpus)):.1f} s on {min(args.workers, cpus)} idle core(s)); "
          f"load average at end {load1[0]:.1f} / {load1[1]:.1f} / {load1[2]:.1f} on {cpus} CPUs")


if __name__ == "__main__":
    main()
