"""Simulation throughput: simulated jobs and events per wall second; Philly replay medians.

    python benchmarks/simulate.py                    # memphis 7 days + the whole Philly trace (~10 min)
    python benchmarks/simulate.py --days 7 30        # also 30 days (~4x the 7-day wall time)
    python benchmarks/simulate.py --no-philly --days 1
    python benchmarks/simulate.py --philly-days 30   # a prefix of the Philly trace

memphis (200k GPUs, MILP, failures on) over each --days value under --policy; the 30-day run is
not in the default because at the measured ~300 jobs/s it takes ~25 min (the 7-day rate holds).
Then it replays ../shared/data/traces/philly/philly.csv (imported with
traces.importers.philly.import_philly_csv, VC hashes spread over the scenario's four divisions by
the importer's default DivisionMap; --philly-days N keeps jobs submitted in the first N days) on
examples/philly_replay.toml under fifo and milp, printing median run and queue time next to the
published 874 s and 189 s (Jeon et al., ATC 2019, whole trace).
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


def memphis(days: float, policy: str) -> None:
    scn = load_scenario("memphis")
    t0 = time.perf_counter()
    res = simulate(scn, workload_batches(scn, days, 0), policy, 0, days * 86400.0)
    wall = time.perf_counter() - t0
    p, s = res.summary["performance"], res.summary["scheduler"]
    print(f"memphis {days:g} days policy={policy} failures=on: {res.jobs.num_rows:,} jobs, {p['events']:,} events, "
          f"{wall:.1f} s wall -> {res.jobs.num_rows / wall:,.0f} jobs/s, {p['events'] / wall:,.0f} events/s; "
          f"policy {s['policy_wall_s']:.1f} s over {s['rounds']:,} rounds ({s.get('rounds_skipped', 0):,} skipped)",
          flush=True)


def philly(days: float) -> None:
    csv = REPO / ".." / "shared" / "data" / "traces" / "philly" / "philly.csv"
    if not csv.exists():
        print("philly: ../shared/data/traces/philly/philly.csv absent; skipped")
        return
    from traces.importers.divisions import DivisionMap
    from traces.importers.philly import import_philly_csv

    ph = load_scenario(REPO / "examples" / "philly_replay.toml")
    names = tuple(d.name for d in ph.divisions)
    table = import_philly_csv([csv], divisions=DivisionMap(divisions=names)).table
    table = table.filter(pc.less(table["submit_time_s"], days * 86400.0))
    for pol in ("fifo", "milp"):
        t0 = time.perf_counter()
        res = simulate(ph, table.to_batches(max_chunksize=8192), pol, 0, days * 86400.0 + 30 * 86400.0)
        wall = time.perf_counter() - t0
        run = res.jobs.column("run_s").to_numpy()
        q = res.jobs.column("wait_s").to_numpy()
        print(f"philly submitted in the first {days:g} days ({table.num_rows:,} jobs) {pol}: median run {np.nanmedian(run):,.0f} s "
              f"(published 874 s), median queue {np.nanmedian(q):,.0f} s (published 189 s); {wall:.1f} s wall",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, nargs="+", default=[7.0])
    ap.add_argument("--policy", default="milp")
    ap.add_argument("--no-philly", action="store_true", help="skip the Philly replay")
    ap.add_argument("--philly-days", type=float, default=120.0, help="prefix of the trace, days (120: all of it)")
    a = ap.parse_args()
    for d in a.days:
        memphis(d, a.policy)
    if not a.no_philly:
        philly(a.philly_days)


if __name__ == "__main__":
    main()
