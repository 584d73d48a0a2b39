"""Memory per GPU of one training configuration, vectorised and written once for NumPy and CuPy.

Every function takes plain arrays (or floats) that broadcast against each other and uses only
operators and ``xp.where`` / ``xp.minimum``, so the same code runs on ``numpy`` and ``cupy``.
Units: bytes, parameters and tokens.

Components (each unit-tested against its published formula in tests/steptime/test_memory.py):

* **Model state** (:func:`state_bytes_per_param`): bytes per local parameter under the ZeRO stage
  of the data-parallel group (size ``d``), mixed precision with fp32 master weights and Adam:

  ====== ============================================= ===============================
  stage  sharded over d                                bytes / parameter
  ====== ============================================= ===============================
  0      nothing (plain DDP)                           ``w + g + 12``
  1      optimizer state (Megatron distributed opt.)   ``w + g + 12/d``
  2      + gradients                                   ``w + (g + 12)/d``
  3      + parameters (ZeRO-3 / FSDP)                  ``(w + g + 12)/d``
  ====== ============================================= ===============================

  ``w`` = 2 (bf16/fp16 weights) plus 1 for an FP8 weight copy cached for the GEMMs
  (Transformer Engine), ``g`` = 4 (fp32 main gradients) for stages 0-2.  Megatron Core's
  distributed-optimizer table gives ``18`` / ``6 + 12/d`` for bf16 parameters with fp32
  gradients and ``20`` / ``4 + 16/d`` for fp16 parameters with fp16 gradients
  (docs.nvidia.com/megatron-core/developer-guide/latest/api-guide/dist_optimizer.html).  Stage 3
  uses ``g`` = 2, i.e. ZeRO's ``(2 + 2 + K)/N_d`` with K = 12 (Rajbhandari et al. 2020, Fig. 1);
  PyTorch FSDP's fp32 sharded parameters (4), fp32 sharded gradients (4) and Adam moments (8)
  are the same 16/d.  The gathered 16-bit copies of the layers being computed are added by
  :func:`fsdp_gathered_bytes`.

* **Activations per layer** (:func:`activation_bytes_per_token_layer`): Korthikanti et al. 2022
  ("Reducing Activation Recomputation in Large Transformer Models", §4, Eq. 1-5), for 16-bit
  activations and 1-byte dropout masks, per token per layer: ``h (34 + 5 a s / h)`` with no
  parallelism, ``h (10 + 24/t + 5 a s/(h t))`` with TP, ``h/t (34 + 5 a s / h)`` with TP + SP,
  ``34 h / t`` with selective recompute (TP + SP), ``2 h`` (``2 h / t`` with SP) with full
  recompute.  Generalised to grouped-query attention (K/V of ``G d_h``), gated FFNs (three
  ``h x F`` matrices), dropout-free models (masks 0 bytes) and flash attention (the ``a s``
  score terms are not stored).

* **Pipeline micro-batches in flight** (:func:`layers_in_flight`): 1F1B keeps ``min(m, p)``
  micro-batches of the stage's layers on the first stage (``L`` layers' worth when ``m >= p``);
  the interleaved schedule with ``v`` chunks keeps ``2 (p - 1) + (v - 1) p + 1`` chunk
  micro-batches (Megatron's warm-up count), i.e. ``L (1 + (p - 1)/(p v))`` layers' worth
  (Korthikanti §4.2.3).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "GIB",
    "activation_bytes_per_token_layer",
    "fsdp_gathered_bytes",
    "layers_in_flight",
    "logits_bytes_per_token",
    "state_bytes_per_param",
]

GIB = float(1 << 30)
"""Bytes per GiB.  GPU memory sizes as marketed ("80 GB") are binary: nvidia-smi reports 81559 MiB
on H100 80GB, 81920 MiB on A100 80GB and 40960 MiB on A100 40GB (modal-labs/modal-client#2797)."""

MASTER_AND_ADAM_BYTES = 12.0
"""fp32 master weights (4) + Adam first and second moments (4 + 4), bytes per parameter."""


def state_bytes_per_param(xp: Any, stage: Any, d: Any, *, weight_bytes: Any = 2.0, grad_bytes: Any = 4.0) -> Any:
    """Weights + gradients + optimizer bytes per local parameter under ZeRO ``stage`` over ``d`` ranks.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    stage : array
        0 (none), 1 (optimizer states: Megatron distributed optimizer), 2 (+ gradients),
        3 (+ parameters: ZeRO-3 / FSDP).
    d : array
        Ranks the state is sharded over (the data-parallel group, x CP for Megatron).
    weight_bytes, grad_bytes : array
        Bytes of one working weight copy (2 for bf16, 3 with a cached FP8 copy) and of one
        main gradient (4 for fp32).
    """
    k = MASTER_AND_ADAM_BYTES
    w = xp.where(stage >= 3, weight_bytes / d, weight_bytes)
    g = xp.where(stage >= 2, grad_bytes / d, grad_bytes)
    o = xp.where(stage >= 1, k / d, k)
    return w + g + o


def activation_bytes_per_token_layer(
    xp: Any,
    *,
    h: Any,
    heads: Any,
    kv_heads: Any,
    d_head: Any,
    ffn: Any,
    ffn_mats: Any,
    s: Any,
    t: Any,
    recompute: Any,
    sequence_parallel: Any = 1.0,
    dropout: Any = 1.0,
    scores_stored: Any = 0.0,
    routed_tokens: Any = 0.0,
) -> Any:
    """Stored activation bytes per token (of the micro-batch) per transformer layer, per GPU.

    Parameters
    ----------
    h, heads, kv_heads, d_head : array
        Hidden size, query heads, KV heads, head width.
    ffn : array
        FFN width per token (MoE: ``F (k + shared)``, the experts a token visits).
    ffn_mats : array
        2 for gelu/relu2 (fc1, fc2), 3 for gated FFNs (gate, up, down).
    s : array
        Sequence length (only the score terms use it).
    t : array
        Tensor-parallel degree.
    recompute : array
        0 none, 1 selective (scores recomputed), 2 full (only the layer input kept).
    sequence_parallel : array
        1 when the replicated parts (norms, dropout) are sharded over TP (Megatron SP), else 0.
    dropout : array
        1 when dropout masks are stored (1 byte per element), 0 for dropout-free models.
    scores_stored : array
        1 when the ``a s`` attention-score terms (softmax, its dropout mask and output) are
        stored (no flash attention), else 0.
    routed_tokens : array
        MoE: copies of each token's hidden state kept for the expert GEMMs (``k``), else 0.

    Notes
    -----
    Korthikanti et al. 2022, per token: attention ``11 h + 5 a s`` (QKV input 2h, Q and K 4h, V 2h,
    projection input 2h, dropout mask h; softmax 2as, its mask as, its output 2as), MLP ``19 h``
    (fc1 input 2h, activation input 8h, fc2 input 8h, mask h), two LayerNorm inputs 4h.  The
    parts replicated across TP without SP: LayerNorm inputs, QKV and fc1 inputs, the two masks
    (``10 h``); the rest is split over ``t``.
    """
    kv = kv_heads * d_head
    q = heads * d_head
    # split over TP always: Q, K, V, projection input, FFN intermediate activations
    split = 2.0 * (q + 2.0 * kv) + 2.0 * q + 2.0 * ffn_mats * ffn + 2.0 * routed_tokens * h
    # replicated over TP unless SP: two norm inputs, QKV input, fc1 input, two dropout masks
    repl = 4.0 * h + 2.0 * h + 2.0 * h + 2.0 * dropout * h
    scores = scores_stored * (2.0 + 3.0 * dropout) * heads * s
    sp = sequence_parallel > 0.0
    none_b = xp.where(sp, (split + repl + scores) / t, split / t + repl + scores / t)
    selective = xp.where(sp, (split + repl) / t, split / t + repl)
    full_b = xp.where(sp, 2.0 * h / t, 2.0 * h)
    return xp.where(recompute >= 2.0, full_b, xp.where(recompute >= 1.0, selective, none_b))


def layers_in_flight(xp: Any, *, layers_per_stage: Any, p: Any, v: Any, m: Any) -> Any:
    """Layer-micro-batches of activations held on the fullest (first) pipeline stage.

    Parameters
    ----------
    layers_per_stage : array
        Layers on the stage (all its ``v`` chunks together).
    p, v, m : array
        Pipeline stages, virtual chunks per stage, micro-batches per step.
    """
    per_chunk = layers_per_stage / v
    plain = xp.minimum(m, p) * layers_per_stage
    inter = xp.minimum(m * v, 2.0 * (p - 1.0) + (v - 1.0) * p + 1.0) * per_chunk
    return xp.where(v > 1.0, inter, plain)


def logits_bytes_per_token(vocab: Any, t: Any) -> Any:
    """bf16 logits (2 B) + fp32 softmax kept for the cross-entropy backward (4 B), vocab split over TP."""
    return 6.0 * vocab / t


def fsdp_gathered_bytes(layer_params: Any, t: Any, *, units: float = 2.0, weight_bytes: Any = 2.0) -> Any:
    """FSDP / ZeRO-3 working set: ``units`` gathered layers (current + prefetched) of 16-bit weights."""
    return units * weight_bytes * layer_params / t
