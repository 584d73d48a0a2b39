"""Rows that leave head_dim / ffn_act blank read the true shape from the preset of the same shape."""

from __future__ import annotations

from colossus.steptime.models import PRESETS, REFERENCE_SHAPES, preset_of_shape
from colossus.steptime.predict import parse_rows

_BASE = {"layers": "36", "hidden": "2880", "ffn_hidden": "2880", "heads": "64", "kv_heads": "8",
         "vocab": "201088", "seq_len": "4096", "moe_experts": "128", "moe_topk": "4", "arch": "moe",
         "gpu": "H100-SXM-80GB", "num_gpus": "64", "tp": "1", "pp": "4", "ep": "8", "micro_batch": "1",
         "global_batch": "1280", "precision": "bf16", "model_name": "GPT OSS 120B"}  # fmt: skip


def _model(**kw: str):
    parsed = parse_rows([_BASE | kw])
    assert not parsed.errors, parsed.errors
    return parsed.models[0]


def test_gpt_oss_row_reads_head_width_and_gated_ffn():
    m = _model(ffn_act="unknown")
    assert m.head_dim == 64  # hidden / heads would give 45
    assert m.activation == "swiglu"


def test_explicit_columns_win_over_the_preset():
    m = _model(ffn_act="gelu", head_dim="45")
    assert (m.head_dim, m.activation) == (45, "gelu")


def test_no_preset_keeps_hidden_over_heads():
    m = _model(layers="35")  # no preset has this shape
    assert preset_of_shape(layers=35, hidden=2880, heads=64, kv_heads=8, ffn_hidden=2880, moe_experts=128) is None
    assert m.head_dim == 45 and m.activation == "gelu"


def test_qwen3_presets_have_wide_heads():
    for name in ("qwen3-30b-a3b", "qwen3-235b-a22b"):
        m = REFERENCE_SHAPES[name]
        assert m.head_dim == 128 and m.head_dim * m.heads == 2 * m.hidden
        assert name not in PRESETS  # reference shapes do not change the preset list
