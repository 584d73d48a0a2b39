"""The scenario's generated workload as a stream of trace record batches.

Uses :mod:`traces.generator` when it is installed; otherwise a small built-in Poisson generator
(ASSUMPTION-laden, documented below) so ``colossus simulate`` always has a workload.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from colossus.scenario.types import Scenario
from colossus.streams import Streams

__all__ = ["workload_batches"]

# ASSUMPTION: job sizes (GPUs) and their probabilities; most jobs are small (Philly/Helios/RSC shape).
_SIZES = np.array([1, 2, 4, 8, 64, 512])
_SIZE_P = np.array([0.40, 0.10, 0.10, 0.29, 0.10, 0.01])
_MEDIAN_S = 1800.0   # ASSUMPTION: lognormal run time, median 30 min
_SIGMA = 1.5         # ASSUMPTION
_MAX_S = 7 * 86400.0


def workload_batches(scenario: Scenario, days: float, seed: int, batch_rows: int = 8192) -> Iterator[Any]:
    """Record batches of the scenario's synthetic workload over ``days``, in submit order."""
    try:
        from colossus.scenario.workload import division_loads, to_workload_params
        from traces.generator import generate_batches
    except ImportError:
        generate_batches = None
    if generate_batches is not None:
        import datetime as dt

        start = dt.datetime.combine(scenario.scenario.start_date, dt.time(), tzinfo=dt.UTC)
        params = to_workload_params(scenario.workload, gpus_per_node=scenario.cluster.gpus_per_node)
        yield from generate_batches(params, division_loads(scenario.workload, scenario.divisions), days=days,
                                    seed=Streams(seed).sequence("workload"), start=start)
        return
    yield from _builtin(scenario, days, seed, batch_rows)


def _builtin(scenario: Scenario, days: float, seed: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
    rng = Streams(seed).get("workload")
    rate_s = scenario.workload.jobs_per_day / 86400.0
    names = [d.name for d in scenario.divisions]
    share = np.asarray([d.load_share for d in scenario.divisions], dtype=np.float64)
    share = share / share.sum() if share.sum() > 0 else np.full(len(names), 1.0 / len(names))
    horizon = days * 86400.0
    t = 0.0
    k = 0
    while t < horizon:
        gaps = rng.exponential(1.0 / rate_s, batch_rows)
        times = t + np.cumsum(gaps)
        t = float(times[-1])
        keep = times < horizon
        n = int(keep.sum())
        if n == 0:
            break
        div = rng.choice(len(names), size=batch_rows, p=share)[:n]
        gpus = rng.choice(_SIZES, size=batch_rows, p=_SIZE_P)[:n]
        dur = np.minimum(_MAX_S, rng.lognormal(np.log(_MEDIAN_S), _SIGMA, batch_rows))[:n]
        kind = np.where(gpus >= 8, "train", np.where(gpus >= 2, "finetune", "eval"))
        yield pa.RecordBatch.from_pydict({
            "job_id": pa.array([f"w{k + i:08d}" for i in range(n)], pa.string()),
            "submit_time_s": pa.array(times[:n], pa.float64()),
            "division": pa.array([names[i] for i in div.tolist()], pa.string()),
            "num_gpus": pa.array(gpus.astype(np.int32), pa.int32()),
            "duration_s": pa.array(dur, pa.float64()),
            "kind": pa.array(kind.tolist(), pa.string()),
            "priority": pa.array(np.zeros(n, np.int16), pa.int16()),
            "preemptible": pa.array(np.ones(n, bool), pa.bool_()),
        })
        k += n
        if n < batch_rows:
            break
