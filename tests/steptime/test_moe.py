"""MoE structure: MLA attention, expert sharding, all-to-all and grouped GEMMs."""

from __future__ import annotations

import numpy as np
import pytest

from colossus.hardware import get_gpu
from colossus.steptime.calibration import DEFAULT
from colossus.steptime.kernel import evaluate, hardware_arrays, model_arrays, model_flops_per_token
from colossus.steptime.layout import Layout
from colossus.steptime.models import REFERENCE_SHAPES, get_model


def _run(model, gpu, cal=DEFAULT, **lay):
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in Layout(**lay).kernel_inputs().items()}
    out = evaluate(np, model_arrays(model), hardware_arrays(gpu), arrays, cal, breakdown=True)
    return {k: float(v) for k, v in out.items()}


def test_mla_deepseek_v3_parameter_counts():
    """DeepSeek-V3 report: 671B total, 37B activated per token (main model, MTP module excluded)."""
    m = get_model("deepseek-v3")
    assert m.is_mla and m.attention_core_dims() == (192, 128)
    assert m.params_total() / 1e9 == pytest.approx(671, rel=0.01)
    assert m.params_active() / 1e9 == pytest.approx(37, rel=0.03)
    # MLA's latent projections are far smaller than 128 full 128-wide K/V heads would be
    mha = m.hidden * m.d_head * 4 * m.heads
    assert m.attention_params() < 0.5 * mha


def test_mla_flops_use_latent_projections():
    m = get_model("deepseek-v3")
    arr = model_arrays(m)
    per_tok = float(model_flops_per_token(arr))
    # 6 x active params (minus the input embedding, which costs no FLOPs) + attention core
    core = 3.0 * m.layers * m.seq_len * m.heads * (192 + 128)
    expect = 6.0 * (m.params_active() - m.vocab * m.hidden) + core
    assert per_tok == pytest.approx(expect, rel=0.01)


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from colossus.steptime import moe as moe_mod  # noqa: E402
from colossus.steptime.calibration import FIT_BOUNDS, FIT_PARAMS  # noqa: E402
from colossus.steptime.fit import at_bounds  # noqa: E402


@given(k=st.integers(1, 16), nodes=st.integers(1, 64), g=st.sampled_from([1, 2, 4, 8]))
def test_hierarchical_a2a_never_sends_more_than_flat(k, nodes, g):
    e = float(nodes * g)
    remote, local = moe_mod.a2a_copies(np, k=float(k), e=e, ranks_per_node=float(g))
    flat_remote = k * (nodes - 1) / nodes  # every remote expert copy over the network
    assert 0.0 <= remote <= flat_remote + 1e-12
    assert remote <= nodes - 1 + 1e-12  # at most once per remote node
    assert local == pytest.approx(k * (g - 1) / g)


def test_hierarchical_a2a_special_cases():
    r, _ = moe_mod.a2a_copies(np, k=8.0, e=8.0, ranks_per_node=8.0)
    assert r == 0.0  # EP inside one node: nothing crosses the network
    r, _ = moe_mod.a2a_copies(np, k=1.0, e=64.0, ranks_per_node=8.0)
    assert r == pytest.approx(7 / 8)  # top-1: same as a flat all-to-all
    r, _ = moe_mod.a2a_copies(np, k=8.0, e=16.0, ranks_per_node=8.0)
    assert r == pytest.approx(1 - 0.5**8)  # 2 nodes, 8 experts: the other node almost surely, once


def test_a2a_bytes_fp8_dispatch_and_recompute():
    b16 = moe_mod.a2a_bytes_per_copy(np, h=1000.0, fp8_dispatch=False, full_recompute=0.0)
    b8 = moe_mod.a2a_bytes_per_copy(np, h=1000.0, fp8_dispatch=True, full_recompute=0.0)
    bfull = moe_mod.a2a_bytes_per_copy(np, h=1000.0, fp8_dispatch=False, full_recompute=1.0)
    assert b16 == 8000.0 and b8 == 7000.0 and bfull == 12000.0


def test_grouped_gemm_efficiency_shape():
    m = np.array([16.0, 128.0, 512.0, 4096.0, 1e6])
    eff = moe_mod.grouped_gemm_efficiency(m, 512.0)
    assert np.all(np.diff(eff) > 0) and eff[2] == pytest.approx(0.5) and eff[-1] > 0.99
    assert moe_mod.tokens_per_expert(tokens=4096.0, k=8.0, e=8.0, experts=128.0) == pytest.approx(2048.0)


def test_ep_overlap_hides_all_to_all_and_needs_two_microbatches():
    m, gpu = get_model("deepseek-v3"), get_gpu("H100")
    base = dict(tp=1, pp=16, dp=128, ep=64, micro_batch=1, precision="fp8")
    off = _run(m, gpu, global_batch=15360, **base)
    on = _run(m, gpu, global_batch=15360, ep_overlap=True, **base)
    assert on["step_time_s"] < off["step_time_s"] and on["ep_comm_s"] < off["ep_comm_s"]
    one_off = _run(m, gpu, global_batch=128, **base)  # one micro-batch: nothing to overlap with
    one_on = _run(m, gpu, global_batch=128, ep_overlap=True, **base)
    assert one_on["step_time_s"] == pytest.approx(one_off["step_time_s"])


def test_ep_across_more_nodes_costs_more():
    m, gpu = get_model("deepseek-v3"), get_gpu("H100")
    t = [_run(m, gpu, tp=1, pp=16, dp=128, ep=e, micro_batch=1, global_batch=4096)["ep_comm_s"] for e in (8, 16, 64)]
    assert t[0] < t[1] < t[2]


def test_bounds_are_physical_and_reported():
    for name, (lo, hi, why) in FIT_BOUNDS.items():
        assert lo < hi and len(why) > 20, name
        if "overlap" in name or "exposed" in name or name.startswith(("eta_", "net_eff")):
            assert 0.0 <= lo and hi <= 1.0, name  # fractions: no overlap above 1
        assert lo <= getattr(DEFAULT, name) <= hi, name
    assert set(FIT_PARAMS) == set(FIT_BOUNDS)
    edge = at_bounds(DEFAULT.with_values(dp_overlap=1.0, net_eff=0.5, eta_attn=0.5))
    assert edge["dp_overlap"] == (1.0, "upper") and edge["net_eff"] == (0.5, "lower") and "eta_attn" not in edge


def test_node_limited_routing_caps_remote_copies():
    free, _ = moe_mod.a2a_copies(np, k=8.0, e=64.0, ranks_per_node=8.0)
    capped, _ = moe_mod.a2a_copies(np, k=8.0, e=64.0, ranks_per_node=8.0, node_limit=4.0)
    assert capped == pytest.approx(4 * 7 / 8) and capped < free
    m = get_model("deepseek-v3")
    assert m.moe_node_limit == 4


def test_ep_overlap_costs_sm_share_and_a_micro_batch_of_memory():
    """The overlap is not free: comm kernels hold SMs (DeepSeek-V3: 20 of 132) and a second
    micro-batch's activations are held."""
    m, gpu = get_model("deepseek-v3"), get_gpu("H100")
    base = dict(tp=1, pp=16, dp=128, ep=64, micro_batch=1, precision="fp8", global_batch=15360)
    free = DEFAULT.with_values(ep_overlap_sm_share=0.0)
    off, on, on_free = _run(m, gpu, **base), _run(m, gpu, ep_overlap=True, **base), \
        _run(m, gpu, free, ep_overlap=True, **base)
    assert on_free["step_time_s"] < on["step_time_s"] < off["step_time_s"]
    assert on["ep_comm_s"] >= DEFAULT.ep_overlap_sm_share * off["ep_comm_s"] * (1 - 1e-9)
    assert on["memory_bytes"] > off["memory_bytes"]
    # by hand: max(comm, compute + share * comm)
    assert moe_mod.overlapped_time(np, 3.0, 1.0, 0.15) == pytest.approx(3.15)
    assert moe_mod.overlapped_time(np, 1.0, 3.0, 0.15) == pytest.approx(3.0)
    assert moe_mod.overlapped_time(np, 2.0, 2.0, 0.0) == pytest.approx(2.0)


def test_fp8_cast_traffic_hurts_small_expert_gemms_most():
    """FP8 quantisation traffic is per operand element (``4 (K + N)`` bytes per token per GEMM), so
    small experts (Qwen3-30B-A3B: h 2048, F 768) gain far less from FP8 than a large dense model."""
    gpu = get_gpu("H100")

    def gain(model, **lay):
        return _run(model, gpu, precision="bf16", **lay)["step_time_s"] / _run(model, gpu, precision="fp8", **lay)["step_time_s"]

    dense = gain(get_model("llama-3-70b"), tp=8, pp=4, dp=8, global_batch=256)
    qwen = REFERENCE_SHAPES["qwen3-30b-a3b"]
    small = gain(qwen, tp=1, pp=1, dp=8, ep=8, global_batch=256)
    assert 1.0 < small < dense
    no_cast = DEFAULT.with_values(fp8_cast_bytes=0.0)
    lay = dict(tp=1, pp=1, dp=8, ep=8, global_batch=256, precision="fp8")
    assert _run(qwen, gpu, no_cast, **lay)["step_time_s"] < _run(qwen, gpu, **lay)["step_time_s"]
    bf = dict(lay, precision="bf16")
    assert _run(qwen, gpu, no_cast, **bf)["step_time_s"] == pytest.approx(_run(qwen, gpu, **bf)["step_time_s"])


def test_expert_grid_default_and_folding():
    """Megatron's default expert TP is tp (EP ranks tp*cp apart); when ep > dp*cp the default must fold
    (etp*ep*edp = tp*cp*dp); a stated etp < tp folds TP ranks into EP (EP ranks etp apart)."""
    grid = lambda **kw: tuple(float(v) for v in moe_mod.expert_grid(np, **{k: np.float64(v) for k, v in kw.items()}))  # noqa: E731
    assert grid(etp=0, t=4, c=2, d=8, e=8) == (4.0, 8.0)  # default: etp = tp, stride tp*cp
    assert grid(etp=0, t=2, c=1, d=16, e=32) == (1.0, 1.0)  # EP32 > DP16: forced to fold
    assert grid(etp=1, t=2, c=1, d=128, e=8) == (1.0, 1.0)  # stated ETP 1
    assert grid(etp=2, t=2, c=1, d=128, e=8) == (2.0, 2.0)  # stated etp = tp: the default grid


def test_folded_experts_keep_ep_inside_a_node_and_change_nothing_when_etp_is_tp():
    """Qwen3-235B at TP2 EP8 (Megatron MoE Model Zoo, 'intra-node EP'): with ETP 1 the EP group is 8
    consecutive GPUs (no network all-to-all), with the default grid it spans two nodes."""
    m, gpu = REFERENCE_SHAPES["qwen3-235b-a22b"], get_gpu("H100")
    lay = dict(tp=2, pp=8, dp=16, ep=8, vpp=4, micro_batch=1, global_batch=2048)
    default, folded, same = _run(m, gpu, **lay), _run(m, gpu, etp=1, **lay), _run(m, gpu, etp=2, **lay)
    assert folded["ep_comm_s"] < default["ep_comm_s"] and folded["tp_comm_s"] < default["tp_comm_s"]
    assert same == default
    # experts are no longer TP-sharded: more expert weights per GPU
    assert folded["memory_bytes"] > default["memory_bytes"]
    # the layout string and parser carry etp
    from colossus.steptime.layout import Layout, parse_layout

    assert "etp=1" in str(Layout(etp=1, tp=2, ep=8, dp=8)) and parse_layout("tp=2,etp=1").etp == 1
    with pytest.raises(ValueError, match="etp"):
        Layout(tp=4, etp=3)
