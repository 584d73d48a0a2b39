"""The simulator against a real Slurm: same jobs, start order and waits compared.

Runs a workload of short ``sleep`` jobs of mixed GPU counts and run times, submitted on a
seeded schedule, on a local 4-node cluster of 8 GPUs (``SchedulerType=sched/backfill``,
``bf_interval=1``, ``PriorityType=priority/basic``, one partition, accounts ``grok`` and
``coding``); exports its accounting with ``sacct``, imports it with ``colossus trace import
sacct``, replays the trace with ``colossus simulate examples/slurm_4node.toml --policy
backfill`` (planning with the jobs' time limits, as Slurm does), without the time limits, and with
``--policy fifo``, and prints:

- Kendall tau-b between the recorded and the simulated start times (goal >= 0.9);
- median wait recorded vs simulated (goal: within 20 % or 5 s), and the 90th percentiles;
- where the two differ most, and the jobs the two schedulers started in a different order.

Needs root and Debian's ``slurmctld slurmd slurm-client munge slurmdbd mariadb-server``. Wall
time: about the workload's span plus its drain (~3-4 min for 150 jobs). The slow test
``tests/slurm/test_agreement.py`` runs it with fewer jobs.

Measured (Slurm 22.05.8 on a shared 2-core host; figures of single runs, see the notes of
issue 15 for the commands):

- default workload (150 jobs of 2-12 s, all with Slurm's smallest limit, 1 min), seeds 0 and 1,
  205-222 s wall each: ``--policy backfill`` on the imported trace (which keeps the sacct time
  limits, column ``time_limit_s``): tau-b 0.966 / 0.977, median wait 24 s recorded vs 22 s
  simulated / 31 s vs 26 s (both goals met); the same trace without its time limits
  (``backfill-nolimits``, planning with exact run times): tau-b 0.933 / 0.944, median 14 s / 19 s
  (NOT met); ``--policy fifo``: tau-b 0.971 / 0.983, median 30 s / 31 s (met for seed 1 only).
- the same workload again (issue 15's closing runs, host load 7-10 on 2 cores): seed 0 (its compare
  step redone with ``--reuse`` on the kept sacct export, the first attempt having hit a half-edited
  importer) and seed 2 (225 s wall): ``backfill`` tau-b 0.976 / 0.978, median 28 s vs 25 s (met) /
  48 s vs 37.5 s (NOT met), p90 51 vs 40.1 s / 58 vs 47 s, overtakes 31 vs 34 / 41 vs 30;
  ``backfill-nolimits`` tau-b 0.943 / 0.874 (NOT met on seed 2), median 12.5 s / 32.5 s (NOT met),
  overtakes 88 / 110; ``fifo`` tau-b 0.979 / 0.977, median 23 s / 46.5 s (met), p90 44 / 57 s. The
  oldest waiting job fitted but waited 62 / 42 s in Slurm, 34 / 12 s in the simulator.
- the slow test's run (``run(n_jobs=100, seed=1)``): backfill tau-b 0.949, median 31 s vs 21 s
  (NOT met), 20 overtakes as Slurm's 20; without time limits tau-b 0.938, 31 s vs 18 s, 41
  overtakes; fifo tau-b 0.963, 31 s vs 28 s (met).
- ``--minute-jobs --jobs 100 --mean-gap 6.5`` (59 / 119 s under 1 / 2 min limits), seed 0, 838 s
  wall: backfill tau-b 0.959, median 35.5 s vs 53 s (NOT met), the same with or without the
  limits (they are ~the run times); fifo tau-b 0.961, 35.5 s vs 89 s. The oldest waiting job
  fitted the free GPUs in total but waited 158 s in the simulator vs 60 s in Slurm (issue 15's
  first run, before time limits: median 34 s vs 84.5 s).

Where the two schedulers differ, and why:

1. Slurm's backfill plans with time limits, in whole minutes. A seconds-long job under a 1-min
   limit "ends" after the queue head's shadow time, so Slurm backfills it only onto nodes the
   head will not need: it overtook 31-41 jobs; the simulator planning with the exact run times
   85-110, with the time limits 22-41.
2. Placement of jobs smaller than a node: the simulator already places them best fit (the fullest
   node that fits first, ``scheduler/placement.py`` step 4, as Slurm's cons_tres does; tested in
   tests/scheduler/test_placement_bestfit.py).
3. Slurm starts a job 0-1 s after it could (``bf_interval=1``, whole-second timestamps): 42-62 s
   of "head fits but waits" over a run (the simulator with time limits: 12-34 s). This is most of
   why the simulator's waits are shorter, and it varies from run to run on a shared host (seed 2's
   run missed the median goal by 0.9 s: 48 vs 37.5 s against a bound of 9.6 s).

Usage::

    python benchmarks/slurm_agreement.py                    # 150 jobs, seed 0
    python benchmarks/slurm_agreement.py --jobs 300 --seed 3 --keep runs/agree
    python benchmarks/slurm_agreement.py --json
    python benchmarks/slurm_agreement.py --seed 0 --keep runs/agree --reuse   # compare a kept run again
    python benchmarks/slurm_agreement.py --minute-jobs --jobs 100 --mean-gap 6.5   # ~15 min
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# benchmarks/traces.py would shadow the `traces` package when this runs as a script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "examples" / "slurm_4node.toml"
ACCOUNTS = REPO / "examples" / "slurm_4node_accounts.toml"

SIZES_GPUS = (1, 2, 4, 8, 16)
SIZE_WEIGHTS = (0.3, 0.2, 0.2, 0.2, 0.1)
RUN_S = (2, 12)
"""Run times are whole seconds, uniform in this range (``sleep N``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedJob:
    name: str
    account: str
    num_gpus: int
    run_s: int
    limit_min: int
    """Slurm time limit, minutes (its finest unit)."""
    submit_offset_s: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Agreement:
    """The comparison figures."""

    policy: str
    jobs: int
    kendall_tau_b: float
    median_wait_recorded_s: float
    median_wait_simulated_s: float
    p90_wait_recorded_s: float
    p90_wait_simulated_s: float
    mean_abs_start_diff_s: float
    max_abs_start_diff_s: float
    discordant_pair_share: float
    overtakers_recorded: int
    """Jobs that started while a job submitted before them still waited (Slurm)."""
    overtakers_simulated: int
    head_fits_s_recorded: int
    """Seconds the oldest waiting job fitted the free GPUs in total but had not started (Slurm)."""
    head_fits_s_simulated: int

    @property
    def median_ok(self) -> bool:
        r, s = self.median_wait_recorded_s, self.median_wait_simulated_s
        return abs(r - s) <= max(5.0, 0.2 * abs(r))

    @property
    def tau_ok(self) -> bool:
        return self.kendall_tau_b >= 0.9


MINUTE_SIZES_GPUS = (1, 2, 4, 8)
MINUTE_SIZE_WEIGHTS = (0.35, 0.3, 0.2, 0.15)
MINUTE_RUNS = ((59, 1), (119, 2))
"""``--minute-jobs``: (run s, limit min) -- each job ends just before its limit, so Slurm's
backfill, which plans with limits, knows the ends as well as the simulator does."""


def plan_workload(n_jobs: int, seed: int, mean_gap_s: float, minute_jobs: bool = False) -> list[PlannedJob]:
    """The jobs and their submit offsets, from one seed (colossus.streams)."""
    from colossus.streams import Streams

    st = Streams(seed)
    gaps = st.get("arrivals").exponential(mean_gap_s, n_jobs)
    accts = st.get("divisions").choice(np.asarray(["grok", "coding"]), n_jobs)
    if minute_jobs:
        sizes = st.get("sizes").choice(np.asarray(MINUTE_SIZES_GPUS), n_jobs, p=np.asarray(MINUTE_SIZE_WEIGHTS))
        pick = st.get("durations").choice(len(MINUTE_RUNS), n_jobs, p=np.asarray([0.7, 0.3]))
        runs = [MINUTE_RUNS[k] for k in pick]
    else:
        sizes = st.get("sizes").choice(np.asarray(SIZES_GPUS), n_jobs, p=np.asarray(SIZE_WEIGHTS))
        runs = [(int(r), 1) for r in st.get("durations").integers(RUN_S[0], RUN_S[1] + 1, n_jobs)]
    t = np.cumsum(gaps) - gaps[0]
    return [PlannedJob(name=f"b{i:03d}", account=str(accts[i]), num_gpus=int(sizes[i]), run_s=runs[i][0],
                       limit_min=runs[i][1], submit_offset_s=float(t[i])) for i in range(n_jobs)]


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b of two samples (ties allowed) and the share of discordant pairs."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    i, j = np.triu_indices(x.size, 1)
    dx = np.sign(x[i] - x[j])
    dy = np.sign(y[i] - y[j])
    conc = float(np.sum(dx * dy > 0))
    disc = float(np.sum(dx * dy < 0))
    n0 = float(i.size)
    tx = float(np.sum(dx == 0))
    ty = float(np.sum(dy == 0))
    denom = np.sqrt((n0 - tx) * (n0 - ty))
    return (conc - disc) / denom if denom > 0 else 1.0, disc / n0 if n0 else 0.0


def run_on_slurm(jobs: list[PlannedJob], workdir: Path) -> Path:
    """Submit ``jobs`` on schedule to a fresh local cluster, wait, export sacct; returns the file."""
    from colossus.adapters.slurm.localcluster import LocalSlurm, LocalSlurmSpec, PartitionSpec
    from traces.sacct_export import SACCT_FIELDS

    spec = LocalSlurmSpec(partitions=(PartitionSpec(name="batch", default=True),), accounts=("grok", "coding"))
    with LocalSlurm(spec=spec) as c:
        t0 = time.monotonic()
        ids = []
        for j in jobs:
            delay = t0 + j.submit_offset_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            shape = ["--gres=gpu:h100:" + str(j.num_gpus)] if j.num_gpus <= 8 else [
                "-N", str(j.num_gpus // 8), "--gres=gpu:h100:8"]
            ids.append(c.sbatch("-A", j.account, "-p", "batch", "-J", j.name, "-t", str(j.limit_min), *shape, wrap=f"sleep {j.run_s}"))
        c.wait_for(lambda: not c.run(["squeue", "-h", "-o", "%i"]).stdout.strip(), 900, "the workload to finish")
        cmd = ["sacct", "--allusers", "--duplicates", "--parsable2", "--starttime", "2026-01-01", "--endtime", "now",
               "--format", SACCT_FIELDS, "--jobs", ",".join(ids)]
        def recorded() -> bool:
            text = c.run(cmd).stdout
            return "Unknown" not in text and all(f"\n{i}|" in text for i in ids)

        c.wait_for(recorded, 60, "accounting of every job")
        out = workdir / "jobs.sacct"
        out.write_text(c.run(cmd).stdout)
        # which of Slurm's two passes started each job (main FIFO pass or backfill)
        flags = c.run(["sacct", "--allusers", "-X", "-n", "--parsable2", "--format", "JobIDRaw,Flags",
                       "--starttime", "2026-01-01", "--jobs", ",".join(ids)]).stdout
        (workdir / "flags.txt").write_text(flags)
    return out


def _overtakers(submit: np.ndarray, start: np.ndarray) -> int:
    """Jobs that started before some job submitted earlier had started (out of FIFO order)."""
    order = np.argsort(submit, kind="stable")
    st = start[order]
    later_min = np.minimum.accumulate(st[::-1])[::-1]
    return int(np.sum(st[:-1] > later_min[1:])) if st.size > 1 else 0


def _head_fits_s(submit: np.ndarray, start: np.ndarray, end: np.ndarray, gpus: np.ndarray, total: int = 32) -> int:
    """Whole seconds in which the oldest waiting job would fit in the free GPUs *in total* but has
    not started: scheduling latency (Slurm) or fragmentation across nodes (placement)."""
    n = 0
    for t in range(int(np.ceil(end.max()))):
        waiting = np.flatnonzero((submit <= t) & (start > t))
        if waiting.size and total - gpus[(start <= t) & (end > t)].sum() >= gpus[waiting[0]]:
            n += 1
    return n


NO_LIMITS = "-nolimits"
"""Policy suffix: replay the trace without its ``time_limit_s`` column (the simulator then plans
with the exact run times)."""


def compare(sacct_file: Path, workdir: Path, policy: str = "backfill") -> tuple[Agreement, list[dict[str, object]]]:
    """Import ``sacct_file``, replay it with ``colossus simulate --policy POLICY``, compare.

    ``POLICY-nolimits`` replays the trace without its ``time_limit_s`` column."""
    import pyarrow.parquet as pq

    from colossus.cli import cli

    trace = workdir / "jobs.parquet"
    if not trace.exists():
        cli.main(["trace", "import", "sacct", str(sacct_file), "-o", str(trace), "--scenario", str(SCENARIO),
                  "--division-map", str(ACCOUNTS)], standalone_mode=False)
    sim_policy, sim_trace = policy, trace
    if policy.endswith(NO_LIMITS):
        sim_policy = policy[: -len(NO_LIMITS)]
        sim_trace = workdir / "jobs-nolimits.parquet"
        t = pq.read_table(trace)
        if "time_limit_s" in t.column_names:
            t = t.drop_columns(["time_limit_s"])
        pq.write_table(t, sim_trace)
    out = workdir / f"sim-{policy}"
    cli.main(["simulate", str(SCENARIO), "--trace", str(sim_trace), "--policy", sim_policy, "--out", str(out),
              "--quiet"], standalone_mode=False)
    rec = {r["job_id"]: r for r in pq.read_table(trace).to_pylist()}
    sim = {r["job_id"]: r for r in pq.read_table(out / "jobs.parquet").to_pylist()}
    ids = sorted(rec, key=lambda k: (rec[k]["submit_time_s"], k))
    missing = [k for k in ids if k not in sim or sim[k]["first_start_s"] is None or np.isnan(sim[k]["first_start_s"])]
    if missing:
        raise RuntimeError(f"{len(missing)} jobs did not start in the simulation, e.g. {missing[:3]}")
    sub = np.array([rec[k]["submit_time_s"] for k in ids])
    r_start = np.array([rec[k]["submit_time_s"] + rec[k]["recorded_wait_s"] for k in ids])
    s_start = np.array([sim[k]["first_start_s"] for k in ids])
    r_wait = np.array([rec[k]["recorded_wait_s"] for k in ids])
    s_wait = np.array([sim[k]["wait_s"] for k in ids])
    tau, disc = kendall_tau_b(r_start, s_start)
    diff = s_start - r_start
    gpus = np.array([rec[k]["num_gpus"] for k in ids])
    dur = np.array([rec[k]["duration_s"] for k in ids])
    order = np.argsort(sub, kind="stable")
    rows = [{"job_id": k, "num_gpus": rec[k]["num_gpus"], "duration_s": rec[k]["duration_s"],
             "submit_s": rec[k]["submit_time_s"], "recorded_start_s": float(r_start[i]),
             "simulated_start_s": float(s_start[i]), "diff_s": float(diff[i])} for i, k in enumerate(ids)]
    ag = Agreement(policy=policy, jobs=len(ids), kendall_tau_b=float(tau),
                   median_wait_recorded_s=float(np.median(r_wait)), median_wait_simulated_s=float(np.median(s_wait)),
                   p90_wait_recorded_s=float(np.quantile(r_wait, 0.9)), p90_wait_simulated_s=float(np.quantile(s_wait, 0.9)),
                   mean_abs_start_diff_s=float(np.abs(diff).mean()), max_abs_start_diff_s=float(np.abs(diff).max()),
                   discordant_pair_share=float(disc), overtakers_recorded=_overtakers(sub, r_start),
                   overtakers_simulated=_overtakers(sub, s_start),
                   head_fits_s_recorded=_head_fits_s(sub[order], r_start[order], (r_start + dur)[order], gpus[order]),
                   head_fits_s_simulated=_head_fits_s(sub[order], s_start[order], (s_start + dur)[order], gpus[order]))
    return ag, rows


@dataclass(frozen=True, kw_only=True, slots=True)
class BenchResult:
    """One real Slurm run compared with the simulator under several policies."""

    agreements: dict[str, Agreement]
    rows: dict[str, list[dict[str, object]]]
    slurm_started_by_backfill: int
    slurm_started_by_main: int
    wall_s: float


def run(n_jobs: int = 150, seed: int = 0, mean_gap_s: float = 0.8, keep: Path | None = None,
        policies: tuple[str, ...] = ("backfill", "backfill-nolimits", "fifo"), minute_jobs: bool = False,
        reuse: bool = False) -> BenchResult:
    """The whole benchmark: plan, run on Slurm, import, simulate under each policy, compare.

    ``reuse``: compare the sacct export an earlier run left in ``keep`` (no Slurm run; ``wall_s`` is
    then the comparison's only)."""
    t0 = time.perf_counter()
    jobs = plan_workload(n_jobs, seed, mean_gap_s, minute_jobs)
    with tempfile.TemporaryDirectory(prefix="slurm-agree-") as tmp:
        work = Path(tmp) if keep is None else keep
        work.mkdir(parents=True, exist_ok=True)
        if reuse:
            if keep is None or not (work / "jobs.sacct").exists() or not (work / "flags.txt").exists():
                raise SystemExit(f"--reuse: no jobs.sacct and flags.txt in {work} (run once with --keep first)")
            sacct = work / "jobs.sacct"
        else:
            sacct = run_on_slurm(jobs, work)
        flags = (work / "flags.txt").read_text()
        (work / "jobs.parquet").unlink(missing_ok=True)  # a kept folder's earlier import is not this run's
        res = {p: compare(sacct, work, p) for p in policies}
    return BenchResult(agreements={p: a for p, (a, _) in res.items()}, rows={p: r for p, (_, r) in res.items()},
                       slurm_started_by_backfill=flags.count("SchedBackfill"),
                       slurm_started_by_main=flags.count("SchedMain"), wall_s=time.perf_counter() - t0)


def _by_size(rows: list[dict[str, object]]) -> list[str]:
    out = []
    for g in SIZES_GPUS:
        d = np.array([r["diff_s"] for r in rows if r["num_gpus"] == g], dtype=np.float64)
        if d.size:
            out.append(f"  {g:>2} GPUs: {d.size:>3} jobs, simulated - recorded start: median {np.median(d):+.1f} s, "
                       f"mean {d.mean():+.1f} s, max |{np.abs(d).max():.1f}| s")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=150, help="jobs in the workload (100-300 is the issue's range)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mean-gap", type=float, default=0.8, help="mean seconds between submissions")
    ap.add_argument("--policy", action="append", default=None,
                    help="simulator policy to compare (repeat; POLICY-nolimits drops the trace's time limits; "
                         "default: backfill, backfill-nolimits, fifo)")
    ap.add_argument("--minute-jobs", action="store_true",
                    help="jobs of 59 s / 119 s with 1 / 2 min limits (Slurm then knows their ends); ~12 min for 100 "
                         "jobs at --mean-gap 6.5")
    ap.add_argument("--keep", type=Path, default=None, help="keep the sacct export, trace and simulations here")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: compare the sacct export a run left there again, without running Slurm")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.reuse and a.keep is None:
        ap.error("--reuse needs --keep DIR")
    res = run(a.jobs, a.seed, a.mean_gap, a.keep, tuple(a.policy or ("backfill", "backfill-nolimits", "fifo")), a.minute_jobs,
              a.reuse)
    if a.json:
        print(json.dumps({"wall_s": res.wall_s, "slurm_started_by_backfill": res.slurm_started_by_backfill,
                          "slurm_started_by_main": res.slurm_started_by_main,
                          "agreements": {p: {**asdict(ag), "tau_ok": ag.tau_ok, "median_ok": ag.median_ok}
                                         for p, ag in res.agreements.items()}}, indent=1))
        return 0
    n = next(iter(res.agreements.values())).jobs
    limits = "limits just above run times" if a.minute_jobs else "every limit 1 min"
    print(f"slurm agreement: {n} sleep jobs on 4 nodes x 8 GPUs, Slurm sched/backfill (bf_interval=1, {limits}) "
          f"vs colossus simulate (seed {a.seed}, {res.wall_s:.0f} s wall, shared host)")
    print(f"  Slurm started {res.slurm_started_by_main} jobs in its main (priority-order) pass and "
          f"{res.slurm_started_by_backfill} by backfill")
    for p, ag in res.agreements.items():
        label = (f"{p[: -len(NO_LIMITS)]} (trace without time limits: plans with exact run times)"
                 if p.endswith(NO_LIMITS) else f"{p} (trace with the jobs' time limits)")
        print(f"--policy {label}:")
        print(f"  Kendall tau-b of start times : {ag.kendall_tau_b:.3f}   (goal >= 0.9: {'met' if ag.tau_ok else 'NOT met'}); "
              f"discordant pairs {100 * ag.discordant_pair_share:.1f} %")
        print(f"  median wait recorded/simulated: {ag.median_wait_recorded_s:.1f} s / {ag.median_wait_simulated_s:.1f} s "
              f"(goal within 20 % or 5 s: {'met' if ag.median_ok else 'NOT met'})")
        print(f"  p90 wait recorded/simulated   : {ag.p90_wait_recorded_s:.1f} s / {ag.p90_wait_simulated_s:.1f} s")
        print(f"  |simulated - recorded start|  : mean {ag.mean_abs_start_diff_s:.1f} s, max {ag.max_abs_start_diff_s:.1f} s")
        print(f"  jobs started ahead of an earlier job: recorded {ag.overtakers_recorded}, simulated {ag.overtakers_simulated}")
        print(f"  seconds the oldest waiting job fitted the free GPUs in total but waited: recorded "
              f"{ag.head_fits_s_recorded}, simulated {ag.head_fits_s_simulated} (latency or fragmentation)")
        print("  by job size:")
        print("\n".join(_by_size(res.rows[p])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
