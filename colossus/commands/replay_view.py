"""The CLI edge of :mod:`colossus.sim.replay`: read the files, extend summary.json, print the table.

Used by ``colossus simulate --trace`` and ``colossus compare --trace`` after the results folder
is written: jobs come from ``jobs.parquet`` (or the in-memory results without ``--out``), recorded
waits from the trace's optional ``recorded_wait_s`` column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from colossus.commands.common import console
from colossus.fileio import atomic_path, json_default

__all__ = ["add_replay", "print_compare_replay", "print_replay", "replay_cells"]

_JOB_COLUMNS = ["job_id", "division", "submit_time_s", "first_start_s"]


def add_replay(res: Any, out_dir: Path | None, trace: Path | None) -> dict[str, Any] | None:
    """Compute the ``replay`` block; put it in ``res.summary`` and ``out_dir/summary.json``.

    Returns None (and changes nothing) without a trace or when it has no recorded waits.
    """
    if trace is None:
        return None
    import pyarrow.parquet as pq

    from colossus.sim.replay import replay_comparison
    from traces.reader import read_metadata

    if "recorded_wait_s" not in read_metadata(trace).extra_columns:
        return None
    recorded = pq.read_table(trace, columns=["job_id", "submit_time_s", "recorded_wait_s"])
    if out_dir is not None and (out_dir / "jobs.parquet").exists():
        jobs = pq.read_table(out_dir / "jobs.parquet", columns=_JOB_COLUMNS)
    else:
        jobs = res.jobs.select(_JOB_COLUMNS)
    block = replay_comparison(jobs, recorded, horizon_s=float(res.summary["horizon_s"]), source=trace.name)
    if block is None:
        return None
    res.summary["replay"] = block
    path = out_dir / "summary.json" if out_dir is not None else None
    if path is not None and path.exists():
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["replay"] = block
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(summary, indent=2, default=json_default, allow_nan=False) + "\n")
    return block


def replay_cells(block: dict[str, Any], name: str, side: str) -> str:
    """``p50 / p95 / p99 / mean`` of one division (or ``all``) and side (recorded / simulated)."""
    from colossus.sim.compare_report import wait_cells

    d = block["all"] if name == "all" else block["divisions"][name]
    return wait_cells(d[side])


def print_replay(block: dict[str, Any], title: str = "") -> None:
    """The side-by-side table: recorded and simulated wait p50 / p95 / p99 / mean per division."""
    from rich.table import Table

    from colossus.sim.compare_report import format_wait

    t = Table(title=f"replay against what happened{': ' + title if title else ''} ({block['trace']})")
    for col in ("division", "jobs", "recorded p50", "simulated p50", "recorded p95", "simulated p95",
                "recorded p99", "simulated p99", "recorded mean", "simulated mean", "never started"):
        t.add_column(col, justify="left" if col == "division" else "right")
    rows = [*block["divisions"].items(), ("all", block["all"])]
    for name, d in rows:
        r, s = d["recorded"], d["simulated"]
        cells = []
        for k in ("p50_s", "p95_s", "p99_s", "mean_s"):
            cells += [format_wait(r[k]), format_wait(s[k])]
        t.add_row(name, f"{d['jobs']:,}", *cells, f"{d['censored']:,}")
    con = console()
    con.print(t)
    tau = block["kendall_tau_start_order"]
    con.print(
        f"start order, recorded vs simulated: Kendall tau {tau:.3f}" if tau is not None
        else "start order: Kendall tau undefined (fewer than two distinct starts)",
        f"over {block['jobs_matched']:,} jobs"
        + (f"; {block['jobs_not_simulated']:,} recorded jobs not in the simulation" if block["jobs_not_simulated"] else ""),
    )


def print_compare_replay(replays: dict[str, dict[str, Any]], policies: tuple[str, ...]) -> None:
    """Recorded waits and each policy's simulated waits (p50 / p95 / p99 / mean) side by side."""
    from rich.table import Table

    first = replays[policies[0]]
    t = Table(title=f"replay against what happened ({first['trace']}): wait p50 / p95 / p99 / mean")
    t.add_column("division")
    t.add_column("recorded", justify="right")
    for p in policies:
        t.add_column(p, justify="right")
    for name in [*first["divisions"], "all"]:
        t.add_row(name, replay_cells(first, name, "recorded"),
                  *[replay_cells(replays[p], name, "simulated") if name == "all" or name in replays[p]["divisions"]
                    else "-" for p in policies])
    taus = [replays[p]["kendall_tau_start_order"] for p in policies]
    t.add_row("start-order Kendall tau", "(reference)", *[f"{x:.3f}" if x is not None else "-" for x in taus])
    console().print(t)
