"""Grok 3 sensitivity tornado: each fitted constant across its bounds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from colossus.cli import cli
from colossus.hardware import get_gpu
from colossus.steptime.calibration import DEFAULT, FIT_PARAMS
from colossus.steptime.layout import parse_layout
from colossus.steptime.models import get_model
from colossus.steptime.search import estimate
from colossus.steptime.sensitivity import sensitivity


def test_tornado_rows_bracket_the_fitted_value():
    model, gpu = get_model("llama-3-8b"), get_gpu("H100")
    lay = parse_layout("tp=1,pp=1,dp=64,mb=1,gb=512")
    base, _ = estimate(model, gpu, lay, num_gpus=64)
    rows = sensitivity(model, gpu, 64, lay, tokens=1e12, rechoose=False)
    assert [r.name for r in rows] != [] and {r.name for r in rows} == set(FIT_PARAMS)
    assert all(a.swing_s >= b.swing_s for a, b in zip(rows, rows[1:], strict=False))
    for r in rows:
        lo, hi = sorted((r.step_lower_s, r.step_upper_s))
        # the model is monotone in every constant, so the fitted step time lies between the bounds
        assert lo - 1e-9 <= base.step_time_s <= hi + 1e-9, r.name
        assert np.isclose(r.days_lower, 1e12 / (512 * 8192 / r.step_lower_s) / 86400)
    eff = next(r for r in rows if r.name == "eta_gemm_bf16")
    assert eff.step_lower_s > base.step_time_s > eff.step_upper_s  # more GEMM efficiency is faster
    assert rows[0].fitted == getattr(DEFAULT, rows[0].name)


def test_cli_grok3_sensitivity(tmp_path: Path):
    html = tmp_path / "t" / "tornado.html"
    res = CliRunner().invoke(cli, ["steptime", "estimate", "--model", "grok-3", "--gpus", "100352",
                                   "--sensitivity", "--html", str(html)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "sensitivity" in res.output and "eta_gemm_bf16" in res.output and "days @lo" in res.output
    assert html.exists() and "plotly" in html.read_text()[:5000].lower()
    res = CliRunner().invoke(cli, ["steptime", "estimate", "-m", "grok-3", "-n", "100352", "--sensitivity", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["sensitivity"]) == len(FIT_PARAMS) and data["days_to_train"] > 0
    bad = CliRunner().invoke(cli, ["steptime", "estimate", "-m", "grok-3", "-n", "100352", "--html", "x.html"])
    assert bad.exit_code == 2 and "--sensitivity" in bad.stderr
