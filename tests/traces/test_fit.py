"""``colossus trace fit``: the fitted [workload] section makes ``trace generate`` reproduce a trace.

Goals (issue #14): arrival rate per hour of week within 10 %, job-size total-variation distance
<= 0.05, run-time p10 / p50 / p90 within 15 % per size class. The generated trace is 20-30x
longer than the fitted one so that its own sampling noise stays well inside the goals (at 10x,
1 of 5 seeds missed by a little on ITP: the 2-GPU p90 sits in a sparse tail, and one Friday-hour
bucket holds only 88 jobs); size classes with fewer than 1,000 jobs in the source are reported
but not held to the run-time goal (their quantile functions have too few points).
"""

from __future__ import annotations

import json
import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from colossus.cli import cli
from colossus.errors import InputError
from colossus.scenario import load_scenario
from colossus.scenario.loader import parse_scenario
from colossus.scenario.workload import WorkloadSection, to_workload_params
from traces.empirical import FittedRunTime, hour_of_week, mean_run_time_s
from traces.fit import compare_traces, fit_workload, read_sample
from traces.generator import DivisionLoad, expected_statistics, generate_table
from traces.reader import iter_batches, read_metadata

RATE_GOAL, TV_GOAL, RUN_GOAL, CLASS_MIN = 0.10, 0.05, 0.15, 1000


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _sample(path: Path):
    return read_sample(iter_batches(path), read_metadata(path).start)


def _fit_generate_compare(trace: Path, tmp: Path, days: float, seed: int = 3) -> dict:
    toml = tmp / "fitted.toml"
    r = run("trace", "fit", trace, "-o", toml, "--json")
    assert r.exit_code == 0, r.output
    gen = tmp / "gen.parquet"
    r = run("trace", "generate", toml, "--days", days, "--no-hero", "-o", gen, "--seed", seed, "--quiet")
    assert r.exit_code == 0, r.output
    return compare_traces(_sample(trace), _sample(gen), min_class_jobs=1, min_division_jobs=CLASS_MIN)


def _assert_goals(c: dict) -> None:
    assert c["arrival_rate_max_rel_error"] <= RATE_GOAL, c["arrival_rate_max_rel_error"]
    assert c["size_tv_distance"] <= TV_GOAL
    assert c["size_tv_distance_by_division"]  # each division keeps its own size mix
    assert max(c["size_tv_distance_by_division"].values()) <= TV_GOAL, c["size_tv_distance_by_division"]
    held = {k: v for k, v in c["run_time"].items() if v["jobs_reference"] >= CLASS_MIN}
    assert held
    for name, v in held.items():
        assert v["max_rel_error"] <= RUN_GOAL, (name, v)


# -- our own fixture: a synthetic trace with a weekly cycle, several kinds and power-law sizes ----

OWN_START = datetime(2025, 3, 5, 9, tzinfo=UTC)  # a Wednesday, 09:00: not aligned to the week
OWN_DIVS = (
    DivisionLoad(name="Grok Main/Voice", gpu_time_share=0.5),
    DivisionLoad(name="Coding", gpu_time_share=0.3),
    DivisionLoad(name="Data", gpu_time_share=0.2),
)


@pytest.fixture(scope="module")
def own_trace(tmp_path_factory) -> Path:
    import dataclasses

    from traces.writer import write_trace

    params = dataclasses.replace(to_workload_params(WorkloadSection()), offered_load_gpus=600.0)
    table = generate_table(params, OWN_DIVS, days=56, seed=11, start=OWN_START)
    path = tmp_path_factory.mktemp("own") / "own.parquet"
    write_trace(path, table, start=OWN_START, source="own fixture")
    return path


def test_own_fixture_reproduced(own_trace: Path, tmp_path: Path) -> None:
    c = _fit_generate_compare(own_trace, tmp_path, days=1120)
    _assert_goals(c)


def test_fit_recovers_the_generator_truth(own_trace: Path) -> None:
    """Theory check: the generator's rate is r * w(day) * (1 + A cos(2 pi (t - peak) / day))."""
    fitted = fit_workload(_sample(own_trace))
    total = sum(a.jobs_per_day for a in fitted.arrivals)
    n = _sample(own_trace).submit_s.size
    assert total == pytest.approx(n / 56, rel=0.02)
    prof = sum(np.asarray(a.hour_of_week) * a.jobs_per_day for a in fitted.arrivals) / total
    params = to_workload_params(WorkloadSection())
    hours = np.arange(168) + 0.5
    # the generator counts its days from the trace start (09:00 here), the fit in UTC hours of week
    since_start = (hours - hour_of_week(OWN_START, np.array([0.0]))[0]) % 168
    weekday = (OWN_START.weekday() + since_start // 24) % 7
    w = np.where(weekday >= 5, params.weekend_factor, 1.0)
    w = w * 7 / (5 + 2 * params.weekend_factor)
    cyc = 1 + params.diurnal_amplitude * np.cos(2 * math.pi * ((hours % 24) - params.peak_hour) / 24)
    truth = w * cyc
    # 8 weeks of ~700 jobs/day: ~230 jobs per hour bucket (sd ~7 %)
    assert np.abs(prof / truth - 1).max() < 0.25
    assert np.abs(prof / truth - 1).mean() < 0.06
    assert np.corrcoef(prof, truth)[0, 1] > 0.98
    kinds = fitted.kind_shares()
    assert set(kinds) == {"pretrain", "finetune", "eval", "other", "data", "inference"}
    assert kinds["eval"] == pytest.approx(0.55, abs=0.02)  # the default eval job_share


def test_fitted_section_round_trip_and_determinism(own_trace: Path, tmp_path: Path) -> None:
    toml = tmp_path / "f.toml"
    assert run("trace", "fit", own_trace, "-o", toml, "--quiet").exit_code == 0
    scn = load_scenario(toml)
    assert scn.workload.fitted is not None
    again = fit_workload(_sample(own_trace), source="own.parquet")
    assert scn.workload.fitted.to_fitted().sizes_gpus == again.sizes_gpus
    assert scn.workload.offered_load_gpus == pytest.approx(again.offered_load_gpus, rel=1e-9)
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for out in (a, b):
        assert run("trace", "generate", toml, "--days", 3, "-o", out, "--seed", 5).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    other = tmp_path / "c.parquet"
    run("trace", "generate", toml, "--days", 3, "-o", other, "--seed", 6, "--quiet")
    assert other.read_bytes() != a.read_bytes()
    hero = read_sample(iter_batches(a), read_metadata(a).start)
    assert hero.submit_s.size > 100  # the hero run (no duration) is in the file but not fitted


def test_fitted_load_scales_with_offered_load(own_trace: Path) -> None:
    import dataclasses

    fitted = fit_workload(_sample(own_trace))
    base = dataclasses.replace(to_workload_params(WorkloadSection()), fitted=fitted,
                               offered_load_gpus=fitted.offered_load_gpus)
    double = dataclasses.replace(base, offered_load_gpus=2 * fitted.offered_load_gpus)
    n1 = generate_table(base, OWN_DIVS, days=14, seed=1).num_rows
    n2 = generate_table(double, OWN_DIVS, days=14, seed=1).num_rows
    assert n2 / n1 == pytest.approx(2.0, rel=0.05)
    expected = expected_statistics(base, OWN_DIVS)
    assert n1 == pytest.approx(14 * expected["jobs_per_day"], rel=0.03)  # ~10k jobs: sd 1 %
    assert expected_statistics(double, OWN_DIVS)["jobs_per_day"] == pytest.approx(2 * expected["jobs_per_day"])
    assert sum(expected["gpu_time_share_by_division"].values()) == pytest.approx(1.0)


def test_bad_fitted_sections_name_the_key(own_trace: Path, tmp_path: Path) -> None:
    toml = tmp_path / "f.toml"
    run("trace", "fit", own_trace, "-o", toml, "--quiet")
    data = tomllib.loads(toml.read_text())
    bad = json.loads(json.dumps(data, default=str))
    bad["workload"]["fitted"]["arrivals"]["Sales"] = bad["workload"]["fitted"]["arrivals"]["Coding"]
    with pytest.raises(InputError, match=r"workload.fitted.arrivals.Sales: unknown division"):
        parse_scenario(data | {"workload": bad["workload"]}, source="x.toml")
    short = json.loads(json.dumps(data, default=str))
    short["workload"]["fitted"]["arrivals"]["Coding"]["hour_of_week"] = [1.0] * 100
    with pytest.raises(InputError, match=r"workload.fitted.arrivals.Coding.hour_of_week"):
        parse_scenario(data | {"workload": short["workload"]}, source="x.toml")
    r = run("trace", "fit", tmp_path / "nope.parquet", "-o", tmp_path / "o.toml")
    assert r.exit_code == 2 and not (tmp_path / "o.toml").exists()


@settings(max_examples=30, deadline=None)
@given(
    q=st.tuples(st.floats(-1, 8), st.lists(st.floats(0.001, 0.3), min_size=100, max_size=100)).map(
        lambda t: np.exp(t[0] + np.concatenate([[0.0], np.cumsum(t[1])])).tolist()
    ),
    seed=st.integers(0, 2**31),
)
def test_run_time_sampler_matches_its_quantiles(q: list[float], seed: int) -> None:
    """Inverse-transform sampling: the sample's p10/p50/p90 converge on the stored quantiles,
    and its mean on the closed-form mean of the log-linear quantile function."""
    from traces.empirical import _sample_run_times

    rng = np.random.default_rng(seed)
    x = _sample_run_times(rng, q, 40_000)
    assert (x >= q[0] * (1 - 1e-9)).all() and (x <= q[-1] * (1 + 1e-9)).all()
    # the empirical CDF at each stored quantile is within sampling noise of its probability
    for p in (10, 50, 90):
        assert abs((x <= q[p] * (1 + 1e-12)).mean() - p / 100) < 0.015
    assert x.mean() == pytest.approx(mean_run_time_s(q), rel=0.05)
    FittedRunTime(max_gpus=1, quantiles_s=tuple(q), kinds={"train": 1.0})


def test_hour_of_week_origin() -> None:
    monday = datetime(2025, 1, 6, tzinfo=UTC)
    assert hour_of_week(monday, np.array([0.0, 3599.0, 3600.0, 7 * 86400.0 - 1])).tolist() == [0, 0, 1, 167]
    assert hour_of_week(datetime(2025, 1, 8, 9, tzinfo=UTC), np.array([0.0])).tolist() == [57]


# -- the real traces (shared/data/traces), skipped when absent ------------------------------------


@pytest.mark.parametrize(
    ("fmt", "files", "days"),
    [("itp", "microsoft_itp/cluster*.csv", 1800), ("philly", "philly/philly.csv", 3300)],
)
def test_real_traces_reproduced(traces_data: Path, tmp_path: Path, fmt: str, files: str, days: int) -> None:
    src = sorted(traces_data.glob(files))
    if not src:
        pytest.skip(f"{files} not here")
    trace = tmp_path / f"{fmt}.parquet"
    assert run("trace", "import", fmt, *src, "-o", trace, "--quiet").exit_code == 0
    c = _fit_generate_compare(trace, tmp_path, days=days)
    _assert_goals(c)


@settings(max_examples=40, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(
            st.floats(0, 30 * 86400.0),  # submit s
            st.sampled_from(["Coding", "Data", "Macrohard"]),
            st.sampled_from([1, 2, 3, 8, 16, 48, 100, 512]),
            st.floats(1.0, 1e6),  # duration s
            st.sampled_from(["train", "eval", "finetune"]),
        ),
        min_size=1,
        max_size=300,
    )
)
def test_fit_invariants(jobs: list[tuple[float, str, int, float, str]]) -> None:
    """Any trace: sizes are the ones seen with shares summing to 1; each profile has mean 1; the
    fitted rates give back the trace's jobs per exposed hour; every size has a run-time class whose
    quantiles span the class's durations; kinds are the ones seen."""
    from traces.fit import TraceSample, _exposure_h

    jobs = sorted(jobs)
    s = TraceSample(
        start=datetime(2025, 1, 8, 9, tzinfo=UTC),
        submit_s=np.array([j[0] for j in jobs]),
        division=np.array([j[1] for j in jobs], dtype=object),
        gpus=np.array([j[2] for j in jobs]),
        duration_s=np.array([j[3] for j in jobs]),
        kind=np.array([j[4] for j in jobs], dtype=object),
    )
    f = fit_workload(s)
    assert set(f.sizes_gpus) == set(s.gpus.tolist())
    assert sum(f.sizes_share) == pytest.approx(1.0)
    exposure = _exposure_h(s)
    seen = exposure >= 1.0
    for a in f.arrivals:
        prof = np.asarray(a.hour_of_week)
        assert prof.mean() == pytest.approx(1.0, rel=1e-5)
        rate = prof * a.jobs_per_day / 24.0
        n = int((s.division == a.division).sum())
        how = hour_of_week(s.start, s.submit_s[s.division == a.division])
        assert float((rate * exposure)[seen].sum()) == pytest.approx(n - (~seen[how]).sum(), rel=1e-4, abs=1e-3)
    assert {a.division for a in f.arrivals} == set(s.division.tolist())
    cls = f.class_of(s.gpus)
    for c, rt in enumerate(f.run_time):
        d = s.duration_s[cls == c]
        assert d.size == rt.jobs > 0
        assert rt.quantiles_s[0] == pytest.approx(d.min(), rel=1e-3)
        assert rt.quantiles_s[-1] == pytest.approx(d.max(), rel=1e-3)
        assert set(rt.kinds) == set(s.kind[cls == c].tolist())
    assert f.offered_load_gpus > 0 and math.isfinite(f.offered_load_gpus)
