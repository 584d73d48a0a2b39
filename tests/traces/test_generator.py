"""Synthetic workload: valid, reproducible, and its statistics match the configured targets."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossus.scenario.workload import WorkloadSection, division_loads, to_workload_params
from traces.generator import (
    DAY_S,
    DivisionLoad,
    HeroJob,
    KindProfile,
    WorkloadParams,
    expected_statistics,
    generate_batches,
    generate_table,
)
from traces.reader import read_table
from traces.writer import write_trace

START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
DIVS = (
    DivisionLoad(name="Grok Main/Voice", gpu_time_share=0.4),
    DivisionLoad(name="Coding", gpu_time_share=0.25),
    DivisionLoad(name="Data", gpu_time_share=0.15, kind_weights={"data": 10.0}),
    DivisionLoad(name="Macrohard", gpu_time_share=0.2),
)
PARAMS = to_workload_params(WorkloadSection())


@pytest.fixture(scope="module")
def sample() -> pa.Table:
    """Four weeks of the default workload (about 340k jobs)."""
    return generate_table(PARAMS, DIVS, days=28, seed=11, start=START)


def test_same_seed_same_bytes_other_seed_other_rows(tmp_path: Path) -> None:
    kw = dict(
        days=2,
        hero=HeroJob(
            division="Coding", num_gpus=4096, work_tokens=1e12, model="grok-3", submit_time_s=3600.0
        ),
    )
    paths = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        p = tmp_path / f"{name}.parquet"
        write_trace(
            p,
            generate_batches(PARAMS, DIVS, seed=seed, start=START, **kw),
            start=START,
            source=f"seed={seed}",
        )
        paths.append(p)
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b
    assert a != c


def test_seed_is_required() -> None:
    with pytest.raises(ValueError, match="seed"):
        next(generate_batches(PARAMS, DIVS, days=1))


def test_rows_are_valid_sorted_and_placeable(tmp_path: Path, sample: pa.Table) -> None:
    path = tmp_path / "s.parquet"
    write_trace(path, sample, start=START, source="test", divisions=[d.name for d in DIVS])
    back = read_table(path)
    assert back.num_rows == sample.num_rows
    g = back.column("num_gpus").to_numpy()
    assert ((g & (g - 1)) == 0).all()  # powers of two: in-node shapes and 2^k whole nodes
    assert back.column("work_tokens").null_count == back.num_rows
    assert back.column("duration_s").null_count == 0
    mg = back.column("min_gpus")
    elastic = pc.is_valid(mg).to_numpy(zero_copy_only=False)
    assert elastic.any()
    assert set(pc.unique(back.column("kind").filter(pa.array(elastic))).to_pylist()) == {"data"}


def test_job_rate_and_kind_mix_match_targets(sample: pa.Table) -> None:
    exp = expected_statistics(PARAMS, DIVS)
    n = sample.num_rows
    mean = exp["jobs_per_day"] * 28
    assert abs(n - mean) < 5 * math.sqrt(mean) + 0.002 * mean
    kinds = sample.column("kind").to_numpy(zero_copy_only=False)
    for kind, share in exp["job_share_by_kind"].items():
        got = float(np.mean(kinds == kind))
        assert got == pytest.approx(share, abs=5 * math.sqrt(share * (1 - share) / n) + 1e-4), kind


def test_gpu_time_shares_by_division_and_kind(sample: pa.Table) -> None:
    exp = expected_statistics(PARAMS, DIVS)
    gs = sample.column("num_gpus").to_numpy() * sample.column("duration_s").to_numpy()
    total = gs.sum()
    divs = sample.column("division").to_numpy(zero_copy_only=False)
    for name, share in exp["gpu_time_share_by_division"].items():
        assert gs[divs == name].sum() / total == pytest.approx(share, abs=0.05), name
    kinds = sample.column("kind").to_numpy(zero_copy_only=False)
    pre = gs[kinds == "pretrain"].sum() / total
    assert pre == pytest.approx(exp["gpu_time_share_by_kind"]["pretrain"], abs=0.06)
    # Acme (traces.md §7): pretraining ~1% of jobs holds most GPU time; eval is most jobs, <1% of it.
    assert float(np.mean(kinds == "pretrain")) < 0.02 and pre > 0.55
    assert float(np.mean(kinds == "eval")) > 0.4 and gs[kinds == "eval"].sum() / total < 0.02


def test_duration_medians_and_clipping(sample: pa.Table) -> None:
    kinds = sample.column("kind").to_numpy(zero_copy_only=False)
    d = sample.column("duration_s").to_numpy()
    for prof in PARAMS.kinds:
        sel = d[kinds == prof.kind]
        assert sel.min() >= prof.duration_min_s and sel.max() <= prof.duration_max_s
        if sel.size > 2000:
            assert np.median(sel) == pytest.approx(prof.duration_median_s, rel=0.08), prof.kind


def test_diurnal_and_weekly_pattern(sample: pa.Table) -> None:
    t = sample.column("submit_time_s").to_numpy()
    hours = ((t % DAY_S) // 3600).astype(int)
    counts = np.bincount(hours, minlength=24)
    amp, peak = PARAMS.diurnal_amplitude, PARAMS.peak_hour
    centre = np.arange(24) + 0.5
    shape = 1 + amp * np.cos(2 * np.pi * (centre - peak) / 24)
    expected = counts.sum() * shape / shape.sum()
    assert np.max(np.abs(counts - expected) / expected) < 0.05
    day = (t // DAY_S).astype(int) % 7  # START is a Monday: days 5 and 6 are the weekend
    per_day = np.bincount(day, minlength=7) / 4
    assert per_day[5:].mean() / per_day[:5].mean() == pytest.approx(PARAMS.weekend_factor, rel=0.05)


def test_hero_is_one_token_sized_pretrain_job() -> None:
    hero = HeroJob(
        job_id="grok-3",
        division="Grok Main/Voice",
        num_gpus=90112,
        work_tokens=1.3e14,
        model="grok-3",
        submit_time_s=40_000.0,
    )
    t = generate_table(PARAMS, DIVS, days=1, seed=3, hero=hero, start=START)
    rows = t.filter(pc.equal(t.column("job_id"), "grok-3")).to_pylist()
    assert len(rows) == 1
    r = rows[0]
    assert (
        r["kind"],
        r["num_gpus"],
        r["work_tokens"],
        r["model"],
        r["duration_s"],
        r["preemptible"],
    ) == ("pretrain", 90112, 1.3e14, "grok-3", None, False)
    times = t.column("submit_time_s").to_numpy()
    assert (np.diff(times) >= 0).all()


def test_scenario_defaults_reproduce_acme_figures() -> None:
    """The documented defaults: Acme Seren pretrain 69.5 % of GPU time, median run ~2 min."""
    exp = expected_statistics(PARAMS, [DivisionLoad(name="all", gpu_time_share=1.0)])
    assert exp["job_share_by_kind"]["pretrain"] == pytest.approx(0.009)
    assert exp["gpu_time_share_by_kind"]["pretrain"] == pytest.approx(0.695, abs=0.02)
    assert exp["gpu_time_share_by_kind"]["eval"] < 0.01


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    days=st.floats(0.01, 2.0),
    amp=st.floats(0, 0.95),
    load=st.floats(1.0, 500.0),
)
def test_any_parameters_give_a_valid_trace(
    tmp_path_factory: pytest.TempPathFactory, seed: int, days: float, amp: float, load: float
) -> None:
    params = WorkloadParams(
        offered_load_gpus=load,
        diurnal_amplitude=amp,
        kinds=(
            KindProfile(
                kind="eval",
                job_share=1.0,
                gpus_min=1,
                gpus_max=8,
                gpus_alpha=1.0,
                duration_median_s=60.0,
                duration_sigma=2.0,
                duration_max_s=3600.0,
            ),
            KindProfile(
                kind="pretrain",
                job_share=0.1,
                gpus_min=3,
                gpus_max=100,
                gpus_alpha=0.5,
                duration_median_s=3600.0,
                duration_sigma=0.0,
                duration_max_s=7200.0,
                elastic_share=1.0,
            ),
        ),
    )
    divs = (DivisionLoad(name="x", gpu_time_share=1.0), DivisionLoad(name="y", gpu_time_share=0.0))
    path = tmp_path_factory.mktemp("g") / "g.parquet"
    n = write_trace(
        path,
        generate_batches(params, divs, days=days, seed=seed),
        start=START,
        source="h",
        divisions=["x", "y"],
    )
    t = read_table(path)
    assert t.num_rows == n
    if n:
        assert t.column("submit_time_s").to_numpy().max() < days * DAY_S
        assert set(t.column("division").to_pylist()) == {"x"}


def test_division_loads_reject_unknown_division_weights() -> None:
    section = WorkloadSection(division_kind_weights={"Nobody": {"eval": 2.0}})

    class D:
        name, load_share = "Coding", 1.0

    with pytest.raises(ValueError, match="Nobody"):
        division_loads(section, [D()])


def test_workload_section_is_strict_and_documented() -> None:
    fields = WorkloadSection.model_fields
    assert all(f.description for f in fields.values())
    with pytest.raises(ValueError):
        WorkloadSection(offered_load_gpus=1.0, unknown_key=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown job kind"):
        WorkloadSection(kinds={"sleep": WorkloadSection().kinds["eval"]})
    assert (
        to_workload_params(WorkloadSection()).offered_load_gpus
        == fields["offered_load_gpus"].default
    )


def test_rng_instead_of_seed_is_reproducible() -> None:
    a = generate_table(PARAMS, DIVS, days=0.5, rng=np.random.default_rng(9), start=START)
    b = generate_table(PARAMS, DIVS, days=0.5, rng=np.random.default_rng(9), start=START)
    assert a.num_rows > 0 and a.equals(b)
    with pytest.raises(ValueError, match="exactly one"):
        generate_table(PARAMS, DIVS, days=0.5, seed=1, rng=np.random.default_rng(9))
