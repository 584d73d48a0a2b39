"""Simulation throughput: simulated jobs and events per wall second.

    python benchmarks/simulate.py [--days 7 30] [--policy milp] [--philly]

memphis (200k GPUs, failures on) over each --days value; with --philly also replays
../shared/data/traces/philly/philly.csv (when present and importable) on examples/philly_replay.toml
under fifo and milp, printing median run and queue time next to the published 874 s and 189 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from colossus.scenario import load_scenario
from colossus.sim import simulate
from colossus.sim.workload import workload_batches

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, nargs="+", default=[7.0, 30.0])
    ap.add_argument("--policy", default="milp")
    ap.add_argument("--philly", action="store_true")
    a = ap.parse_args()
    scn = load_scenario("memphis")
    for d in a.days:
        t0 = time.perf_counter()
        res = simulate(scn, workload_batches(scn, d, 0), a.policy, 0, d * 86400.0)
        wall = time.perf_counter() - t0
        p = res.summary["performance"]
        print(f"memphis {d:g} days policy={a.policy}: {res.jobs.num_rows:,} jobs, {p['events']:,} events, "
              f"{wall:.1f} s wall -> {res.jobs.num_rows / wall:,.0f} jobs/s, {p['events'] / wall:,.0f} events/s; "
              f"policy wall {res.summary['scheduler']['policy_wall_s']:.1f} s over {res.summary['scheduler']['rounds']:,} rounds")
    if a.philly:
        csv = REPO / ".." / "shared" / "data" / "traces" / "philly" / "philly.csv"
        try:
            from traces.importers import philly  # type: ignore[attr-defined]
        except ImportError:
            print("philly: traces.importers.philly not available; skipped")
            return
        if not csv.exists():
            print("philly: data absent; skipped")
            return
        batches = list(philly.iter_batches(csv))  # noqa: F841 - importer API as documented by traces
        ph = load_scenario(REPO / "examples" / "philly_replay.toml")
        for pol in ("fifo", "milp"):
            res = simulate(ph, iter(batches), pol, 0, 120 * 86400.0)
            run = res.jobs.column("run_s").to_numpy()
            q = res.jobs.column("wait_s").to_numpy()
            print(f"philly {pol}: median run {np.nanmedian(run):,.0f} s (published 874 s), "
                  f"median queue {np.nanmedian(q):,.0f} s (published 189 s)")


if __name__ == "__main__":
    main()
