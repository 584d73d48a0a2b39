"""Memory per GPU: each component against its published formula, and 'what ran fits'."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from colossus.hardware import get_gpu
from colossus.steptime import memory as mm
from colossus.steptime.backend import to_numpy
from colossus.steptime.calibration import DEFAULT
from colossus.steptime.kernel import evaluate, hardware_arrays, model_arrays
from colossus.steptime.layout import Layout
from colossus.steptime.models import ModelSpec, get_model
from colossus.steptime.search import best_layout, enumerate_layouts, evaluate_layouts

# GPT-3 175B shape as in Korthikanti et al. 2022 Table 3: h 12288, a 96, s 2048
H, A, S = 12288.0, 96.0, 2048.0


def _act(xp, t, recompute, sp, dropout=1.0, scores=1.0):
    return float(to_numpy(mm.activation_bytes_per_token_layer(
        xp, h=H, heads=A, kv_heads=A, d_head=H / A, ffn=4 * H, ffn_mats=2.0, s=S, t=t,
        recompute=recompute, sequence_parallel=sp, dropout=dropout, scores_stored=scores)))  # fmt: skip


@pytest.mark.parametrize("t", [1.0, 2.0, 8.0])
def test_korthikanti_activation_formulas(xp, t):
    """Korthikanti et al. 2022 Eq. 1-5 (bytes per token per layer = bytes per layer / (s b))."""
    assert _act(xp, 1.0, 0, 0) == pytest.approx(H * (34 + 5 * A * S / H))  # Eq. 1, no parallelism
    assert _act(xp, t, 0, 0) == pytest.approx(H * (10 + 24 / t + 5 * A * S / (H * t)))  # Eq. 2, TP
    assert _act(xp, t, 0, 1) == pytest.approx(H / t * (34 + 5 * A * S / H))  # Eq. 4, TP + SP
    assert _act(xp, t, 1, 1) == pytest.approx(34 * H / t)  # Eq. 5, TP + SP + selective
    assert _act(xp, t, 2, 0) == pytest.approx(2 * H)  # full recompute keeps the layer input
    assert _act(xp, t, 2, 1) == pytest.approx(2 * H / t)


def test_activation_variants_flash_dropout_gqa_gated(xp):
    # flash attention stores no a*s score terms; no dropout drops the two h-byte masks
    assert _act(xp, 1.0, 0, 1, dropout=0.0, scores=0.0) == pytest.approx(32 * H)
    # GQA with G KV heads and a gated FFN (3 matrices): Q 2h, K/V 4 G d_h, O 2h, FFN 6F, rest 8h
    g, f, dh = 8.0, 28672.0, 128.0
    got = float(to_numpy(mm.activation_bytes_per_token_layer(
        xp, h=8192.0, heads=64.0, kv_heads=g, d_head=dh, ffn=f, ffn_mats=3.0, s=8192.0, t=1.0,
        recompute=0.0, dropout=0.0)))  # fmt: skip
    assert got == pytest.approx(2 * 8192 + 4 * g * dh + 2 * 8192 + 6 * f + 8 * 8192)


def test_state_bytes_match_megatron_and_zero_tables(xp):
    d = 64.0
    sb = lambda st_, w, g: float(to_numpy(mm.state_bytes_per_param(xp, xp.asarray(st_), d, weight_bytes=w, grad_bytes=g)))  # noqa: E731
    # Megatron Core distributed-optimizer table: bf16 params + fp32 grads, fp16 params + fp16 grads
    assert sb(0, 2, 4) == pytest.approx(18) and sb(1, 2, 4) == pytest.approx(6 + 12 / d)
    # ZeRO (Rajbhandari et al. 2020, Fig. 1, K = 12): baseline 16, Pos 4 + 12/N, Pos+g 2 + 14/N, Pos+g+p 16/N
    assert sb(0, 2, 2) == pytest.approx(16)
    assert sb(1, 2, 2) == pytest.approx(4 + 12 / d)
    assert sb(2, 2, 2) == pytest.approx(2 + 14 / d)
    assert sb(3, 2, 2) == pytest.approx(16 / d)


def test_layers_in_flight_1f1b_and_interleaved(xp):
    L, p = 96.0, 8.0
    per_stage = L / p
    f = lambda v, m: float(to_numpy(mm.layers_in_flight(xp, layers_per_stage=per_stage, p=p, v=v, m=m)))  # noqa: E731
    assert f(1.0, 64.0) == pytest.approx(L)  # 1F1B: p micro-batches of L/p layers = L layers
    assert f(1.0, 3.0) == pytest.approx(3 * per_stage)  # fewer micro-batches than stages
    for v in (2.0, 3.0, 4.0):  # interleaved: L (1 + (p - 1)/(p v)) (Korthikanti §4.2.3)
        assert f(v, 64.0) == pytest.approx(L * (1 + (p - 1) / (p * v)))


@given(stage=st.integers(0, 2), d=st.integers(1, 4096), w=st.sampled_from([2.0, 3.0]))
def test_more_sharding_never_needs_more_memory(stage, d, w):
    a = mm.state_bytes_per_param(np, np.asarray(float(stage)), float(d), weight_bytes=w)
    b = mm.state_bytes_per_param(np, np.asarray(float(stage + 1)), float(d), weight_bytes=w)
    c = mm.state_bytes_per_param(np, np.asarray(float(stage)), float(d + 1), weight_bytes=w)
    assert b <= a + 1e-12 and c <= a + 1e-12


@given(t=st.sampled_from([1.0, 2.0, 4.0, 8.0]), sp=st.sampled_from([0.0, 1.0]), s=st.sampled_from([2048.0, 8192.0]))
def test_recompute_order(t, sp, s):
    kw = dict(h=4096.0, heads=32.0, kv_heads=8.0, d_head=128.0, ffn=14336.0, ffn_mats=3.0, s=s, t=t,
              sequence_parallel=sp, scores_stored=1.0)  # fmt: skip
    none, sel, full = (float(mm.activation_bytes_per_token_layer(np, recompute=r, **kw)) for r in (0.0, 1.0, 2.0))
    assert full < sel < none


def _mem(model, gpu, **lay):
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in Layout(**lay).kernel_inputs().items()}
    out = evaluate(np, model_arrays(model), hardware_arrays(gpu), arrays, DEFAULT)
    return float(out["memory_bytes"]), bool(out["fits"])


def test_kernel_memory_is_the_sum_of_the_components():
    """Dense model, PP 1, no TP: state + activations + logits + reserve, by hand."""
    m = ModelSpec(name="t", layers=24, hidden=2048, ffn_hidden=8192, heads=16, kv_heads=16, vocab=50000,
                  seq_len=2048, activation="gelu")  # fmt: skip
    gpu = get_gpu("H100")
    got, _ = _mem(m, gpu, dp=8, micro_batch=2, global_batch=64, recompute="selective", zero=1)
    h, L, V, tok = 2048, 24, 50000, 2 * 2048
    params = L * (4 * h * h + 2 * h * 8192) + 2 * V * h  # untied embedding + head on the one stage
    state = params * (2 + 4 + 12 / 8)
    act = tok * L * (32 * h)  # selective, no dropout, SP: 34h - 2 masks
    logits = tok * 6 * V
    assert got == pytest.approx(state + act + logits + DEFAULT.memory_reserved_gb * 1e9, rel=1e-9)


def test_zero_stage_and_fp8_copy_in_kernel():
    m, gpu = get_model("llama-3-70b"), get_gpu("H100")
    base = dict(tp=8, pp=1, dp=16, micro_batch=1, global_batch=64, recompute="full")
    mems = [_mem(m, gpu, zero=z, **base)[0] for z in (0, 1, 2, 3)]
    assert mems[0] > mems[1] > mems[2] > mems[3]
    assert _mem(m, gpu, zero=3, **base)[0] == pytest.approx(_mem(m, gpu, fsdp=True, **base)[0])
    bf16, fp8 = _mem(m, gpu, precision="bf16", **base)[0], _mem(m, gpu, precision="fp8", **base)[0]
    assert fp8 - bf16 == pytest.approx(70.5e9 / 8, rel=0.05)  # one byte per local parameter


@pytest.mark.parametrize(("model", "gpus", "lay"), [
    # Korthikanti et al. 2022 Table 5 (A100 80GB, TP 8, selective + SP): these ran
    (ModelSpec(name="gpt-175b", layers=96, hidden=12288, ffn_hidden=49152, heads=96, kv_heads=96, vocab=51200,
               seq_len=2048, activation="gelu"), 64, dict(tp=8, pp=8, dp=1, micro_batch=1, global_batch=64)),
    (ModelSpec(name="gpt-530b", layers=105, hidden=20480, ffn_hidden=81920, heads=128, kv_heads=128, vocab=51200,
               seq_len=2048, activation="gelu"), 280, dict(tp=8, pp=35, dp=1, micro_batch=1, global_batch=280)),
    (ModelSpec(name="gpt-1t", layers=128, hidden=25600, ffn_hidden=102400, heads=160, kv_heads=160, vocab=51200,
               seq_len=2048, activation="gelu"), 512, dict(tp=8, pp=64, dp=1, micro_batch=1, global_batch=512)),
])  # fmt: skip
def test_published_runs_fit(model, gpus, lay):
    _, fits = _mem(model, get_gpu("A100-80GB"), recompute="selective", zero=0, **lay)
    assert fits


def test_what_cannot_fit_does_not():
    """70B dense on 8 GPUs with no sharding, no TP: ~18 B/param x 70B >> 80 GB."""
    _, fits = _mem(get_model("llama-3-70b"), get_gpu("H100"), dp=8, global_batch=64, zero=0, recompute="full")
    assert not fits


def test_search_keeps_every_layout_that_fits():
    model, gpu = get_model("llama-3-8b"), get_gpu("H100")
    lays = enumerate_layouts(model, gpu, 64)
    n_fit = int(evaluate_layouts(model, gpu, lays, xp=np)["fits"].sum())
    got = best_layout(model, gpu, 64, top_k=10**9, xp=np)
    assert len(got) == n_fit > 0 and all(r.fits for r in got)


def test_calibration_rows_fit(calibration_csv):
    """Issue #13 goal: >= 97 % of the calibration rows (all of which ran) are predicted to fit."""
    from colossus.steptime.predict import predict_rows, read_csv_rows

    _, rows = read_csv_rows(calibration_csv)
    out = [r for r in predict_rows(rows, xp=np) if not r["error"]]
    share = sum(r["fits_memory"] == "true" for r in out) / len(out)
    assert share >= 0.97, f"{100 * share:.1f} % of rows that ran are predicted to fit"
