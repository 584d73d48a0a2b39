"""MoE structure: MLA attention, expert sharding, all-to-all and grouped GEMMs."""

from __future__ import annotations

import numpy as np
import pytest

from colossus.hardware import get_gpu
from colossus.steptime.calibration import DEFAULT
from colossus.steptime.kernel import evaluate, hardware_arrays, model_arrays, model_flops_per_token
from colossus.steptime.layout import Layout
from colossus.steptime.models import get_model


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
