"""Your cluster's history (issue 14): sacct import speed, fit speed and fit fidelity.

Prints, with what each figure compares against:

- sacct --parsable2 import: rows/s on a generated export of N jobs, each with a .batch and a
  .0 step row (3N rows), against the ITP CSV importer's ~35k jobs/s (benchmarks/traces.py);
- trace fit on ITP and Philly (when ../shared/data has them): fit wall time, and the generated
  trace's distance from the source against the issue's goals (arrival rate per hour of week
  within 10 %, size total-variation distance <= 0.05, run-time p10/p50/p90 within 15 % per size
  class; classes with >= 1,000 source jobs are held to it).

    python benchmarks/history.py              # 200k sacct jobs, ITP and Philly fits
    python benchmarks/history.py --jobs 1e6   # a bigger export

Wall times depend on machine load: run on a quiet box.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "traces"
DIVS = ("Grok Main/Voice", "Coding", "Data", "Macrohard")


def write_sacct(path: Path, jobs: int) -> None:
    """A plausible export: accounts, 1-64 GPUs, waits and run times, two steps per job."""
    import numpy as np

    rng = np.random.default_rng(0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    sub = np.sort(rng.uniform(0, 90 * 86400, jobs))
    wait = rng.exponential(600, jobs)
    run = rng.lognormal(7, 1.5, jobs) + 1
    gpus = 2 ** rng.integers(0, 7, jobs)
    accounts = np.array(["grok", "coding", "data", "macro"])[rng.integers(0, 4, jobs)]

    def ts(s: float) -> str:
        return (t0 + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%S")

    with path.open("w") as fh:
        fh.write("JobID|JobIDRaw|JobName|Account|Partition|User|Submit|Start|End|Elapsed|State|AllocTRES\n")
        for i in range(jobs):
            s, b, e = ts(sub[i]), ts(sub[i] + wait[i]), ts(sub[i] + wait[i] + run[i])
            tres = f"billing={gpus[i]},cpu={8 * gpus[i]},gres/gpu:h100={gpus[i]},gres/gpu={gpus[i]},node=1"
            j = i + 1
            fh.write(f"{j}|{j}|job|{accounts[i]}|gpu|u{i % 97}|{s}|{b}|{e}|00:00:00|COMPLETED|{tres}\n")
            fh.write(f"{j}.batch|{j}.batch|batch|{accounts[i]}||||{b}|{e}|00:00:00|COMPLETED|{tres}\n")
            fh.write(f"{j}.0|{j}.0|python|{accounts[i]}||||{b}|{e}|00:00:00|COMPLETED|{tres}\n")


def bench_sacct(jobs: int, tmp: Path) -> None:
    from traces.importers import DivisionMap
    from traces.importers.sacct import read_sacct

    path = tmp / "jobs.sacct"
    write_sacct(path, jobs)
    t = time.perf_counter()
    r = read_sacct([path], divisions=DivisionMap(divisions=DIVS))
    wall = time.perf_counter() - t
    print(f"sacct import: {r.table.num_rows:,d} jobs ({3 * jobs:,d} rows incl. steps) in {wall:.2f} s = "
          f"{r.table.num_rows / wall:,.0f} jobs/s, {3 * jobs / wall:,.0f} rows/s "
          f"(ITP CSV importer: ~35k jobs/s, benchmarks/traces.py)")


def bench_fit(fmt: str, files: list[Path], days: float, tmp: Path) -> None:
    import dataclasses

    import numpy as np

    from colossus.scenario import load_scenario
    from colossus.sim.workload import generator_inputs
    from traces.fit import compare_traces, fit_workload, read_sample
    from traces.generator import generate_table
    from traces.importers import DivisionMap, import_trace
    from traces.writer import write_trace

    r = import_trace(fmt, files, divisions=DivisionMap(divisions=DIVS))
    path = tmp / f"{fmt}.parquet"
    write_trace(path, r.table, start=r.start, source=fmt)
    from traces.reader import iter_batches, read_metadata

    t = time.perf_counter()
    sample = read_sample(iter_batches(path), read_metadata(path).start)
    fitted = fit_workload(sample, source=path.name)
    fit_s = time.perf_counter() - t
    gi = generator_inputs(load_scenario(None))
    params = dataclasses.replace(gi.params, fitted=fitted, offered_load_gpus=fitted.offered_load_gpus)
    t = time.perf_counter()
    gen = generate_table(params, gi.loads, days=days, seed=1, start=gi.start)
    gen_s = time.perf_counter() - t
    gpath = tmp / f"{fmt}-gen.parquet"
    write_trace(gpath, gen, start=gi.start, source="gen")
    c = compare_traces(sample, read_sample(iter_batches(gpath), gi.start), min_class_jobs=1)
    held = {k: v for k, v in c["run_time"].items() if v["jobs_reference"] >= 1000}
    worst = max(v["max_rel_error"] for v in held.values())
    rel = np.array(c["arrival_rate_rel_error_by_hour"], dtype=float)
    print(f"{fmt}: fit {sample.submit_s.size:,d} jobs in {fit_s:.2f} s; generated {gen.num_rows:,d} jobs "
          f"over {days:g} days in {gen_s:.2f} s")
    print(f"  arrival rate per hour of week: max rel. error {c['arrival_rate_max_rel_error']:.3f}, "
          f"median {np.nanmedian(rel):.3f} (goal <= 0.10)")
    print(f"  job-size TV distance {c['size_tv_distance']:.4f} (goal <= 0.05)")
    print(f"  run time p10/p50/p90, classes with >= 1,000 jobs: worst rel. error {worst:.3f} (goal <= 0.15)")
    for k, v in c["run_time"].items():
        ref = "/".join(f"{x:,.0f}" for x in v["reference_p10_p50_p90_s"])
        got = "/".join(f"{x:,.0f}" for x in v["generated_p10_p50_p90_s"])
        mark = "" if k in held else "  (under 1,000 source jobs: not held to the goal)"
        print(f"    {k:>7} GPUs: {v['jobs_reference']:>6,d} jobs, source {ref} s, generated {got} s, "
              f"max rel. error {v['max_rel_error']:.3f}{mark}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=float, default=2e5, help="jobs in the generated sacct export")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench_sacct(int(args.jobs), tmp)
        for fmt, pattern, days in (("itp", "microsoft_itp/cluster*.csv", 1800), ("philly", "philly/philly.csv", 3300)):
            files = sorted(DATA.glob(pattern))
            if files:
                bench_fit(fmt, files, days, tmp)
            else:
                print(f"{fmt}: {DATA / pattern} not here, skipped")


if __name__ == "__main__":
    main()
