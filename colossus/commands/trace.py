"""``colossus trace``: generate, import, inspect and validate job traces (Parquet, schema v1)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from colossus.commands.common import console, emit_json, quiet_option, seed_option
from colossus.errors import InputError

_FORMATS = ("itp", "philly", "philly-json", "helios", "pai", "openb", "acme", "sacct")
_DIVISION_KEYS = ("account", "partition", "qos", "user")


@click.group("trace")
def trace_group() -> None:
    """Job traces: Parquet files of jobs (schema v1), one row per job in submit order.

    \b
    Columns: job_id, submit_time_s, division, num_gpus, duration_s, kind, priority,
    preemptible, work_tokens, model, min_gpus, user, source_status; optional: recorded_wait_s
    (start - submit in the source: sacct, helios, acme, philly-json) and time_limit_s (the
    source's wall-time limit, sacct; colossus simulate plans with it, as Slurm does).

    \b
    Your own Slurm history: export it with
      {sacct}
    then
      colossus trace import sacct jobs.sacct -o mine.parquet --division-map accounts.csv
      colossus trace fit mine.parquet -o workload.toml

    {starttime}

    \b
    Examples:
      colossus trace generate --days 7 -o week.parquet --seed 1
      colossus trace generate my.toml --days 30 -o month.parquet
      colossus trace import itp data/traces/microsoft_itp/cluster*.csv -o itp.parquet
      colossus trace import philly philly.csv -o philly.parquet --division-map vcs.csv
      colossus trace inspect itp.parquet
      colossus trace validate week.parquet
    """


def _scenario(name: str | None) -> Any:
    from colossus.scenario import load_scenario

    return load_scenario(name)


def _output_option(help_text: str) -> Any:
    """``-o/--output FILE`` (required)."""
    return click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
                        required=True, help=help_text)


def _output(path: Path) -> Path:
    if path.exists() and path.is_dir():
        raise InputError(f"{path}: is a folder; -o takes a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@trace_group.command("generate")
@click.argument("scenario", required=False, metavar="[SCENARIO]")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    required=True,
    help="Length of the submit window, days.",
)
@_output_option("Parquet file to write.")
@seed_option()
@click.option("--no-hero", is_flag=True, help="Leave the scenario's hero run out.")
@click.option("--json", "as_json", is_flag=True, help="Print the written file's summary as JSON.")
@quiet_option()
def generate_cmd(
    scenario: str | None,
    days: float,
    output: Path,
    seed: int,
    no_hero: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Generate a synthetic trace for a scenario's divisions.

    SCENARIO is a built-in name (default: memphis) or a TOML file; its [workload] section holds
    the generator's parameters (arrival rate from offered load, diurnal and weekly cycle, the
    LLM-lab job mix of Acme) and its divisions' load_share split the GPU-time. The hero run
    (Grok 3) is one pretrain job sized in tokens, submitted on hero.start_day.

    \b
    Examples:
      colossus trace generate --days 7 -o week.parquet
      colossus trace generate memphis --days 90 -o q.parquet --seed 7 --no-hero
    """
    from colossus.sim.workload import generator_inputs, workload_seed
    from traces.generator import HeroJob, expected_statistics, generate_batches
    from traces.writer import write_trace

    scn = _scenario(scenario)
    gi = generator_inputs(scn)
    params, loads = gi.params, gi.loads
    try:
        expected = expected_statistics(params, loads)
    except ValueError as exc:
        raise InputError(f"{scenario or 'memphis'}: workload: {exc}") from None
    hero = None
    if scn.hero is not None and scn.hero.enabled and not no_hero:
        hero = HeroJob(
            job_id=scn.hero.name,
            division=scn.hero.division,
            num_gpus=scn.hero.gpus,
            work_tokens=scn.hero.tokens,
            model=scn.hero.model,
            submit_time_s=scn.hero.start_day * 86_400.0,
        )
    start = gi.start
    source = f"generator scenario={scn.name} seed={seed} days={days:g}"
    t0 = time.perf_counter()
    rows = write_trace(
        _output(output),
        generate_batches(params, loads, days=days, seed=workload_seed(seed), hero=hero, start=start,
                         load_scale=gi.load_scale),
        start=start,
        source=source,
        divisions=[d.name for d in scn.divisions],
    )
    info = {
        "file": str(output),
        "rows": rows,
        "days": days,
        "seed": seed,
        "scenario": scn.name,
        "hero": hero.job_id if hero else None,
        "expected_jobs_per_day": expected["jobs_per_day"],
        "expected_jobs_per_day_note": "at the highest offered-load step" if len(gi.load_scale) > 1 else "",
        "offered_load_steps": [{"from_day": t / 86_400.0, "offered_load_gpus": f * params.offered_load_gpus}
                               for t, f in gi.load_scale],
        "expected_gpu_time_share_by_kind": expected["gpu_time_share_by_kind"],
        "wall_s": round(time.perf_counter() - t0, 3),
    }
    if as_json:
        emit_json(info)
    elif not quiet:
        click.echo(
            f"wrote {output}: {rows:,d} jobs over {days:g} days (expected {expected['jobs_per_day']:,.0f}/day"
            f"{' at the highest load step' if len(gi.load_scale) > 1 else ''}), seed {seed}"
            + (f", hero {hero.job_id}" if hero else "")
        )


@trace_group.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(_FORMATS))
@click.argument(
    "sources", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="SRC..."
)
@_output_option("Parquet file to write.")
@click.option(
    "--division-map",
    "division_map",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV (key,division), JSON or TOML mapping source VCs/users/clusters to divisions; '*' = default. Without it: a stable hash into the divisions.",
)
@click.option(
    "--scenario",
    "scenario",
    default=None,
    help="Scenario whose divisions to map onto (default: memphis).",
)
@click.option(
    "--division-key",
    "division_key",
    type=click.Choice(_DIVISION_KEYS),
    default=None,
    help="sacct only: the field mapped onto divisions (default: account, then partition when the account is empty).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the import summary as JSON.")
@quiet_option()
def import_cmd(
    fmt: str,
    sources: tuple[Path, ...],
    output: Path,
    division_map: Path | None,
    scenario: str | None,
    division_key: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Import a public trace or your own Slurm accounting into schema v1.

    \b
    FORMAT and its files:
      itp          Microsoft ITP clusterNN.csv (division key: file name)
      philly       Philly job-level philly.csv (key: cluster = VC)
      philly-json  Philly raw cluster_job_log JSON (key: vc)
      helios       Helios cluster_log.csv (key: vc)
      pai          Alibaba PAI 2020 job table AND task table, headerless (key: user)
      openb        Alibaba OpenB v2023 openb_pod_list_*.csv (key: qos)
      acme         Acme trace_seren.csv / trace_kalos.csv (key: user; kind from type)
      sacct        Slurm sacct --parsable2 or --json output (key: --division-key)

    \b
    Export sacct with exactly (text; any column order, extra columns are ignored):
      {sacct}
    or as JSON:
      {sacct_json}

    {starttime} A local-time export is shifted by the UTC offset and, across a daylight-saving
    fall-back, can show an End before its Start (exit 2 with that hint).

    sacct: job steps (123.batch, 123.0) are skipped, array tasks (123_4) are jobs of their own,
    GPUs come from AllocTRES gres/gpu=N (typed GPUs count once), recorded_wait_s = Start - Submit,
    time_limit_s from TimelimitRaw (minutes) or Timelimit (UNLIMITED: none).
    Jobs that never ran, are still running, or use no GPU are left out and counted; a history in
    which no job holds a GPU (slurm.conf lacks AccountingStorageTRES=gres/gpu) exits 2.
    A requeued job (--duplicates shows each run) keeps each finished run as an allocation: the
    last kept run keeps the JobID, earlier ones become JobID#run1, JobID#run2, ...
    Times become seconds from the earliest submit (written as the file's start). A bad file
    exits 2 with one line naming the file, line and column, and writes nothing.

    \b
    Examples:
      colossus trace import itp cluster*.csv -o itp.parquet
      colossus trace import pai pai_job_table.csv pai_task_table.csv -o pai.parquet
      colossus trace import sacct jobs.sacct -o mine.parquet --division-key partition
      colossus trace import sacct jobs.json -o mine.parquet --division-map accounts.csv
    """
    from traces.importers import DivisionMap, import_trace, load_division_map
    from traces.writer import write_trace

    names = [d.name for d in _scenario(scenario).divisions]
    dmap = (
        load_division_map(division_map, names)
        if division_map
        else DivisionMap(divisions=tuple(names))
    )
    if division_key is not None and fmt != "sacct":
        raise InputError(f"--division-key applies to sacct only (format {fmt!r} has a fixed key)")
    t0 = time.perf_counter()
    result = import_trace(fmt, list(sources), divisions=dmap, division_key=division_key)
    rows = write_trace(
        _output(output), result.table, start=result.start, source=result.source, divisions=names
    )
    info = {
        "file": str(output),
        "format": fmt,
        "rows": rows,
        "start": result.start.isoformat(),
        "dropped": result.dropped,
        "wall_s": round(time.perf_counter() - t0, 3),
    }
    if as_json:
        emit_json(info)
    elif not quiet:
        left = ", ".join(f"{v:,d} {k}" for k, v in result.dropped.items())
        click.echo(
            f"wrote {output}: {rows:,d} jobs from {len(sources)} file(s)"
            + (f"; left out {left}" if left else "")
        )


@trace_group.command("fit")
@click.argument("trace", type=click.Path(path_type=Path))
@_output_option("Scenario TOML to write: SCENARIO with its [workload] section replaced by the fit.")
@click.option(
    "--scenario",
    "scenario",
    default=None,
    help="Scenario to start from (default: memphis); the trace's divisions must be its divisions.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the fitted figures as JSON.")
@quiet_option()
def fit_cmd(trace: Path, output: Path, scenario: str | None, as_json: bool, quiet: bool) -> None:
    """Fit the scenario's [workload] section to a trace, so that generate reproduces it.

    Fits, per division, the mean arrival rate, its hour-of-week profile (168 hourly factors,
    Monday 00:00 UTC first) and its job-size distribution over the GPU counts seen; and, per size
    class (1, 2, 3-4, 5-8, 9-16, 17-64, ... GPUs), the run-time quantiles p0..p100 and the kinds.
    Generating 20-30x the trace's span reproduces it to the issue-14 goals (rate per hour of
    week within 10 %, size TV distance <= 0.05, run-time p10/p50/p90 within 15 % for classes
    of >= 1,000 jobs); see benchmarks/history.py.
    offered_load_gpus becomes the trace's own mean load, so changing it scales the rates. The
    output is a whole scenario file (SCENARIO's other sections kept), checked before it is written.

    \b
    Your own Slurm history, end to end ({starttime_short}):
      {sacct}
      colossus trace import sacct jobs.sacct -o mine.parquet --division-map accounts.csv
      colossus trace fit mine.parquet -o mine.toml
      colossus trace generate mine.toml --days 28 -o synthetic.parquet --no-hero

    \b
    Examples:
      colossus trace fit itp.parquet -o itp-workload.toml
      colossus trace fit philly.parquet -o philly.toml --scenario my-cluster.toml --json
    """
    from colossus.scenario.loader import _read_source, parse_scenario
    from colossus.scenario.workload import workload_toml
    from traces.fit import fit_workload, read_sample
    from traces.reader import iter_batches, read_metadata

    scn = _scenario(scenario)
    names = [d.name for d in scn.divisions]
    meta = read_metadata(trace)
    sample = read_sample(iter_batches(trace, divisions=names), meta.start)
    try:
        fitted = fit_workload(sample, source=trace.name)
    except ValueError as exc:
        raise InputError(f"{trace}: {exc}") from None
    label, text = _read_source(scenario)
    body = _without_workload(text).rstrip() + "\n\n" + workload_toml(
        fitted, users_per_division=scn.workload.users_per_division
    )
    import tomllib

    parse_scenario(tomllib.loads(body), source=f"{output} (fitted from {label})")
    from colossus.commands.common import atomic_path

    with atomic_path(_output(output)) as tmp:
        tmp.write_text(body, encoding="utf-8")
    info = {
        "file": str(output),
        "trace": str(trace),
        "jobs": int(sample.submit_s.size),
        "offered_load_gpus": fitted.offered_load_gpus,
        "jobs_per_day": {a.division: a.jobs_per_day for a in fitted.arrivals},
        "sizes": len(fitted.sizes_gpus),
        "size_classes": {
            f"<= {c.max_gpus} GPUs": {"jobs": c.jobs, "p10_p50_p90_s": [c.quantiles_s[10], c.quantiles_s[50], c.quantiles_s[90]]}
            for c in fitted.run_time
        },
    }
    if as_json:
        emit_json(info)
    elif not quiet:
        per_day = ", ".join(f"{k} {v:,.1f}" for k, v in info["jobs_per_day"].items())
        click.echo(
            f"wrote {output}: fitted to {info['jobs']:,d} jobs; jobs/day {per_day}; "
            f"{info['sizes']} sizes, {len(fitted.run_time)} size classes; "
            f"offered load {fitted.offered_load_gpus:,.4g} GPUs"
        )


def _without_workload(text: str) -> str:
    """Scenario TOML text with every ``[workload...]`` table removed."""
    import re

    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    out, skipping = [], False
    for line in text.splitlines():
        m = header.match(line)
        if m:
            name = m.group(1).strip().strip('"')
            skipping = name == "workload" or name.startswith("workload.")
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


@trace_group.command("inspect")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def inspect_cmd(file: Path, as_json: bool) -> None:
    """Summarise a trace: counts, sizes, run times and GPU-time shares.

    Shows rows, time span, GPU-count histogram, run-time percentiles (p50/p90/p99), the share
    of GPU-time by job size, by division and by kind (jobs sized in tokens have no GPU-time), and,
    when the trace has the optional recorded_wait_s column (sacct, helios, acme, philly-json
    imports), the recorded waits' p50/p90/p95/p99 and mean.

    \b
    Recorded waits of your own Slurm: export with
      {sacct}
    and import with 'colossus trace import sacct jobs.sacct -o mine.parquet'.

    {starttime}

    \b
    Example:
      colossus trace inspect itp.parquet          # jobs >= 8 GPUs hold ~79% of GPU time
      colossus trace inspect itp.parquet --json | jq .gpu_time_share_ge8_gpus
    """
    from traces.reader import iter_batches, read_metadata
    from traces.stats import summarize

    meta = read_metadata(file)
    s = summarize(iter_batches(file))
    figures = {
        "file": str(file),
        "start": meta.start.isoformat(),
        "source": meta.source,
        **s.to_dict(),
    }
    if as_json:
        emit_json(figures)
        return
    _print_summary(figures)


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f}%"


def _print_summary(f: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    out.print(f"[bold]{f['file']}[/bold]  source: {f['source']}")
    out.print(
        f"{f['rows']:,d} jobs, submits over {f['span_days']:.1f} days from {f['start']}; "
        f"{f['total_gpu_hours']:,.0f} GPU-hours; {f['token_jobs']} job(s) sized in tokens"
    )
    p = f["duration_percentiles_s"]
    w = f.get("recorded_wait_percentiles_s") or {}
    if w:
        out.print(
            f"recorded wait (start - submit, {f['recorded_wait_jobs']:,d} jobs): p50 {w['p50']:,.0f} s, "
            f"p90 {w['p90']:,.0f} s, p95 {w['p95']:,.0f} s, p99 {w['p99']:,.0f} s, "
            f"mean {f['recorded_wait_mean_s']:,.0f} s"
        )
    if p:
        out.print(
            f"run time p50 {p['p50']:,.0f} s, p90 {p['p90']:,.0f} s, p99 {p['p99']:,.0f} s, mean {f['duration_mean_s']:,.0f} s"
        )
    out.print(
        f"GPU-time share: 1-GPU jobs {_pct(f['gpu_time_share_1_gpu'])}, >=8 GPUs {_pct(f['gpu_time_share_ge8_gpus'])}, "
        f">8 GPUs {_pct(f['gpu_time_share_gt8_gpus'])}"
    )
    sizes = Table(title="by job size (GPUs)")
    for col in ("GPUs", "jobs", "share of jobs", "share of GPU-time"):
        sizes.add_column(col, justify="right")
    for label, n in f["gpu_hist"].items():
        sizes.add_row(
            label,
            f"{n:,d}",
            _pct(n / f["rows"]),
            _pct(f["gpu_time_by_size"].get(label, float("nan"))),
        )
    out.print(sizes)
    for title, key in (("by division", "by_division"), ("by kind", "by_kind")):
        t = Table(title=title)
        for col in (title.split()[1], "jobs", "share of GPU-time"):
            t.add_column(col, justify="right" if col != title.split()[1] else "left")
        for name, v in f[key].items():
            t.add_row(name, f"{v['jobs']:,d}", _pct(v["gpu_time_share"]))
        out.print(t)


@trace_group.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--scenario",
    "scenario",
    default=None,
    help="Check divisions against this scenario (default: memphis).",
)
@click.option("--any-division", is_flag=True, help="Accept any division name.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate_cmd(file: Path, scenario: str | None, any_division: bool, as_json: bool) -> None:
    """Check a trace against schema v1; exit 2 at the first problem.

    Checks: readable Parquet, file metadata, column types, no nulls where required, ranges (GPUs
    >= 1, finite non-negative times, durations > 0), known kinds and divisions, unique job ids,
    submit order. The error names the file, the row (from 1) and the column.

    \b
    Examples:
      colossus trace validate week.parquet
      colossus trace validate external.parquet --any-division
    """
    from traces.reader import iter_batches, read_metadata

    divisions = None if any_division else [d.name for d in _scenario(scenario).divisions]
    meta = read_metadata(file)
    rows = sum(b.num_rows for b in iter_batches(file, divisions=divisions))
    if as_json:
        emit_json(
            {
                "file": str(file),
                "ok": True,
                "rows": rows,
                "start": meta.start.isoformat(),
                "source": meta.source,
                "extra_columns": list(meta.extra_columns),
            }
        )
    else:
        from traces.schema import OPTIONAL_FIELDS

        optional = [c for c in meta.extra_columns if c in OPTIONAL_FIELDS]
        others = [c for c in meta.extra_columns if c not in OPTIONAL_FIELDS]
        extra = (f"; optional columns: {', '.join(optional)}" if optional else "") + (
            f"; extra columns kept and ignored: {', '.join(others)}" if others else ""
        )
        click.echo(
            f"ok: {file}: {rows:,d} jobs, schema v{meta.version}, start {meta.start.isoformat()}{extra}"
        )


def _with_sacct(cmd: click.Command) -> None:
    """Put the exact sacct export command lines into a command's help."""
    from traces.sacct_export import SACCT_COMMAND, SACCT_JSON_COMMAND, STARTTIME_NOTE

    cmd.help = (
        (cmd.help or "")
        .replace("{sacct}", SACCT_COMMAND)
        .replace("{sacct_json}", SACCT_JSON_COMMAND)
        .replace("{starttime}", STARTTIME_NOTE)
        .replace("{starttime_short}", "set --starttime to your first day; keep TZ=UTC")
    )


for _cmd in (trace_group, import_cmd, fit_cmd, inspect_cmd):
    _with_sacct(_cmd)

COMMANDS: list[click.Command] = [trace_group]
