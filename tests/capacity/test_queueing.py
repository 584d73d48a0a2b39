"""The queueing estimate behind SLO-driven sizing (issue 12 item 3), against theory."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.queueing import (
    JobStats,
    clipped_lognormal_moment,
    division_job_stats,
    erlang_c,
    required_gpus,
    wait_quantile_s,
)


def _erlang_c_direct(c: int, a: float) -> float:
    """Textbook closed form: (a^c / c!) (c / (c - a)) / (sum_{k<c} a^k / k! + (a^c / c!) (c / (c - a)))."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize(("c", "a"), [(1, 0.5), (2, 1.2), (10, 7.0), (30, 29.0), (50, 20.0)])
def test_erlang_c_matches_the_closed_form(c, a):
    assert erlang_c(c, a) == pytest.approx(_erlang_c_direct(c, a), rel=1e-10)


def test_erlang_c_known_values():
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    rho = 0.6
    assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho**2 / (1 + rho))  # M/M/2
    assert erlang_c(4, 4.0) == 1.0 and erlang_c(4, 0.0) == 0.0


def test_mm1_wait_quantile_is_the_exponential_tail():
    """M/M/1: P(W > t) = rho exp(-(mu - lambda) t), so t_95 = ln(rho / 0.05) / (mu - lambda)."""
    mean_s, rho = 100.0, 0.8
    t = wait_quantile_s(1, rho, mean_s, q=0.95, run_scv=1.0)
    assert t == pytest.approx(math.log(rho / 0.05) / ((1 - rho) / mean_s))
    assert wait_quantile_s(1, 0.04, mean_s) == 0.0  # P(wait) below 5%: the 95th percentile waits nothing
    assert math.isinf(wait_quantile_s(3, 3.0, mean_s))


def test_mmc_wait_quantile_matches_a_fcfs_simulation():
    """A FCFS M/M/4 queue at rho 0.75 (400k jobs, fixed seed): P(wait) and the p95 wait within 5% of Erlang C."""
    rng = np.random.Generator(np.random.PCG64(0))
    c, mean_s, a, n = 4, 10.0, 3.0, 400_000
    arr = np.cumsum(rng.exponential(mean_s / a, n))
    run = rng.exponential(mean_s, n)
    free = [0.0] * c
    waits = np.empty(n)
    for i in range(n):
        t0 = heapq.heappop(free)
        start = max(t0, arr[i])
        waits[i] = start - arr[i]
        heapq.heappush(free, start + run[i])
    sim = float(np.percentile(waits[n // 10:], 95))
    assert float((waits[n // 10:] > 0).mean()) == pytest.approx(erlang_c(c, a), rel=0.05)
    assert sim == pytest.approx(wait_quantile_s(c, a, mean_s, run_scv=1.0), rel=0.05)


STATS = JobStats(mean_run_s=1800.0, run_scv=4.0, slot_gpus=40.0, max_gpus=512, work_scv=50.0)


@settings(max_examples=60, deadline=None)
@given(load=st.floats(10.0, 50_000.0), slo=st.floats(60.0, 20_000.0))
def test_required_gpus_is_the_smallest_capacity_that_meets_the_slo(load, slo):
    req = required_gpus(load, STATS, slo)
    assert req >= load and req >= STATS.max_gpus
    c = round(req / STATS.slot_gpus)
    a = load / STATS.slot_gpus
    if req > max(STATS.max_gpus, load) + 1e-6:  # the queueing bound decides: c meets it, c - 1 does not
        assert wait_quantile_s(c, a, STATS.mean_run_s, run_scv=STATS.work_scv) <= slo * (1 + 1e-9)
        assert wait_quantile_s(c - 1, a, STATS.mean_run_s, run_scv=STATS.work_scv) > slo
    assert required_gpus(load * 1.5, STATS, slo) >= req - 1e-6  # more load never needs less
    assert required_gpus(load, STATS, slo * 2) <= req + 1e-6  # a looser SLO never needs more


def test_clipped_lognormal_moments_match_sampling():
    rng = np.random.Generator(np.random.PCG64(3))
    median, sigma, lo, hi = 600.0, 1.5, 30.0, 86400.0
    x = np.clip(median * np.exp(sigma * rng.standard_normal(2_000_000)), lo, hi)
    assert clipped_lognormal_moment(median, sigma, lo, hi, 1) == pytest.approx(x.mean(), rel=0.01)
    assert clipped_lognormal_moment(median, sigma, lo, hi, 2) == pytest.approx((x**2).mean(), rel=0.03)


def test_division_job_stats_match_the_generator(small):
    """The closed-form moments agree with jobs the scenario's generator draws (one day, fixed seed)."""
    import pyarrow as pa

    from colossus.sim.workload import workload_batches

    stats = division_job_stats(small)
    tab = pa.Table.from_batches(list(workload_batches(small, 2.0, 5, offered_load_gpus=20_000.0)))
    div = np.asarray(tab.column("division").to_pylist())
    g = tab.column("num_gpus").to_numpy().astype(float)
    s = tab.column("duration_s").to_numpy()
    for d, st_ in stats.items():
        sel = div == d
        assert sel.sum() > 500
        assert float((g[sel] * s[sel]).sum() / s[sel].sum()) == pytest.approx(st_.slot_gpus, rel=0.35), d
        assert st_.max_gpus >= g[sel].max()
