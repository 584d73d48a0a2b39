"""Estimate one layout, enumerate every valid layout for N GPUs, and pick the fastest.

Validity rules of the enumeration: TP a power of two within the NVLink domain dividing the
query and KV heads; CP a power of two with s divisible by 2c (causal load balancing); PP
dividing the layers and VPP dividing the layers per stage (VPP > 1 needs PP > 1 and a
microbatch count that is a multiple of PP); EP dividing the experts and d*c; MoE models also try
the all-to-all overlapped with another micro-batch's compute (``ep_overlap``); DP = N/(tp pp cp)
exactly (or ``floor`` with ``allow_idle=True``); the global batch is the requested token count
rounded to a whole number of microbatches per replica (at least one), and layouts whose
rounded batch differs from the request by more than ``batch_tolerance`` (25 %) are skipped;
memory must fit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import numpy as np

from colossus.hardware import GpuSpec
from colossus.steptime.backend import get_xp, to_numpy
from colossus.steptime.calibration import DEFAULT, Calibration
from colossus.steptime.kernel import PRECISIONS, RECOMPUTES, evaluate, hardware_arrays, model_arrays
from colossus.steptime.layout import Layout, LayoutResult
from colossus.steptime.models import ModelSpec, get_model

__all__ = ["MICRO_BATCHES", "best_layout", "enumerate_layouts", "estimate", "evaluate_layouts"]

MICRO_BATCHES: tuple[int, ...] = (1, 2, 4, 8)
CHUNK = 1 << 15  # configurations per kernel call (keeps temporaries in cache)
_INV_RC = {v: k for k, v in RECOMPUTES.items()}
_INV_PREC = {v: k for k, v in PRECISIONS.items()}


def _divisors(n: int) -> list[int]:
    return [i for i in range(1, n + 1) if n % i == 0]


def enumerate_layouts(
    model: ModelSpec,
    gpu: GpuSpec,
    num_gpus: int,
    *,
    global_batch_tokens: int | None = None,
    precisions: Sequence[str] = ("bf16",),
    micro_batches: Sequence[int] = MICRO_BATCHES,
    max_vpp: int = 8,
    allow_idle: bool = False,
    batch_tolerance: float = 0.25,
) -> dict[str, np.ndarray]:
    """Every valid layout (before the memory check) as kernel layout arrays (NumPy, float64)."""
    if num_gpus < 1:
        raise ValueError(f"num_gpus must be >= 1, got {num_gpus}")
    gbt = global_batch_tokens or model.global_batch_tokens
    seqs = max(gbt / model.seq_len, 1.0)
    L, E = model.layers, max(model.moe_experts, 1)
    tps = [t for t in (1, 2, 4, 8, 16, 32, 64, 72) if t <= gpu.nvlink_domain_gpus
           and model.heads % t == 0 and model.kv_heads % t == 0 and model.ffn_hidden % t == 0]  # fmt: skip
    cps = [c for c in (1, 2, 4, 8, 16, 32) if model.seq_len % (2 * c) == 0 or c == 1]
    eps = _divisors(E) if model.is_moe else [1]
    struct: list[tuple[int, int, int, int, int, int, int, int]] = []  # t, p, d, c, e, v, b, m
    for t in tps:
        for c in cps:
            for p in _divisors(L):
                mp = t * c * p
                if mp > num_gpus or (not allow_idle and num_gpus % mp):
                    continue
                d = num_gpus // mp
                for b in micro_batches:
                    m0 = max(round(seqs / (d * b)), 1)
                    if abs(m0 * d * b - seqs) > batch_tolerance * seqs:
                        continue
                    for v in _divisors(L // p):
                        if v > max_vpp or (v > 1 and (p == 1 or m0 % p)):
                            continue
                        m = m0
                        for e in eps:
                            if (d * c) % e == 0:
                                struct.append((t, p, d, c, e, v, b, m))
    if not struct:
        return {k: np.zeros(0) for k in ("tp", "pp", "dp", "cp", "ep", "vpp", "mb", "gb", "recompute", "precision",
                                         "fsdp", "ep_overlap")}  # fmt: skip
    s = np.array(struct, dtype=np.float64)
    overlaps = (0.0, 1.0) if model.is_moe else (0.0,)  # all-to-all hidden behind compute (MoE only)
    extra = np.array([(rc, PRECISIONS[pr], fs, ov) for rc in (0.0, 1.0, 2.0) for pr in precisions
                      for fs in (0.0, 1.0) for ov in overlaps], dtype=np.float64)  # fmt: skip
    ns, nx = len(s), len(extra)
    rep = np.repeat(s, nx, axis=0)
    til = np.tile(extra, (ns, 1))
    return {"tp": rep[:, 0], "pp": rep[:, 1], "dp": rep[:, 2], "cp": rep[:, 3], "ep": rep[:, 4],
            "vpp": rep[:, 5], "mb": rep[:, 6], "gb": rep[:, 7] * rep[:, 2] * rep[:, 6],
            "recompute": til[:, 0], "precision": til[:, 1], "fsdp": til[:, 2], "ep_overlap": til[:, 3]}  # fmt: skip


def evaluate_layouts(
    model: ModelSpec,
    gpu: GpuSpec,
    layouts: dict[str, Any],
    *,
    xp: ModuleType | None = None,
    cal: Calibration = DEFAULT,
    chunk: int = CHUNK,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Run the kernel over layout arrays in cache-sized chunks (threads on NumPy); NumPy results."""
    xp = xp or get_xp()
    m = model_arrays(model, xp)
    hw = hardware_arrays(gpu, xp)
    n = len(layouts["tp"])
    keys = ("step_time_s", "tokens_per_s", "mfu", "memory_bytes", "fits")
    if n == 0:
        return {k: np.zeros(0) for k in keys}

    def one(lo: int) -> dict[str, np.ndarray]:
        lay = {k: xp.asarray(v[lo : lo + chunk]) for k, v in layouts.items()}
        res = evaluate(xp, m, hw, lay, cal)
        return {k: to_numpy(res[k]) for k in keys}

    starts = range(0, n, chunk)
    workers = min(threads if threads is not None else (os.cpu_count() or 1), len(starts))
    if xp is np and workers > 1:  # NumPy ufuncs release the GIL: chunks run in parallel threads
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outs = list(pool.map(one, starts))
    else:
        outs = [one(lo) for lo in starts]
    return {k: np.concatenate([o[k] for o in outs]) for k in keys}


def _result(layouts: dict[str, np.ndarray], res: dict[str, np.ndarray], i: int, n_gpus: int) -> LayoutResult:
    lay = Layout(tp=int(layouts["tp"][i]), pp=int(layouts["pp"][i]), dp=int(layouts["dp"][i]),
                 cp=int(layouts["cp"][i]), ep=int(layouts["ep"][i]), vpp=int(layouts["vpp"][i]),
                 micro_batch=int(layouts["mb"][i]), global_batch=int(layouts["gb"][i]),
                 recompute=_INV_RC[int(layouts["recompute"][i])],
                 precision=_INV_PREC[int(layouts["precision"][i])], fsdp=bool(layouts["fsdp"][i]),
                 ep_overlap=bool(layouts["ep_overlap"][i]) if "ep_overlap" in layouts else False)  # fmt: skip
    return LayoutResult(layout=lay, num_gpus=n_gpus, step_time_s=float(res["step_time_s"][i]),
                        tokens_per_s=float(res["tokens_per_s"][i]), mfu=float(res["mfu"][i]),
                        memory_gb_per_gpu=float(res["memory_bytes"][i]) / 1e9,
                        fits=bool(res["fits"][i]))  # fmt: skip


def best_layout(
    model: ModelSpec | str,
    gpu: GpuSpec,
    num_gpus: int,
    *,
    global_batch_tokens: int | None = None,
    top_k: int = 1,
    xp: ModuleType | None = None,
    precisions: Sequence[str] = ("bf16",),
    allow_idle: bool = False,
    cal: Calibration = DEFAULT,
) -> list[LayoutResult]:
    """The ``top_k`` fastest layouts (highest tokens/s) that fit in memory, best first.

    Parameters
    ----------
    model : ModelSpec or preset name
    gpu : GpuSpec
    num_gpus : int
        GPUs given to the job.
    global_batch_tokens : int, optional
        Target tokens per step (default: the model's); rounded per layout to whole microbatches.
    top_k : int
        How many layouts to return.
    xp : module, optional
        ``numpy`` or ``cupy`` (default :func:`colossus.steptime.backend.get_xp`).
    precisions : sequence of str
        GEMM precisions to consider (``bf16``, ``fp16``, ``fp8``).
    allow_idle : bool
        Allow DP = floor(N / (tp pp cp)), leaving the remainder idle (needed when N has few
        divisors, e.g. after node failures).

    Returns
    -------
    list of LayoutResult
        Empty when no layout fits.
    """
    model = get_model(model)
    lays = enumerate_layouts(model, gpu, num_gpus, global_batch_tokens=global_batch_tokens,
                             precisions=precisions, allow_idle=allow_idle)  # fmt: skip
    res = evaluate_layouts(model, gpu, lays, xp=xp, cal=cal)
    ok = np.flatnonzero(res["fits"])
    if ok.size == 0:
        return []
    k = min(top_k, ok.size)
    score = -res["tokens_per_s"][ok]
    sel = ok[np.argpartition(score, k - 1)[:k]] if k < ok.size else ok
    sel = sel[np.argsort(-res["tokens_per_s"][sel], kind="stable")]
    return [_result(lays, res, int(i), num_gpus) for i in sel]


def estimate(model: ModelSpec | str, gpu: GpuSpec, layout: Layout, *, num_gpus: int | None = None,
             xp: ModuleType | None = None, cal: Calibration = DEFAULT,
             breakdown: bool = False) -> tuple[LayoutResult, dict[str, float]]:  # fmt: skip
    """Predict one layout; returns the result and (if asked) the time breakdown in seconds."""
    model = get_model(model)
    xp = xp or get_xp()
    lay = {k: xp.asarray(v, dtype=xp.float64) for k, v in layout.kernel_inputs().items()}
    res = evaluate(xp, model_arrays(model, xp), hardware_arrays(gpu, xp), lay, cal, breakdown=breakdown)
    r = {k: float(to_numpy(v)) for k, v in res.items()}
    out = LayoutResult(layout=layout, num_gpus=num_gpus or layout.num_gpus, step_time_s=r["step_time_s"],
                       tokens_per_s=r["tokens_per_s"], mfu=r["mfu"],
                       memory_gb_per_gpu=r["memory_bytes"] / 1e9, fits=bool(r["fits"]))  # fmt: skip
    parts = {k: v for k, v in r.items() if k.endswith("_s") and k not in ("step_time_s", "tokens_per_s")}
    return out, parts
