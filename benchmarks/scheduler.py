"""Benchmark the MILP scheduler: solve time per round at 20k/200k GPUs and 1k/10k/50k pending.

Prints p50/p99 of the whole round, of the model build and of the solve over ``--rounds``
random rounds per size (fresh policy each round, so no "unchanged" shortcut), then the gap
of the aggregated model against the exact per-job model on small slices. The last line reads
``milp_10k_200k p50_s=<x> p99_s=<y> gap=<z>``.

    python benchmarks/scheduler.py                 # 50 rounds per size
    python benchmarks/scheduler.py --rounds 10 --sizes 10k_200k
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# this file is named like the package it measures: keep benchmarks/ off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from scheduler import make_policy  # noqa: E402
from scheduler.exact import aggregated_objective, solve_exact  # noqa: E402
from scheduler.synthetic import random_snapshot  # noqa: E402

SIZES = {"1k_20k": (1_000, 20_000), "10k_20k": (10_000, 20_000), "50k_20k": (50_000, 20_000),
         "1k_200k": (1_000, 200_000), "10k_200k": (10_000, 200_000), "50k_200k": (50_000, 200_000)}


def _pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a), q))


def bench_size(n_pending: int, gpus: int, rounds: int, seed: int, clusters: int = 5) -> dict[str, float]:
    ss = np.random.SeedSequence(seed)
    c_seq, p_seq = ss.spawn(2)
    pools = gpus // 512
    bases = [random_snapshot(np.random.default_rng(s), num_pools=pools, nodes_per_pool=64, num_halls=4,
                             n_pending=0, occupancy=0.85, hot_spare_nodes=16)
             for s in c_seq.spawn(clusters)]
    tot, build, solve, types, started, fallbacks = [], [], [], [], [], 0
    statuses: dict[str, int] = {}
    for r, s in enumerate(p_seq.spawn(rounds)):
        view, _, running, now = bases[r % clusters]
        pending = random_snapshot(np.random.default_rng(s), num_pools=1, nodes_per_pool=64, n_pending=n_pending,
                                  occupancy=0.0, max_gpus=4096)[1]
        pol = make_policy("milp", time_limit_s=2.0)
        t = time.perf_counter()
        d = pol.schedule(view, pending, running, now)
        tot.append(time.perf_counter() - t)
        build.append(d.record.build_s)
        solve.append(d.record.solve_s)
        types.append(d.record.n_types)
        started.append(len(d.starts))
        fallbacks += d.record.fallback_used
        statuses[d.record.status] = statuses.get(d.record.status, 0) + 1
    return {"p50_s": _pct(tot, 50), "p99_s": _pct(tot, 99), "build_p50_s": _pct(build, 50), "build_p99_s": _pct(build, 99),
            "solve_p50_s": _pct(solve, 50), "solve_p99_s": _pct(solve, 99), "types_p50": _pct(types, 50),
            "started_p50": _pct(started, 50), "fallbacks": fallbacks, "statuses": statuses}


def bench_gap(instances: int, seed: int) -> float:
    worst = 0.0
    for s in np.random.SeedSequence(seed).spawn(instances):
        rng = np.random.default_rng(s)
        view, pending, running, now = random_snapshot(rng, num_pools=4, nodes_per_pool=8, n_pending=200,
                                                      elastic_frac=0.0, occupancy=0.5, max_gpus=128)
        d = make_policy("milp", preemption=False, reservation=False, gap_rel=1e-4).schedule(view, pending, running, now)
        agg = aggregated_objective(view, pending, running, now, list(d.starts))
        ex = solve_exact(view, pending, running, now, time_limit_s=60.0)
        if ex.objective:
            worst = max(worst, (ex.objective - agg) / ex.objective)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--gap-instances", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    results = {}
    for name in a.sizes.split(","):
        n, g = SIZES[name]
        res = bench_size(n, g, a.rounds, a.seed)
        results[name] = res
        print(f"milp_{name} pending={n} gpus={g} rounds={a.rounds} p50_s={res['p50_s']:.3f} p99_s={res['p99_s']:.3f} "
              f"build_p50_s={res['build_p50_s']:.3f} build_p99_s={res['build_p99_s']:.3f} "
              f"solve_p50_s={res['solve_p50_s']:.3f} solve_p99_s={res['solve_p99_s']:.3f} "
              f"types_p50={res['types_p50']:.0f} started_p50={res['started_p50']:.0f} fallbacks={res['fallbacks']} "
              f"statuses={res['statuses']}", flush=True)
    gap = bench_gap(a.gap_instances, a.seed)
    print(f"gap_vs_exact instances={a.gap_instances} jobs=200 worst_gap={gap:.5f}")
    main_res = results.get("10k_200k") or bench_size(10_000, 200_000, a.rounds, a.seed)
    print(f"milp_10k_200k p50_s={main_res['p50_s']:.3f} p99_s={main_res['p99_s']:.3f} gap={gap:.5f}")


if __name__ == "__main__":
    main()
