"""Mixture-of-experts cost terms, vectorised and written once for NumPy and CuPy.

* :func:`a2a_copies` -- token dispatch/combine all-to-all, **hierarchical**: a token is sent over
  the network once to every *remote node* that hosts at least one of its ``k`` experts and then
  forwarded over NVLink to the GPUs holding them (DeepSeek-V3 §3.2.2: "IB ... to the GPU with the
  same in-node index on the target node, then ... NVLink"; DeepEP's normal kernels).  With the
  ``k`` experts spread evenly over the ``n`` nodes of the EP group, a token reaches
  ``(n - 1) (1 - (1 - 1/n)^k)`` remote nodes on average instead of ``k (n - 1)/n`` copies.
* :func:`a2a_bytes_per_copy` -- bytes one token copy moves per training pass: dispatch in the GEMM
  precision (FP8 dispatch: 1 byte per element, else 2) and combine in BF16, forward and backward
  (and again for a full-recompute forward).
* :func:`grouped_gemm_efficiency` -- a grouped GEMM runs every local expert in one kernel, so its
  efficiency depends on the tokens per expert ``M`` (rows of each expert GEMM), not the expert
  count: ``M / (M + M_half)`` with ``M_half`` the tokens per expert at which the grouped GEMM runs
  at half the large-GEMM rate (fitted).  The expert's size (``h``, ``F``) was tried as well (each
  pass's reduction depth -- ``h``/``F`` forward, the tokens per expert for the weight gradients --
  with a tile prologue/epilogue cost): the calibration rows reject it (issue 13 trial, with an FP8
  cast-traffic term: in-sample MoE median APE 13.5 % -> 17.6 %; GPT-OSS-120B's large experts at
  1024 tokens per expert run as slowly as Qwen3-30B-A3B's small ones at 2048-4096), so only the
  tokens per expert are kept.
* :func:`tokens_per_expert` -- rows of each local expert GEMM for one micro-batch.
* :func:`expert_grid` -- expert tensor parallelism and where the EP ranks sit.  Megatron shards
  experts like the dense layers by default (``etp`` = ``tp``; EP is carved out of ``dp cp`` and
  its ranks are ``tp cp`` apart).  With ``--expert-tensor-parallel-size`` below ``tp`` (MoE
  parallel folding, Megatron-Core MoE report arXiv 2603.07685) the expert grid is laid over the
  same GPUs as ``etp x ep x edp``: EP ranks are ``etp`` apart, so EP 8 with ``etp`` 1 stays inside
  one 8-GPU node even at TP 2; each expert then sees its own ranks' sequence-parallel shards
  (no TP all-gather before the experts) and is sharded ``etp`` ways.  When ``ep`` exceeds
  ``dp cp`` the default cannot hold (``etp ep edp = tp dp cp``), so the default becomes the
  largest ``etp`` that fits.
* :func:`overlapped_time` -- a compute phase and an all-to-all run together, the communication
  kernels holding a share of the SMs (DeepSeek-V3 §3.2.2: 20 of 132).
"""

from __future__ import annotations

from typing import Any

__all__ = ["a2a_bytes_per_copy", "a2a_copies", "expert_grid", "grouped_gemm_efficiency", "overlapped_time",
           "tokens_per_expert"]


def a2a_copies(xp: Any, *, k: Any, e: Any, ranks_per_node: Any, node_limit: Any = 0.0) -> tuple[Any, Any]:
    """Per token: (network copies, NVLink copies) of one dispatch (or combine).

    Parameters
    ----------
    k : array
        Routed experts per token (top-k).
    e : array
        Expert-parallel degree (ranks that share the experts).
    ranks_per_node : array
        EP ranks inside one NVLink domain (``min(e, domain / (t c))``, at least 1).
    node_limit : array
        Node-limited routing (DeepSeek-V3: a token's experts lie on at most 4 nodes): at most
        ``M (n - 1)/n`` remote nodes per token; 0 = unlimited.
    """
    g = xp.maximum(xp.minimum(ranks_per_node, e), 1.0)
    n = xp.maximum(e / g, 1.0)  # nodes the EP group spans
    remote = (n - 1.0) * (1.0 - (1.0 - 1.0 / n) ** k)
    remote = xp.where(node_limit > 0.0, xp.minimum(remote, node_limit * (n - 1.0) / n), remote)
    # inside a node every expert copy not on this GPU crosses NVLink once (arrivals included)
    local = k * (g - 1.0) / g
    return remote, local


def a2a_bytes_per_copy(xp: Any, *, h: Any, fp8_dispatch: Any, full_recompute: Any) -> Any:
    """Bytes one token copy moves per step pass set: fwd dispatch+combine, bwd both, recompute fwd."""
    d = xp.where(fp8_dispatch, 1.0, 2.0)
    fwd = (d + 2.0) * h
    bwd = 4.0 * h  # gradients travel in BF16 both ways
    return fwd * (1.0 + full_recompute) + bwd


def tokens_per_expert(*, tokens: Any, k: Any, e: Any, experts: Any) -> Any:
    """Rows of each local expert GEMM: ``e`` ranks' ``tokens`` x ``k`` copies over ``experts``."""
    return tokens * k * e / experts


def expert_grid(xp: Any, *, etp: Any, t: Any, c: Any, d: Any, e: Any) -> tuple[Any, Any]:
    """Expert tensor-parallel degree and the rank distance between EP ranks.

    Parameters
    ----------
    etp : array
        Stated expert tensor-parallel degree; 0 = Megatron's default (``t``, or
        ``max(t c d / e, 1)`` when that is smaller: ``etp e`` must fit in ``t c d``).
    t, c, d, e : array
        Tensor, context, data and expert parallel degrees.

    Returns
    -------
    (etp, stride) : arrays
        The degree used, and how many ranks apart consecutive EP ranks are: ``t c`` for the
        default grid (EP inside ``dp cp``), ``etp`` when folded (``etp`` < ``t``).
    """
    etp = xp.where(etp > 0.0, etp, xp.minimum(t, xp.maximum(t * c * d / e, 1.0)))
    return etp, xp.where(etp < t, etp, t * c)


def grouped_gemm_efficiency(m_tokens: Any, m_half: float) -> Any:
    """Fraction of the large-GEMM rate a grouped expert GEMM with ``m_tokens`` rows reaches."""
    return m_tokens / (m_tokens + m_half)


def overlapped_time(xp: Any, compute: Any, comm: Any, sm_share: float) -> Any:
    """Wall time of ``compute`` (seconds on all SMs) overlapped with ``comm`` (seconds).

    While the communication runs, compute proceeds on ``1 - sm_share`` of the SMs; after it ends,
    on all of them: ``max(comm, compute + sm_share * comm)``.  ``sm_share`` = 0 is perfect overlap
    ``max(comm, compute)``.
    """
    return xp.maximum(comm, compute + sm_share * comm)
