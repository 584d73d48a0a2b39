"""Checkpoint cost from the model's state size, and waits that count jobs never started."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from colossus.scenario import load_scenario
from colossus.sim import simulate
from colossus.sim.jobs import checkpoint_cost_s, checkpoint_interval_s, model_params

HERE = Path(__file__).resolve().parent


def test_checkpoint_cost_is_state_write_time_when_longer():
    ck = load_scenario("memphis").checkpoint
    p = model_params("grok-3")
    assert p is not None and p > 1e12
    assert checkpoint_cost_s(ck, p) == pytest.approx(p * ck.state_bytes_per_param / (ck.write_tb_s * 1e12))
    assert checkpoint_cost_s(ck, 1e9) == ck.blocking_s              # small model: the async snapshot
    assert checkpoint_cost_s(ck, None) == ck.blocking_s
    assert model_params("no-such-model") is None
    slow = dataclasses.replace(ck, write_tb_s=ck.write_tb_s / 4)
    assert checkpoint_cost_s(slow, p) == pytest.approx(4 * checkpoint_cost_s(ck, p))
    # Young: sqrt(2 C M) with that cost
    young = dataclasses.replace(ck, interval_policy="young")
    c = checkpoint_cost_s(ck, p)
    assert checkpoint_interval_s(young, 3600.0, c) == pytest.approx(math.sqrt(2 * c * 3600.0))


def _scn():
    return load_scenario(HERE / "small.toml")


def test_model_jobs_checkpoint_at_their_state_write_time():
    scn = _scn()
    ck = dataclasses.replace(scn.checkpoint, write_tb_s=0.005, interval_policy="young")
    f = dataclasses.replace(scn.failures, enabled=True, rates_per_gpu_year={"gpu": 5.0})
    scn = dataclasses.replace(scn, checkpoint=ck, failures=f)
    jobs = [{"job_id": "m", "submit_time_s": 0.0, "division": "vc-a", "num_gpus": 64, "kind": "pretrain",
             "work_tokens": 1e9, "model": "llama-3-8b"},
            {"job_id": "d", "submit_time_s": 0.0, "division": "vc-b", "num_gpus": 8, "kind": "train", "duration_s": 600.0}]
    res = simulate(scn, iter(jobs), "fifo", 0, 3600.0, debug=True)
    got = dict(zip(res.jobs.column("job_id").to_pylist(), res.jobs.column("checkpoint_cost_s").to_pylist(), strict=True))
    want = model_params("llama-3-8b") * ck.state_bytes_per_param / 0.005e12
    assert want > ck.blocking_s
    assert got["m"] == pytest.approx(want)
    assert got["d"] == ck.blocking_s                       # no model: the blocking snapshot
    iv = dict(zip(res.jobs.column("job_id").to_pylist(), res.jobs.column("checkpoint_interval_s").to_pylist(), strict=True))
    mtti = 1.0 / (5.0 / (365.25 * 86400.0) * 64)
    assert iv["m"] == pytest.approx(math.sqrt(2 * want * mtti))


def test_wait_percentiles_count_jobs_that_never_start():
    """A division whose only job can never start reports its wait so far, not no wait."""
    scn = _scn()
    jobs = [{"job_id": "big", "submit_time_s": 100.0, "division": "vc-d", "num_gpus": 4096, "duration_s": 60.0,
             "kind": "train"},
            {"job_id": "ok", "submit_time_s": 100.0, "division": "vc-a", "num_gpus": 1, "duration_s": 60.0,
             "kind": "train"}]
    res = simulate(scn, iter(jobs), "fifo", 0, 7200.0)
    d = res.summary["divisions"]["vc-d"]
    assert d["waits_censored"] == 1
    assert d["wait_p50_s"] == pytest.approx(7100.0)
    assert np.isnan(res.jobs.column("wait_s").to_numpy()[next(i for i, j in enumerate(res.jobs.column("job_id").to_pylist()) if j == "big")])
    assert res.summary["divisions"]["vc-a"]["waits_censored"] == 0
