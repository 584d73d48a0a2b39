"""The snapshot JSON format (version 1): read, write, JSON Schema, and decisions as JSON.

A snapshot is one round's input::

    {
      "version": 1,
      "now_s": 36000.0,
      "cluster": {
        "gpus_per_node": 8,
        "hot_spare_nodes": 0,
        "pools": [{"nodes": 64, "hall": "A", "sku": "H100"}, ...],
        "failed_nodes": [17, 530]
      },
      "divisions": [{"name": "grok", "guaranteed_gpus": 1024, "weight": 2.0,
                     "borrow_limit_gpus": 512, "lend_limit_gpus": null,
                     "decayed_usage_gpu_s": 1.2e7}, ...],
      "running": [{"job_id": "r1", "division": "grok", "num_gpus": 16,
                   "allocation": [[0, 8], [1, 8]], "start_time_s": 30000.0,
                   "expected_end_s": 40000.0, "preemptible": true, ...}, ...],
      "pending": [{"job_id": "p1", "division": "data", "num_gpus": 4,
                   "submit_time_s": 35000.0, "expected_duration_s": 600.0, ...}, ...]
    }

Nodes are numbered pool by pool from 0 (pool 0 holds nodes ``0..nodes-1``); a node's free
GPUs are ``gpus_per_node`` minus what running jobs hold, 0 when failed. Division usage is the
sum of its running jobs' allocations. The JSON Schema ships as ``snapshot.schema.json``
(:func:`snapshot_schema` regenerates it).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scheduler.errors import SchedulerInputError
from scheduler.types import ClusterView, Decision, DivisionState, PendingJob, RunningJob

__all__ = [
    "SCHEMA_PATH",
    "decision_to_dict",
    "load_snapshot",
    "parse_snapshot",
    "snapshot_schema",
    "snapshot_to_dict",
    "write_json_atomic",
]

SCHEMA_PATH = Path(__file__).with_name("snapshot.schema.json")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PoolIn(_M):
    nodes: int = Field(64, ge=1, description="nodes in this pool (one 512-GPU array = 64 nodes of 8 GPUs)")
    hall: str = Field("A", description="hall name; pool-spanning jobs prefer one hall")
    sku: str | None = Field(None, description="GPU type (informational)")


class ClusterIn(_M):
    gpus_per_node: int = Field(8, ge=1, description="GPUs per healthy node (a power of two)")
    hot_spare_nodes: int = Field(0, ge=0, description="whole free nodes kept idle for the hero run")
    pools: list[PoolIn] = Field(min_length=1)
    failed_nodes: list[int] = Field(default_factory=list, description="node ids that are failed or drained")


class DivisionIn(_M):
    name: str
    guaranteed_gpus: int = Field(ge=0)
    weight: float = Field(1.0, gt=0)
    borrow_limit_gpus: int | None = Field(None, ge=0)
    lend_limit_gpus: int | None = Field(None, ge=0)
    decayed_usage_gpu_s: float = Field(0.0, ge=0)


class PendingIn(_M):
    job_id: str
    division: str
    num_gpus: int = Field(ge=1)
    kind: str = "train"
    priority: int = 0
    preemptible: bool = True
    min_gpus: int | None = Field(None, ge=1)
    submit_time_s: float = 0.0
    expected_duration_s: float | None = Field(None, ge=0)
    is_hero: bool = False
    restart_cost_s: float = Field(0.0, ge=0)


class RunningIn(_M):
    job_id: str
    division: str
    num_gpus: int = Field(ge=1)
    allocation: list[tuple[int, int]] = Field(min_length=1, description="[[node_id, gpus], ...]")
    kind: str = "train"
    priority: int = 0
    preemptible: bool = True
    start_time_s: float = 0.0
    expected_end_s: float | None = None
    restart_cost_s: float = Field(0.0, ge=0)
    is_hero: bool = False


class SnapshotIn(_M):
    """One scheduling round's input (colossus scheduler snapshot, version 1)."""

    version: int = Field(1, ge=1, le=1)
    now_s: float = 0.0
    cluster: ClusterIn
    divisions: list[DivisionIn] = Field(min_length=1)
    running: list[RunningIn] = Field(default_factory=list)
    pending: list[PendingIn] = Field(default_factory=list)


def snapshot_schema() -> dict[str, Any]:
    """The JSON Schema of the snapshot format."""
    s = SnapshotIn.model_json_schema()
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["$id"] = "https://colossus-planner/scheduler/snapshot.schema.json"
    return s


def _err(where: str, exc: ValidationError) -> SchedulerInputError:
    e = exc.errors()[0]
    loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return SchedulerInputError(f"{where}: {loc}: {e['msg']}{more}")


def parse_snapshot(data: Any, where: str = "<snapshot>") -> tuple[ClusterView, list[PendingJob], list[RunningJob], float]:
    """Validate a decoded snapshot and build ``(view, pending, running, now_s)``."""
    try:
        s = SnapshotIn.model_validate(data)
    except ValidationError as exc:
        raise _err(where, exc) from None
    c = s.cluster
    gpn = c.gpus_per_node
    if gpn & (gpn - 1):
        raise SchedulerInputError(f"{where}: cluster.gpus_per_node: must be a power of two, got {gpn}")
    sizes = np.array([p.nodes for p in c.pools], dtype=np.int64)
    node_pool = np.repeat(np.arange(sizes.size), sizes)
    halls = sorted({p.hall for p in c.pools})
    pool_hall = np.array([halls.index(p.hall) for p in c.pools], dtype=np.int64)
    nn = int(sizes.sum())
    free = np.full(nn, gpn, dtype=np.int64)
    for i, n in enumerate(c.failed_nodes):
        if not 0 <= n < nn:
            raise SchedulerInputError(f"{where}: cluster.failed_nodes.{i}: node {n} outside 0..{nn - 1}")
        free[n] = 0
    names = [d.name for d in s.divisions]
    if len(set(names)) != len(names):
        raise SchedulerInputError(f"{where}: divisions: duplicate division name")
    running: list[RunningJob] = []
    usage = dict.fromkeys(names, 0)
    seen: set[str] = set()
    for i, r in enumerate(s.running):
        if r.division not in usage:
            raise SchedulerInputError(f"{where}: running.{i}.division: unknown division {r.division!r}; divisions: {names}")
        if r.job_id in seen:
            raise SchedulerInputError(f"{where}: running.{i}.job_id: duplicate job id {r.job_id!r}")
        seen.add(r.job_id)
        for k, (n, g) in enumerate(r.allocation):
            if not 0 <= n < nn or g < 1:
                raise SchedulerInputError(f"{where}: running.{i}.allocation.{k}: bad node {n} or GPUs {g}")
            if c.failed_nodes and free[n] == 0 and n in set(c.failed_nodes):
                raise SchedulerInputError(f"{where}: running.{i}.allocation.{k}: node {n} is failed")
            free[n] -= g
            if free[n] < 0:
                raise SchedulerInputError(f"{where}: running.{i}.allocation.{k}: node {n} over-allocated")
        usage[r.division] += sum(g for _, g in r.allocation)
        running.append(RunningJob(
            job_id=r.job_id, division=r.division, num_gpus=r.num_gpus,
            allocation=tuple(sorted((int(n), int(g)) for n, g in r.allocation)), kind=r.kind,
            priority=r.priority, preemptible=r.preemptible, start_time_s=r.start_time_s,
            expected_end_s=r.expected_end_s, restart_cost_s=r.restart_cost_s, is_hero=r.is_hero,
        ))
    pending: list[PendingJob] = []
    for i, p in enumerate(s.pending):
        if p.division not in usage:
            raise SchedulerInputError(f"{where}: pending.{i}.division: unknown division {p.division!r}; divisions: {names}")
        if p.job_id in seen:
            raise SchedulerInputError(f"{where}: pending.{i}.job_id: duplicate job id {p.job_id!r}")
        seen.add(p.job_id)
        if p.min_gpus is not None and p.min_gpus > p.num_gpus:
            raise SchedulerInputError(f"{where}: pending.{i}.min_gpus: larger than num_gpus")
        pending.append(PendingJob(**p.model_dump()))
    divisions = tuple(DivisionState(**d.model_dump(), usage_gpus=usage[d.name]) for d in s.divisions)
    view = ClusterView(
        free_gpus=free, node_pool=node_pool, pool_hall=pool_hall, divisions=divisions, gpus_per_node=gpn,
        pool_sku=tuple(p.sku or "" for p in c.pools), hot_spare_nodes=c.hot_spare_nodes,
    )
    return view, pending, running, float(s.now_s)


def load_snapshot(path: str | os.PathLike[str]) -> tuple[ClusterView, list[PendingJob], list[RunningJob], float]:
    """Read a snapshot file; bad input raises :class:`SchedulerInputError` naming file and key."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SchedulerInputError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SchedulerInputError(f"{p}: byte {exc.start} (line {line}): not UTF-8 text (a snapshot is JSON in UTF-8)") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SchedulerInputError(f"{p}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})") from None
    except _NonFiniteNumber as exc:
        key = _path_of_constant(data_text=text, token=exc.token)
        raise SchedulerInputError(f"{p}: {key}: {exc.token} is not a JSON number (use a finite number or null)") from None
    return parse_snapshot(data, str(p))


class _NonFiniteNumber(ValueError):
    """``NaN`` / ``Infinity`` / ``-Infinity`` met while decoding (Python's json accepts them)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _reject_constant(token: str) -> Any:
    raise _NonFiniteNumber(token)


def _path_of_constant(*, data_text: str, token: str) -> str:
    """Dotted key path (``pending.3.submit_time_s``) of the first ``token`` constant in the text.

    Decodes again with the constants replaced by a sentinel and walks the result, so the
    message names the key as the validation errors do.
    """
    sentinel = object()
    data = json.loads(data_text, parse_constant=lambda t: sentinel)

    def walk(node: Any, loc: list[str]) -> list[str] | None:
        if node is sentinel:
            return loc
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            hit = walk(v, [*loc, str(k)])
            if hit is not None:
                return hit
        return None

    loc = walk(data, [])
    return ".".join(loc) if loc else "(top level)"


def snapshot_to_dict(view: ClusterView, pending: list[PendingJob], running: list[RunningJob], now_s: float) -> dict[str, Any]:
    """The snapshot JSON object for a view (failed nodes: zero free GPUs and not allocated)."""
    held = np.zeros(view.num_nodes, dtype=np.int64)
    for r in running:
        for n, g in r.allocation:
            held[n] += g
    failed = np.flatnonzero((view.free_gpus == 0) & (held == 0))
    sizes = view.nodes_per_pool
    return {
        "version": 1,
        "now_s": now_s,
        "cluster": {
            "gpus_per_node": view.gpus_per_node,
            "hot_spare_nodes": view.hot_spare_nodes,
            "pools": [{"nodes": int(sizes[p]), "hall": f"hall{int(view.pool_hall[p])}",
                       "sku": (view.pool_sku[p] if view.pool_sku else None) or None} for p in range(view.num_pools)],
            "failed_nodes": failed.tolist(),
        },
        "divisions": [{"name": d.name, "guaranteed_gpus": d.guaranteed_gpus, "weight": d.weight,
                       "borrow_limit_gpus": d.borrow_limit_gpus, "lend_limit_gpus": d.lend_limit_gpus,
                       "decayed_usage_gpu_s": d.decayed_usage_gpu_s} for d in view.divisions],
        "running": [{"job_id": r.job_id, "division": r.division, "num_gpus": r.num_gpus,
                     "allocation": [list(a) for a in r.allocation], "kind": r.kind, "priority": r.priority,
                     "preemptible": r.preemptible, "start_time_s": r.start_time_s,
                     "expected_end_s": r.expected_end_s, "restart_cost_s": r.restart_cost_s,
                     "is_hero": r.is_hero} for r in running],
        "pending": [{"job_id": j.job_id, "division": j.division, "num_gpus": j.num_gpus, "kind": j.kind,
                     "priority": j.priority, "preemptible": j.preemptible, "min_gpus": j.min_gpus,
                     "submit_time_s": j.submit_time_s, "expected_duration_s": j.expected_duration_s,
                     "is_hero": j.is_hero, "restart_cost_s": j.restart_cost_s} for j in pending],
    }


def decision_to_dict(decision: Decision, *, timings: bool = True) -> dict[str, Any]:
    """A JSON-ready dict of a decision (``timings=False`` drops wall-clock fields)."""
    rec = {k: getattr(decision.record, k) for k in decision.record.__slots__}  # type: ignore[attr-defined]
    if not timings:
        for k in ("build_s", "solve_s", "placement_s", "total_s"):
            rec.pop(k, None)
    return {
        "record": rec,
        "starts": {j: [list(a) for a in alloc] for j, alloc in decision.starts.items()},
        "preemptions": [{"job_id": p.job_id, "reason": p.reason} for p in decision.preemptions],
        "reservations": [{"job_id": r.job_id, "num_gpus": r.num_gpus, "start_s": r.start_s, "held_gpus": r.held_gpus}
                         for r in decision.reservations],
        "spare_nodes": list(decision.spare_nodes),
        "explanations": {j: {"reason": str(e.reason), "text": e.text, "estimated_start_s": e.estimated_start_s}
                         for j, e in decision.explanations.items()},
    }


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
