"""Fidelity of the simulation against published counts and queueing theory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from colossus.scenario import load_scenario
from colossus.sim import simulate

REPO = Path(__file__).resolve().parents[2]


def test_llama3_interruptions_in_poisson_band() -> None:
    """(a) 16,384 H100 for 54 days: interruptions of the spanning job within Poisson 95% of 419."""
    scn = load_scenario(REPO / "examples" / "llama3_reliability.toml")
    res = simulate(scn, [], "fifo", 0, 54 * 86400.0)
    hero = res.hero
    assert hero is not None
    lo, hi = 419 - 1.96 * math.sqrt(419), 419 + 1.96 * math.sqrt(419)
    assert lo <= hero["interruptions"] <= hi
    assert 0.5 < hero["ettr"] < 1.0
    # the expected count from the scenario's own rates is the paper's 419
    expected = scn.failures.total_per_gpu_year * 16384 * 54 / 365.25
    assert abs(expected - 419) < 5


def _erlang_c_wait(c: int, lam: float, mu: float) -> float:
    a = lam / mu
    rho = a / c
    s = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) / (1 - rho)
    pw = top / (s + top)
    return pw / (c * mu - lam)


def _mmc_jobs(n: int, lam: float, mean_s: float, seed: int):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(1 / lam, n))
    d = rng.exponential(mean_s, n)
    for i in range(n):
        yield {"job_id": f"j{i}", "submit_time_s": float(t[i]), "division": "A", "num_gpus": 1,
               "duration_s": float(d[i]), "kind": "eval"}


def _mmc_scenario(c_nodes: int):
    from colossus.scenario.loader import parse_scenario
    import tomllib

    text = (REPO / "tests" / "sim" / "mmc.toml").read_text().replace("ARRAYS", str(c_nodes))
    return parse_scenario(tomllib.loads(text), source="mmc.toml")


@pytest.mark.parametrize("n_jobs,seeds,tol", [
    pytest.param(4_000, (1,), 0.25, id="fast"),
    pytest.param(50_000, (1, 2, 3, 4), 0.05, id="full", marks=pytest.mark.slow),
])
def test_mmc_fifo_mean_wait_matches_erlang_c(n_jobs: int, seeds: tuple[int, ...], tol: float) -> None:
    """(b) single-GPU exponential jobs under FIFO on c = 8 GPUs at rho 0.8: mean wait within 5%."""
    scn = _mmc_scenario(1)  # one node of 8 GPUs
    c, mu = 8, 1.0 / 100.0
    lam = 0.8 * c * mu
    theory = _erlang_c_wait(c, lam, mu)
    waits = []
    for seed in seeds:
        res = simulate(scn, _mmc_jobs(n_jobs, lam, 100.0, seed), "fifo", seed, 1e12 / 1e3)
        w = res.jobs.column("wait_s").to_numpy()
        waits.append(w[~np.isnan(w)][n_jobs // 20:])  # drop the warm-up
    mean = float(np.concatenate(waits).mean())
    assert abs(mean - theory) / theory < tol, (mean, theory)
