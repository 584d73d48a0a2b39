"""``colossus steptime`` CLI and CSV prediction (incl. the calibration accuracy targets)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from colossus.cli import cli
from colossus.steptime.predict import OUTPUT_COLUMNS, predict_rows, read_csv_rows

ROWS = """layers,hidden,ffn_hidden,heads,kv_heads,vocab,seq_len,gpu,num_gpus,tp,pp,dp,micro_batch,global_batch,precision,recompute,fsdp
32,4096,14336,32,8,128256,8192,H100-SXM-80GB,64,1,1,64,1,512,bf16,none,true
80,8192,,,,,4096,A100-80GB,512,8,8,8,1,512,fp16,full,false
24,2048,,,,,2048,TPU-v5,8,1,1,8,1,64,bf16,none,false
,2048,,,,,2048,H100,8,1,1,8,1,64,bf16,none,false
"""


def test_predict_rows_errors_do_not_stop(tmp_path: Path):
    src = tmp_path / "in.csv"
    src.write_text(ROWS)
    _, rows = read_csv_rows(src)
    out = predict_rows(rows)
    assert [bool(r["error"]) for r in out] == [False, False, True, True]
    assert "TPU-v5" in out[2]["error"] and "layers" in out[3]["error"]
    assert float(out[0]["predicted_step_time_s"]) > 0
    assert out[0]["fits_memory"] in ("true", "false")


def test_cli_predict_writes_columns(tmp_path: Path):
    src, dst = tmp_path / "in.csv", tmp_path / "out" / "o.csv"
    src.write_text(ROWS)
    res = CliRunner().invoke(cli, ["steptime", "predict", str(src), "-o", str(dst), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["errors"] == 2 and summary["predicted"] == 2
    with dst.open() as fh:
        rows = list(csv.DictReader(fh))
    assert set(OUTPUT_COLUMNS) <= set(rows[0])


def test_cli_estimate_and_search_json():
    r = CliRunner().invoke(cli, ["steptime", "estimate", "-m", "llama-3-8b", "-n", "64", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["fits"] and d["days_to_train"] > 0 and 0 < d["mfu"] < 1
    r = CliRunner().invoke(cli, ["steptime", "estimate", "-m", "llama-3-70b", "-n", "512",
                                 "--layout", "tp=8,pp=4,mb=1,recompute=full", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["layout"]["dp"] == 16
    r = CliRunner().invoke(cli, ["steptime", "search", "-m", "mixtral-8x7b", "-n", "64", "--top", "3", "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["results"]) == 3


def test_cli_bad_input_exit_2():
    for args in (["estimate", "-m", "nope", "-n", "8"], ["estimate", "-m", "grok-1", "-n", "8", "--layout", "tp=x"],
                 ["search", "-m", "grok-1", "-n", "8", "--precision", "int4"],
                 ["estimate", "-m", "llama-3-8b", "-n", "8", "--gpu", "Z80"]):  # fmt: skip
        r = CliRunner().invoke(cli, ["steptime", *args])
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_calibration_accuracy_targets(calibration_csv: Path):
    _, rows = read_csv_rows(calibration_csv)
    out = predict_rows(rows)
    assert not any(r["error"] for r in out)
    ratio = np.array([float(o["predicted_step_time_s"]) / float(r["target_step_time_s"]) for o, r in zip(out, rows, strict=True)])
    ape = np.abs(ratio - 1)
    assert np.median(ape) <= 0.08
    assert np.mean(ape) <= 0.12
