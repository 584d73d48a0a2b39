"""The step-time model's constants: fixed physics and the few fitted ones.

The fitted values below are written by ``python -m colossus.steptime.fit`` (which fits them on
``shared/data/steptime/calibration.csv``) and stored with the code so results do not depend on
the data file being present.  Every constant is global physics -- there are no per-source,
per-model or per-row factors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["DEFAULT", "FIT_BOUNDS", "FIT_PARAMS", "Calibration"]


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
        MoE routing traffic (router, permute, unpermute, padding) per token per MoE layer in the
        forward pass, in units of k*h bytes (fitted, 4-32).
    fp8_cast_bytes : float
        HBM bytes per GEMM operand element that FP8 GEMMs add for quantisation, per token per GEMM:
        forward input cast and its transposed copy, backward output-gradient cast and its transposed
        copy (Transformer Engine; Hopper FP8 GEMMs take only TN layouts): ``(2 + 1) + 1`` bytes per
        element of the input (width ``K``) and of the output gradient (width ``N``), so
        ``4 (K + N)`` bytes per token per GEMM.  Memory-bound: small expert GEMMs (small ``K``,
        ``N``) lose most of FP8's gain, large dense GEMMs a few per cent.
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
        Fraction of one microbatch's fwd+bwd time during which the distributed-optimizer
        gradient reduce-scatter / parameter all-gather run hidden (fitted, 0-1).
    fsdp_overlap : float
        Fraction of each microbatch's compute that hides FSDP's gathers (fitted, 0-1).
    grouped_gemm_half_tokens : float
        Tokens per expert at which a grouped expert GEMM runs at half the large-GEMM rate
        (tile padding and per-expert scheduling), tokens (fitted).
    moe_imbalance : float
        Slowest expert's load / mean load, stretching the routed-expert GEMMs (1 = force-balanced
        dropless routing, as the NVIDIA benchmarks run; a capacity factor c caps it at c).
    ep_overlap_sm_share : float
        Share of the SMs that the all-to-all kernels occupy while they overlap another
        micro-batch's compute (``ep_overlap`` layouts): DeepSeek-V3 §3.2.2 dedicates 20 of the
        132 SMs of an H800 to dispatch/combine under DualPipe.  The compute that runs during the
        communication runs on the other SMs only.
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
    moe_bytes_per_kh: float = 4.0
    fp8_cast_bytes: float = 4.0
    hbm_eff: float = 0.8
    layer_overhead_s: float = 1.0e-4
    nvlink_eff: float = 370.0 / 450.0
    net_eff: float = 0.85
    tp_exposed: float = 0.5
    dp_overlap: float = 1.0
    fsdp_overlap: float = 1.0
    grouped_gemm_half_tokens: float = 256.0
    moe_imbalance: float = 1.0
    ep_overlap_sm_share: float = 20.0 / 132.0
    optimizer_bytes_per_param: float = 30.0
    step_overhead_s: float = 0.05
    memory_reserved_gb: float = 3.0

    def with_values(self, **kw: float) -> Calibration:
        """A copy with some constants replaced."""
        return replace(self, **kw)

    def to_dict(self) -> dict[str, Any]:
        """Constants as a plain dict (for hashing and JSON)."""
        return asdict(self)


FIT_BOUNDS: dict[str, tuple[float, float, str]] = {
    "eta_gemm_bf16": (0.5, 0.9, "a fraction of the dense BF16 peak: below 1; tuned large GEMMs do not run below half of it"),
    "eta_gemm_fp8": (0.3, 0.9, "a fraction of the dense FP8 peak incl. cast/scaling kernels: below 1"),
    "gemm_call_flop": (1e8, 2e10, "fixed cost per GEMM call (launch, wave-quantisation tail) of ~0.1-20 us at ~1 PFLOP/s"),
    "eta_attn": (0.2, 0.8, "flash-attention core, a fraction of the BF16 peak: below 1, well above a naive kernel"),
    "mem_bytes_per_h": (4.0, 100.0, "element-wise traffic per token per layer in h bytes: at least the residual and "
                        "norm reads/writes, at most dozens of unfused 2-byte ops"),
    "moe_bytes_per_kh": (4.0, 32.0, "MoE routing traffic in k*h bytes: at least the permute write and unpermute "
                         "read of k BF16 token copies (2 + 2), at most eight such unfused passes"),
    "grouped_gemm_half_tokens": (16.0, 1024.0, "tokens per expert at half efficiency: GEMM tiles are 64-256 rows"),
    "layer_overhead_s": (0.0, 1e-3, "kernel launches per layer per micro-batch: tens of kernels of a few us"),
    "net_eff": (0.5, 1.0, "collective bus bandwidth / NIC line rate: cannot exceed 1"),
    "tp_exposed": (0.0, 1.0, "fraction of TP/SP collective time not hidden: a fraction"),
    "dp_overlap": (0.0, 1.0, "fraction of one micro-batch's fwd+bwd that hides the distributed-optimizer "
                   "reduce-scatter/all-gather (grads reduce during the last backward, params gather "
                   "during the first forward): a fraction"),
    "fsdp_overlap": (0.0, 1.0, "fraction of each micro-batch's compute that hides its FSDP gathers and "
                     "reduce-scatter: a fraction"),
    "step_overhead_s": (0.0, 0.5, "per-step fixed cost (data loader, logging, optimizer launch), under a second"),
}
"""Fitted constants: (lower bound, upper bound, reason for the bounds)."""

FIT_PARAMS: dict[str, tuple[float, float]] = {k: (lo, hi) for k, (lo, hi, _) in FIT_BOUNDS.items()}
"""Constants fitted by :mod:`colossus.steptime.fit`, with their physical bounds (no overlap above 1)."""

# --- BEGIN FITTED (written by python -m colossus.steptime.fit; do not edit by hand) ---
_FITTED: dict[str, float] = {
    'eta_gemm_bf16': 0.7272391352618738,
    'eta_gemm_fp8': 0.6649432614645396,
    'gemm_call_flop': 9770023615.452295,
    'eta_attn': 0.3181984911291902,
    'mem_bytes_per_h': 18.80291576608036,
    'moe_bytes_per_kh': 15.959187587627046,
    'grouped_gemm_half_tokens': 1022.5391796397553,
    'layer_overhead_s': 0.0007453650501825698,
    'net_eff': 0.876155675470901,
    'tp_exposed': 0.5774803834388721,
    'dp_overlap': 0.9670216368104033,
    'fsdp_overlap': 0.01656818651391965,
    'step_overhead_s': 0.09615819586513896,
}
# --- END FITTED ---

DEFAULT = Calibration(**{k: v for k, v in _FITTED.items() if k in {f.name for f in fields(Calibration)}})
"""The calibrated constants every public function uses by default."""
