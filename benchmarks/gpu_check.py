"""GPU check: CuPy vs NumPy step-time kernels agree (relative 1e-6) and how fast each runs.

Self-contained; run on a machine with an NVIDIA GPU and CuPy installed:

    COLOSSUS_ARRAY=cupy python benchmarks/gpu_check.py [--n 4000000]

Prints every figure; exits 1 on a mismatch (or 3 when CuPy is unusable, with the reason).
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

# benchmarks/scheduler.py and benchmarks/traces.py would shadow our packages when this folder is sys.path[0]
_sys.path[:] = [p for p in _sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import argparse
import sys
import time

import numpy as np

from colossus.hardware import get_gpu
from colossus.steptime.backend import cupy_status, to_numpy
from colossus.steptime.calibration import DEFAULT
from colossus.steptime.kernel import evaluate, hardware_arrays, model_arrays
from colossus.steptime.layout import random_layouts
from colossus.steptime.models import get_model
from colossus.steptime.search import best_layout, evaluate_layouts

RTOL = 1e-6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4_000_000)
    args = ap.parse_args()
    cp, reason = cupy_status()
    print(f"cupy: {reason}")
    if cp is None:
        return 3
    dev = cp.cuda.runtime.getDeviceProperties(0)
    print(f"device: {dev['name'].decode() if isinstance(dev['name'], bytes) else dev['name']}, cupy {cp.__version__}")
    bad = 0
    gpu = get_gpu("H100")
    for name in ("grok-1", "llama-3-70b", "deepseek-v3", "grok-3"):
        model = get_model(name)
        lays = random_layouts(200_000, seed=len(name))
        ref = evaluate(np, model_arrays(model, np), hardware_arrays(gpu, np), lays, DEFAULT)
        got = evaluate(cp, model_arrays(model, cp), hardware_arrays(gpu, cp), {k: cp.asarray(v) for k, v in lays.items()}, DEFAULT)
        for key in ("step_time_s", "tokens_per_s", "mfu", "memory_bytes"):
            a, b = np.asarray(ref[key]), to_numpy(got[key])
            rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))
            ok = rel <= RTOL
            bad += not ok
            print(f"  {name:12s} {key:14s} max rel diff {rel:.2e} {'ok' if ok else 'MISMATCH'}")
        fits_diff = int(np.sum(np.asarray(ref["fits"]) != to_numpy(got["fits"])))
        print(f"  {name:12s} fits           differing rows {fits_diff}")
    # search parity
    a = best_layout("grok-3", gpu, 100_352, top_k=3, xp=np)
    b = best_layout("grok-3", gpu, 100_352, top_k=3, xp=cp)
    same = [x.layout == y.layout for x, y in zip(a, b, strict=True)]
    print(f"  best_layout grok-3 100,352 H100: same top-3 layouts: {same}; "
          f"step {a[0].step_time_s:.6f} (numpy) vs {b[0].step_time_s:.6f} (cupy)")
    bad += not all(same)
    # timing
    model = get_model("grok-1")
    lays = random_layouts(args.n)
    for label, xp, chunk in (("numpy", np, 1 << 15), ("cupy", cp, 1 << 22)):
        evaluate_layouts(model, gpu, {k: v[:1000] for k, v in lays.items()}, xp=xp, chunk=chunk)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            evaluate_layouts(model, gpu, lays, xp=xp, chunk=chunk)
            if xp is cp:
                cp.cuda.Stream.null.synchronize()
            best = min(best, time.perf_counter() - t0)
        print(f"  {label:6s} kernel (incl. host<->device copies): {args.n / best / 1e6:.2f} M configurations/s")
        d_lays = {k: cp.asarray(v) for k, v in lays.items()} if xp is cp else lays
        if xp is cp:
            m_a, h_a = model_arrays(model, cp), hardware_arrays(gpu, cp)
            evaluate(cp, m_a, h_a, d_lays, DEFAULT)
            cp.cuda.Stream.null.synchronize()
            t0 = time.perf_counter()
            evaluate(cp, m_a, h_a, d_lays, DEFAULT)
            cp.cuda.Stream.null.synchronize()
            print(f"  cupy   kernel (device-resident, one call): {args.n / (time.perf_counter() - t0) / 1e6:.2f} M configurations/s")
    for label, xp in (("numpy", np), ("cupy", cp)):
        t0 = time.perf_counter()
        best_layout("grok-3", gpu, 100_352, xp=xp)
        print(f"  {label:6s} best_layout grok-3 on 100,352 H100: {time.perf_counter() - t0:.3f} s")
    print("RESULT:", "PASS" if bad == 0 else f"FAIL ({bad} mismatches)")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
