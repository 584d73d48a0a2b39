"""Per-job simulation state, checkpoint intervals and the progress arithmetic of one run segment.

A job's work is measured in *units* done at ``rate`` units per second: seconds of run time for
``duration_s`` jobs (rate 1), tokens for ``work_tokens`` jobs (rate = tokens/s of the current
GPU count from the step-time model). A *segment* is one uninterrupted stretch on one
allocation: it first pays ``overhead_s`` (detection + restart), then progresses, blocking
``ckpt_stall_s`` every ``ckpt_interval_s`` of progress (the checkpoint cost for ``work_tokens``
jobs; 0 for ``duration_s`` jobs, whose trace durations already hold their stalls). An
interruption keeps only the work of completed checkpoint cycles.

A job with a time limit (the trace's optional ``time_limit_s``) still runs for its duration, but
the scheduler plans with the limit (:meth:`SimJob.estimate_s`, :meth:`SimJob.expected_end_s`), as
a real Slurm-like scheduler knows only the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from colossus.errors import InputError
from colossus.scenario.types import CheckpointSection

__all__ = ["CHECKPOINTING_KINDS", "SimJob", "checkpoint_cost_s", "checkpoint_interval_s", "iter_job_records",
           "model_params", "throughput_fn"]

CHECKPOINTING_KINDS = frozenset({"pretrain", "train", "finetune"})
"""Kinds that checkpoint and resume; others restart from scratch (ASSUMPTION)."""

def model_params(model: str | None) -> float | None:
    """Total parameters of a step-time model preset, or None (no model, or not a preset)."""
    if not model:
        return None
    from colossus.steptime.models import get_model

    try:
        return float(get_model(str(model)).params_total())
    except (KeyError, ValueError):
        return None


def checkpoint_cost_s(ckpt: CheckpointSection, params: float | None = None) -> float:
    """Blocking cost C of one checkpoint, s.

    ``ckpt.blocking_s`` (the snapshot of an asynchronous checkpoint), or, when the job's model is
    known and it takes longer, the time to write the model state: ``params x
    state_bytes_per_param / write_tb_s``. ASSUMPTION: a checkpoint blocks at least until its
    state is written (exact for synchronous checkpoints; an upper bound for asynchronous writes
    that overlap compute). grok-3 (2.55e12 parameters x 14 B at 2 TB/s): 17.9 s.
    """
    if params is None or not params > 0:
        return ckpt.blocking_s
    return max(ckpt.blocking_s, params * ckpt.state_bytes_per_param / (ckpt.write_tb_s * 1e12))


def checkpoint_interval_s(ckpt: CheckpointSection, mtti_s: float, cost_s: float | None = None) -> float:
    """Checkpoint interval of a job whose own mean time to interruption is ``mtti_s``.

    ``fixed``: ``ckpt.fixed_interval_s``; ``young``: sqrt(2 C M) (Young 1974);
    ``daly``: Daly's higher-order estimate sqrt(2CM)(1 + sqrt(C/2M)/3 + C/18M) - C for C < 2M,
    else M (Daly, FGCS 22(3) 2006). C is the checkpoint cost ``cost_s`` (default
    ``ckpt.blocking_s``; see :func:`checkpoint_cost_s`). Without failures (M infinite) the fixed
    interval is used.
    """
    c = ckpt.blocking_s if cost_s is None else float(cost_s)
    if ckpt.interval_policy == "fixed" or not math.isfinite(mtti_s) or c <= 0:
        return ckpt.fixed_interval_s
    if ckpt.interval_policy == "young":
        return math.sqrt(2.0 * c * mtti_s)
    if c >= 2.0 * mtti_s:
        return mtti_s
    r = c / (2.0 * mtti_s)
    return math.sqrt(2.0 * c * mtti_s) * (1.0 + math.sqrt(r) / 3.0 + r / 9.0) - c


class SimJob:
    """Mutable state of one job inside the simulation loop."""

    __slots__ = (
        "alloc_gpus",
        "alloc_pairs",
        "ckpt",
        "ckpt_cost_s",
        "ckpt_interval_s",
        "ckpt_stall_s",
        "div_idx",
        "division",
        "duration_s",
        "end_s",
        "epoch",
        "first_start_s",
        "gpu_s_alloc",
        "gpu_s_useful",
        "gpus",
        "idx",
        "interruptions",
        "is_hero",
        "job_id",
        "kind",
        "min_gpus",
        "missing_nodes",
        "model",
        "nodes",
        "num_gpus",
        "pending_obj",
        "pending_since_s",
        "power_blocked",
        "power_mw",
        "preemptible",
        "preemptions",
        "priority",
        "productive_s",
        "queue_s",
        "restart_s",
        "running_obj",
        "seg_end_s",
        "seg_overhead_s",
        "seg_rate",
        "seg_start_s",
        "slot",
        "state",
        "submit_s",
        "time_limit_s",
        "work_saved",
        "work_tokens",
        "work_total",
    )

    def __init__(self, idx: int, rec: Mapping[str, Any], div_idx: int) -> None:
        self.idx = idx
        self.job_id = str(rec["job_id"])
        self.division = str(rec["division"])
        self.div_idx = div_idx
        self.kind = str(rec.get("kind") or "other")
        self.num_gpus = int(rec["num_gpus"])
        mg = rec.get("min_gpus")
        self.min_gpus = None if mg is None else int(mg)
        self.priority = int(rec.get("priority") or 0)
        pre = rec.get("preemptible")
        self.preemptible = bool(pre) if pre is not None else self.kind not in ("pretrain",)
        self.submit_s = float(rec["submit_time_s"])
        d = rec.get("duration_s")
        self.duration_s = None if d is None or (isinstance(d, float) and math.isnan(d)) else float(d)
        tl = rec.get("time_limit_s")
        self.time_limit_s = None if tl is None or not math.isfinite(float(tl)) or float(tl) <= 0 else float(tl)
        w = rec.get("work_tokens")
        self.work_tokens = None if w is None or (isinstance(w, float) and math.isnan(w)) else float(w)
        self.model = rec.get("model")
        self.is_hero = bool(rec.get("is_hero", False))
        if self.work_tokens is None and self.duration_s is None:
            raise InputError(f"job {self.job_id!r}: needs duration_s or work_tokens")
        self.work_total = self.work_tokens if self.work_tokens is not None else self.duration_s
        self.work_saved = 0.0
        self.ckpt = self.kind in CHECKPOINTING_KINDS or self.work_tokens is not None
        self.ckpt_interval_s = math.inf
        self.ckpt_cost_s = 0.0
        self.ckpt_stall_s = 0.0
        self.restart_s = 0.0
        self.state = "pending"
        self.first_start_s = math.nan
        self.end_s = math.nan
        self.pending_since_s = self.submit_s
        self.queue_s = 0.0
        self.epoch = 0
        self.nodes: np.ndarray | None = None
        self.gpus: np.ndarray | None = None
        self.alloc_gpus = 0
        self.alloc_pairs: tuple[tuple[int, int], ...] | None = None
        self.seg_start_s = 0.0
        self.seg_end_s = math.inf
        self.seg_overhead_s = 0.0
        self.seg_rate = 1.0
        self.gpu_s_alloc = 0.0
        self.gpu_s_useful = 0.0
        self.productive_s = 0.0
        self.interruptions = 0
        self.preemptions = 0
        self.pending_obj: Any = None
        self.running_obj: Any = None
        self.missing_nodes = 0
        self.power_mw = 0.0  # facility MW its busy GPUs add over idle
        self.power_blocked = 0  # rounds its start was held back by the power cap
        self.slot = -1  # its slot in the simulator's columnar running set (-1: none)

    # -- the scheduler's estimates -------------------------------------------------------------
    def estimate_s(self) -> float | None:
        """Run time the scheduler plans with, s: the time limit when the job has one (what a
        Slurm-like scheduler knows), else the trace duration (``None`` for work_tokens jobs)."""
        return self.time_limit_s if self.time_limit_s is not None else self.duration_s

    def expected_end_s(self) -> float:
        """End of the current segment as the scheduler sees it, s: start + time limit (never before
        the real end, as a job past its limit would be killed) when the job has one, else the real end."""
        if self.time_limit_s is None:
            return self.seg_end_s
        return max(self.seg_start_s + self.time_limit_s, self.seg_end_s)

    # -- segment arithmetic -------------------------------------------------------------------
    def segment_wall_s(self) -> float:
        """Wall seconds from segment start to completion if nothing interrupts it."""
        prod = max(0.0, self.work_total - self.work_saved) / self.seg_rate
        n_ck = 0.0
        if self.ckpt_stall_s > 0 and math.isfinite(self.ckpt_interval_s):
            n_ck = max(0.0, math.ceil(prod / self.ckpt_interval_s) - 1.0)
        return self.seg_overhead_s + prod + n_ck * self.ckpt_stall_s

    def close_segment(self, now_s: float, completed: bool) -> float:
        """End the current segment at ``now_s``; bank kept work; return productive seconds kept."""
        wall = max(0.0, now_s - self.seg_start_s)
        self.gpu_s_alloc += wall * self.alloc_gpus
        if completed:
            kept_s = max(0.0, self.work_total - self.work_saved) / self.seg_rate
            self.work_saved = self.work_total
        else:
            e = wall - self.seg_overhead_s
            kept_s = 0.0
            if e > 0 and self.ckpt and math.isfinite(self.ckpt_interval_s):
                cycles = math.floor(e / (self.ckpt_interval_s + self.ckpt_stall_s))
                kept_s = min(cycles * self.ckpt_interval_s, (self.work_total - self.work_saved) / self.seg_rate)
            self.work_saved += kept_s * self.seg_rate
        self.gpu_s_useful += kept_s * self.alloc_gpus
        self.productive_s += kept_s
        return kept_s

    def inflight_work(self, now_s: float) -> float:
        """Work done in the open segment so far (not yet checkpointed), units."""
        if self.state != "running" or self.missing_nodes:
            return 0.0
        e = max(0.0, now_s - self.seg_start_s - self.seg_overhead_s)
        return min(e * self.seg_rate, self.work_total - self.work_saved)


def throughput_fn(scenario: Any) -> Callable[[str, str, int], float]:
    """``tokens_per_s(model, sku, num_gpus)`` from the step-time throughput table.

    The hero run's (model, SKU) gets one :func:`colossus.steptime.throughput.throughput_table`,
    built on first use (and disk-cached by the step-time package) over whole-node counts from half
    the hero's GPUs up to its full size in 1 % steps (what shrinking and regrowing visit); a count
    between grid points steps down to the grid point below (the table's rule). Any other count
    or (model, SKU) gets a one-point table at exactly that count (also cached).

    Raises
    ------
    InputError
        When the model is not a step-time preset or no layout fits the requested GPU count.
    """
    from colossus.steptime.models import get_model
    from colossus.steptime.throughput import default_grid, throughput_table

    gpn = int(scenario.cluster.gpus_per_node)
    hero = scenario.hero if (scenario.hero is not None and scenario.hero.enabled) else None
    hero_tab: list[Any] = []
    out: dict[tuple[str, str, int], float] = {}

    def _spec(model: str) -> Any:
        try:
            return get_model(model)
        except (KeyError, ValueError) as exc:
            raise InputError(f"job model {model!r}: not a step-time model preset ({exc})") from None

    def tps(model: str, sku: str, num_gpus: int) -> float:
        key = (model, sku, num_gpus)
        hit = out.get(key)
        if hit is not None:
            return hit
        val = 0.0
        if hero is not None and model == hero.model and sku == hero.sku:
            if not hero_tab:
                top = int(hero.gpus)
                lo = max(gpn, (top // 2) // gpn * gpn)
                hero_tab.append(throughput_table(_spec(model), scenario.gpu_spec(sku),
                                                 default_grid(top, min_gpus=lo, step=1.01, node_gpus=gpn)))
            if hero_tab[0].gpu_counts[0] <= num_gpus <= hero_tab[0].gpu_counts[-1]:
                val = float(hero_tab[0].tokens_per_s(num_gpus))
        if not val > 0:
            val = float(throughput_table(_spec(model), scenario.gpu_spec(sku), [num_gpus]).tokens_per_s(num_gpus))
        if not val > 0:
            raise InputError(f"model {model!r} on {num_gpus} x {sku}: the step-time model finds no layout that fits")
        out[key] = val
        return val

    return tps


_COLS = ("job_id", "submit_time_s", "division", "num_gpus", "duration_s", "kind", "priority",
         "preemptible", "work_tokens", "model", "min_gpus", "time_limit_s")


def iter_job_records(jobs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Job records (dicts) from an iterable of pyarrow RecordBatches/Tables or of dicts, streamed."""
    for item in jobs:
        if isinstance(item, (pa.RecordBatch, pa.Table)):
            names = set(item.schema.names)
            cols = {c: item.column(c).to_pylist() for c in _COLS if c in names}
            n = item.num_rows
            keys = list(cols)
            vals = [cols[k] for k in keys]
            for i in range(n):
                yield {k: v[i] for k, v in zip(keys, vals, strict=True)}
        elif isinstance(item, Mapping):
            yield dict(item)
        else:
            raise InputError(f"jobs: expected pyarrow RecordBatch or mapping, got {type(item).__name__}")
