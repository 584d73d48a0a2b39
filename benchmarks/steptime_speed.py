"""Speed of the step-time kernels.

Prints configurations evaluated per second (target >= 5M/s on NumPy, 2 cores), the time of the
best-layout search for grok-3 on 100,352 H100 (target <= 1 s), the time to build a throughput
table for grok-3 on H100, and the cost of one ``tokens_per_s`` lookup.

    python benchmarks/steptime_speed.py [--n 2000000] [--backend numpy|cupy]
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

# benchmarks/scheduler.py and benchmarks/traces.py would shadow our packages when this folder is sys.path[0]
_sys.path[:] = [p for p in _sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import argparse
import os
import tempfile
import time

import numpy as np

from colossus.hardware import get_gpu
from colossus.steptime.backend import backend_name, get_xp
from colossus.steptime.layout import random_layouts
from colossus.steptime.models import get_model
from colossus.steptime.search import CHUNK, best_layout, enumerate_layouts, evaluate_layouts
from colossus.steptime.throughput import default_grid, throughput_table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    xp = get_xp(args.backend)
    print(f"backend: {backend_name(xp)}; cpus: {os.cpu_count()}; chunk {CHUNK}")
    model, gpu = get_model("grok-1"), get_gpu("H100")
    lays = random_layouts(args.n)
    evaluate_layouts(model, gpu, {k: v[:CHUNK] for k, v in lays.items()}, xp=xp)  # warm-up
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        evaluate_layouts(model, gpu, lays, xp=xp)
        best = min(best, time.perf_counter() - t0)
    print(f"kernel: {args.n:,} configurations in {best:.3f} s = {args.n / best / 1e6:.2f} M configurations/s (best of {args.repeat})")

    grok3 = get_model("grok-3")
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = best_layout(grok3, gpu, 100_352, top_k=5, xp=xp)
        times.append(time.perf_counter() - t0)
    n_cfg = len(enumerate_layouts(grok3, gpu, 100_352)["tp"])
    print(f"search grok-3 on 100,352 H100: {min(times):.3f} s (median {np.median(times):.3f} s), {n_cfg:,} layouts")
    print(f"  best: {res[0].layout}  step {res[0].step_time_s:.3f} s, MFU {100 * res[0].mfu:.1f} %")
    t0 = time.perf_counter()
    best_layout(grok3, gpu, 100_352, top_k=5, xp=xp, precisions=("bf16", "fp8"))
    print(f"search grok-3 on 100,352 H100 incl. fp8: {time.perf_counter() - t0:.3f} s")

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COLOSSUS_CACHE_DIR"] = tmp
        grid = default_grid(100_352, min_gpus=1024)
        t0 = time.perf_counter()
        tab = throughput_table(grok3, gpu, grid, xp=xp)
        build = time.perf_counter() - t0
        print(f"throughput table grok-3 / H100: {len(grid)} grid counts (1,024..100,352, step 1.05) built in {build:.2f} s")
        ns = np.random.default_rng(1).integers(90_000, 100_353, 100_000).tolist()
        t0 = time.perf_counter()
        for n in ns:
            tab.tokens_per_s(n)
        print(f"  tokens_per_s lookup: {(time.perf_counter() - t0) / len(ns) * 1e6:.2f} us/call; "
              f"tokens/s at 100,352 = {tab.tokens_per_s(100_352):,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
