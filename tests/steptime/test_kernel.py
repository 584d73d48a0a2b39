"""Physical invariants of the analytic step-time kernel."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossus.hardware import get_gpu
from colossus.steptime.backend import to_numpy
from colossus.steptime.calibration import DEFAULT
from colossus.steptime.kernel import evaluate, hardware_arrays, model_arrays, model_flops_per_token
from colossus.steptime.layout import Layout
from colossus.steptime.models import ModelSpec, get_model
from colossus.steptime.search import estimate

H100 = get_gpu("H100")


def run(xp, model, gpu, **lay):
    base = Layout(**lay).kernel_inputs()
    arrays = {k: xp.asarray(v, dtype=xp.float64) for k, v in base.items()}
    out = evaluate(xp, model_arrays(model, xp), hardware_arrays(gpu, xp), arrays, DEFAULT)
    return {k: float(to_numpy(v)) for k, v in out.items()}


def test_more_data_parallel_is_faster_until_comm_dominates(xp):
    model = get_model("llama-3-8b")
    times = [run(xp, model, H100, dp=d, micro_batch=1, global_batch=512)["step_time_s"] for d in (8, 16, 32, 64, 128)]
    assert all(a > b for a, b in itertools.pairwise(times))
    # speed-up is sub-linear: communication and fixed costs do not shrink with d
    assert times[0] / times[-1] < 16.0


def test_strong_scaling_saturates():
    """At a tiny fixed batch, huge DP can no longer help: step time stops falling ~linearly."""
    model = get_model("llama-3-70b")
    t1 = run(np, model, H100, tp=8, pp=8, dp=8, global_batch=64)["step_time_s"]
    t2 = run(np, model, H100, tp=8, pp=8, dp=64, global_batch=64)["step_time_s"]
    assert t2 < t1 and t1 / t2 < 8.0 * 0.8


def test_never_faster_than_roofline(xp):
    for name in ("llama-3-8b", "gpt-3-175b", "mixtral-8x7b", "grok-1"):
        model = get_model(name)
        lay = dict(tp=8, pp=2, dp=4, ep=1 if not model.is_moe else 4, global_batch=256)
        r = run(xp, model, H100, **lay)
        n = 8 * 2 * 4
        roofline_s = model_flops_per_token(model_arrays(model)) * 256 * model.seq_len / (n * H100.bf16_tflops * 1e12)
        assert r["step_time_s"] > float(roofline_s)
        assert 0.0 < r["mfu"] < 1.0


def test_memory_grows_with_micro_batch(xp):
    model = get_model("llama-3-70b")
    mems = [run(xp, model, H100, tp=8, pp=4, dp=4, micro_batch=b, global_batch=64)["memory_bytes"] for b in (1, 2, 4)]
    assert mems[0] < mems[1] < mems[2]


def test_recompute_trades_memory_for_time():
    model = get_model("llama-3-70b")
    none = run(np, model, H100, tp=8, pp=4, dp=4, global_batch=64, recompute="none")
    full = run(np, model, H100, tp=8, pp=4, dp=4, global_batch=64, recompute="full")
    assert full["step_time_s"] > none["step_time_s"]
    assert full["memory_bytes"] < none["memory_bytes"]


def test_moe_flops_count_only_active_experts():
    dense = ModelSpec(name="d", layers=8, hidden=1024, ffn_hidden=4096, heads=8, kv_heads=8, activation="gelu")
    moe8 = ModelSpec(name="m8", layers=8, hidden=1024, ffn_hidden=4096, heads=8, kv_heads=8, activation="gelu",
                     moe_experts=8, moe_topk=1)
    moe64 = ModelSpec(name="m64", layers=8, hidden=1024, ffn_hidden=4096, heads=8, kv_heads=8, activation="gelu",
                      moe_experts=64, moe_topk=1)
    fd = float(model_flops_per_token(model_arrays(dense)))
    f8 = float(model_flops_per_token(model_arrays(moe8)))
    f64 = float(model_flops_per_token(model_arrays(moe64)))
    router = lambda e: 3.0 * 8 * 2.0 * 1024 * e  # noqa: E731 - router GEMM, 3 passes, 8 layers
    assert f8 - router(8) == pytest.approx(fd)
    assert f64 - router(64) == pytest.approx(fd)
    top2 = ModelSpec(name="m2", layers=8, hidden=1024, ffn_hidden=4096, heads=8, kv_heads=8, activation="gelu",
                     moe_experts=8, moe_topk=2)
    f2 = float(model_flops_per_token(model_arrays(top2)))
    assert f2 - f8 == pytest.approx(3.0 * 8 * 2.0 * 2 * 1024 * 4096)


def test_flops_match_megatron_formula():
    """GPT (MHA, F=4h, gelu): 3x fwd = 72 s l h^2 (1 + s/(12h) + V/(12 l h)) per sequence (causal)."""
    m = get_model("gpt-3-175b")
    s, L, h, V = m.seq_len, m.layers, m.hidden, m.vocab
    expected = 72.0 * L * h * h * (1 + s / (12.0 * h) + V / (12.0 * L * h))
    assert float(model_flops_per_token(model_arrays(m))) == pytest.approx(expected, rel=1e-12)


def test_pipeline_bubble_shrinks_with_interleaving():
    model = get_model("gpt-3-175b")
    a = estimate(model, H100, Layout(tp=8, pp=8, dp=4, vpp=1, global_batch=64), breakdown=True)[1]
    b = estimate(model, H100, Layout(tp=8, pp=8, dp=4, vpp=4, global_batch=64), breakdown=True)[1]
    assert b["bubble_s"] == pytest.approx(a["bubble_s"] / 4, rel=0.05)


def test_faster_gpu_is_faster():
    model = get_model("llama-3-70b")
    lay = dict(tp=8, pp=4, dp=8, global_batch=256)
    assert run(np, model, get_gpu("B200"), **lay)["step_time_s"] < run(np, model, H100, **lay)["step_time_s"]
    assert run(np, model, H100, **lay)["step_time_s"] < run(np, model, get_gpu("A100-80GB"), **lay)["step_time_s"]


def test_fp8_faster_than_bf16_on_h100_not_a100():
    model = get_model("llama-3-70b")
    lay = dict(tp=8, pp=4, dp=8, global_batch=256)
    assert run(np, model, H100, precision="fp8", **lay)["step_time_s"] < run(np, model, H100, **lay)["step_time_s"]
    a100 = get_gpu("A100-80GB")
    assert run(np, model, a100, precision="fp8", **lay)["step_time_s"] == pytest.approx(
        run(np, model, a100, **lay)["step_time_s"], rel=0.01)


layouts = st.fixed_dictionaries({
    "tp": st.sampled_from([1, 2, 4, 8]), "pp": st.sampled_from([1, 2, 4, 8]),
    "dp": st.integers(1, 64), "cp": st.sampled_from([1, 2, 4]), "ep": st.sampled_from([1, 2, 4, 8]),
    "vpp": st.sampled_from([1, 2]), "micro_batch": st.integers(1, 8), "m": st.integers(1, 32),
    "recompute": st.sampled_from(["none", "selective", "full"]),
    "precision": st.sampled_from(["bf16", "fp16", "fp8"]), "fsdp": st.booleans(),
    "model": st.sampled_from(["llama-3-8b", "llama-3-70b", "mixtral-8x7b", "grok-1", "gpt-3-175b"]),
    "gpu": st.sampled_from(["A100-40GB", "A100-80GB", "H100", "H200", "H800", "B200"]),
})  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(layouts)
def test_random_configs_are_physical(cfg):
    model, gpu = get_model(cfg.pop("model")), get_gpu(cfg.pop("gpu"))
    m = cfg.pop("m")
    if not model.is_moe:
        cfg["ep"] = 1
    cfg["global_batch"] = m * cfg["dp"] * cfg["micro_batch"]
    r = run(np, model, gpu, **cfg)
    n = cfg["tp"] * cfg["pp"] * cfg["dp"] * cfg["cp"]
    assert np.isfinite(r["step_time_s"]) and r["step_time_s"] > 0
    assert 0.0 < r["mfu"] < 1.0
    assert r["tokens_per_s"] == pytest.approx(cfg["global_batch"] * model.seq_len / r["step_time_s"])
    assert r["memory_bytes"] > DEFAULT.memory_reserved_gb * 1e9
    assert bool(r["fits"]) == (r["memory_bytes"] <= gpu.hbm_gb * 2**30)  # marketed "80 GB" is 80 GiB
    # doubling the global batch (more microbatches) at most doubles the step time
    cfg2 = dict(cfg, global_batch=2 * cfg["global_batch"])
    r2 = run(np, model, gpu, **cfg2)
    assert r["step_time_s"] < r2["step_time_s"] <= 2.0 * r["step_time_s"] + 1e-12
    assert n >= 1


def test_vectorised_equals_scalar(xp):
    """One batched call gives the same numbers as one call per configuration."""
    model = get_model("grok-1")
    rng = np.random.default_rng(7)
    n = 64
    lay = {"tp": rng.choice([1, 2, 4, 8], n), "pp": rng.choice([1, 2, 4], n), "dp": rng.integers(1, 32, n),
           "cp": rng.choice([1, 2], n), "ep": rng.choice([1, 2, 8], n), "vpp": np.ones(n),
           "mb": rng.integers(1, 4, n), "recompute": rng.integers(0, 3, n), "precision": rng.integers(0, 3, n),
           "fsdp": rng.integers(0, 2, n)}  # fmt: skip
    lay["gb"] = lay["dp"] * lay["mb"] * rng.integers(1, 8, n)
    lay = {k: np.asarray(v, dtype=np.float64) for k, v in lay.items()}
    batched = evaluate(xp, model_arrays(model, xp), hardware_arrays(H100, xp), {k: xp.asarray(v) for k, v in lay.items()})
    bt = to_numpy(batched["step_time_s"])
    for i in range(0, n, 9):
        one = evaluate(np, model_arrays(model), hardware_arrays(H100), {k: v[i] for k, v in lay.items()})
        assert float(one["step_time_s"]) == pytest.approx(bt[i], rel=1e-9)
