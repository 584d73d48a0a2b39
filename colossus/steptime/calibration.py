"""The step-time model's constants: fixed physics and the few fitted ones.

The fitted values below are written by ``python -m colossus.steptime.fit`` (which fits them on
``shared/data/steptime/calibration.csv``) and stored with the code so results do not depend on
the data file being present.  Every constant is global physics -- there are no per-source,
per-model or per-row factors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["DEFAULT", "FIT_PARAMS", "Calibration"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Calibration:
    """Constants of the analytic step-time model.

    Attributes
    ----------
    eta_gemm_bf16 : float
        Large-GEMM efficiency, fraction of dense BF16/FP16 peak (fitted).
    eta_gemm_fp8 : float
        Large-GEMM efficiency of FP8 GEMMs incl. cast overhead, fraction of FP8 peak (fitted).
    gemm_call_flop : float
        Size-dependent efficiency: every GEMM call costs this many extra FLOP-equivalents,
        i.e. efficiency = eta * f / (f + gemm_call_flop) for a GEMM of f FLOPs (fitted).
    eta_attn : float
        Flash-attention core efficiency, fraction of BF16 peak (fitted).
    attn_bwd_mult : float
        Attention-core backward FLOPs / forward FLOPs (flash attention recomputes P: 2.5).
    mem_bytes_per_h : float
        Memory-bound (element-wise) traffic per token per layer in the forward pass, in
        units of h bytes (layer norms, residuals, dropout, rotary, softmax stats...) (fitted).
    moe_bytes_per_kh : float
        MoE routing traffic (permute, unpermute, padding) per token per MoE layer in the forward
        pass, in units of k*h bytes (fitted).
    hbm_eff : float
        Achievable fraction of HBM bandwidth for element-wise kernels.
    layer_overhead_s : float
        Fixed cost per layer per microbatch (kernel launches, fwd+bwd), seconds (fitted).
    nvlink_eff : float
        Collective bus bandwidth / per-direction NVLink bandwidth (370/450 on 8xH100).
    net_eff : float
        Collective bus bandwidth / per-GPU scale-out line rate (fitted).
    tp_exposed : float
        Fraction of TP/SP collective time not hidden behind GEMMs (fitted).
    dp_overlap : float
        DP gradient reduce-scatter / parameter all-gather hidden per microbatch of compute,
        in units of one microbatch's fwd+bwd time (fitted).
    fsdp_overlap : float
        Like ``dp_overlap`` for FSDP's per-microbatch gathers (fitted).
    ep_exposed : float
        Fraction of MoE all-to-all time not hidden (1 = fully exposed).
    moe_imbalance : float
        Slowest expert's load / mean load (1 = force-balanced, as NVIDIA benchmarks run).
    optimizer_bytes_per_param : float
        HBM bytes read+written per local parameter by the Adam step.
    step_overhead_s : float
        Fixed per-step cost (data loading, logging, launch of the optimizer), seconds (fitted).
    memory_reserved_gb : float
        HBM not available to the model (CUDA context, NCCL buffers, fragmentation), GB.
    """

    eta_gemm_bf16: float = 0.75
    eta_gemm_fp8: float = 0.55
    gemm_call_flop: float = 1.0e9
    eta_attn: float = 0.45
    attn_bwd_mult: float = 2.5
    mem_bytes_per_h: float = 30.0
    moe_bytes_per_kh: float = 8.0
    hbm_eff: float = 0.8
    layer_overhead_s: float = 1.0e-4
    nvlink_eff: float = 370.0 / 450.0
    net_eff: float = 0.85
    tp_exposed: float = 0.5
    dp_overlap: float = 1.0
    fsdp_overlap: float = 1.0
    ep_exposed: float = 1.0
    moe_imbalance: float = 1.0
    optimizer_bytes_per_param: float = 30.0
    step_overhead_s: float = 0.05
    memory_reserved_gb: float = 3.0

    def with_values(self, **kw: float) -> Calibration:
        """A copy with some constants replaced."""
        return replace(self, **kw)

    def to_dict(self) -> dict[str, Any]:
        """Constants as a plain dict (for hashing and JSON)."""
        return asdict(self)


FIT_PARAMS: dict[str, tuple[float, float]] = {
    "eta_gemm_bf16": (0.3, 0.95),
    "eta_gemm_fp8": (0.2, 0.95),
    "gemm_call_flop": (1e7, 2e10),
    "eta_attn": (0.15, 0.9),
    "mem_bytes_per_h": (0.0, 200.0),
    "moe_bytes_per_kh": (0.0, 60.0),
    "layer_overhead_s": (0.0, 2e-3),
    "net_eff": (0.3, 1.0),
    "tp_exposed": (0.0, 1.0),
    "dp_overlap": (0.0, 4.0),
    "fsdp_overlap": (0.0, 4.0),
    "step_overhead_s": (0.0, 0.5),
}
"""Constants fitted by :mod:`colossus.steptime.fit`, with their physical bounds."""

# --- BEGIN FITTED (written by python -m colossus.steptime.fit; do not edit by hand) ---
_FITTED: dict[str, float] = {
    'eta_gemm_bf16': 0.7019437069039585,
    'eta_gemm_fp8': 0.5545039091102517,
    'gemm_call_flop': 19440526919.29928,
    'eta_attn': 0.31802436451638627,
    'mem_bytes_per_h': 10.20871785000239,
    'moe_bytes_per_kh': 17.745324202920365,
    'layer_overhead_s': 0.000417922012618038,
    'net_eff': 0.9925357560959842,
    'tp_exposed': 0.5892076529108323,
    'dp_overlap': 2.528327368295612,
    'fsdp_overlap': 0.01687206252543522,
    'step_overhead_s': 0.11000716132478197,
}
# --- END FITTED ---

DEFAULT = Calibration(**{k: v for k, v in _FITTED.items() if k in {f.name for f in fields(Calibration)}})
"""The calibrated constants every public function uses by default."""
