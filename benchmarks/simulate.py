"""Simulation throughput: simulated jobs and events per wall second; Philly replay medians.

    python benchmarks/simulate.py                    # memphis 7 days + the whole Philly trace (~10 min)
    python benchmarks/simulate.py --days 7 30        # also 30 days
    python benchmarks/simulate.py --no-philly --start 2024-12-03 --days 7   # the 200k phase only
    python benchmarks/simulate.py --no-philly --days 1
    python benchmarks/simulate.py --philly-days 30   # a prefix of the Philly trace
    python benchmarks/simulate.py --no-memphis --philly-days 30   # the Philly replay only

memphis (MILP, failures on, power cap enforced) over each --days value under --policy, twice: from
day 0 (phase 1: 100,352 H100, ~90k of them the Grok 3 run, ~5k background jobs/day) and from
2024-12-03 (the 200,192-GPU phase, ~100k background jobs/day); the background load follows the
capacity (workload.offered_load_share). Rounds run at most once a minute, so jobs per wall second
grow with jobs per round: the 200k phase is the throughput figure.
Then it replays ../shared/data/traces/philly/philly.csv (imported with
traces.importers.philly.import_philly_csv, each VC hash mapped to its own division by
examples/philly_divisions.toml; --philly-days N keeps jobs submitted in the first N days) on
examples/philly_replay.toml (11 VCs + 'other' with hard per-VC quotas) under fifo and milp,
printing median run and queue time next to the published 874 s and 189 s (Acme's summary of the
full Philly trace, 112,956 GPU jobs) and next to the replayed subset's own median duration.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/traces.py and benchmarks/scheduler.py would shadow the packages of the same name.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if not p or str(Path(p).resolve()) != _HERE]

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from colossus.scenario import load_scenario  # noqa: E402
from colossus.sim import simulate  # noqa: E402
from colossus.sim.workload import workload_batches  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def memphis(days: float, policy: str, start: str | None) -> None:
    """One memphis run from day 0 (phase 1: 100k H100) or from ``start`` (e.g. the 200k phase)."""
    import datetime as dt

    scn = load_scenario("memphis")
    if start:
        scn = scn.starting_on(dt.date.fromisoformat(start))
    gpus = sum(scn.gpus_online(0.0).values())
    t0 = time.perf_counter()
    res = simulate(scn, workload_batches(scn, days, 0), policy, 0, days * 86400.0)
    wall = time.perf_counter() - t0
    p, s = res.summary["performance"], res.summary["scheduler"]
    print(f"memphis from {scn.scenario.start_date} ({gpus:,} GPUs online) {days:g} days policy={policy} failures=on: "
          f"{res.jobs.num_rows:,} jobs, {p['events']:,} events, {wall:.1f} s wall -> "
          f"{res.jobs.num_rows / wall:,.0f} jobs/s, {p['events'] / wall:,.0f} events/s; "
          f"policy {s['policy_wall_s']:.1f} s over {s['rounds']:,} rounds ({s.get('rounds_skipped', 0):,} skipped)",
          flush=True)


def philly(days: float) -> None:
    """Replay philly.csv on examples/philly_replay.toml (per-VC hard quotas) under fifo and milp.

    The importer maps each VC hash through examples/philly_divisions.toml. Printed next to the
    simulated medians: the published whole-trace figures (Acme summary of 112,956 GPU jobs) and
    the replayed jobs' own median duration from the CSV, so model error and subset difference
    can be told apart (with failures off, a job's simulated run time is its trace duration).
    """
    csv = REPO / ".." / "shared" / "data" / "traces" / "philly" / "philly.csv"
    if not csv.exists():
        print("philly: ../shared/data/traces/philly/philly.csv absent; skipped")
        return
    from traces.importers.divisions import load_division_map
    from traces.importers.philly import import_philly_csv

    ph = load_scenario(REPO / "examples" / "philly_replay.toml")
    names = tuple(d.name for d in ph.divisions)
    dmap = load_division_map(REPO / "examples" / "philly_divisions.toml", names)
    full = import_philly_csv([csv], divisions=dmap).table
    table = full.filter(pc.less(full["submit_time_s"], days * 86400.0))
    dur_all = full["duration_s"].to_numpy()
    dur = table["duration_s"].to_numpy()
    gs = dur * table["num_gpus"].to_numpy()
    busy = gs.sum() / (min(days * 86400.0, float(full["submit_time_s"].to_numpy()[-1])) or 1.0)
    print(f"philly.csv: {full.num_rows:,} jobs, median duration {np.median(dur_all):,.0f} s (the Pollux subset; the "
          f"published 874 s is over 112,956 GPU jobs of the full trace); replayed: {table.num_rows:,} jobs submitted in "
          f"the first {days:g} days, median duration {np.median(dur):,.0f} s, offered load {busy:,.0f} GPUs busy on "
          f"average of {ph.total_gpus:,}", flush=True)
    div = np.asarray(table["division"].to_pylist(), dtype=object)
    shares = ", ".join(f"{d} {np.mean(div == d):.1%}/{gs[div == d].sum() / gs.sum():.1%}" for d in names)
    print(f"  division jobs/GPU-time: {shares}", flush=True)
    for pol in ("fifo", "milp"):
        t0 = time.perf_counter()
        res = simulate(ph, table.to_batches(max_chunksize=8192), pol, 0, days * 86400.0 + 30 * 86400.0)
        wall = time.perf_counter() - t0
        run = res.jobs.column("run_s").to_numpy(zero_copy_only=False)
        q = res.jobs.column("wait_s").to_numpy(zero_copy_only=False)
        states = res.jobs.column("state").to_pylist()
        done = sum(s == "completed" for s in states)
        qd = q[~np.isnan(q)]
        print(f"  {pol}: median run {np.nanmedian(run):,.0f} s (published 874 s; this subset's own "
              f"{np.median(dur):,.0f} s), median queue {np.nanmedian(q):,.0f} s (published 189 s), mean queue "
              f"{np.nanmean(q):,.0f} s (published 3,761 s), {np.mean(qd > 0):.1%} of jobs queued; "
              f"{done:,}/{len(states):,} completed; {wall:.1f} s wall", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, nargs="+", default=[7.0])
    ap.add_argument("--policy", default="milp")
    ap.add_argument("--start", nargs="+", default=["day0", "2024-12-03"],
                    help="memphis start dates: 'day0' (phase 1, 100k H100) and/or YYYY-MM-DD "
                         "(2024-12-03: the 200k-GPU phase; phases dated before it are online at t=0)")
    ap.add_argument("--no-philly", action="store_true", help="skip the Philly replay")
    ap.add_argument("--no-memphis", action="store_true", help="skip the memphis runs")
    ap.add_argument("--philly-days", type=float, default=120.0, help="prefix of the trace, days (120: all of it)")
    a = ap.parse_args()
    for start in [] if a.no_memphis else a.start:
        for d in a.days:
            memphis(d, a.policy, None if start == "day0" else start)
    if not a.no_philly:
        philly(a.philly_days)


if __name__ == "__main__":
    main()
