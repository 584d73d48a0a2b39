"""Importers: each on a small fixture in its source's own format, and on the real files when present."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from traces.errors import TraceError
from traces.importers import IMPORTERS, DivisionMap, hash_division, import_trace, load_division_map
from traces.stats import summarize

DIVS = ("Grok Main/Voice", "Coding", "Data", "Macrohard")
DM = DivisionMap(divisions=DIVS)


def _rows(result, *cols):
    return [tuple(r[c] for c in cols) for r in result.table.to_pylist()]


def test_itp(fixtures: Path) -> None:
    r = import_trace("itp", sorted((fixtures / "itp").glob("*.csv")), divisions=DM)
    assert _rows(r, "submit_time_s", "num_gpus", "duration_s") == [
        (0.0, 2, 1800.0),
        (350.0, 1, 120.0),
        (950.0, 8, 3600.0),
        (2450.0, 16, 7200.0),
        (2450.0, 1, 60.0),
        (2950.0, 4, 900.0),
    ]
    assert r.table.column("job_id")[0].as_py() == "cluster02/b1b2c3d4-0000-0000-0000-000000000001"
    assert r.start.isoformat() == "2021-03-04T00:00:50+00:00"
    divs = dict(
        zip(
            r.table.column("job_id").to_pylist(),
            r.table.column("division").to_pylist(),
            strict=True,
        )
    )
    assert {d for j, d in divs.items() if j.startswith("cluster01")} == {
        hash_division("cluster01", DIVS)
    }


def test_philly_csv(fixtures: Path) -> None:
    r = import_trace("philly", [fixtures / "philly.csv"], divisions=DM)
    assert _rows(r, "job_id", "submit_time_s", "num_gpus", "duration_s") == [
        ("philly-000002", 0.0, 1, 2951.0),
        ("philly-000001", 2932.0, 1, 66.0),
        ("philly-000003", 6417.0, 8, 1000.0),
        ("philly-000004", 64017.0, 2, 500.0),
    ]
    assert r.start.isoformat() == "2017-10-09T06:13:03+00:00"


def test_philly_json(fixtures: Path) -> None:
    r = import_trace("philly-json", [fixtures / "philly_cluster_job_log.json"], divisions=DM)
    assert _rows(
        r, "job_id", "submit_time_s", "num_gpus", "duration_s", "user", "source_status"
    ) == [
        ("application_2", 0.0, 1, 900.0, "u2", "failed"),
        ("application_1", 3600.0, 8, 3600.0, "u1", "completed"),
    ]
    assert r.dropped == {"no attempt (never ran)": 1, "still running": 1}


def test_helios(fixtures: Path) -> None:
    r = import_trace("helios", [fixtures / "helios_cluster_log.csv"], divisions=DM)
    assert _rows(r, "job_id", "submit_time_s", "num_gpus", "duration_s", "source_status") == [
        ("3", 0.0, 1, 600.0, "cancelled"),
        ("1", 5.0, 8, 3600.0, "completed"),
        ("4", 115.0, 16, 7200.0, "failed"),
    ]
    assert r.dropped == {"running or pending at trace end": 1, "no GPU (CPU-only job)": 1}


def test_pai_tables_in_any_order(fixtures: Path) -> None:
    a = import_trace(
        "pai", [fixtures / "pai_job_table.csv", fixtures / "pai_task_table.csv"], divisions=DM
    )
    b = import_trace(
        "pai", [fixtures / "pai_task_table.csv", fixtures / "pai_job_table.csv"], divisions=DM
    )
    assert a.table.equals(b.table)
    # job_a: 2 workers x 100 % + 1 ps x 50 % = 2.5 GPUs -> 3; runs from its first task start (1050).
    assert _rows(
        a, "job_id", "submit_time_s", "num_gpus", "duration_s", "user", "source_status"
    ) == [
        ("job_b", 0.0, 1, 950.0, "user2", "failed"),
        ("job_a", 100.0, 3, 3950.0, "user1", "completed"),
    ]
    assert a.dropped == {"running or waiting at trace end": 1, "no GPU (CPU-only job)": 1}


def test_openb(fixtures: Path) -> None:
    r = import_trace("openb", [fixtures / "openb_pod_list_small.csv"], divisions=DM)
    assert _rows(
        r, "job_id", "num_gpus", "duration_s", "kind", "priority", "preemptible", "source_status"
    ) == [
        ("openb-pod-0000", 1, 12537496.0, "inference", 3, False, "unfinished"),
        ("openb-pod-0001", 1, 1998.0, "data", 0, True, "completed"),
        ("openb-pod-0003", 8, 9900.0, "other", 1, False, "failed"),
    ]
    assert r.dropped == {"pending (never scheduled)": 1, "no GPU (CPU-only job)": 1}


def test_acme_kinds_and_time_zones(fixtures: Path) -> None:
    r = import_trace("acme", [fixtures / "acme_trace_seren.csv"], divisions=DM)
    assert _rows(r, "job_id", "submit_time_s", "kind", "source_status") == [
        ("dlc3", 0.0, "finetune", "failed"),
        ("dlc1", 60.0, "pretrain", "cancelled"),
        ("dlc2", 660.0, "eval", "completed"),
        ("dlc5", 5460.0, "other", "failed"),
        ("dlc6", 7260.0, "train", "completed"),
    ]
    assert r.start.isoformat() == "2023-02-28T23:59:00+00:00"  # 07:59 at +08:00


def test_division_map_file(fixtures: Path, tmp_path: Path) -> None:
    dm = load_division_map(fixtures / "division_map.csv", DIVS)
    r = import_trace("itp", sorted((fixtures / "itp").glob("*.csv")), divisions=dm)
    got = {
        j.split("/")[0]: d
        for j, d in zip(
            r.table.column("job_id").to_pylist(),
            r.table.column("division").to_pylist(),
            strict=True,
        )
    }
    assert got == {"cluster01": "Coding", "cluster02": "Data"}
    (tmp_path / "m.json").write_text('{"*": "Data"}')
    assert load_division_map(tmp_path / "m.json", DIVS).division_of("anything") == "Data"
    (tmp_path / "bad.csv").write_text("key,division\nvc1,Sales\n")
    with pytest.raises(TraceError, match=r"bad.csv: key 'vc1': unknown division 'Sales'"):
        load_division_map(tmp_path / "bad.csv", DIVS)


def test_default_division_hash_is_stable() -> None:
    assert [hash_division(k, DIVS) for k in ("cluster01", "6214e9", "")] == [
        hash_division(k, DIVS) for k in ("cluster01", "6214e9", "")
    ]
    keys = [f"vc{i}" for i in range(400)]
    assert set(hash_division(k, DIVS) for k in keys) == set(DIVS)


# -- bad input -------------------------------------------------------------------------------


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("fmt", "text", "match"),
    [
        (
            "itp",
            "job_id,submission_time,duration\n1,2,3\n",
            r"missing column 'num_gpu' for format 'itp'",
        ),
        (
            "itp",
            "job_id,submission_time,duration,num_gpu\na,1,10,1\nb,x,10,1\n",
            r"line 3: column 'submission_time': not a number: 'x'",
        ),
        (
            "itp",
            "job_id,submission_time,duration,num_gpu\na,1,10,1\nb,2,10,0\n",
            r"line 3: column 'num_gpu': must be >= 1",
        ),
        (
            "itp",
            "job_id,submission_time,duration,num_gpu\na,1,-10,1\n",
            r"line 2: column 'duration': negative duration",
        ),
        (
            "itp",
            "job_id,submission_time,duration,num_gpu\na,1,nan,1\n",
            r"line 2: column 'duration': missing or NaN value",
        ),
        (
            "itp",
            "job_id,submission_time,duration,num_gpu\na,1,10,1\na,2,10,1\n",
            r"line 3: column 'job id': duplicate id 'c/a'",
        ),
        ("itp", "", r"empty file"),
        (
            "philly",
            "job_id,submission_time,duration,num_gpu\n1,2,3,4\n",
            r"missing column 'timestamp' for format 'philly'",
        ),
        (
            "philly",
            "timestamp,duration,num_gpus,gpu_time,cluster\nyesterday,1,1,1,a\n",
            r"line 2: column 'timestamp': not a date-time",
        ),
        (
            "helios",
            "job_id,user,vc,gpu_num,state,submit_time,duration\n1,u,v,1,DONE,2020-01-01 00:00:00,5\n",
            r"line 2: column 'state': unknown value 'DONE'",
        ),
        (
            "acme",
            "job_id,user,gpu_num,type,state,submit_time,duration\n1,u,1,Nap,COMPLETED,2020-01-01 00:00:00,5\n",
            r"line 2: column 'type': unknown value 'Nap'",
        ),
        (
            "openb",
            "timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,1,66.0,a\n",
            r"missing column 'name' for format 'openb'",
        ),
        ("pai", "a,b,c\n", r"has 3 columns"),
    ],
)
def test_bad_sources_name_file_line_and_column(
    tmp_path: Path, fmt: str, text: str, match: str
) -> None:
    p = _csv(tmp_path, "c.csv", text)
    with pytest.raises(TraceError, match=match) as exc:
        import_trace(fmt, [p], divisions=DM)
    assert str(exc.value).startswith(str(p)) and "\n" not in str(exc.value)


def test_philly_json_wrong_shape(tmp_path: Path) -> None:
    p = _csv(tmp_path, "j.json", '{"jobs": []}')
    with pytest.raises(TraceError, match="expected a list of jobs"):
        import_trace("philly-json", [p], divisions=DM)
    p = _csv(tmp_path, "k.json", '[{"jobid": 1}]')
    with pytest.raises(TraceError, match=r"job 1: missing key 'vc'"):
        import_trace("philly-json", [p], divisions=DM)


def test_every_registered_format_has_a_fixture_test() -> None:
    assert set(IMPORTERS) == {"itp", "philly", "philly-json", "helios", "pai", "openb", "acme", "sacct"}  # sacct: test_sacct.py


# -- the real traces (shared/data/traces), skipped when absent --------------------------------


def test_real_itp_ten_clusters(traces_data: Path) -> None:
    files = sorted((traces_data / "microsoft_itp").glob("cluster*.csv"))
    assert len(files) == 10
    r = import_trace("itp", files, divisions=DM)
    assert r.table.num_rows == 69_351
    s = summarize(r.table.to_batches())
    assert s.gpu_time_share_ge8_gpus == pytest.approx(0.793, abs=0.002)  # traces.md §2: 79.3 %
    assert s.gpu_time_share_1_gpu == pytest.approx(0.127, abs=0.002)
    assert s.duration_percentiles_s["p50"] == 10_537
    assert s.total_gpu_hours == pytest.approx(1_632_719.7, abs=1)


def test_real_philly_csv(traces_data: Path) -> None:
    r = import_trace("philly", [traces_data / "philly" / "philly.csv"], divisions=DM)
    assert r.table.num_rows == 82_247
    s = summarize(r.table.to_batches())
    assert s.gpu_time_share_ge8_gpus == pytest.approx(0.620, abs=0.002)  # traces.md §1: 62.0 %
    assert s.gpu_time_share_1_gpu == pytest.approx(0.181, abs=0.002)
    assert s.duration_percentiles_s["p50"] == 1_144
    assert set(r.table.column("division").to_pylist()) <= set(DIVS)


def test_real_openb(traces_data: Path) -> None:
    r = import_trace(
        "openb", [traces_data / "alibaba_openb" / "openb_pod_list_default.csv"], divisions=DM
    )
    # 8,152 pods: 1,088 without GPU, 897 pending (never scheduled); traces.md §4.
    assert r.table.num_rows + sum(r.dropped.values()) <= 8_152
    s = summarize(r.table.to_batches())
    assert s.duration_percentiles_s["p50"] == pytest.approx(655, abs=1)
    assert pc.min(r.table.column("num_gpus")).as_py() >= 1
