"""Streaming summary of a trace: what ``colossus trace inspect`` shows.

One pass over the batches; memory grows with the number of rows only through one float32
duration per row (for exact percentiles) and small per-division and per-kind tallies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from traces.schema import RECORDED_WAIT

__all__ = ["SIZE_BUCKETS", "TraceSummary", "summarize"]

#: Upper edges (inclusive) of the GPU-count histogram buckets; the last is open.
SIZE_BUCKETS: tuple[int, ...] = (1, 2, 4, 8, 16, 64, 256, 1024, 4096, 16384)
_PERCENTILES = (50, 90, 99)
_WAIT_PERCENTILES = (50, 90, 95, 99)


def _bucket_labels() -> list[str]:
    labels, lo = [], 1
    for hi in SIZE_BUCKETS:
        labels.append(str(hi) if hi == lo else f"{lo}-{hi}")
        lo = hi + 1
    labels.append(f">{SIZE_BUCKETS[-1]}")
    return labels


@dataclass(slots=True)
class _Tally:
    jobs: int = 0
    gpu_s: float = 0.0


@dataclass(kw_only=True, slots=True)
class TraceSummary:
    """Figures of one trace (all GPU-time figures exclude jobs sized in tokens, which have no duration)."""

    rows: int = 0
    first_submit_s: float = float("nan")
    last_submit_s: float = float("nan")
    token_jobs: int = 0
    gpu_hist: dict[str, int] = field(default_factory=dict)
    gpu_time_by_size: dict[str, float] = field(default_factory=dict)
    duration_percentiles_s: dict[str, float] = field(default_factory=dict)
    duration_mean_s: float = float("nan")
    total_gpu_hours: float = 0.0
    gpu_time_share_1_gpu: float = float("nan")
    gpu_time_share_ge8_gpus: float = float("nan")
    gpu_time_share_gt8_gpus: float = float("nan")
    by_division: dict[str, dict[str, float]] = field(default_factory=dict)
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    recorded_wait_jobs: int = 0
    """Jobs with a recorded wait (optional column ``recorded_wait_s``; 0 when absent)."""
    recorded_wait_percentiles_s: dict[str, float] = field(default_factory=dict)
    """p50 / p90 / p95 / p99 of the recorded waits, seconds (empty when none)."""
    recorded_wait_mean_s: float = float("nan")
    """Mean recorded wait, seconds."""

    @property
    def span_days(self) -> float:
        """Days from the first to the last submit."""
        return (self.last_submit_s - self.first_submit_s) / 86_400.0 if self.rows else 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready figures."""
        out = {k: getattr(self, k) for k in self.__slots__}
        out["span_days"] = self.span_days
        return out


def _group(tallies: dict[str, _Tally], keys: pa.Array, gpu_s: np.ndarray) -> None:
    enc = keys.dictionary_encode() if not pa.types.is_dictionary(keys.type) else keys
    idx = enc.indices.to_numpy(zero_copy_only=False)
    names = enc.dictionary.to_pylist()
    counts = np.bincount(idx, minlength=len(names))
    sums = np.bincount(idx, weights=gpu_s, minlength=len(names))
    for i, name in enumerate(names):
        t = tallies.setdefault(name, _Tally())
        t.jobs += int(counts[i])
        t.gpu_s += float(sums[i])


def summarize(batches: Iterable[pa.RecordBatch]) -> TraceSummary:
    """Summarise validated schema-v1 batches (see :func:`traces.reader.iter_batches`)."""
    s = TraceSummary()
    labels = _bucket_labels()
    edges = np.array(SIZE_BUCKETS)
    hist = np.zeros(len(labels), dtype=np.int64)
    size_gs = np.zeros(len(labels))
    durations: list[np.ndarray] = []
    div: dict[str, _Tally] = {}
    kind: dict[str, _Tally] = {}
    waits: list[np.ndarray] = []
    one = ge8 = gt8 = 0.0
    for b in batches:
        if b.num_rows == 0:
            continue
        t = b.column("submit_time_s").to_numpy()
        if s.rows == 0:
            s.first_submit_s = float(t[0])
        s.last_submit_s = float(t[-1])
        s.rows += b.num_rows
        g = b.column("num_gpus").to_numpy().astype(np.int64)
        dcol = b.column("duration_s")
        s.token_jobs += dcol.null_count
        d = dcol.fill_null(0.0).to_numpy()
        durations.append(dcol.drop_null().to_numpy().astype(np.float32))
        gs = g * d
        bucket = np.searchsorted(edges, g, side="left")
        hist += np.bincount(bucket, minlength=len(labels))
        size_gs += np.bincount(bucket, weights=gs, minlength=len(labels))
        one += float(gs[g == 1].sum())
        ge8 += float(gs[g >= 8].sum())
        gt8 += float(gs[g > 8].sum())
        _group(div, b.column("division"), gs)
        _group(kind, b.column("kind"), gs)
        if RECORDED_WAIT in b.schema.names:
            waits.append(b.column(RECORDED_WAIT).drop_null().to_numpy().astype(np.float64))
    total = float(size_gs.sum())
    s.total_gpu_hours = total / 3600.0
    s.gpu_hist = {lab: int(c) for lab, c in zip(labels, hist, strict=True) if c}
    if total > 0:
        s.gpu_time_by_size = {
            lab: float(v / total) for lab, v, c in zip(labels, size_gs, hist, strict=True) if c
        }
        s.gpu_time_share_1_gpu, s.gpu_time_share_ge8_gpus, s.gpu_time_share_gt8_gpus = (
            one / total,
            ge8 / total,
            gt8 / total,
        )
    all_d = np.concatenate(durations) if durations else np.zeros(0, np.float32)
    if all_d.size:
        s.duration_percentiles_s = {
            f"p{p}": float(v)
            for p, v in zip(
                _PERCENTILES, np.percentile(all_d.astype(np.float64), _PERCENTILES), strict=True
            )
        }
        s.duration_mean_s = float(all_d.astype(np.float64).mean())
    all_w = np.concatenate(waits) if waits else np.zeros(0)
    s.recorded_wait_jobs = int(all_w.size)
    if all_w.size:
        s.recorded_wait_percentiles_s = {
            f"p{p}": float(v)
            for p, v in zip(_WAIT_PERCENTILES, np.percentile(all_w, _WAIT_PERCENTILES), strict=True)
        }
        s.recorded_wait_mean_s = float(all_w.mean())
    denom = total if total > 0 else 1.0
    s.by_division = {
        k: {"jobs": v.jobs, "gpu_time_share": v.gpu_s / denom} for k, v in sorted(div.items())
    }
    s.by_kind = {
        k: {"jobs": v.jobs, "gpu_time_share": v.gpu_s / denom} for k, v in sorted(kind.items())
    }
    return s
