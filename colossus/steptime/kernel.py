"""The analytic step-time model, vectorised over arrays of configurations.

One function, :func:`evaluate`, written once against an array module ``xp`` (NumPy or CuPy).
Inputs are three dicts of arrays that broadcast against each other (model shape, hardware,
parallel layout), so the same code serves a layout search (one model, a million layouts) and the
calibration set (one row per configuration).  Formulas: shared/reference/steptime.md §3.

Notation: L layers, h hidden, F FFN width, H/G query/KV heads, d_h head width, V vocab, s sequence,
E experts, k top-k; t/p/d/c/e TP/PP/DP/CP/EP, v virtual stages, b microbatch, B global batch
(sequences), m = B/(d b) microbatches.  Layout convention (Megatron): GPUs = t p c d, EP nested
inside d c, rank order tp < cp < ep/dp < pp.

Step time::

    T = (m + (p-1)/v) * T_mb            # 1F1B (interleaved) pipeline incl. the bubble
      + m * T_p2p                       # PP sends (on the critical path)
      + T_dp_exposed                    # distributed-optimizer RS+AG not hidden by backward
      + m * T_fsdp_exposed              # FSDP per-microbatch AG/RS not hidden by compute
      + T_optimizer + T_overhead

with ``T_mb`` = one microbatch's fwd+bwd(+recompute) on the slowest stage (ceil(L/(p v)) v layers,
plus the LM head): GEMMs at a size-dependent efficiency, flash-attention core, memory-bound
element-wise traffic, exposed TP/SP collectives, exposed CP ring exchange, EP all-to-all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from colossus.hardware import GpuSpec
from colossus.steptime import memory as mem_mod
from colossus.steptime import moe as moe_mod
from colossus.steptime.calibration import DEFAULT, Calibration
from colossus.steptime.models import ACTIVATIONS, ModelSpec

__all__ = [
    "LAYOUT_KEYS",
    "PRECISIONS",
    "RECOMPUTES",
    "evaluate",
    "hardware_arrays",
    "model_arrays",
    "model_flops_per_token",
]

PRECISIONS: dict[str, int] = {"bf16": 0, "fp16": 1, "fp8": 2}
RECOMPUTES: dict[str, int] = {"none": 0, "selective": 1, "full": 2}
LAYOUT_KEYS = ("tp", "pp", "dp", "cp", "ep", "vpp", "mb", "gb", "recompute", "precision", "fsdp")
"""Keys of the layout dict: degrees, microbatch and global batch (sequences), codes.  An optional
``zero`` key (0-3, default 1 = distributed optimizer) sets the ZeRO stage when ``fsdp`` is 0, and an
optional ``ep_overlap`` key (0/1, default 0) hides the MoE all-to-all behind another micro-batch's
compute."""

_ACT_BYTES = 2.0  # bytes per activation / bf16 parameter element


def model_arrays(models: ModelSpec | Sequence[ModelSpec], xp: ModuleType = np) -> dict[str, Any]:
    """Model shapes as float64 arrays (0-d for one model, (N,) for a sequence)."""
    ms = [models] if isinstance(models, ModelSpec) else list(models)
    cols: dict[str, list[float]] = {k: [] for k in
                                    ("L", "h", "F", "H", "G", "dh", "V", "s", "E", "k", "sh", "Ld", "Fd", "mats", "moe",
                                     "pa", "dqk", "dv", "nl")}  # fmt: skip
    for m in ms:
        cols["L"].append(m.layers)
        cols["h"].append(m.hidden)
        cols["F"].append(m.ffn_hidden)
        cols["H"].append(m.heads)
        cols["G"].append(m.kv_heads)
        cols["dh"].append(m.d_head)
        cols["V"].append(m.vocab)
        cols["s"].append(m.seq_len)
        cols["E"].append(max(m.moe_experts, 1))
        cols["k"].append(m.moe_topk if m.is_moe else 1)
        cols["sh"].append(m.moe_shared_experts if m.is_moe else 0)
        cols["Ld"].append(m.dense_layers if m.is_moe else m.layers)
        cols["Fd"].append(m.dense_ffn_hidden or m.ffn_hidden)
        cols["mats"].append(ACTIVATIONS[m.activation])
        cols["moe"].append(1.0 if m.is_moe else 0.0)
        cols["pa"].append(m.attention_params())  # QKV + output projection (MLA: latent form)
        dqk, dv = m.attention_core_dims()
        cols["dqk"].append(dqk)
        cols["dv"].append(dv)
        cols["nl"].append(m.moe_node_limit)
    one = isinstance(models, ModelSpec)
    return {k: xp.asarray(v[0] if one else v, dtype=xp.float64) for k, v in cols.items()}


def hardware_arrays(gpus: GpuSpec | Sequence[GpuSpec], xp: ModuleType = np) -> dict[str, Any]:
    """GPU figures in SI units (FLOP/s, B/s, bytes) as float64 arrays."""
    gs = [gpus] if isinstance(gpus, GpuSpec) else list(gpus)
    one = isinstance(gpus, GpuSpec)

    def col(vals: Iterable[float]) -> Any:
        v = list(vals)
        return xp.asarray(v[0] if one else v, dtype=xp.float64)

    return {
        "peak16": col(g.bf16_tflops * 1e12 for g in gs),
        "peak8": col(g.fp8_tflops * 1e12 for g in gs),
        "hbm_bw": col(g.hbm_tb_s * 1e12 for g in gs),
        "hbm_bytes": col(g.hbm_gb * mem_mod.GIB for g in gs),  # marketed "80 GB" is 80 GiB
        "nvl_bw": col(g.nvlink_gb_s * 1e9 / 2.0 for g in gs),  # per direction
        "net_bw": col(g.network_gbit_s * 1e9 / 8.0 for g in gs),
        "domain": col(g.nvlink_domain_gpus for g in gs),
    }


def model_flops_per_token(m: Mapping[str, Any]) -> Any:
    """Model FLOPs per trained token (fwd+bwd = 3x forward, no recompute, causal attention).

    Only active experts count: ``2 * ffn_mats * h * F * (top_k + shared)`` per MoE layer.
    """
    L, h, H, s = m["L"], m["h"], m["H"], m["s"]
    attn = 2.0 * m["pa"] + s * H * (m["dqk"] + m["dv"])  # proj + causal core (QK^T, PV halved)
    ffn_moe = 2.0 * m["mats"] * h * m["F"] * (m["k"] + m["sh"]) + 2.0 * h * m["E"] * m["moe"]
    ffn_dense = 2.0 * m["mats"] * h * m["Fd"]
    Lm = L - m["Ld"]
    return 3.0 * (L * attn + Lm * ffn_moe + m["Ld"] * ffn_dense + 2.0 * h * m["V"])


def evaluate(
    xp: ModuleType,
    model: Mapping[str, Any],
    hw: Mapping[str, Any],
    layout: Mapping[str, Any],
    cal: Calibration = DEFAULT,
    *,
    breakdown: bool = False,
) -> dict[str, Any]:
    """Step time, throughput, MFU and memory of every configuration.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``; every input array must belong to it.
    model, hw : dict of arrays
        From :func:`model_arrays` and :func:`hardware_arrays` (any broadcastable shapes).
    layout : dict of arrays
        Keys :data:`LAYOUT_KEYS`: ``tp pp dp cp ep vpp`` degrees, ``mb`` microbatch and ``gb``
        global batch in sequences, ``recompute`` (0 none, 1 selective, 2 full), ``precision``
        (0 bf16, 1 fp16, 2 fp8), ``fsdp`` (0/1).
    cal : Calibration
        Model constants.
    breakdown : bool
        Also return the time components (seconds per step).

    Returns
    -------
    dict of float64 arrays (broadcast shape)
        ``step_time_s``, ``tokens_per_s`` (whole job), ``mfu`` (model FLOPs / peak of the chosen
        precision), ``memory_bytes`` (per GPU, the fullest stage), ``fits`` (bool).
    """
    f8 = xp.float64
    L, h, F, H, G, dh = model["L"], model["h"], model["F"], model["H"], model["G"], model["dh"]
    V, s, E, k, sh, Ld, Fd = model["V"], model["s"], model["E"], model["k"], model["sh"], model["Ld"], model["Fd"]
    mats, moe = model["mats"], model["moe"]
    t = xp.asarray(layout["tp"], dtype=f8)
    p = xp.asarray(layout["pp"], dtype=f8)
    d = xp.asarray(layout["dp"], dtype=f8)
    c = xp.asarray(layout["cp"], dtype=f8)
    e = xp.asarray(layout["ep"], dtype=f8)
    v = xp.asarray(layout["vpp"], dtype=f8)
    b = xp.asarray(layout["mb"], dtype=f8)
    B = xp.asarray(layout["gb"], dtype=f8)
    rc = xp.asarray(layout["recompute"], dtype=f8)
    prec = xp.asarray(layout["precision"], dtype=f8)
    fsdp = xp.asarray(layout["fsdp"], dtype=f8)
    dom = hw["domain"]
    nvl = hw["nvl_bw"] * cal.nvlink_eff
    net = hw["net_bw"] * cal.net_eff

    # ---- model-only quantities (cheap: 0-d when the model is one preset) ----------------------
    Lm = L - Ld
    fm = Lm / L  # fraction of MoE layers
    p_attn = model["pa"]  # QKV + output projection parameters (MLA: latent projections)
    p_ffn_d = mats * h * Fd
    p_ffn_sh = mats * h * F * sh
    p_ffn_e = mats * h * F * E  # routed experts of one MoE layer
    p_layer_dense = p_attn + fm * (p_ffn_sh + h * E * moe) + (1.0 - fm) * p_ffn_d  # mean per layer
    p_layer_exp = fm * p_ffn_e
    f_act = fm * F * (k + sh) + (1.0 - fm) * Fd  # mean active FFN width per layer
    # forward GEMM FLOPs per token per layer (whole layer, before sharding)
    g_tok = 2.0 * (p_attn + mats * h * f_act + fm * h * E * moe)
    core_tok = s * H * (model["dqk"] + model["dv"])  # causal flash-attention core, fwd, per token per layer
    # element-wise traffic per token per layer, fwd: norms/residuals/..., FFN activation, and the
    # MoE token permute/unpermute of k copies of each token
    mem_tok = _ACT_BYTES * (cal.mem_bytes_per_h * h + mats * f_act + fm * moe * cal.moe_bytes_per_kh * k * h)
    lm_flop_tok = 2.0 * h * V
    # GEMM operand widths K + N per token per layer (QKV, projection, FFN fc1/fc2, k routed experts)
    cast_tok = 2.0 * h + p_attn / h + (1.0 - fm) * (2.0 * h + mats * Fd) + fm * (k + sh) * (2.0 * h + mats * F)

    # ---- layout ------------------------------------------------------------------------------
    tc = t * c
    m = B / (d * b)  # microbatches per step
    tok = b * s  # tokens per microbatch per replica
    tok_g = tok / tc  # tokens-equivalent per GPU (TP shards width, CP shards sequence)
    Ls = xp.ceil(L / (p * v)) * v  # layers on the slowest stage
    is_fp8 = (prec == 2.0) & (hw["peak8"] > hw["peak16"])
    # expert tensor parallelism (colossus.steptime.moe.expert_grid): etp < t folds TP ranks into EP
    etp, ep_stride = moe_mod.expert_grid(xp, etp=xp.asarray(layout.get("etp", 0.0), dtype=f8), t=t, c=c, d=d, e=e)
    fold = (etp < t).astype(f8)
    gemm_rate = xp.where(is_fp8, hw["peak8"] * cal.eta_gemm_fp8, hw["peak16"] * cal.eta_gemm_bf16)
    full = (rc == 2.0).astype(f8)
    passes = 3.0 + full  # fwd + bwd (2x) + full-recompute fwd
    # GEMM calls per layer per pass: QKV, proj, dense fc1(+gate)/fc2; MoE layers: router, one
    # grouped GEMM per expert matrix pair (fc1, fc2) and the shared experts' fc1/fc2
    calls = 2.0 + (1.0 - fm) * 2.0 + fm * (3.0 + 2.0 * (sh > 0))
    # routed-expert GEMMs run as grouped GEMMs whose efficiency falls with tokens per expert;
    # load imbalance (slowest expert / mean, 1 = force-balanced) stretches them
    exp_tok = fm * moe * 2.0 * mats * h * F * k  # routed-expert fwd FLOPs per token per layer
    # each expert (sharded etp ways) sees the tokens of etp SP shards from each of e ranks
    tpe = moe_mod.tokens_per_expert(tokens=tok / c * etp / t, k=k, e=e, experts=E)
    g_eff = moe_mod.grouped_gemm_efficiency(tpe, cal.grouped_gemm_half_tokens)
    flop_eq = (g_tok - exp_tok) * tok_g + exp_tok * tok_g * cal.moe_imbalance / g_eff
    t_gemm = passes * (flop_eq + calls * cal.gemm_call_flop) / gemm_rate
    core_passes = 1.0 + cal.attn_bwd_mult + (rc >= 1.0)
    t_core = core_passes * core_tok * tok_g / (hw["peak16"] * cal.eta_attn)
    t_mem = passes * mem_tok * tok_g / (hw["hbm_bw"] * cal.hbm_eff)
    # FP8 quantisation traffic: every GEMM's input (K) and output gradient (N), per token per layer
    t_mem = t_mem + is_fp8 * (1.0 + 0.5 * full) * cal.fp8_cast_bytes * cast_tok * tok_g / (hw["hbm_bw"] * cal.hbm_eff)
    # TP/SP: fwd 2 AG + 2 RS, bwd the same (+4 under full recompute), each (t-1)/t * tok*h*2 bytes
    tp_bw = xp.where(t <= dom, nvl, net)
    # folded experts (etp < t) work on their own SP shard: the MoE block's AG + RS go (half of a layer's)
    t_tp = (8.0 + 4.0 * full) * (t - 1.0) / t * (tok / c) * h * _ACT_BYTES / tp_bw * cal.tp_exposed
    t_tp = t_tp * (1.0 - 0.5 * fm * moe * fold)
    # CP ring: K,V of the other c-1 chunks, fwd once, bwd twice (K,V + dK,dV); hidden by the core
    cp_bw = xp.where(tc <= dom, nvl, net)
    t_cp_raw = 3.0 * (c - 1.0) / c * tok * (2.0 * G * dh / t) * _ACT_BYTES / cp_bw
    t_cp = xp.maximum(t_cp_raw - t_core, 0.0)
    # EP all-to-all, hierarchical (colossus.steptime.moe): once per remote node over the network,
    # then NVLink; EP ranks are ep_stride apart (t*c, or etp when folded)
    remote, local = moe_mod.a2a_copies(xp, k=k, e=e, ranks_per_node=xp.maximum(dom / ep_stride, 1.0),
                                       node_limit=model["nl"])
    per_copy = moe_mod.a2a_bytes_per_copy(xp, h=h, fp8_dispatch=is_fp8, full_recompute=full)
    t_ep = fm * moe * tok_g * per_copy * (remote / net + local / nvl)
    # a2a/compute overlap (DualPipe / 1F1B-overlap schedules): another micro-batch's compute hides
    # the dispatch and combine, so only the excess is exposed; needs two micro-batches in flight.
    # Not free: the communication kernels hold a share of the SMs while they run (the compute
    # during them slows), and the second micro-batch's activations are held (memory below)
    ovl = xp.asarray(layout.get("ep_overlap", 0.0), dtype=f8) * (m >= 2.0)
    t_compute = t_gemm + t_core + t_mem
    t_ovl = moe_mod.overlapped_time(xp, t_compute, t_ep, cal.ep_overlap_sm_share) - t_compute
    t_ep = xp.where(ovl > 0.0, t_ovl, t_ep)
    t_layer = t_compute + t_tp + t_cp + t_ep + cal.layer_overhead_s
    # LM head + cross-entropy on the last stage (fp32 logits, ~4 passes of 4 bytes)
    t_head = 3.0 * (lm_flop_tok * tok_g + cal.gemm_call_flop) / gemm_rate
    t_head = t_head + 16.0 * tok_g * V / (hw["hbm_bw"] * cal.hbm_eff)
    t_mb = Ls * t_layer + t_head

    # ---- pipeline ----------------------------------------------------------------------------
    pp_bw = xp.where(tc * d < dom, nvl, net)  # PP neighbours are t*c*d ranks apart
    t_p2p = xp.where(p > 1.0, 2.0 * v * tok_g * h * _ACT_BYTES / pp_bw, 0.0)
    t_pipe = (m + (p - 1.0) / v) * t_mb + m * t_p2p

    # ---- parameters on the fullest stage -----------------------------------------------------
    emb = V * h * xp.where(p > 1.0, 1.0, 2.0)
    pd_loc = (Ls * p_layer_dense + emb) / t  # dense params per GPU
    pe_loc = Ls * p_layer_exp / (etp * e)  # routed-expert params per GPU
    dc = d * c
    edc = xp.maximum(t * dc / (etp * e), 1.0)  # expert data-parallel degree
    # ---- data parallel (distributed optimizer): RS fp32 grads + AG bf16 params ---------------
    # DP/FSDP group spanning nodes: its g = dom/(t c) members per node share the node's g NICs, and
    # each node ingests the gathered buffer once (hierarchical NCCL), so bus bandwidth ~ g * NIC
    g_node = xp.clip(dom / tc, 1.0, xp.maximum(d, 1.0))
    dp_bw = xp.where(tc * d <= dom, nvl, xp.minimum(g_node * net, nvl))
    t_dp = 6.0 * (pd_loc * (dc - 1.0) / dc + pe_loc * (edc - 1.0) / edc) / dp_bw
    t_dp_exp = (1.0 - fsdp) * xp.maximum(t_dp - cal.dp_overlap * t_mb, 0.0)
    # ---- FSDP: per microbatch AG (fwd) + AG (bwd) + RS (grads), bf16 -------------------------
    t_fs = 3.0 * _ACT_BYTES * (pd_loc * (dc - 1.0) / dc + pe_loc * (edc - 1.0) / edc) / dp_bw
    t_fs_exp = fsdp * m * xp.maximum(t_fs - cal.fsdp_overlap * t_mb, 0.0)
    # ---- optimizer (sharded over the DP group) ------------------------------------------------
    t_opt = cal.optimizer_bytes_per_param * (pd_loc / dc + pe_loc / edc) / (hw["hbm_bw"] * cal.hbm_eff)
    step = t_pipe + t_dp_exp + t_fs_exp + t_opt + cal.step_overhead_s

    # ---- memory per GPU (colossus.steptime.memory) -------------------------------------------
    stage = xp.where(fsdp > 0.0, 3.0, xp.asarray(layout.get("zero", 1.0), dtype=f8))
    w_bytes = 2.0 + (prec == 2.0)  # bf16 weights (+ cached fp8 copy)
    g_bytes = xp.where(stage >= 3.0, 2.0, 4.0)
    state = pd_loc * mem_mod.state_bytes_per_param(xp, stage, dc, weight_bytes=w_bytes, grad_bytes=g_bytes)
    state = state + pe_loc * mem_mod.state_bytes_per_param(xp, stage, edc, weight_bytes=w_bytes, grad_bytes=g_bytes)
    gathered = mem_mod.fsdp_gathered_bytes(p_layer_dense + p_layer_exp * t / (etp * e), t, weight_bytes=w_bytes)
    state = state + xp.where(stage >= 3.0, gathered, 0.0)
    act_args = dict(h=h, heads=H, kv_heads=G, d_head=dh, ffn=f_act, ffn_mats=mats, s=s, t=t,
                    dropout=0.0, scores_stored=0.0, routed_tokens=fm * moe * k)  # fmt: skip
    tok_c = tok / c  # tokens of one microbatch on one GPU's sequence shard
    # ep_overlap runs one more (chunk) micro-batch forward while another runs backward
    held = mem_mod.layers_in_flight(xp, layers_per_stage=Ls, p=p, v=v, m=m) + ovl * Ls / v
    stored = mem_mod.activation_bytes_per_token_layer(xp, recompute=rc, **act_args)
    live = mem_mod.activation_bytes_per_token_layer(xp, recompute=xp.zeros_like(rc), **act_args)
    act = tok_c * (held * stored + xp.where(rc >= 2.0, live, 0.0))  # full: one layer recomputed live
    logits = mem_mod.logits_bytes_per_token(V, t) * tok_c
    mem = state + act + logits + cal.memory_reserved_gb * 1e9
    fits = mem <= hw["hbm_bytes"]

    tokens = B * s
    tps = tokens / step
    peak = xp.where(is_fp8, hw["peak8"], hw["peak16"])
    n_gpu = t * p * d * c
    mfu = model_flops_per_token(model) * tps / (n_gpu * peak)
    out = {"step_time_s": step, "tokens_per_s": tps, "mfu": mfu, "memory_bytes": mem, "fits": fits}
    if breakdown:
        ones = xp.ones_like(step)
        out |= {
            "compute_s": (m + 0.0) * Ls * (t_gemm + t_core + t_mem + cal.layer_overhead_s) * ones,
            "lm_head_s": m * t_head * ones,
            "bubble_s": (p - 1.0) / v * t_mb * ones,
            "tp_comm_s": m * Ls * t_tp * ones,
            "cp_comm_s": m * Ls * t_cp * ones,
            "ep_comm_s": m * Ls * t_ep * ones,
            "pp_comm_s": m * t_p2p * ones,
            "dp_comm_exposed_s": (t_dp_exp + t_fs_exp) * ones,
            "optimizer_s": t_opt * ones,
            "overhead_s": cal.step_overhead_s * ones,
        }
    return out
