"""``colossus plan`` (the capacity planner) and ``colossus report`` (HTML for a result folder)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from capacity.registry import DEFAULT_EVALUATOR, DEFAULT_MAX_ITERATIONS, EVALUATOR_DEFAULTS, EVALUATORS
from colossus.commands.common import console, emit_json, out_option, quiet_option, seed_option
from colossus.errors import InputError

COMMANDS: list[click.Command] = []


def _print_plan(plan: Any, mc: Any, con: Any) -> None:
    from rich.table import Table

    inp = plan.inputs
    t = Table(title=f"Expansion plan ({plan.status}, {plan.solve_s:.2f} s)", show_lines=False)
    for col in ("month", "online", "GPUs", "MW / cap", "capex $M", "unmet GPUs", "binding"):
        t.add_column(col, justify="right" if col not in ("online", "binding") else "left")
    for m in range(inp.horizon):
        added = ", ".join(f"{plan.arrays_added[s][m]}x{s}" for s in plan.arrays_added if plan.arrays_added[s][m]) or "-"
        binds = ", ".join(dict.fromkeys(b.constraint for b in plan.binding if b.month == m)) or "-"
        t.add_row(inp.months[m].strftime("%Y-%m"), added, f"{sum(plan.gpus_installed[s][m] for s in inp.skus):,.0f}",
                  f"{plan.power_mw[m]:.0f} / {inp.power_cap_mw[m]:.0f}", f"{plan.capex_usd[m] / 1e6:,.0f}",
                  f"{sum(plan.unmet_gpus[d][m] for d in inp.divisions):,.0f}", binds)  # fmt: skip
    con.print(t)
    arrays = ", ".join(f"{n} x {s} ({n * 512:,} GPUs)" for s, n in plan.total_arrays.items() if n) or "nothing"
    con.print(f"Buy: {arrays}; capex ${sum(plan.capex_usd) / 1e9:.2f}B; unmet {plan.total_unmet_gpu_months:,.0f} reference GPU-months.")
    for c, row in plan.binding_summary().items():
        con.print(f"  binds: {c} in {row['months']} month(s), first {row['first']}")
    if inp.hero is not None:
        h = inp.hero
        con.print(f"Hero {h.name}: planned finish {plan.hero_finish_date} (target {h.target_finish_date}); "
                  f"ETTR {h.ettr:.2f} ({h.ettr_source}); {h.tokens_per_gpu_s:.0f} tokens/s/GPU ({h.throughput_source}).")  # fmt: skip
    if mc is not None:
        if mc.hero_finish:
            hf = mc.hero_finish
            con.print(f"Monte Carlo hero finish: p50 {hf.get('p50')} [5%: {hf.get('lo')}, 95%: {hf.get('hi')}], "
                      f"on time in {hf.get('on_time_fraction', float('nan')):.0%} of replications; sampled ETTR {mc.hero_ettr.get('mean', float('nan')):.2f}.")  # fmt: skip
        if mc.slo_misses:
            over = sum(1 for x in mc.slo_misses if x["reason"] == "overloaded")
            con.print(f"[yellow]{len(mc.slo_misses)} (month, division) pairs miss their SLO[/yellow]: {over} overloaded "
                      f"(forecast load >= the capacity it could get; simulated waits reported as censored lower bounds), "
                      f"{len(mc.slo_misses) - over} with a simulated p95 wait above the SLO (see plan.json "
                      "monte_carlo.slo_misses, report.html).")  # fmt: skip
        else:
            con.print("Every checked month meets every division's p95 wait SLO, and no month is overloaded.")


def _print_sizing(sizing: dict[str, Any] | None, con: Any) -> None:
    if not sizing:
        return
    its = sizing["iterations"]
    steps = "; ".join(f"round {it['index']}: {it['misses_wait']} wait + {it['misses_overloaded']} overloaded misses, "
                      f"capex ${it['total_capex_usd'] / 1e9:.2f}B" for it in its)  # fmt: skip
    from capacity.replan import sizing_state

    by: dict[str, int] = {}
    for u in sizing["unresolved"]:
        by[u["constraint"]] = by.get(u["constraint"], 0) + 1
    con.print(f"SLO sizing: {len(its)} plan-and-check round(s) ({sizing_state(sizing)}): {steps}.")
    if by:
        con.print("  left missing, by the constraint that prevents it: " + ", ".join(f"{c} {n}" for c, n in by.items()))


def _print_replan(rp: Any, con: Any) -> None:
    if rp.ettr_first_order is None:
        return
    if rp.passes == 1:
        con.print(f"One MILP pass (ETTR {rp.ettr_first_order:.3f}, first-order): {rp.reason}.")
        return
    what = "; ".join(rp.changes[:4]) + (f"; +{len(rp.changes) - 4} more" if len(rp.changes) > 4 else "")
    if rp.final_checked:
        e = f"the simulated ETTR {rp.ettr_simulated:.3f}" if rp.ettr_simulated is not None else f"ETTR {rp.ettr_first_order:.3f}"
        con.print(f"{rp.passes} MILP passes, later ones with {e} (first-order {rp.ettr_first_order:.3f}); the Monte Carlo "
                  "figures are those of the final plan.")  # fmt: skip
        return
    con.print(f"Re-planned once with the simulated ETTR {rp.ettr_simulated:.3f} (first-order {rp.ettr_first_order:.3f}): "
              f"{'plan changed: ' + what if rp.plan_changed else 'plan unchanged'}. "
              "Monte Carlo figures are those of the first pass.")  # fmt: skip


@click.command("plan")
@click.argument("scenario", required=False)
@click.option("--horizon-months", type=click.IntRange(min=1, max=120), default=None, help="Planning horizon [default: the scenario's].")
@click.option("--replications", "-r", type=click.IntRange(min=0), default=None,
              help="Monte Carlo replications (0: plan only) [default: 16].")  # fmt: skip
@click.option("--workers", "-w", type=click.IntRange(min=1), default=None,
              help="Local worker processes [default: the CPU count, at most 8]; results do not depend on it.")
@click.option("--cluster", default=None,
              help="Dask: 'local' (a LocalCluster of --workers processes) or a scheduler address (tcp://host:8786, "
                   "5 s connect timeout); needs the dist extra.")
@click.option("--check-every", type=click.IntRange(min=1), default=None,
              help="Check every k-th month (and the last) by Monte Carlo [default: 3].")
@click.option("--evaluator", type=click.Choice(list(EVALUATORS)), default=DEFAULT_EVALUATOR, show_default=True,
              help="How each checked month is simulated. sim: colossus.sim.simulate of the divisions' forecast load "
                   "on a replica of the planned fleet, one window per checked month (p95 waits; measures the hero's "
                   "ETTR, which the later SLO-sizing rounds, or one more MILP pass, plan with); queue: a fast "
                   "FIFO-queue approximation per division (first-order ETTR). Overloaded months are flagged either way.")
@click.option("--sim-gpus", type=click.IntRange(min=64), default=4096, show_default=True,
              help="GPUs of the simulated replica of each month's fleet (sim evaluator).")
@click.option("--window-days", type=click.FloatRange(min=0.1), default=None,
              help="Simulated days per checked month; the first quarter is warm-up [default: 0.5 with sim, 1 with queue].")
@click.option("--max-iterations", type=click.IntRange(min=1, max=10), default=None,
              help="Plan-and-check rounds at most: months that miss a wait SLO the plan served get more capacity and "
                   "the plan is solved again [default: 3].")
@click.option("--mip-gap", type=click.FloatRange(min=0.0, max=0.5), default=None,
              help="Relative MIP gap of every plan solve [default: 1e-6, with a 60 s limit per solve]. With an ample "
                   "budget and grid many schedules cost nearly the same and the default gap runs to the limit; "
                   "1e-3 (within 0.1 %) solves such plans in about a second.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Replication cache [default: OUT/.mc-cache]; an interrupted run resumes from it.")  # fmt: skip
@seed_option()
@out_option(default="plan-out", help_text="Folder for plan.json, plan.parquet and report.html.")
@click.option("--json", "as_json", is_flag=True, help="Print plan.json's content on stdout.")
@quiet_option()
def plan_cmd(scenario: str | None, horizon_months: int | None, replications: int | None, workers: int | None, cluster: str | None,
             check_every: int | None, evaluator: str, sim_gpus: int, window_days: float | None, max_iterations: int | None,
             mip_gap: float | None, cache_dir: Path | None, seed: int, out_dir: Path, as_json: bool, quiet: bool) -> None:  # fmt: skip
    """Plan what to buy when: GPUs by SKU and month under the power cap and the budget.

    Sizes each division to its p95 wait SLO (an M/G/c queueing estimate of its jobs), solves a
    MILP over the horizon (integer 512-GPU arrays per SKU per month; capex + energy + a penalty
    for unmet demand; power cap, quarterly budget, lead times, the hero's deadline), then checks
    the plan by Monte Carlo: the divisions' forecast demand simulated on the planned fleet
    (p95 waits with confidence intervals; overloaded months; the hero's finish from simulated
    progress). Months that miss an SLO the plan served get more capacity and the plan is solved
    again; misses it cannot fix name the constraint (lead time, power cap, budget, delivery
    rate). Writes plan.json, plan.parquet and report.html (executive summary first).

    \b
    Examples:
      colossus plan                                   # built-in memphis, 24 months
      colossus plan --max-iterations 1                # one plan, one check
      colossus plan examples/b200_300mw.toml --out b200
      colossus plan --replications 64 --workers 2
      colossus plan --cluster local --workers 2       # Dask LocalCluster (dist extra)
      colossus plan --replications 0 --json           # plan only, JSON on stdout
    """
    from capacity.montecarlo import McConfig, make_executor
    from capacity.outputs import plan_document, write_plan_folder
    from capacity.replan import plan_and_check, sizing_to_dict
    from colossus.scenario import load_scenario

    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = max(1, min(8, cpus))
    dflt = EVALUATOR_DEFAULTS[evaluator]
    replications = int(dflt["replications"]) if replications is None else replications
    check_every = int(dflt["check_every_months"]) if check_every is None else check_every
    window_days = float(dflt["window_days"]) if window_days is None else window_days
    con = console(stderr=as_json)
    scn = load_scenario(scenario)
    if scn.capacity is None:
        raise InputError(f"{scenario or 'memphis'}: no [capacity] section (the planner needs options and a budget)")
    t0 = time.perf_counter()
    cfg = None
    executor, close = None, (lambda: None)
    if replications > 0:
        cfg = McConfig(replications=replications, check_every_months=check_every, window_days=window_days,
                       warmup_days=min(1.0, window_days / 4), seed=seed, evaluator=evaluator,
                       sim_gpus=sim_gpus)  # fmt: skip
        executor, close = make_executor(workers, cluster)  # a bad --cluster fails here, before planning
    cache = cache_dir or out_dir / ".mc-cache"
    iters = DEFAULT_MAX_ITERATIONS if max_iterations is None else max_iterations
    try:
        if quiet or cfg is None:
            run = plan_and_check(scn, horizon_months=horizon_months, cfg=cfg, executor=executor, cache_dir=cache,
                                 max_iterations=iters, milp_gap=mip_gap)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console(stderr=True), transient=False) as prog:  # fmt: skip
                task = prog.add_task("Monte Carlo replications", total=replications)
                run = plan_and_check(scn, horizon_months=horizon_months, cfg=cfg, executor=executor, cache_dir=cache,
                                     max_iterations=iters, milp_gap=mip_gap,
                                     progress=lambda done, total: prog.update(task, completed=done, total=total))  # fmt: skip
    finally:
        close()
    plan, mc = run.plan, run.mc
    sizing = sizing_to_dict(run) if run.iterations else None
    paths = write_plan_folder(out_dir, plan, mc, scn, cfg, run.replan, sizing)
    if as_json:
        import json

        emit_json(json.loads(paths["plan.json"].read_text(encoding="utf-8")))
        return
    if not quiet:
        _print_plan(plan, mc, con)
        _print_sizing(sizing, con)
        _print_replan(run.replan, con)
        con.print(f"Wrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - t0:.1f} s.")
    _ = plan_document  # re-exported for library users


COMMANDS.append(plan_cmd)


@click.command("report")
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@quiet_option()
def report_cmd(results_dir: Path, quiet: bool) -> None:
    """Write RESULTS_DIR/report.html for a simulation result folder (self-contained, offline).

    \b
    Examples:
      colossus simulate --out run1 && colossus report run1
    """
    from capacity.report import write_sim_report

    if not (results_dir / "summary.json").exists() and not (results_dir / "timeseries.parquet").exists():
        raise InputError(f"{results_dir}: not a result folder (no summary.json or timeseries.parquet)")
    path = write_sim_report(results_dir)
    if not quiet:
        console().print(f"Wrote {path}")


COMMANDS.append(report_cmd)
