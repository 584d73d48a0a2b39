"""``colossus simulate`` and ``colossus compare``: run the SimPy model of the supercluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from colossus.commands.common import console, emit_json, out_option, quiet_option, seed_option
from colossus.commands.replay_view import add_replay, print_compare_replay, print_replay
from colossus.fileio import atomic_path, json_default

__all__ = ["COMMANDS"]


def _jobs(scenario: Any, trace: Path | None, days: float, seed: int) -> Iterator[Any]:
    if trace is not None:
        from traces.reader import iter_batches

        return iter_batches(trace, divisions=[d.name for d in scenario.divisions])
    from colossus.sim.workload import workload_batches

    return workload_batches(scenario, days, seed)


class _StopOnSigint:
    """Ctrl-C (SIGINT) or SIGTERM asks the run to stop at its next time-series sample; a second
    Ctrl-C aborts (nothing is written then).

    A context manager that installs the handlers (main thread only) and restores the old ones.
    """

    def __init__(self, quiet: bool) -> None:
        self.requested = False
        self.quiet = quiet
        self._old: Any = None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum: int, frame: Any) -> None:
        import signal

        if self.requested:  # second Ctrl-C: stop now (the temporary folder is removed)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.requested = True
        if not self.quiet:
            console(stderr=True).print("[yellow]stopping at the next sample (Ctrl-C again to abort)...[/]")

    def __enter__(self) -> _StopOnSigint:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        for sig, old in (self._old or {}).items():
            signal.signal(sig, old)


def _run(scenario: Any, trace: Path | None, days: float, policy: str | None, seed: int, quiet: bool,
         debug: bool = False, out_dir: Path | None = None) -> Any:
    """One run, streamed to ``out_dir`` when given; Ctrl-C stops it cleanly (``complete`` false)."""
    import time

    from colossus.sim import simulate

    jobs = _jobs(scenario, trace, days, seed)
    with _StopOnSigint(quiet) as stop:
        if quiet:
            return simulate(scenario, jobs, policy, seed, days * 86400.0, debug=debug, out_dir=out_dir, stop=stop)
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        t0 = time.perf_counter()
        con = console(stderr=True)
        if not con.is_terminal:  # a log file: one plain line per simulated day instead of a bar
            last = [0]

            def log_progress(day: float, total: float, n_jobs: int) -> None:
                if int(day) > last[0] or day >= total:
                    last[0] = int(day)
                    wall = time.perf_counter() - t0
                    eta = wall * (total - day) / day if day > 0 else float("nan")
                    con.print(f"day {day:,.1f}/{total:g}: {n_jobs:,} jobs, {n_jobs / wall:,.0f} jobs/s, "
                              f"{wall:,.0f} s elapsed, ETA {eta:,.0f} s")

            return simulate(scenario, jobs, policy, seed, days * 86400.0, debug=debug, progress=log_progress,
                            out_dir=out_dir, stop=stop)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TextColumn("day {task.completed:.1f}/{task.total:g}"), TextColumn("{task.fields[rate]}"),
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                      console=con, transient=True) as bar:
            task = bar.add_task(f"simulating ({policy or scenario.scheduler.policy})", total=days, rate="")

            def progress(day: float, _total: float, n_jobs: int) -> None:
                wall = time.perf_counter() - t0
                rate = f"{n_jobs:,} jobs, {n_jobs / wall:,.0f} jobs/s" if wall > 0 else ""
                bar.update(task, completed=day, rate=rate)

            return simulate(scenario, jobs, policy, seed, days * 86400.0, debug=debug, progress=progress,
                            out_dir=out_dir, stop=stop)


def _fmt_h(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s / 3600.0:,.2f} h" if s >= 3600 else f"{s:,.0f} s"


def _summary_table(res: Any) -> Any:
    from rich.table import Table

    s = res.summary
    t = Table(title=f"{s['scenario']} | policy {s['policy']} | {s['days']:.1f} days | seed {s['seed']}")
    for col in ("division", "jobs", "done", "GPU-h", "util", "wait p50", "wait p95", "wait p99", "preempt", "lost GPU-h"):
        t.add_column(col, justify="left" if col == "division" else "right")
    for name, d in s["divisions"].items():
        t.add_row(name, f"{d['jobs']:,}", f"{d['completed']:,}", f"{d['gpu_hours']:,.0f}",
                  f"{(d['utilisation'] or 0):.1%}", _fmt_h(d["wait_p50_s"]), _fmt_h(d["wait_p95_s"]),
                  _fmt_h(d["wait_p99_s"]), f"{d['preemptions']:,}", f"{d['lost_gpu_hours']:,.0f}")
    return t


def _print_summary(res: Any) -> None:
    con = console()
    s = res.summary
    con.print(_summary_table(res))
    c, p, h, perf = s["cluster"], s["power"], s["hero"], s["performance"]
    con.print(f"cluster: utilisation {(c['utilisation'] or 0):.1%}, {c['failures']:,} node failures; "
              f"power peak {p.get('peak_mw', 0):.1f} MW, energy {p.get('energy_mwh', 0):,.0f} MWh "
              f"(${p.get('energy_cost_usd', 0):,.0f})")
    con.print(f"power: {p.get('hours_above_grid', 0):.1f} h above the grid cap on battery "
              f"({p.get('battery_discharged_mwh', 0):,.0f} MWh discharged), {p.get('hours_over_cap', 0):.1f} h over grid + "
              f"battery; {p.get('starts_held_for_power', 0):,} job starts held for power"
              + ("" if p.get("enforce_cap", True) else " (cap not enforced)"))
    if h is not None:
        fin = f"finished day {h['finish_day']:.1f}" if h["finish_day"] is not None else (
            f"{h['progress']:.1%} done (projected finish day {h.get('projected_finish_day') or float('nan'):.0f})")
        con.print(f"hero {h['job_id']} ({h['gpus']:,} GPUs): {fin}, ETTR {(h['ettr'] or 0):.3f}, "
                  f"{h['interruptions']} interruptions, checkpoint every {h['checkpoint_interval_s'] or 0:.0f} s")
    if s.get("policy_note"):
        con.print(f"[yellow]note:[/] {s['policy_note']}")
    con.print(f"{s['jobs']['total']:,} jobs, {s['scheduler']['rounds']:,} rounds, {perf['wall_s']:.1f} s wall "
              f"({perf['jobs_per_wall_s'] or 0:,.0f} jobs/s, {perf['events_per_wall_s'] or 0:,.0f} events/s)")


def _exit_if_stopped(res: Any, quiet: bool) -> None:
    """Exit with code 130 (the shell's code for Ctrl-C) when the run was stopped early."""
    if res.complete:
        return
    if not quiet:
        console(stderr=True).print(f"[yellow]stopped by Ctrl-C at day {res.summary['days']:.2f}:[/] the results "
                                   "cover the run up to then (summary.json \"complete\": false)")
    raise SystemExit(130)


def _write_report(out: Path) -> None:
    try:
        from capacity import report
    except ImportError:
        return
    fn = getattr(report, "write_sim_report", None)
    if fn is not None:
        fn(out)


@click.command("simulate")
@click.argument("scenario", required=False)
@click.option("--trace", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Job trace (Parquet, schema v1); default: the scenario's generated workload.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Simulated days (default: the scenario's [simulation] days).")
@click.option("--policy", default=None, help="Scheduling policy (default: the scenario's): milp, fifo, backfill, fairshare.")
@click.option("--start-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Simulate from this date (YYYY-MM-DD): phases dated on or before it are online at "
                   "the start and the hero run starts then (e.g. memphis at 200k GPUs: 2024-12-03).")
@seed_option()
@out_option(None, "Results folder: jobs/timeseries/rounds .parquet, summary.json, report.html.")
@click.option("--debug", is_flag=True, help="Check conservation invariants every round (slow).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@quiet_option()
def simulate_cmd(scenario: str | None, trace: Path | None, days: float | None, policy: str | None,
                 start_date: Any, seed: int, out_dir: Path | None, debug: bool, as_json: bool, quiet: bool) -> None:
    """Simulate the cluster: jobs, failures, checkpoints, power and expansion phases.

    \b
    SCENARIO is a built-in name or a TOML file (default: memphis). Without --trace the scenario's
    synthetic workload is generated; the hero run is added when the scenario has one.

    \b
    With --out, results stream to the folder as the run goes (a temporary folder beside it,
    renamed at the end), so memory follows the live jobs, not the horizon. Ctrl-C stops at the
    next time-series sample: the folder then covers the run up to that time, summary.json says
    "complete": false, and the exit code is 130. A second Ctrl-C aborts without writing.

    \b
    Examples:
      colossus simulate                                   # memphis, 30 days, milp
      colossus simulate --days 7 --policy fifo --out runs/fifo
      colossus simulate --start-date 2024-12-03 --days 7    # memphis after the 200k expansion
      colossus simulate --start-date 2024-12-03 --days 365 --out runs/year   # a year, streamed
      colossus simulate examples/llama3_reliability.toml --days 54
      colossus simulate examples/philly_replay.toml --trace philly.parquet --policy backfill

    \b
    Replay your own cluster's history against what happened: with a trace that has recorded
    waits (trace import sacct / helios / acme / philly-json) the summary gains a 'replay' block,
    the terminal a table, and report.html a chart: recorded vs simulated wait p50/p95/p99/mean
    per division, and the Kendall tau of the start order. Export sacct with
      {sacct}
    then
      colossus trace import sacct jobs.sacct -o mine.parquet --division-map accounts.csv
      colossus simulate my-cluster.toml --trace mine.parquet --days 30 --out runs/replay
    """
    from colossus.scenario import load_scenario

    scn = load_scenario(scenario)
    if start_date is not None:
        scn = scn.starting_on(start_date.date())
    d = days if days is not None else scn.simulation.days
    if out_dir is not None:
        from colossus.sim.sink import check_results_folder

        check_results_folder(out_dir)  # before the run, not after it
        res = _run(scn, trace, d, policy, seed, quiet or as_json, debug, out_dir)
        replay = add_replay(res, out_dir, trace)  # recorded vs simulated waits (traces with recorded_wait_s)
        _write_report(out_dir)
    else:  # stream to a scratch folder anyway, so memory stays bounded on long runs
        import tempfile

        with tempfile.TemporaryDirectory(prefix="colossus-sim-") as scratch:
            res = _run(scn, trace, d, policy, seed, quiet or as_json, debug, Path(scratch) / "run")
            replay = add_replay(res, Path(scratch) / "run", trace)
    if as_json:
        emit_json(res.summary)
    elif not quiet:
        _print_summary(res)
        if replay is not None:
            print_replay(replay)
        if out_dir is not None:
            console().print(f"wrote {out_dir}/")
    _exit_if_stopped(res, quiet or as_json)


_COMPARE_COLS = ("utilisation", "hero progress", "hero ETTR", "failures", "rounds", "wall s")


@click.command("compare")
@click.argument("scenario", required=False)
@click.option("--policy", "policies", multiple=True, help="A policy to run (repeat); default: milp, fifo, backfill.")
@click.option("--trace", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Job trace (Parquet); default: the scenario's generated workload.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=None, help="Simulated days.")
@seed_option()
@out_option(None, "Folder: one results folder per policy, compare.json and report.html (wait CDFs per division, metric table).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@quiet_option()
def compare_cmd(scenario: str | None, policies: tuple[str, ...], trace: Path | None, days: float | None, seed: int,
                out_dir: Path | None, as_json: bool, quiet: bool) -> None:
    """Run the same trace and seed under several policies; print them side by side.

    \b
    Examples:
      colossus compare --policy milp --policy fifo --policy backfill --days 7
      colossus compare --policy milp --policy fairshare --days 1 --out cmp/   # cmp/report.html
      colossus compare examples/philly_replay.toml --trace philly.parquet --policy fifo --policy backfill --out cmp/

    \b
    With recorded waits in the trace (e.g. an import of
      {sacct}
    ) each policy's summary gets a 'replay' block and a table shows recorded vs simulated waits
    and the start-order Kendall tau per policy: which policy is closest to your real scheduler.
    """
    from colossus.scenario import load_scenario

    scn = load_scenario(scenario)
    d = days if days is not None else scn.simulation.days
    pols = policies or ("milp", "fifo", "backfill")
    from colossus.sim.compare_report import summarise_run, write_compare_report

    targets = scn.wait_targets_s
    rows: dict[str, Any] = {}
    res = None
    replays: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    cdfs: dict[str, Any] = {}
    for p in pols:
        if res is not None and not res.complete:
            break
        res = _run(scn, trace, d, p, seed, quiet or as_json, out_dir=None if out_dir is None else out_dir / p)
        replays[p] = add_replay(res, out_dir / p if out_dir is not None else None, trace)
        if out_dir is not None:
            _write_report(out_dir / p)
        metrics[p], cdfs[p] = summarise_run(res.jobs, d * 86400.0, wait_targets_s=targets,
                                            default_target_s=scn.scheduler.objective.default_wait_target_s,
                                            grace_s=scn.scheduler.round_s)
        s = res.summary
        rows[p] = {"divisions": {k: {"wait_p50_s": v["wait_p50_s"], "wait_p95_s": v["wait_p95_s"],
                                     "wait_p99_s": v["wait_p99_s"], "gpu_hours": v["gpu_hours"],
                                     "utilisation": v["utilisation"], "preemptions": v["preemptions"]}
                                 for k, v in s["divisions"].items()},
                   "utilisation": s["cluster"]["utilisation"], "failures": s["cluster"]["failures"],
                   "hero_progress": s["hero"]["progress"] if s["hero"] else None,
                   "hero_ettr": s["hero"]["ettr"] if s["hero"] else None,
                   "rounds": s["scheduler"]["rounds"], "wall_s": s["performance"]["wall_s"], "note": s.get("policy_note"),
                   "metrics": metrics[p].as_dict()}
        if replays[p] is not None:
            rows[p]["replay"] = {k: replays[p][k] for k in ("jobs_matched", "kendall_tau_start_order", "all", "divisions")}
    pols = tuple(rows)  # fewer when Ctrl-C stopped the comparison
    out = {"scenario": scn.name, "days": d, "seed": seed, "policies": rows, "complete": bool(res is None or res.complete)}
    if out_dir is not None:
        with atomic_path(out_dir / "compare.json") as tmp:
            tmp.write_text(json.dumps(out, indent=2, default=json_default) + "\n")
        write_compare_report(out_dir / "report.html", f"{scn.name}: {', '.join(pols)} | {d:g} days | seed {seed}", metrics, cdfs)
    if as_json:
        emit_json(out)
    if quiet or as_json:
        if res is not None:
            _exit_if_stopped(res, True)
        return
    from rich.table import Table

    t = Table(title=f"{scn.name}: {d:g} days, seed {seed}")
    t.add_column("metric")
    for p in pols:
        t.add_column(p, justify="right")
    for name in rows[pols[0]]["divisions"]:
        for key, label in (("wait_p50_s", "wait p50"), ("wait_p95_s", "wait p95"), ("wait_p99_s", "wait p99")):
            t.add_row(f"{name} {label}", *[_fmt_h(rows[p]["divisions"][name][key]) for p in pols])
    from colossus.sim.policy_metrics import METRICS, format_metric

    for key, label, _better in METRICS:
        t.add_row(label, *[format_metric(key, getattr(metrics[p], key)) for p in pols])
    t.add_row("cluster utilisation", *[f"{(rows[p]['utilisation'] or 0):.1%}" for p in pols])
    t.add_row("hero progress", *[f"{rows[p]['hero_progress']:.1%}" if rows[p]["hero_progress"] is not None else "-" for p in pols])
    t.add_row("hero ETTR", *[f"{rows[p]['hero_ettr']:.3f}" if rows[p]["hero_ettr"] is not None else "-" for p in pols])
    t.add_row("rounds", *[f"{rows[p]['rounds']:,}" for p in pols])
    t.add_row("wall s", *[f"{rows[p]['wall_s']:.1f}" for p in pols])
    console().print(t)
    if all(replays[p] is not None for p in pols):
        print_compare_replay(replays, pols)
    for p in pols:
        if rows[p]["note"]:
            console().print(f"[yellow]note ({p}):[/] {rows[p]['note']}")
    if res is not None:
        _exit_if_stopped(res, False)


def _with_sacct(cmd: click.Command) -> None:
    from traces.sacct_export import SACCT_COMMAND

    cmd.help = (cmd.help or "").replace("{sacct}", SACCT_COMMAND)


_with_sacct(simulate_cmd)
_with_sacct(compare_cmd)

COMMANDS = [simulate_cmd, compare_cmd]
