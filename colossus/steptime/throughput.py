"""Tokens/s of a model versus GPU count (best layout per count), cached by content hash.

The simulation builds one :class:`ThroughputTable` per (model, GPU, grid) and then calls
:meth:`ThroughputTable.tokens_per_s` whenever the job's GPU count changes; that call is a bisect
on a tuple (about a microsecond).  Between grid points the table steps down: ``n`` GPUs get the
throughput of the largest grid count ``<= n`` (conservative; the extra GPUs idle), taken as a
running maximum so the curve never falls as GPUs are added.

Tables are cached in process (a dict keyed by the hash) and on disk as JSON under
``$COLOSSUS_CACHE_DIR/steptime`` (default ``~/.cache/colossus/steptime``).  The key hashes the
model shape, the GPU figures, the grid, the batch, the precisions, the calibration constants and
the package version, so a change to any of them builds a new table.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from colossus import __version__
from colossus.hardware import GpuSpec
from colossus.steptime.calibration import DEFAULT, Calibration
from colossus.steptime.models import ModelSpec, get_model
from colossus.steptime.search import best_layout

__all__ = ["CACHE_ENV", "ThroughputTable", "cache_dir", "default_grid", "table_key", "throughput_table"]

CACHE_ENV = "COLOSSUS_CACHE_DIR"
_KERNEL_VERSION = 1  # bump when the kernel's formulas change
_MEMO: dict[str, ThroughputTable] = {}


@dataclass(frozen=True, kw_only=True, slots=True)
class ThroughputTable:
    """Best-layout throughput at each grid GPU count.

    Attributes
    ----------
    model, gpu : str
        Names of the model preset and GPU.
    key : str
        Content hash of the inputs (cache key).
    gpu_counts : tuple[int, ...]
        Grid, ascending.
    grid_tokens_per_s : tuple[float, ...]
        Best tokens/s at each grid count (0.0 where nothing fits).
    layouts : tuple[str, ...]
        The best layout at each grid count ("" where nothing fits).
    envelope : tuple[float, ...]
        Running maximum of ``grid_tokens_per_s`` (what :meth:`tokens_per_s` returns).
    """

    model: str
    gpu: str
    key: str
    gpu_counts: tuple[int, ...]
    grid_tokens_per_s: tuple[float, ...]
    layouts: tuple[str, ...]
    envelope: tuple[float, ...]

    def tokens_per_s(self, num_gpus: int) -> float:
        """Training tokens/s on ``num_gpus`` GPUs (step-down between grid points; 0 below the grid)."""
        i = bisect.bisect_right(self.gpu_counts, num_gpus) - 1
        return self.envelope[i] if i >= 0 else 0.0

    def layout_for(self, num_gpus: int) -> str:
        """The layout behind :meth:`tokens_per_s` (the grid point it steps down to)."""
        i = bisect.bisect_right(self.gpu_counts, num_gpus) - 1
        if i < 0:
            return ""
        j = int(np.argmax(np.asarray(self.grid_tokens_per_s[: i + 1])))
        return self.layouts[j]

    def to_json(self) -> str:
        """Serialise (for the disk cache)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ThroughputTable:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        return cls(model=d["model"], gpu=d["gpu"], key=d["key"],
                   gpu_counts=tuple(int(x) for x in d["gpu_counts"]),
                   grid_tokens_per_s=tuple(float(x) for x in d["grid_tokens_per_s"]),
                   layouts=tuple(d["layouts"]), envelope=tuple(float(x) for x in d["envelope"]))  # fmt: skip


def default_grid(max_gpus: int, *, min_gpus: int = 8, step: float = 1.05, node_gpus: int = 8) -> list[int]:
    """Geometric grid of whole-node GPU counts from ``min_gpus`` to ``max_gpus`` (inclusive).

    ``step`` 1.05 means a job between grid points is credited at most ~5 % too little.
    """
    out: set[int] = {max_gpus}
    x = float(max(min_gpus, 1))
    while x < max_gpus:
        out.add(max(int(x // node_gpus) * node_gpus, min_gpus))
        x *= step
    return sorted(n for n in out if n <= max_gpus)


def cache_dir() -> Path:
    """``$COLOSSUS_CACHE_DIR/steptime`` or ``~/.cache/colossus/steptime``."""
    root = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "colossus")
    return Path(root) / "steptime"


def table_key(model: ModelSpec, gpu: GpuSpec, gpu_counts: Sequence[int], *,
              global_batch_tokens: int | None, precisions: Sequence[str], cal: Calibration) -> str:  # fmt: skip
    """SHA-256 (hex, 24 chars) of everything the table depends on."""
    payload = {"model": model.to_dict(), "gpu": asdict(gpu), "counts": [int(n) for n in gpu_counts],
               "gbt": global_batch_tokens, "precisions": list(precisions), "cal": cal.to_dict(),
               "version": __version__, "kernel": _KERNEL_VERSION}  # fmt: skip
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def throughput_table(
    model: ModelSpec | str,
    gpu: GpuSpec,
    gpu_counts: Sequence[int],
    *,
    global_batch_tokens: int | None = None,
    precisions: Sequence[str] = ("bf16",),
    cal: Calibration = DEFAULT,
    use_disk_cache: bool = True,
    xp: ModuleType | None = None,
) -> ThroughputTable:
    """Build (or load from cache) the best-layout throughput table.

    Parameters
    ----------
    model : ModelSpec or preset name
    gpu : GpuSpec
    gpu_counts : sequence of int
        Grid of GPU counts (any order; duplicates dropped). Each point allows idle GPUs.
    global_batch_tokens : int, optional
        Tokens per step (default: the model's).
    precisions : sequence of str
        GEMM precisions the search may choose from.
    use_disk_cache : bool
        Read/write the JSON cache under :func:`cache_dir` (the in-process cache is always used).
    """
    mdl = get_model(model)
    counts = sorted({int(n) for n in gpu_counts if int(n) >= 1})
    if not counts:
        raise ValueError("gpu_counts must contain at least one count >= 1")
    key = table_key(mdl, gpu, counts, global_batch_tokens=global_batch_tokens, precisions=precisions, cal=cal)
    if key in _MEMO:
        return _MEMO[key]
    path = cache_dir() / f"{key}.json"
    if use_disk_cache and path.exists():
        try:
            table = ThroughputTable.from_json(path.read_text(encoding="utf-8"))
            if table.key == key:
                _MEMO[key] = table
                return table
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache file is rebuilt below
    tps: list[float] = []
    lays: list[str] = []
    for n in counts:
        best = best_layout(mdl, gpu, n, global_batch_tokens=global_batch_tokens,
                           precisions=precisions, allow_idle=True, cal=cal, xp=xp)  # fmt: skip
        tps.append(best[0].tokens_per_s if best else 0.0)
        lays.append(str(best[0].layout) if best else "")
    table = ThroughputTable(model=mdl.name, gpu=gpu.name, key=key, gpu_counts=tuple(counts),
                            grid_tokens_per_s=tuple(tps), layouts=tuple(lays),
                            envelope=tuple(float(x) for x in np.maximum.accumulate(np.asarray(tps))))  # fmt: skip
    _MEMO[key] = table
    if use_disk_cache:
        _write_atomic(path, table.to_json())
    return table


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        pass  # the cache is an optimisation; an unwritable cache dir is not an error
