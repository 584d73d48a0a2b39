"""Time `colossus plan` on the default scenario (target: < 120 s on 2 cores).

Run: .venv/bin/python benchmarks/plan.py [--workers N] [--replications R]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# benchmarks/scheduler.py would shadow the `scheduler` package when this folder is sys.path[0]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from capacity.montecarlo import McConfig, make_executor, run_monte_carlo  # noqa: E402
from capacity.outputs import make_plan, write_plan_folder  # noqa: E402
from colossus.scenario import load_scenario  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--replications", type=int, default=McConfig().replications)
    ap.add_argument("--evaluator", default="queue", choices=["sim", "queue"])
    args = ap.parse_args()
    t0 = time.perf_counter()
    scn = load_scenario(None)
    plan = make_plan(scn)
    t1 = time.perf_counter()
    cfg = McConfig(replications=args.replications, evaluator=args.evaluator)
    ex, close = make_executor(args.workers)
    try:
        mc = run_monte_carlo(plan, scn, cfg, executor=ex)
    finally:
        close()
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        write_plan_folder(Path(d), plan, mc, scn, cfg)
    t3 = time.perf_counter()
    print(f"plan MILP: build {plan.build_s:.3f} s, solve {plan.solve_s:.3f} s ({plan.status}); inputs+solve {t1 - t0:.2f} s")
    print(f"Monte Carlo: {args.replications} replications x {len(mc.months)} months, {args.workers} worker(s), evaluator {args.evaluator}: {t2 - t1:.2f} s")
    print(f"outputs (json, parquet, report.html): {t3 - t2:.2f} s")
    print(f"total: {t3 - t0:.2f} s (target < 120 s)")


if __name__ == "__main__":
    main()
