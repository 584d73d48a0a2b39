"""Layout search, throughput table and its cache."""

from __future__ import annotations

import numpy as np
import pytest

from colossus.hardware import get_gpu
from colossus.steptime.layout import Layout, parse_layout
from colossus.steptime.search import best_layout, enumerate_layouts, estimate, evaluate_layouts
from colossus.steptime.throughput import ThroughputTable, default_grid, throughput_table

H100 = get_gpu("H100")


def test_best_layout_is_the_max_over_the_enumeration():
    model = "llama-3-70b"
    from colossus.steptime.models import get_model

    m = get_model(model)
    lays = enumerate_layouts(m, H100, 256)
    res = evaluate_layouts(m, H100, lays)
    top = best_layout(model, H100, 256, top_k=3)
    assert len(top) == 3
    assert top[0].tokens_per_s == pytest.approx(res["tokens_per_s"][res["fits"]].max())
    assert top[0].tokens_per_s >= top[1].tokens_per_s >= top[2].tokens_per_s
    for r in top:
        assert r.fits and r.layout.num_gpus == 256
        assert r.layout.tp <= H100.nvlink_domain_gpus
        assert m.layers % (r.layout.pp * r.layout.vpp) == 0


def test_enumeration_respects_divisibility():
    from colossus.steptime.models import get_model

    m = get_model("mixtral-8x7b")
    lays = enumerate_layouts(m, H100, 64)
    n = lays["tp"] * lays["pp"] * lays["dp"] * lays["cp"]
    assert np.all(n == 64)
    assert np.all(m.moe_experts % lays["ep"] == 0)
    assert np.all((lays["dp"] * lays["cp"]) % lays["ep"] == 0)
    assert np.all(m.heads % lays["tp"] == 0)
    assert np.all(lays["gb"] % (lays["dp"] * lays["mb"]) == 0)


def test_nothing_fits_on_one_gpu_for_a_huge_model():
    assert best_layout("grok-3", H100, 8) == []


def test_estimate_matches_search_row():
    top = best_layout("llama-3-8b", H100, 64)[0]
    again, parts = estimate("llama-3-8b", H100, top.layout, breakdown=True)
    assert again.step_time_s == pytest.approx(top.step_time_s, rel=1e-12)
    assert sum(parts.values()) == pytest.approx(again.step_time_s, rel=1e-9)


def test_parse_layout_roundtrip():
    lay = Layout(tp=8, pp=16, dp=4, cp=2, ep=8, vpp=2, micro_batch=2, global_batch=256, recompute="full",
                 precision="fp8", fsdp=True)  # fmt: skip
    assert parse_layout(str(lay)) == lay
    with pytest.raises(ValueError, match="tq"):
        parse_layout("tq=8")


def test_throughput_table_cached_and_monotone(tmp_path, monkeypatch):
    grid = default_grid(4096, min_gpus=256, step=1.5)
    t1 = throughput_table("llama-3-70b", H100, grid)
    files = list((tmp_path / "cache" / "steptime").glob("*.json"))
    assert len(files) == 1
    assert throughput_table("llama-3-70b", H100, grid) is t1  # in-process cache
    assert ThroughputTable.from_json(files[0].read_text()) == t1  # disk cache round-trip
    env = np.asarray(t1.envelope)
    assert np.all(np.diff(env) >= 0)
    assert t1.tokens_per_s(100) == 0.0
    assert t1.tokens_per_s(4096) == pytest.approx(env[-1])
    # step-down between grid points, never above the next grid point
    for a, b in zip(t1.gpu_counts, t1.gpu_counts[1:], strict=False):
        mid = (a + b) // 2
        assert t1.tokens_per_s(a) <= t1.tokens_per_s(mid) <= t1.tokens_per_s(b)
    other = throughput_table("llama-3-70b", H100, grid, global_batch_tokens=2**22)
    assert other.key != t1.key
