"""The Philly replay example: VC divisions with hard quotas, its division map, short replays.

examples/philly_replay.toml gives each Philly VC a guarantee (its quota) and a borrow limit of 0;
examples/philly_divisions.toml maps the VC hashes of philly.csv onto those divisions.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colossus.scenario import load_scenario
from colossus.sim import simulate
from traces.importers import import_trace, load_division_map

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "examples" / "philly_replay.toml"
DIVISION_MAP = REPO / "examples" / "philly_divisions.toml"
DATA = REPO / ".." / "shared" / "data"

# The 15 VC hashes of philly.csv (shared/reference/traces.md §1), largest first by jobs.
PHILLY_VCS = (
    "6214e9",
    "11cb48",
    "6c71a0",
    "b436b2",
    "103959",
    "ee9e8c",
    "0e4a51",
    "ed69ec",
    "7f04ca",
    "2869ce",
    "e13805",
    "23dbec",
    "51b7ef",
    "795a4c",
    "925e2b",
)


@pytest.fixture(scope="module")
def scn():
    return load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def dmap(scn):
    return load_division_map(DIVISION_MAP, [d.name for d in scn.divisions])


def _quota(scn, name: str) -> int:
    """GPUs the simulator guarantees a division (int(share x online GPUs), as the engine does)."""
    return int(scn.division(name).guaranteed_share * scn.total_gpus)


def _write_fixture(path: Path, n: int, seed: int) -> Path:
    """A philly.csv-shaped file: ``n`` jobs over every VC, with a burst in VC ed69ec at t=0."""
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2017, 10, 2, 8, 0, 0)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "duration", "num_gpus", "gpu_time", "cluster"])
        for i in range(n):
            if i < 80:  # burst: 80 one-GPU jobs of 1 h into a VC with a 56-GPU quota
                vc, g, d, t = "ed69ec", 1, 3600.0, float(i)
            else:
                vc = PHILLY_VCS[i % len(PHILLY_VCS)]
                g = int(rng.choice([1, 1, 1, 2, 4, 8]))
                d = float(np.ceil(rng.exponential(1800.0)))
                t = float(rng.uniform(0, 6 * 3600))
            w.writerow(
                [(t0 + dt.timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S"), d, g, d * g, vc]
            )
    return path


def _concurrent_max(start: np.ndarray, end: np.ndarray, gpus: np.ndarray) -> float:
    """Most GPUs held at once by jobs running over [start, end)."""
    ok = ~np.isnan(start)
    ev = np.concatenate([start[ok], end[ok]])
    step = np.concatenate([gpus[ok], -gpus[ok]]).astype(float)
    order = np.lexsort((step, ev))  # at equal times, releases before starts
    return float(np.cumsum(step[order]).max()) if ev.size else 0.0


def test_example_loads_with_one_division_per_vc(scn) -> None:
    names = [d.name for d in scn.divisions]
    assert len(names) == 12 and "other" in names
    assert set(PHILLY_VCS[:11]) <= set(names)
    assert 2400 <= scn.total_gpus <= 2600  # Philly: 2,490 GPUs
    assert all(d.borrow_limit_share == 0.0 for d in scn.divisions)  # hard per-VC quotas
    quotas = {n: _quota(scn, n) for n in names}
    assert sum(quotas.values()) <= scn.total_gpus
    # Helios node counts 64 : 32 : 16 : 8 keep their ratios
    assert quotas["6214e9"] == 2 * quotas["7f04ca"] == 4 * quotas["11cb48"]
    assert quotas["other"] >= 8  # the largest job of the tiny VCs (8 GPUs) can run


def test_division_map_names_every_vc_explicitly(dmap) -> None:
    for vc in PHILLY_VCS:
        assert vc in dmap.explicit, f"VC {vc} would be hashed, not mapped"
    assert dmap.division_of("some-new-vc") == "other"
    assert {dmap.division_of(vc) for vc in PHILLY_VCS[:11]} == set(PHILLY_VCS[:11])


def test_fixture_vcs_all_land_in_real_divisions(tmp_path: Path, scn, dmap) -> None:
    names = {d.name for d in scn.divisions}
    fixtures = [
        REPO / "tests" / "traces" / "fixtures" / "philly.csv",
        _write_fixture(tmp_path / "p.csv", 200, 1),
    ]
    for f in fixtures:
        table = import_trace("philly", [f], divisions=dmap).table
        with f.open() as fh:
            src = {row["cluster"] for row in csv.DictReader(fh)}
        got = set(table.column("division").to_pylist())
        assert got <= names
        assert got == {dmap.explicit[vc] for vc in src}


def _replay(scn, dmap, tmp_path: Path, policy: str, n: int = 300):
    table = import_trace("philly", [_write_fixture(tmp_path / "p.csv", n, 0)], divisions=dmap).table
    return table, simulate(scn, table.to_batches(max_chunksize=128), policy, 0, 2 * 86400.0)


@pytest.mark.parametrize("policy", ["fifo", "milp"])
def test_vc_at_quota_queues_while_other_vcs_idle(tmp_path: Path, scn, dmap, policy: str) -> None:
    table, res = _replay(scn, dmap, tmp_path, policy)
    jobs = res.jobs
    # failures off, no checkpoint stalls: each job runs exactly its trace duration
    dur = dict(
        zip(table.column("job_id").to_pylist(), table.column("duration_s").to_pylist(), strict=True)
    )
    run = jobs.column("run_s").to_numpy(zero_copy_only=False)
    assert np.array_equal(run, [dur[j] for j in jobs.column("job_id").to_pylist()])
    assert np.all(jobs.column("gpu_s_lost").to_numpy(zero_copy_only=False) == 0.0)
    div = np.asarray(jobs.column("division").to_pylist())
    wait = jobs.column("wait_s").to_numpy(zero_copy_only=False)
    start = jobs.column("first_start_s").to_numpy(zero_copy_only=False)
    end = jobs.column("end_time_s").to_numpy(zero_copy_only=False)
    gpus = jobs.column("num_gpus").to_numpy()
    assert set(jobs.column("state").to_pylist()) == {"completed"}
    vc = div == "ed69ec"
    burst = np.isin(
        jobs.column("job_id").to_numpy(zero_copy_only=False),
        [f"philly-{i:06d}" for i in range(1, 81)],
    )
    q = _quota(scn, "ed69ec")
    assert burst.sum() == 80 > q
    # the VC never holds more than its quota; the burst's jobs beyond it queue ~1 h (one job length)
    assert _concurrent_max(start[vc], end[vc], gpus[vc]) == q
    assert (wait[burst] > 0).sum() >= 80 - q
    assert np.nanmax(wait[burst]) >= 3000.0
    # ... while the rest of the cluster (>2,000 GPUs) stays mostly idle and the other VCs run
    assert _concurrent_max(start, end, gpus) < 0.5 * scn.total_gpus
    for name in {d.name for d in scn.divisions} - {"ed69ec"}:
        m = div == name
        if m.any():
            assert _concurrent_max(start[m], end[m], gpus[m]) <= _quota(scn, name)


def test_borrowing_removes_the_quota_queue(tmp_path: Path, scn, dmap) -> None:
    """Contrast: the same burst with borrowing allowed starts at once, so the queue above is the quota's."""
    divs = tuple(dataclasses.replace(d, borrow_limit_share=0.5) for d in scn.divisions)
    lenient = dataclasses.replace(scn, divisions=divs)
    _, res = _replay(lenient, dmap, tmp_path, "fifo")
    div = np.asarray(res.jobs.column("division").to_pylist())
    wait = res.jobs.column("wait_s").to_numpy(zero_copy_only=False)
    assert np.all(wait[div == "ed69ec"] == 0.0)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    vc=st.sampled_from(["ed69ec", "103959", "2869ce", "other"]),
    size=st.sampled_from([1, 2, 4, 8]),
    extra=st.integers(min_value=1, max_value=12),
)
def test_quota_is_never_exceeded_and_queue_drains(scn, vc: str, size: int, extra: int) -> None:
    """Property: a burst of quota/size + extra jobs holds at most the quota; exactly the overflow waits."""
    q = _quota(scn, vc)
    n = q // size + extra
    jobs = [
        {
            "job_id": f"b{i}",
            "submit_time_s": 0.0,
            "division": vc,
            "num_gpus": size,
            "duration_s": 1000.0,
            "kind": "train",
        }
        for i in range(n)
    ]
    res = simulate(scn, jobs, "fifo", 0, 86400.0)
    start = res.jobs.column("first_start_s").to_numpy(zero_copy_only=False)
    end = res.jobs.column("end_time_s").to_numpy(zero_copy_only=False)
    wait = res.jobs.column("wait_s").to_numpy(zero_copy_only=False)
    assert set(res.jobs.column("state").to_pylist()) == {"completed"}
    assert _concurrent_max(start, end, np.full(n, size)) <= q
    assert (wait > 0).sum() == n - q // size
    # waits come in whole job lengths (FIFO, identical jobs): the k-th wave starts at k x 1000 s
    assert np.allclose(np.sort(wait)[-1], 1000.0 * np.ceil(n / (q // size) - 1), atol=61.0)


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from colossus.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_cli_import_with_division_map_then_simulate(tmp_path: Path) -> None:
    src = _write_fixture(tmp_path / "philly.csv", 200, 2)
    out = tmp_path / "philly.parquet"
    r = _cli(
        [
            "trace",
            "import",
            "philly",
            str(src),
            "--scenario",
            str(SCENARIO),
            "--division-map",
            str(DIVISION_MAP),
            "-o",
            str(out),
            "--quiet",
        ]
    )
    assert r.returncode == 0, r.stderr
    r = _cli(
        [
            "simulate",
            str(SCENARIO),
            "--trace",
            str(out),
            "--policy",
            "fifo",
            "--days",
            "1",
            "--json",
            "--quiet",
        ]
    )
    assert r.returncode == 0, r.stderr
    import json

    summary = json.loads(r.stdout)
    assert summary["jobs"]["total"] == 200
    assert summary["divisions"]["ed69ec"]["wait_p95_s"] > 0


def test_every_philly_csv_vc_maps_to_a_division(dmap) -> None:
    path = DATA / "traces" / "philly" / "philly.csv"
    if not path.exists():
        pytest.skip("../shared/data/traces/philly/philly.csv absent")
    import pyarrow as pa
    import pyarrow.csv as pcsv

    col = pcsv.read_csv(
        path,
        convert_options=pcsv.ConvertOptions(
            include_columns=["cluster"], column_types={"cluster": pa.string()}
        ),
    )
    vcs = set(col.column("cluster").to_pylist())
    assert len(vcs) == 15
    missing = sorted(v for v in vcs if v not in dmap.explicit)
    assert not missing, f"VCs not named in {DIVISION_MAP.name}: {missing}"
