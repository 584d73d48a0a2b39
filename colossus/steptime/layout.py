"""A parallel layout (one configuration) and its text form ``tp=8,pp=16,dp=784,...``."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from colossus.steptime.kernel import PRECISIONS, RECOMPUTES

__all__ = ["Layout", "LayoutResult", "parse_layout", "random_layouts"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Layout:
    """How one training job is split over its GPUs.

    Attributes
    ----------
    tp, pp, dp, cp, ep : int
        Tensor, pipeline, data, context and expert parallel degrees (GPUs = tp pp dp cp; EP is
        nested inside dp cp, Megatron style, or inside tp dp cp when ``etp`` < tp).
    vpp : int
        Virtual pipeline chunks per stage (1 = plain 1F1B).
    micro_batch : int
        Sequences per microbatch per replica.
    global_batch : int
        Sequences per optimizer step.
    recompute : str
        ``none``, ``selective`` or ``full`` activation recomputation.
    precision : str
        GEMM precision: ``bf16``, ``fp16`` or ``fp8``.
    fsdp : bool
        Parameters, gradients and optimizer state sharded over the DP group (ZeRO-3).
    ep_overlap : bool
        MoE all-to-all overlapped with another micro-batch's compute (DualPipe / 1F1B-overlap
        schedules; needs two micro-batches in flight).
    zero : int
        ZeRO stage when ``fsdp`` is false: 0 plain DDP, 1 optimizer states sharded over DP
        (Megatron distributed optimizer, the default), 2 gradients too, 3 parameters too.
    etp : int
        Expert tensor-parallel degree (Megatron ``--expert-tensor-parallel-size``): 0 = the
        default, ``tp`` (experts sharded like the dense layers; EP ranks ``tp cp`` apart), or the
        largest the EP degree allows when ``ep`` > ``dp cp`` (then ``etp ep`` must fit in ``tp dp
        cp``).  ``etp`` < ``tp`` is MoE parallel folding: the expert grid folds TP ranks into EP,
        EP ranks are ``etp`` apart (consecutive for 1, so an EP group fills a node before it
        spans the next) and each expert is sharded ``etp`` ways.
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    vpp: int = 1
    micro_batch: int = 1
    global_batch: int = 1
    recompute: str = "none"
    precision: str = "bf16"
    fsdp: bool = False
    ep_overlap: bool = False
    zero: int = 1
    etp: int = 0

    def __post_init__(self) -> None:
        for f in ("tp", "pp", "dp", "cp", "ep", "vpp", "micro_batch", "global_batch"):
            if int(getattr(self, f)) < 1:
                raise ValueError(f"layout: {f} must be >= 1, got {getattr(self, f)}")
        if self.recompute not in RECOMPUTES:
            raise ValueError(f"layout: recompute {self.recompute!r} not in {sorted(RECOMPUTES)}")
        if self.zero not in (0, 1, 2, 3):
            raise ValueError(f"layout: zero must be a ZeRO stage 0-3, got {self.zero}")
        if self.etp < 0 or (self.etp > 0 and self.tp % self.etp):
            raise ValueError(f"layout: etp must be 0 (default) or a divisor of tp={self.tp}, got {self.etp}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"layout: precision {self.precision!r} not in {sorted(PRECISIONS)}")

    @property
    def num_gpus(self) -> int:
        """GPUs used: tp pp dp cp."""
        return self.tp * self.pp * self.dp * self.cp

    @property
    def microbatches(self) -> float:
        """Microbatches per step per replica, global_batch / (dp micro_batch)."""
        return self.global_batch / (self.dp * self.micro_batch)

    def kernel_inputs(self) -> dict[str, float]:
        """Scalars for :func:`colossus.steptime.kernel.evaluate`."""
        return {"tp": self.tp, "pp": self.pp, "dp": self.dp, "cp": self.cp, "ep": self.ep,
                "vpp": self.vpp, "mb": self.micro_batch, "gb": self.global_batch,
                "recompute": float(RECOMPUTES[self.recompute]),
                "precision": float(PRECISIONS[self.precision]), "fsdp": float(self.fsdp),
                "zero": float(3 if self.fsdp else self.zero), "ep_overlap": float(self.ep_overlap),
                "etp": float(self.etp)}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Field values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __str__(self) -> str:
        s = f"tp={self.tp},pp={self.pp},dp={self.dp},cp={self.cp},ep={self.ep},vpp={self.vpp}"
        s += f",mb={self.micro_batch},gb={self.global_batch},recompute={self.recompute}"
        s += f",precision={self.precision},fsdp={str(self.fsdp).lower()}"
        s += ",ep_overlap=true" if self.ep_overlap else ""
        s += f",etp={self.etp}" if self.etp else ""
        return s if self.fsdp or self.zero == 1 else s + f",zero={self.zero}"


_KEYS = {"tp": "tp", "pp": "pp", "dp": "dp", "cp": "cp", "ep": "ep", "vpp": "vpp", "vp": "vpp",
         "mb": "micro_batch", "micro_batch": "micro_batch", "gb": "global_batch",
         "global_batch": "global_batch", "recompute": "recompute", "precision": "precision",
         "fsdp": "fsdp", "zero": "zero", "ep_overlap": "ep_overlap", "etp": "etp"}  # fmt: skip


def parse_layout(text: str, base: Layout | None = None) -> Layout:
    """Parse ``"tp=8,pp=16,ep=8,mb=1,recompute=full"`` (keys missing keep ``base``'s values).

    Raises
    ------
    ValueError
        Naming the bad key or value.
    """
    kw: dict[str, Any] = {}
    for part in filter(None, (x.strip() for x in text.split(","))):
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in _KEYS:
            raise ValueError(f"layout item {part!r}: expected key=value with key in {', '.join(sorted(set(_KEYS)))}")
        name, val = _KEYS[key], val.strip().lower()
        if name in ("recompute", "precision"):
            kw[name] = val
        elif name in ("fsdp", "ep_overlap"):
            if val not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"layout item {part!r}: {name} must be true or false")
            kw[name] = val in ("true", "1", "yes")
        else:
            try:
                kw[name] = int(val)
            except ValueError:
                raise ValueError(f"layout item {part!r}: {name} must be an integer") from None
    return replace(base, **kw) if base is not None else Layout(**kw)


@dataclass(frozen=True, kw_only=True, slots=True)
class LayoutResult:
    """A layout and what the model predicts for it.

    Attributes
    ----------
    layout : Layout
    num_gpus : int
        GPUs the job was given (``layout.num_gpus`` may be fewer when idle GPUs are allowed).
    step_time_s : float
        Seconds per optimizer step.
    tokens_per_s : float
        Training tokens per second, whole job.
    mfu : float
        Model FLOPs utilisation of the GPUs in the layout (vs the precision's dense peak).
    memory_gb_per_gpu : float
        Peak HBM per GPU (fullest pipeline stage), GB.
    fits : bool
        Whether ``memory_gb_per_gpu`` fits the GPU's HBM.
    """

    layout: Layout
    num_gpus: int
    step_time_s: float
    tokens_per_s: float
    mfu: float
    memory_gb_per_gpu: float
    fits: bool

    @property
    def tokens_per_s_per_gpu(self) -> float:
        """Tokens per second per GPU given to the job."""
        return self.tokens_per_s / self.num_gpus

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"layout": self.layout.to_dict(), "layout_str": str(self.layout),
                "num_gpus": self.num_gpus, "step_time_s": self.step_time_s,
                "tokens_per_s": self.tokens_per_s, "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
                "mfu": self.mfu, "memory_gb_per_gpu": self.memory_gb_per_gpu, "fits": self.fits}  # fmt: skip


def random_layouts(n: int, seed: int = 0) -> dict[str, Any]:
    """``n`` random layout columns (float64 arrays keyed like the kernel's layout arrays).

    Shapes are valid for grok-1 on H100-class GPUs; used by the speed benchmark and the
    CuPy-vs-NumPy check so both time exactly the same inputs.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    lay = {"tp": rng.choice([1, 2, 4, 8], n), "pp": rng.choice([1, 2, 4, 8, 16], n), "dp": rng.integers(1, 512, n),
           "cp": rng.choice([1, 2, 4], n), "ep": rng.choice([1, 2, 4, 8], n), "vpp": rng.choice([1, 2, 4], n),
           "mb": rng.integers(1, 9, n), "recompute": rng.integers(0, 3, n), "precision": rng.integers(0, 3, n),
           "fsdp": rng.integers(0, 2, n)}  # fmt: skip
    lay["gb"] = lay["dp"] * lay["mb"] * rng.integers(1, 33, n)
    lay["ep_overlap"] = rng.integers(0, 2, n)
    return {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in lay.items()}
